// errno -> SocketError and its text, in one place. Every system call failure
// of the socket layer is reported through mapSystemError(), so the same errno
// always gives the same error in the same situation.
#pragma once

#include <string>

#include "tether/socket_types.h"

namespace tether::detail {

// What the failing call was doing: the same errno means different things
// during connect() and during bind().
enum class SocketCall { Create, Bind, Listen, Connect, Accept, Read, Write, Option, Other,
                        Datagram,    // sending or receiving a datagram
                        Multicast }; // joining or leaving a multicast group

// Every text is a string with static storage (the table below, or the C
// library's own description of an unmapped errno), so a failure is two
// numbers and a pointer: sockets keep one or two of these for their whole
// life.
struct SocketFailure {
  SocketError error = SocketError::UnknownSocketError;
  int code = 0;  // the errno it came from, 0 if none
  const char* text = "";
};

SocketFailure mapSystemError(int err, SocketCall call);

// The texts the socket layer uses outside errno mapping.
namespace text {
inline constexpr const char* kUnknownError = "Unknown error";
inline constexpr const char* kHostNotFound = "Host not found";
inline constexpr const char* kConnectionRefused = "Connection refused";
inline constexpr const char* kRemoteHostClosed = "The remote host closed the connection";
inline constexpr const char* kSocketTimeout = "Socket operation timed out";
inline constexpr const char* kNetworkTimeout = "Network operation timed out";
inline constexpr const char* kConnectionTimedOut = "Connection timed out";
inline constexpr const char* kOperationNotSupported = "Operation on socket is not supported";
inline constexpr const char* kInvalidDescriptor = "Invalid socket descriptor";
inline constexpr const char* kOutOfResources = "Out of resources";
inline constexpr const char* kAddressInUse = "The bound address is already in use";
inline constexpr const char* kPortInUse = "Another socket is already listening on the same port";
inline constexpr const char* kAddressNotAvailable = "The address is not available";
inline constexpr const char* kAddressProtected = "The address is protected";
inline constexpr const char* kNotListening = "Not listening";
}  // namespace text

}  // namespace tether::detail
