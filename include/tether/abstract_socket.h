// AbstractSocket: the state machine, buffers and signals shared by TCP and
// UDP sockets (Qt's QAbstractSocket). The system calls are made by a socket
// engine behind it; proxies and TLS will be other engines.
//
// Signals are never emitted from inside the call that started an operation:
// connectToHost(), disconnectFromHost(), abort() and write() change state()
// at once, and the matching signals follow, in order, from the event loop.
// The blocking waitFor*() functions deliver them before they return, so code
// without a running loop sees the same sequence.
//
// Owner thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tether/host_address.h"
#include "tether/io_device.h"
#include "tether/signal.h"
#include "tether/socket_types.h"

namespace tether {

namespace detail {
class SocketEngine;
class Dispatcher;
struct SocketPrivate;
}  // namespace detail

class HostInfo;

class AbstractSocket : public IODevice {
 public:
  // Qt's nested enum names: AbstractSocket::ConnectedState,
  // AbstractSocket::SocketError, ...
  using NetworkLayerProtocol = tether::NetworkLayerProtocol;
  using SocketType = tether::SocketType;
  using SocketError = tether::SocketError;
  using SocketState = tether::SocketState;
  using SocketOption = tether::SocketOption;
  using enum tether::NetworkLayerProtocol;
  using enum tether::SocketType;
  using enum tether::SocketError;
  using enum tether::SocketState;
  using enum tether::SocketOption;
  using BindFlag = tether::BindFlag;
  using BindMode = tether::BindMode;
  static constexpr BindMode DefaultForPlatform = tether::DefaultForPlatform;
  static constexpr BindMode ShareAddress = tether::ShareAddress;
  static constexpr BindMode DontShareAddress = tether::DontShareAddress;
  static constexpr BindMode ReuseAddressHint = tether::ReuseAddressHint;

  AbstractSocket(SocketType type, Object* parent = nullptr);
  ~AbstractSocket() override;

  // Resolves hostName (asynchronously, c-ares), then tries each address in
  // turn until one connects. Ignored unless the socket is unconnected or
  // bound. Signals, from the loop: stateChanged(HostLookupState), hostFound,
  // stateChanged(ConnectingState), then stateChanged(ConnectedState) and
  // connected — or errorOccurred and stateChanged(UnconnectedState).
  virtual void connectToHost(std::string_view hostName, std::uint16_t port, OpenMode mode = ReadWrite,
                             NetworkLayerProtocol protocol = AnyIPProtocol);
  // The same without a lookup (hostFound is still emitted, as in Qt).
  virtual void connectToHost(const HostAddress& address, std::uint16_t port, OpenMode mode = ReadWrite);
  // Closes once every pending byte was written: ClosingState, then
  // UnconnectedState, readChannelFinished and disconnected. Unread data stays
  // readable.
  virtual void disconnectFromHost();
  // Closes at once, dropping unwritten data, and resets the socket.
  void abort();

  // Binds to address:port (port 0: the system picks). Unconnected sockets
  // only. The socket enters BoundState.
  bool bind(const HostAddress& address, std::uint16_t port = 0, BindMode mode = DefaultForPlatform);
  // Without this overload, bind(HostAddress::LocalHost) would pick
  // bind(port) through the enum's integer conversion.
  bool bind(HostAddress::SpecialAddress address, std::uint16_t port = 0, BindMode mode = DefaultForPlatform);
  bool bind(std::uint16_t port = 0, BindMode mode = DefaultForPlatform);

  bool isValid() const;
  std::uint16_t localPort() const;
  HostAddress localAddress() const;
  std::uint16_t peerPort() const;
  HostAddress peerAddress() const;
  // The host name given to connectToHost(), or empty.
  std::string peerName() const;

  // 0 (the default) means unlimited. When the buffer holds this many bytes
  // the socket stops reading (the peer is slowed by TCP flow control) until
  // the application reads.
  std::int64_t readBufferSize() const;
  virtual void setReadBufferSize(std::int64_t size);

  // -1 when there is no descriptor.
  int socketDescriptor() const;
  // Adopts an open descriptor (e.g. from TcpServer::incomingConnection) in
  // `state`. Returns false with error() set if it is not a usable socket.
  virtual bool setSocketDescriptor(int descriptor, SocketState state = ConnectedState,
                                   OpenMode mode = ReadWrite);

  virtual void setSocketOption(SocketOption option, int value);
  // -1 if the option cannot be read (no descriptor, unsupported).
  virtual int socketOption(SocketOption option);

  SocketType socketType() const;
  SocketState state() const;
  // The last error; UnknownSocketError before any.
  SocketError error() const;

  // Writes as much of the write buffer as the system takes now, without
  // blocking. Returns true if anything was written.
  bool flush();

  // Queues `count` bytes of the open file `fd`, from `offset`, to be sent
  // straight from the file to the connection (sendfile(2): no copy through
  // the write buffer or user space). Like write(), it returns at once and the
  // bytes go out from the event loop (or inside waitForBytesWritten()) in
  // order with what write() queued before and after. bytesToWrite() counts
  // them, bytesWritten is emitted as they leave, and disconnectFromHost()
  // closes after the last one. The socket keeps its own duplicate of `fd`,
  // so the caller may close it at once; the file's own offset is not used
  // or changed, but the bytes must still be there when they are sent: a file
  // that turns out shorter aborts the connection with errorOccurred
  // (UnknownSocketError). Bytes not yet sent when the connection ends are
  // dropped.
  //
  // Returns `count`, or -1 (emitting nothing) when the socket is not
  // connected, its engine cannot send files (UnsupportedSocketOperationError:
  // only plain TCP can), the range is negative or `fd` is not open.
  // Connected TCP sockets only.
  std::int64_t sendFile(int fd, std::int64_t offset, std::int64_t count);

  // Closes the device and disconnects (see disconnectFromHost), then resets
  // addresses and ports. The read buffer is cleared.
  void close() override;
  bool isSequential() const override { return true; }
  bool atEnd() const override;
  std::int64_t bytesAvailable() const override;
  std::int64_t bytesToWrite() const override;

  // Blocking versions, usable on a thread with no running loop. msecs -1:
  // no time limit. On timeout they return false with SocketTimeoutError set
  // and the state unchanged.
  virtual bool waitForConnected(int msecs = 30000);
  bool waitForReadyRead(int msecs = 30000) override;
  bool waitForBytesWritten(int msecs = 30000) override;
  virtual bool waitForDisconnected(int msecs = 30000);

  // Signals.
  Signal<> hostFound;
  Signal<> connected;
  Signal<> disconnected;
  Signal<SocketState> stateChanged;
  Signal<SocketError> errorOccurred;

 protected:
  std::int64_t readData(char* data, std::int64_t maxSize) override;
  void prepareRead(std::int64_t wanted, bool keep) override;
  std::int64_t writeData(const char* data, std::int64_t maxSize) override;
  void readBufferConsumed() override;

  void setSocketState(SocketState state);
  void setSocketError(SocketError error);
  void setLocalPort(std::uint16_t port);
  void setLocalAddress(const HostAddress& address);
  void setPeerPort(std::uint16_t port);
  void setPeerAddress(const HostAddress& address);
  void setPeerName(std::string_view name);

 private:
  friend struct detail::SocketPrivate;
  std::unique_ptr<detail::SocketPrivate> d_;
};

}  // namespace tether
