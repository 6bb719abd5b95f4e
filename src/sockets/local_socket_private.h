// LocalSocket's private side. The connection itself is a private
// AbstractSocket (LocalStream) over the Unix-domain engine: its state
// machine, buffers and queue of notes are TcpSocket's, so every sequence of
// signals comes out in the same order and from the same places. LocalSocket
// forwards the stream's signals, maps SocketError to LocalSocketError and its
// texts to Qt's QLocalSocket texts, and adds what only local sockets have:
// names, and the connect step (a Unix-domain connect succeeds or fails at
// once, except against a full backlog, where it is tried again).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "reactor/dispatcher.h"
#include "sockets/socket_engine.h"
#include "sockets/socket_private.h"
#include "tether/abstract_socket.h"
#include "tether/local_socket.h"

namespace tether::detail {

class LocalStream final : public AbstractSocket {
 public:
  LocalStream();
  // LocalSocket describes its own failures in Qt's words on the stream, so
  // that the text travels with the queued errorOccurred.
  using IODevice::setErrorString;
  // LocalSocket's reader consumed from the buffer the stream fills.
  using AbstractSocket::readBufferConsumed;
  // LocalSocket::writeData(): LocalSocket's IODevice::write() has checked
  // the open mode already.
  using AbstractSocket::writeData;
};

struct LocalSocketPrivate {
  using Error = LocalSocket::LocalSocketError;
  using State = LocalSocket::LocalSocketState;

  explicit LocalSocketPrivate(LocalSocket* owner);
  ~LocalSocketPrivate();
  LocalSocketPrivate(const LocalSocketPrivate&) = delete;
  LocalSocketPrivate& operator=(const LocalSocketPrivate&) = delete;

  // --- connecting
  void startConnecting(IODevice::OpenMode mode);
  void tryConnect();
  void connectionMade();
  // Qt's setErrorAndEmit: the error is noted, the socket ends unconnected.
  void failConnecting(Error error, int systemError, std::string_view function);
  void cancelConnecting();
  bool isConnecting() const { return connecting != nullptr; }

  // --- names
  // serverName/fullServerName from the socket's own addresses (peer first).
  void describe();
  void setNames(const SocketEngine::UnixAddress& address);
  // Qt clears the names whenever the socket becomes unconnected.
  void clearNamesIfUnconnected();

  // --- blocking: a connect waiting for room first, then the stream's wait.
  bool waitOnStream(int msecs, bool (AbstractSocket::*wait)(int));

  // --- the stream's signals, as LocalSocket's
  void streamStateChanged(SocketState state);
  void streamErrorOccurred(SocketError error);

  LocalSocket* q;
  LocalStream stream;
  SocketPrivate& sd;  // the stream's state machine

  std::string serverName;
  std::string fullServerName;
  LocalSocket::SocketOptions options = LocalSocket::NoOptions;

  // A connect in progress: only while a full backlog makes it wait.
  std::unique_ptr<SocketEngine> connecting;
  SocketEngine::UnixAddress target;
  IODevice::OpenMode connectingMode = IODevice::ReadWrite;
  Clock::time_point connectDeadline;
  int retryDelayMs = 1;
  TimerRecord retryTimer;
  bool pendingClose = false;  // disconnectFromServer() while connecting
};

// The server name Qt reports for a socket path: its last part.
std::string serverNameOfPath(const std::string& path);

// Qt's QLocalSocket error texts: "<function>: <what>".
std::string localSocketErrorText(LocalSocket::LocalSocketError error, std::string_view function, int systemError);

}  // namespace tether::detail
