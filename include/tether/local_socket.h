// LocalSocket: a local (Unix-domain stream) socket connection (Qt's
// QLocalSocket).
//
//   tether::LocalSocket socket;
//   socket.connected.connect([&] { socket.write("hello\n"); });
//   socket.readyRead.connect([&] { std::cout << socket.readAll(); });
//   socket.errorOccurred.connect([&](tether::LocalSocket::LocalSocketError) {
//     std::cerr << socket.errorString() << '\n';
//   });
//   socket.connectToServer("fortune");
//
// Names: a name starting with '/' is a socket file path, used as given; any
// other name is a file in the temporary directory ($TMPDIR, or /tmp, made
// canonical — what Qt's QDir::tempPath() gives), so that a tether program and
// a Qt program that use the same name meet. With AbstractNamespaceOption the
// name is taken as is in Linux's abstract namespace (no file).
//
// Connecting to a local server either succeeds or fails at once, so
// connectToServer() changes state() before it returns (ConnectedState, or
// UnconnectedState with error() set). The signals follow from the event loop
// as always — stateChanged(ConnectingState), then stateChanged(ConnectedState)
// and connected, or errorOccurred and stateChanged(UnconnectedState) — and
// waitForConnected() delivers them at once. Only a server whose backlog is
// full leaves the socket in ConnectingState; it tries again until the server
// makes room, or for 30 seconds (then SocketTimeoutError).
//
// After the peer closes, the bytes it sent before closing stay readable.
//
// Owner thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tether/io_device.h"
#include "tether/signal.h"

namespace tether {

class LocalServer;

namespace detail {
struct LocalSocketPrivate;
}

class LocalSocket : public IODevice {
 public:
  // Qt's values (they are QAbstractSocket::SocketError's), so that code
  // which stores or logs them agrees.
  enum class LocalSocketError : int {
    ConnectionRefusedError = 0,
    PeerClosedError = 1,
    ServerNotFoundError = 2,
    SocketAccessError = 3,
    SocketResourceError = 4,
    SocketTimeoutError = 5,
    DatagramTooLargeError = 6,
    ConnectionError = 7,
    UnsupportedSocketOperationError = 10,
    OperationError = 19,
    UnknownSocketError = -1,
  };
  enum class LocalSocketState : int {
    UnconnectedState = 0,
    ConnectingState = 2,
    ConnectedState = 3,
    ClosingState = 6,
  };
  using enum LocalSocketError;
  using enum LocalSocketState;

  // Flags (Qt 6.2): combine with |.
  enum SocketOption : unsigned {
    NoOptions = 0x0,
    // Connect to a name in Linux's abstract namespace instead of a file.
    AbstractNamespaceOption = 0x1,
  };
  using SocketOptions = unsigned;

  explicit LocalSocket(Object* parent = nullptr);
  // Closes the connection without emitting anything.
  ~LocalSocket() override;

  // Connects to serverName(). An empty name fails with ServerNotFoundError.
  // While connecting, connected or closing it only reports OperationError
  // (errorOccurred, error() unchanged). The device opens with `mode` once
  // connected.
  void connectToServer(OpenMode mode = ReadWrite);
  // setServerName(name), then connectToServer(mode).
  void connectToServer(std::string_view name, OpenMode mode = ReadWrite);
  // Closes once every pending byte was written: ClosingState, then
  // UnconnectedState, readChannelFinished and disconnected. Unread data stays
  // readable.
  void disconnectFromServer();
  // Closes at once, dropping unwritten data, and closes the device.
  void abort();

  // The name to connect to; ignored unless the socket is unconnected.
  void setServerName(std::string_view name);
  // The name as given (or, for an adopted descriptor, the last part of the
  // path it is bound or connected to). Empty once unconnected again.
  std::string serverName() const;
  // The path (or abstract name) connected to. Empty until connected and once
  // unconnected again.
  std::string fullServerName() const;

  // Options for the next connectToServer(); an adopted descriptor sets
  // AbstractNamespaceOption to what it is.
  void setSocketOptions(SocketOptions options);
  SocketOptions socketOptions() const;

  // connectToServer(mode); returns whether the socket is now open.
  bool open(OpenMode mode = ReadWrite) override;
  // Emits aboutToClose, closes the device (unread data is dropped) and
  // disconnects as disconnectFromServer() does; the server names are cleared.
  void close() override;
  bool isSequential() const override { return true; }
  std::int64_t bytesAvailable() const override;
  std::int64_t bytesToWrite() const override;
  bool canReadLine() const override;

  LocalSocketState state() const;
  // The last error; UnknownSocketError before any.
  LocalSocketError error() const;
  bool isValid() const;
  // Writes as much as the system takes now, without blocking. True if
  // anything was written.
  bool flush();

  // 0 (the default): unlimited. When this many bytes are buffered the socket
  // stops reading until the application reads.
  std::int64_t readBufferSize() const;
  void setReadBufferSize(std::int64_t size);

  // Adopts a connected Unix-domain socket (e.g. one end of a socketpair, or a
  // descriptor from LocalServer::incomingConnection) in `socketState`,
  // without emitting stateChanged. The server names come from the addresses
  // of the socket. Returns false with error() set if it is not a socket.
  bool setSocketDescriptor(int socketDescriptor, LocalSocketState socketState = ConnectedState,
                           OpenMode mode = ReadWrite);
  // -1 when there is none.
  int socketDescriptor() const;

  // Blocking versions, usable on a thread with no running loop; they deliver
  // the pending signals before they return. msecs -1: no time limit.
  // waitForReadyRead, waitForBytesWritten and waitForDisconnected report a
  // timeout with SocketTimeoutError (errorOccurred) and keep the connection;
  // waitForConnected just returns false. All return false on an unconnected
  // socket.
  bool waitForConnected(int msecs = 30000);
  bool waitForReadyRead(int msecs = 30000) override;
  bool waitForBytesWritten(int msecs = 30000) override;
  bool waitForDisconnected(int msecs = 30000);

  Signal<> connected;
  Signal<> disconnected;
  Signal<LocalSocketError> errorOccurred;
  Signal<LocalSocketState> stateChanged;

 protected:
  std::int64_t readData(char* data, std::int64_t maxSize) override;
  std::int64_t writeData(const char* data, std::int64_t maxSize) override;
  void readBufferConsumed() override;

 private:
  friend struct detail::LocalSocketPrivate;
  friend class LocalServer;
  std::unique_ptr<detail::LocalSocketPrivate> d_;
};

}  // namespace tether
