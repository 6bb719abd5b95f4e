#include "sockets/socket_error.h"

#include <cerrno>
#include <cstring>

namespace tether::detail {

namespace {

SocketFailure fail(SocketError e, const char* text) { return {e, 0, text}; }

SocketFailure unknown(int err) {
  // The system's own words for an errno this layer has no mapping for (the
  // C library's untranslated description, a static string).
  const char* msg = ::strerrordesc_np(err);
  return {SocketError::UnknownSocketError, 0, msg ? msg : text::kUnknownError};
}

SocketFailure resourceOrUnknown(int err) {
  switch (err) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return fail(SocketError::SocketResourceError, text::kOutOfResources);
    default:
      return unknown(err);
  }
}

SocketFailure mapErrno(int err, SocketCall call);

}  // namespace

SocketFailure mapSystemError(int err, SocketCall call) {
  SocketFailure f = mapErrno(err, call);
  f.code = err;
  return f;
}

namespace {
SocketFailure mapErrno(int err, SocketCall call) {
  switch (call) {
    case SocketCall::Create:
      switch (err) {
        case EPROTONOSUPPORT:
        case EAFNOSUPPORT:
        case EINVAL:
          return fail(SocketError::UnsupportedSocketOperationError, "Protocol type not supported");
        case EACCES:
          return fail(SocketError::SocketAccessError, "Permission denied");
        default:
          return resourceOrUnknown(err);
      }
    case SocketCall::Bind:
      switch (err) {
        case EADDRINUSE:
          return fail(SocketError::AddressInUseError, text::kAddressInUse);
        case EACCES:
        case EPERM:
          return fail(SocketError::SocketAccessError, text::kAddressProtected);
        case EINVAL:
          return fail(SocketError::UnsupportedSocketOperationError, "Unsupported socket operation");
        case EADDRNOTAVAIL:
          return fail(SocketError::SocketAddressNotAvailableError, text::kAddressNotAvailable);
        default:
          return resourceOrUnknown(err);
      }
    case SocketCall::Listen:
      if (err == EADDRINUSE) return fail(SocketError::AddressInUseError, text::kPortInUse);
      return resourceOrUnknown(err);
    case SocketCall::Connect:
      switch (err) {
        case ECONNREFUSED:
        case EINVAL:
          return fail(SocketError::ConnectionRefusedError, text::kConnectionRefused);
        case ETIMEDOUT:
          return fail(SocketError::NetworkError, text::kConnectionTimedOut);
        case EHOSTUNREACH:
          return fail(SocketError::NetworkError, "Host unreachable");
        case ENETUNREACH:
          return fail(SocketError::NetworkError, "Network unreachable");
        case EADDRINUSE:
          return fail(SocketError::NetworkError, text::kAddressInUse);
        case EADDRNOTAVAIL:
          return fail(SocketError::SocketAddressNotAvailableError, text::kAddressNotAvailable);
        case EACCES:
        case EPERM:
          return fail(SocketError::SocketAccessError, "Permission denied");
        case ECONNRESET:
          return fail(SocketError::RemoteHostClosedError, text::kRemoteHostClosed);
        default:
          return resourceOrUnknown(err);
      }
    case SocketCall::Accept:
      switch (err) {
        case EBADF:
        case EOPNOTSUPP:
        case EINVAL:
        case ENOTSOCK:
          return fail(SocketError::UnsupportedSocketOperationError, text::kInvalidDescriptor);
        case EAGAIN:
        case ECONNABORTED:
        case EINTR:
        case EPROTO:
          return fail(SocketError::TemporaryError, "Temporary error");
        default:
          return resourceOrUnknown(err);
      }
    case SocketCall::Read:
      switch (err) {
        case ECONNRESET:
        case EPIPE:
          return fail(SocketError::RemoteHostClosedError, text::kRemoteHostClosed);
        case ETIMEDOUT:
          return fail(SocketError::NetworkError, text::kConnectionTimedOut);
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EBADF:
        case EINVAL:
        case EIO:
          return fail(SocketError::NetworkError, "Network error");
        default:
          return resourceOrUnknown(err);
      }
    case SocketCall::Write:
      switch (err) {
        case ECONNRESET:
        case EPIPE:
          return fail(SocketError::RemoteHostClosedError, text::kRemoteHostClosed);
        case EMSGSIZE:
          return fail(SocketError::DatagramTooLargeError, "Datagram was too large to send");
        case ETIMEDOUT:
          return fail(SocketError::NetworkError, text::kConnectionTimedOut);
        case EHOSTUNREACH:
        case ENETUNREACH:
          return fail(SocketError::NetworkError, "Network error");
        case EBADF:
        case EINVAL:
        case EIO:
          return fail(SocketError::NetworkError, "Unable to write");
        default:
          return resourceOrUnknown(err);
      }
    case SocketCall::Option:
      if (err == ENOPROTOOPT || err == EINVAL || err == EOPNOTSUPP)
        return fail(SocketError::UnsupportedSocketOperationError, "Unsupported socket operation");
      return resourceOrUnknown(err);
    case SocketCall::Datagram:
      switch (err) {
        case EAGAIN:
          return fail(SocketError::TemporaryError, "Unable to send a datagram");
        case EMSGSIZE:
          return fail(SocketError::DatagramTooLargeError, "Datagram was too large to send");
        case ECONNREFUSED:
          return fail(SocketError::ConnectionRefusedError, text::kConnectionRefused);
        case ECONNRESET:
          return fail(SocketError::RemoteHostClosedError, text::kRemoteHostClosed);
        case EHOSTUNREACH:
          return fail(SocketError::NetworkError, "Host unreachable");
        case ENETUNREACH:
          return fail(SocketError::NetworkError, "Network unreachable");
        case EACCES:
        case EPERM:
          return fail(SocketError::SocketAccessError, "Permission denied");
        case EADDRNOTAVAIL:
          return fail(SocketError::SocketAddressNotAvailableError, text::kAddressNotAvailable);
        case EDESTADDRREQ:
          return fail(SocketError::OperationError, "The datagram has no destination");
        default:
          return resourceOrUnknown(err);
      }
    case SocketCall::Multicast:
      switch (err) {
        case ENOPROTOOPT:
        case EOPNOTSUPP:
        case EAFNOSUPPORT:
          return fail(SocketError::UnsupportedSocketOperationError, "Unsupported socket operation");
        case EADDRNOTAVAIL:
          return fail(SocketError::SocketAddressNotAvailableError, text::kAddressNotAvailable);
        case ENODEV:
          return fail(SocketError::SocketAddressNotAvailableError, "No such network interface");
        case EADDRINUSE:
          return fail(SocketError::AddressInUseError, "Already a member of the multicast group");
        default:
          return resourceOrUnknown(err);
      }
    case SocketCall::Other:
      break;
  }
  return resourceOrUnknown(err);
}

}  // namespace

}  // namespace tether::detail
