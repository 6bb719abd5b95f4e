// Enumerations shared by every socket class: the values of Qt's
// QAbstractSocket enums under the same names. They live at namespace scope so
// that HostAddress and the servers can use them without including the socket
// classes; AbstractSocket brings them into its own scope (`using enum`), so
// both `SocketError::HostNotFoundError` and `AbstractSocket::HostNotFoundError`
// are valid, as in Qt.
#pragma once

#include <cstdint>

namespace tether {

enum class NetworkLayerProtocol : int {
  IPv4Protocol = 0,
  IPv6Protocol = 1,
  AnyIPProtocol = 2,
  UnknownNetworkLayerProtocol = -1,
};

enum class SocketType : int {
  TcpSocket = 0,
  UdpSocket = 1,
  SctpSocket = 2,
  UnknownSocketType = -1,
};

// Numeric values are Qt's, so that code which stores or logs them agrees.
enum class SocketError : int {
  ConnectionRefusedError = 0,
  RemoteHostClosedError = 1,
  HostNotFoundError = 2,
  SocketAccessError = 3,
  SocketResourceError = 4,
  SocketTimeoutError = 5,
  DatagramTooLargeError = 6,
  NetworkError = 7,
  AddressInUseError = 8,
  SocketAddressNotAvailableError = 9,
  UnsupportedSocketOperationError = 10,
  UnfinishedSocketOperationError = 11,
  ProxyAuthenticationRequiredError = 12,
  SslHandshakeFailedError = 13,
  ProxyConnectionRefusedError = 14,
  ProxyConnectionClosedError = 15,
  ProxyConnectionTimeoutError = 16,
  ProxyNotFoundError = 17,
  ProxyProtocolError = 18,
  OperationError = 19,
  SslInternalError = 20,
  SslInvalidUserDataError = 21,
  TemporaryError = 22,
  UnknownSocketError = -1,
};

enum class SocketState : int {
  UnconnectedState = 0,
  HostLookupState = 1,
  ConnectingState = 2,
  ConnectedState = 3,
  BoundState = 4,
  ListeningState = 5,
  ClosingState = 6,
};

enum class SocketOption : int {
  LowDelayOption = 0,
  KeepAliveOption = 1,
  MulticastTtlOption = 2,
  MulticastLoopbackOption = 3,
  TypeOfServiceOption = 4,
  SendBufferSizeSocketOption = 5,
  ReceiveBufferSizeSocketOption = 6,
  PathMtuSocketOption = 7,
};

// Flags: combine with |.
enum BindFlag : unsigned {
  DefaultForPlatform = 0x0,
  ShareAddress = 0x1,
  DontShareAddress = 0x2,
  ReuseAddressHint = 0x4,
};
using BindMode = unsigned;

enum PauseMode : unsigned {
  PauseNever = 0x0,
  PauseOnSslErrors = 0x1,
};
using PauseModes = unsigned;

}  // namespace tether
