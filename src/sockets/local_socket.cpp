#include "tether/local_socket.h"

#include <cassert>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "sockets/local_socket_private.h"
#include "sockets/unix_socket_engine.h"
#include "system/deadline.h"
#include "system/unique_fd.h"

namespace tether::detail {

namespace {

using Note = SocketPrivate::Note;
using Error = LocalSocket::LocalSocketError;
using State = LocalSocket::LocalSocketState;

// How long a connect waits for room in a full backlog, as Qt's.
constexpr std::chrono::milliseconds kConnectTimeout{30000};
constexpr int kMaxRetryDelayMs = 64;
constexpr const char* kConnectFunction = "QLocalSocket::connectToServer";

// The stream's errors as LocalSocket's (the values are Qt's and agree); the
// ones a local socket has no name for are unknown.
Error toLocalError(SocketError error) {
  switch (error) {
    case SocketError::ConnectionRefusedError:
    case SocketError::RemoteHostClosedError:
    case SocketError::HostNotFoundError:
    case SocketError::SocketAccessError:
    case SocketError::SocketResourceError:
    case SocketError::SocketTimeoutError:
    case SocketError::DatagramTooLargeError:
    case SocketError::NetworkError:
    case SocketError::UnsupportedSocketOperationError:
    case SocketError::OperationError:
      return static_cast<Error>(error);
    default:
      return Error::UnknownSocketError;
  }
}

SocketError toSocketError(Error error) {
  return error == Error::OperationError ? SocketError::UnknownSocketError : static_cast<SocketError>(error);
}

// Qt's reading of a failed connect(2).
Error connectError(int systemError) {
  switch (systemError) {
    case EINVAL:
    case ECONNREFUSED:
      return Error::ConnectionRefusedError;
    case ENOENT:
    case ENAMETOOLONG:  // a name too long for a socket address
      return Error::ServerNotFoundError;
    case EACCES:
    case EPERM:
      return Error::SocketAccessError;
    case ETIMEDOUT:
      return Error::SocketTimeoutError;
    default:
      return Error::UnknownSocketError;
  }
}

}  // namespace

std::string serverNameOfPath(const std::string& path) {
  std::string part = path.substr(path.rfind('/') + 1);
  return part.empty() ? path : part;
}

std::string localSocketErrorText(Error error, std::string_view function, int systemError) {
  const char* what = nullptr;
  switch (error) {
    case Error::ConnectionRefusedError: what = "Connection refused"; break;
    case Error::PeerClosedError: what = "Remote closed"; break;
    case Error::ServerNotFoundError: what = "Invalid name"; break;
    case Error::SocketAccessError: what = "Socket access error"; break;
    case Error::SocketResourceError: what = "Socket resource error"; break;
    case Error::SocketTimeoutError: what = "Socket operation timed out"; break;
    case Error::DatagramTooLargeError: what = "Datagram too large"; break;
    case Error::ConnectionError: what = "Connection error"; break;
    case Error::UnsupportedSocketOperationError: what = "The socket operation is not supported"; break;
    case Error::OperationError: what = "Operation not permitted when socket is in this state"; break;
    case Error::UnknownSocketError: break;
  }
  std::string text(function);
  text += ": ";
  if (what != nullptr) return text + what;
  return text + "Unknown error " + std::to_string(systemError);
}

// A connected stream runs on a plain native engine (setSocketDescriptor()
// makes one): the Unix-domain engine only listens and connects.
LocalStream::LocalStream() : AbstractSocket(SocketType::TcpSocket) {}

LocalSocketPrivate::LocalSocketPrivate(LocalSocket* owner) : q(owner), sd(SocketPrivate::of(stream)) {
  retryTimer.callback = [this] {
    tryConnect();
    sd.flushNotes();
  };
  // The stream's data signals are emitted on LocalSocket itself (its
  // readyRead, bytesWritten and readChannelFinished are IODevice's, as the
  // stream's are): no forwarding slot on the path of every message. The
  // others are forwarded. The stream dies with q, so the connections name
  // no receiver: one would keep q's lifetime token alive while its slot
  // runs, and q could not tell that a slot deleted it.
  sd.device = q;
  stream.connected.connect([this] { q->connected.emit(); });
  stream.disconnected.connect([this] { q->disconnected.emit(); });
  stream.stateChanged.connect([this](SocketState s) { streamStateChanged(s); });
  stream.errorOccurred.connect([this](SocketError e) { streamErrorOccurred(e); });
}

LocalSocketPrivate::~LocalSocketPrivate() { sd.dispatcher->cancelTimer(&retryTimer); }

// ------------------------------------------------------------ connecting

void LocalSocketPrivate::startConnecting(IODevice::OpenMode mode) {
  q->setErrorString(text::kUnknownError);
  sd.setState(SocketState::ConnectingState);
  connectingMode = mode;
  pendingClose = false;
  if (serverName.empty()) {
    failConnecting(Error::ServerNotFoundError, 0, kConnectFunction);
    return;
  }
  const bool abstract = (options & LocalSocket::AbstractNamespaceOption) != 0;
  target = {abstract ? serverName : localSocketPath(serverName), abstract};
  connecting = createUnixSocketEngine();
  if (!connecting->create(SocketType::TcpSocket, NetworkLayerProtocol::UnknownNetworkLayerProtocol)) {
    failConnecting(Error::UnsupportedSocketOperationError, connecting->failure().code, kConnectFunction);
    return;
  }
  connectDeadline = Clock::now() + kConnectTimeout;
  retryDelayMs = 1;
  tryConnect();
}

void LocalSocketPrivate::tryConnect() {
  if (!connecting) return;
  switch (connecting->connectLocal(target)) {
    case ConnectResult::Connected:
      connectionMade();
      return;
    case ConnectResult::InProgress:
      // The server's backlog is full: try again a little later.
      if (Clock::now() >= connectDeadline) {
        failConnecting(Error::SocketTimeoutError, ETIMEDOUT, kConnectFunction);
        return;
      }
      sd.dispatcher->scheduleTimer(&retryTimer, Clock::now() + std::chrono::milliseconds(retryDelayMs));
      retryDelayMs = std::min(retryDelayMs * 2, kMaxRetryDelayMs);
      return;
    case ConnectResult::Failed: {
      const int code = connecting->failure().code;
      failConnecting(connectError(code), code, kConnectFunction);
      return;
    }
  }
}

void LocalSocketPrivate::connectionMade() {
  sd.dispatcher->cancelTimer(&retryTimer);
  UniqueFd fd(connecting->release());
  connecting.reset();
  // The stream adopts the connected descriptor, as Qt's QLocalSocket hands
  // it to its QTcpSocket: that notes stateChanged(ConnectedState).
  if (!stream.setSocketDescriptor(fd.get(), SocketState::ConnectedState, connectingMode)) {
    failConnecting(Error::UnknownSocketError, sd.engine->failure().code, kConnectFunction);
    return;
  }
  fd.release();
  fullServerName = target.name;
  q->IODevice::open(connectingMode);
  q->setErrorString(text::kUnknownError);
  sd.note(Note::Connected);
  if (pendingClose) {
    pendingClose = false;
    stream.disconnectFromHost();
  }
}

void LocalSocketPrivate::failConnecting(Error error, int systemError, std::string_view function) {
  cancelConnecting();
  std::string text = localSocketErrorText(error, function, systemError);
  sd.setError(toSocketError(error), text);
  q->setErrorString(std::move(text));
  sd.note(Note::ErrorOccurred, static_cast<std::int64_t>(toSocketError(error)));
  if (sd.state != SocketState::UnconnectedState) sd.setState(SocketState::UnconnectedState);
  serverName.clear();
  fullServerName.clear();
}

void LocalSocketPrivate::cancelConnecting() {
  sd.dispatcher->cancelTimer(&retryTimer);
  connecting.reset();
}

// ------------------------------------------------------------ names

void LocalSocketPrivate::describe() {
  if (!sd.engine || !sd.engine->isValid()) return;
  const int fd = sd.engine->descriptor();
  SocketEngine::UnixAddress address = unixAddressOf(fd, true);
  if (address.name.empty()) address = unixAddressOf(fd, false);
  if (!address.name.empty()) setNames(address);
}

void LocalSocketPrivate::setNames(const SocketEngine::UnixAddress& address) {
  fullServerName = address.name;
  serverName = address.abstractNamespace ? address.name : serverNameOfPath(address.name);
  if (address.abstractNamespace) options |= LocalSocket::AbstractNamespaceOption;
  else options &= ~static_cast<LocalSocket::SocketOptions>(LocalSocket::AbstractNamespaceOption);
}

void LocalSocketPrivate::clearNamesIfUnconnected() {
  if (stream.state() != SocketState::UnconnectedState || isConnecting()) return;
  serverName.clear();
  fullServerName.clear();
}

// ------------------------------------------------------------ signals

void LocalSocketPrivate::streamStateChanged(SocketState s) {
  State mapped = State::UnconnectedState;
  switch (s) {
    case SocketState::UnconnectedState: mapped = State::UnconnectedState; break;
    case SocketState::HostLookupState:
    case SocketState::ConnectingState: mapped = State::ConnectingState; break;
    case SocketState::ConnectedState: mapped = State::ConnectedState; break;
    case SocketState::ClosingState: mapped = State::ClosingState; break;
    case SocketState::BoundState:
    case SocketState::ListeningState: return;
  }
  // A connection that ended by itself (the peer closed, a write failed)
  // clears the names now; the application's own calls cleared them already.
  // fullServerName is set only while connected, so a name given since (for
  // the next connection) stays.
  if (mapped == State::UnconnectedState && !fullServerName.empty()) clearNamesIfUnconnected();
  q->stateChanged.emit(mapped);
}

void LocalSocketPrivate::streamErrorOccurred(SocketError e) {
  const Error mapped = toLocalError(e);
  // Failures LocalSocket described itself carry Qt's full text already;
  // the stream's own (a closed peer, a timeout) are described here.
  std::string text = stream.errorString();
  if (!text.starts_with("QLocalSocket")) text = localSocketErrorText(mapped, "QLocalSocket", errno);
  q->setErrorString(std::move(text));
  q->errorOccurred.emit(mapped);
}

// ------------------------------------------------------------ blocking

bool LocalSocketPrivate::waitOnStream(int msecs, bool (AbstractSocket::*wait)(int)) {
  const Deadline deadline(msecs);
  if (q->state() == State::UnconnectedState) {
    sd.flushNotes();  // what the last calls queued, before saying no
    return false;
  }
  if (isConnecting() && !q->waitForConnected(msecs)) return false;
  return (stream.*wait)(deadline.remaining());
}

}  // namespace tether::detail

namespace tether {

using detail::LocalSocketPrivate;
using Note = detail::SocketPrivate::Note;

LocalSocket::LocalSocket(Object* parent) : IODevice(parent), d_(std::make_unique<LocalSocketPrivate>(this)) {
  setErrorString(detail::text::kUnknownError);
}

LocalSocket::~LocalSocket() = default;

void LocalSocket::connectToServer(OpenMode mode) {
  assert(isOwnerThread());
  auto& d = *d_;
  const LocalSocketState s = state();
  if (s == ConnectedState || s == ConnectingState || s == ClosingState) {
    // Qt's text, spelling included.
    std::string text = detail::localSocketErrorText(OperationError, "QLocalSocket::connectToserver", 0);
    d.stream.setErrorString(text);
    setErrorString(std::move(text));
    d.sd.note(Note::ErrorOccurred, static_cast<std::int64_t>(SocketError::OperationError));
    return;
  }
  d.startConnecting(mode);
}

void LocalSocket::connectToServer(std::string_view name, OpenMode mode) {
  setServerName(name);
  connectToServer(mode);
}

void LocalSocket::disconnectFromServer() {
  auto& d = *d_;
  if (d.isConnecting()) {
    d.pendingClose = true;  // closes once connected
    return;
  }
  d.stream.disconnectFromHost();
  d.clearNamesIfUnconnected();
}

void LocalSocket::abort() {
  auto& d = *d_;
  d.cancelConnecting();
  d.stream.abort();
  close();
}

void LocalSocket::setServerName(std::string_view name) {
  if (state() != UnconnectedState) return;  // as Qt: ignored
  d_->serverName = std::string(name);
}

std::string LocalSocket::serverName() const { return d_->serverName; }
std::string LocalSocket::fullServerName() const { return d_->fullServerName; }
void LocalSocket::setSocketOptions(SocketOptions options) { d_->options = options; }
LocalSocket::SocketOptions LocalSocket::socketOptions() const { return d_->options; }

bool LocalSocket::open(OpenMode mode) {
  connectToServer(mode);
  return isOpen();
}

void LocalSocket::close() {
  auto token = lifeToken();
  IODevice::close();  // emits aboutToClose; drops what was read ahead
  if (token.expired()) return;  // a slot of aboutToClose deleted the socket
  auto& d = *d_;
  if (d.isConnecting()) {
    d.cancelConnecting();
    d.stream.abort();
  }
  d.stream.close();
  d.serverName.clear();
  d.fullServerName.clear();
}

std::int64_t LocalSocket::bytesAvailable() const { return IODevice::bytesAvailable(); }
std::int64_t LocalSocket::bytesToWrite() const { return d_->stream.bytesToWrite(); }
bool LocalSocket::canReadLine() const { return IODevice::canReadLine(); }

LocalSocket::LocalSocketState LocalSocket::state() const {
  switch (d_->stream.state()) {
    case SocketState::HostLookupState:
    case SocketState::ConnectingState: return ConnectingState;
    case SocketState::ConnectedState: return ConnectedState;
    case SocketState::ClosingState: return ClosingState;
    default: return UnconnectedState;
  }
}

LocalSocket::LocalSocketError LocalSocket::error() const {
  const SocketError e = d_->stream.error();
  return e == SocketError::OperationError ? UnknownSocketError : detail::toLocalError(e);
}

bool LocalSocket::isValid() const { return d_->stream.isValid(); }
bool LocalSocket::flush() { return d_->stream.flush(); }
std::int64_t LocalSocket::readBufferSize() const { return d_->stream.readBufferSize(); }
void LocalSocket::setReadBufferSize(std::int64_t size) { d_->stream.setReadBufferSize(size); }

bool LocalSocket::setSocketDescriptor(int socketDescriptor, LocalSocketState socketState, OpenMode mode) {
  auto& d = *d_;
  d.cancelConnecting();
  SocketState streamState = SocketState::UnconnectedState;
  switch (socketState) {
    case UnconnectedState: streamState = SocketState::UnconnectedState; break;
    case ConnectingState: streamState = SocketState::ConnectingState; break;
    case ConnectedState: streamState = SocketState::ConnectedState; break;
    case ClosingState: streamState = SocketState::ClosingState; break;
  }
  const std::size_t notesBefore = d.sd.notes.size();
  if (!d.stream.setSocketDescriptor(socketDescriptor, streamState, mode)) {
    setErrorString(detail::localSocketErrorText(error(), "QLocalSocket::setSocketDescriptor", EBADF));
    return false;
  }
  // Adopting is not a change of state the application could watch (Qt emits
  // nothing either).
  if (d.sd.notes.size() > notesBefore && d.sd.notes.back().kind == Note::StateChanged) d.sd.notes.pop_back();
  IODevice::open(mode);
  setErrorString(detail::text::kUnknownError);
  d.describe();
  return true;
}

int LocalSocket::socketDescriptor() const { return d_->stream.socketDescriptor(); }

// ------------------------------------------------------------ I/O

// The stream's bytes arrive in this device's own read buffer (see
// SocketPrivate::readBuffer()): IODevice serves them; what is left to say
// is whether more may come.
std::int64_t LocalSocket::readData(char*, std::int64_t) { return d_->sd.readDataResult(); }

void LocalSocket::readBufferConsumed() { d_->stream.readBufferConsumed(); }

std::int64_t LocalSocket::writeData(const char* data, std::int64_t maxSize) {
  auto& d = *d_;
  if (!d.stream.isWritable()) return d.stream.write(data, maxSize);  // the stream's refusal and text
  return d.stream.writeData(data, maxSize);
}

// ------------------------------------------------------------ blocking

bool LocalSocket::waitForConnected(int msecs) {
  auto& d = *d_;
  const detail::Deadline deadline(msecs);
  while (d.isConnecting() && !deadline.expired()) {
    // Nothing to poll for: a full backlog says nothing when it has room.
    const int left = deadline.remaining();
    const int pause = left < 0 ? d.retryDelayMs : std::min(left, d.retryDelayMs);
    std::this_thread::sleep_for(std::chrono::milliseconds(pause));
    d.sd.dispatcher->cancelTimer(&d.retryTimer);
    d.tryConnect();
  }
  if (!d.sd.flushNotes()) return false;  // a slot deleted the socket
  return state() == ConnectedState;
}

bool LocalSocket::waitForReadyRead(int msecs) { return d_->waitOnStream(msecs, &AbstractSocket::waitForReadyRead); }

bool LocalSocket::waitForBytesWritten(int msecs) {
  return d_->waitOnStream(msecs, &AbstractSocket::waitForBytesWritten);
}

bool LocalSocket::waitForDisconnected(int msecs) {
  return d_->waitOnStream(msecs, &AbstractSocket::waitForDisconnected);
}

}  // namespace tether
