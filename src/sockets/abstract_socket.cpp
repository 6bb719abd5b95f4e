#include "tether/abstract_socket.h"

#include <sys/epoll.h>

#include <cassert>
#include <chrono>

#include "sockets/socket_private.h"
#include "system/deadline.h"

namespace tether {

using detail::SocketPrivate;
using Note = SocketPrivate::Note;

using detail::Deadline;

AbstractSocket::AbstractSocket(SocketType type, Object* parent)
    : IODevice(parent), d_(std::make_unique<SocketPrivate>(this, type)) {
  setErrorString(detail::text::kUnknownError);
}

AbstractSocket::~AbstractSocket() {
  d_->resetSocketLayer();
}

void AbstractSocket::connectToHost(std::string_view hostName, std::uint16_t port, OpenMode mode,
                                   NetworkLayerProtocol protocol) {
  assert(isOwnerThread());
  auto& d = *d_;
  if (d.state == HostLookupState || d.state == ConnectingState || d.state == ConnectedState ||
      d.state == ClosingState) {
    d.setError(OperationError, "Trying to connect while connection is in progress");
    d.note(Note::ErrorOccurred, static_cast<std::int64_t>(OperationError));
    return;
  }
  auto& c = d.connectPhase();
  c.preferredProtocol = protocol;
  c.hostName = std::string(hostName);
  c.port = port;
  d.clearWrites();
  d.abortCalled = false;
  d.pendingClose = false;
  d.readEof = false;
  d.peerHalfClosed = false;
  d.eofPending = false;
  d.abortLookup();
  if (d.state != BoundState) {
    d.localPort = 0;
    d.localAddress = HostAddress();
  }
  d.peerPort = 0;
  d.peerAddress = HostAddress();
  d.peerName = c.hostName;
  IODevice::open(mode);
  setErrorString({});
  d.setState(HostLookupState);
  d.startPending = true;
  d.requestDeferred();
}

void AbstractSocket::connectToHost(const HostAddress& address, std::uint16_t port, OpenMode mode) {
  connectToHost(address.toString(), port, mode, AnyIPProtocol);
}

void AbstractSocket::disconnectFromHost() {
  auto& d = *d_;
  if (d.state == UnconnectedState) return;
  if (!d.abortCalled && (d.state == ConnectingState || d.state == HostLookupState)) {
    d.pendingClose = true;
    return;
  }
  if (d.abortCalled) {
    d.startPending = false;
    d.abortLookup();
    d.clearWrites();
  } else {
    if (d.state != ClosingState) d.setState(ClosingState);
    if (d.engine && d.engine->isValid() && d.hasPendingWrites()) {
      d.flushPending = true;  // finishDisconnect() follows the last byte
      d.requestDeferred();
      return;
    }
  }
  d.finishDisconnect();
}

void AbstractSocket::abort() {
  auto& d = *d_;
  if (d.state == UnconnectedState) return;
  d.abortCalled = true;
  close();
}

bool AbstractSocket::bind(const HostAddress& address, std::uint16_t port, BindMode mode) {
  auto& d = *d_;
  if (d.state != UnconnectedState) {
    d.setError(UnsupportedSocketOperationError, "Operation on socket is not supported");
    return false;
  }
  NetworkLayerProtocol protocol = address.protocol();
  if (protocol == UnknownNetworkLayerProtocol) protocol = AnyIPProtocol;
  if (!d.engine) d.engine = detail::createNativeSocketEngine();
  if (!d.engine->create(d.type, protocol)) {
    d.setError(d.engine->failure());
    return false;
  }
  d.applyOptions();
  if (!d.engine->bind(address, port, mode)) {
    d.setError(d.engine->failure());
    d.engine->close();
    return false;
  }
  d.takeLocalEndpoint();
  d.setState(BoundState);
  if (d.datagramEvents) d.startWatching();  // a bound UDP socket receives
  return true;
}

bool AbstractSocket::bind(HostAddress::SpecialAddress address, std::uint16_t port, BindMode mode) {
  return bind(HostAddress(address), port, mode);
}

bool AbstractSocket::bind(std::uint16_t port, BindMode mode) { return bind(HostAddress(HostAddress::Any), port, mode); }

bool AbstractSocket::isValid() const { return d_->engine && d_->engine->isValid(); }
std::uint16_t AbstractSocket::localPort() const { return d_->localPort; }
HostAddress AbstractSocket::localAddress() const { return d_->localAddress; }
std::uint16_t AbstractSocket::peerPort() const { return d_->peerPort; }
HostAddress AbstractSocket::peerAddress() const { return d_->peerAddress; }
std::string AbstractSocket::peerName() const { return d_->peerName.str(); }
std::int64_t AbstractSocket::readBufferSize() const { return d_->readBufferLimit; }

void AbstractSocket::setReadBufferSize(std::int64_t size) {
  auto& d = *d_;
  d.readBufferLimit = size < 0 ? 0 : size;
  readBufferConsumed();  // a larger limit may let a paused socket read again
}

void AbstractSocket::readBufferConsumed() {
  auto& d = *d_;
  // An emptied buffer goes at once, so an idle connection holds none: a
  // small block goes back to the allocator, a large one to the thread's
  // block cache, where the next read of this or any other connection on the
  // thread finds it still warm (see ByteBuffer::releaseIfEmpty).
  d.readBuffer().releaseIfEmpty();
  if (!d.readable || !d.engine || d.readPending || d.readingOn) return;
  d.readPending = true;
  d.requestDeferred();
}

int AbstractSocket::socketDescriptor() const {
  return d_->engine && d_->engine->isValid() ? d_->engine->descriptor() : -1;
}

bool AbstractSocket::setSocketDescriptor(int descriptor, SocketState socketState, OpenMode mode) {
  auto& d = *d_;
  d.resetSocketLayer();
  d.abortLookup();
  if (!d.engine) d.engine = detail::createNativeSocketEngine();
  if (!d.engine->adopt(descriptor)) {
    d.setError(d.engine->failure());
    return false;
  }
  d.applyOptions();
  d.clearWrites();
  d.abortCalled = d.pendingClose = d.readEof = d.peerHalfClosed = d.eofPending = false;
  IODevice::open(mode);
  d.takeEndpoints();
  if (d.state != socketState) d.setState(socketState);
  d.startWatching();  // edge-triggered registration reports data already waiting
  return true;
}

void AbstractSocket::setSocketOption(SocketOption option, int value) {
  auto& d = *d_;
  const int index = static_cast<int>(option);
  if (index < 0 || index >= detail::SocketPrivate::kOptionCount) return;
  d.optionValues[index] = value;
  d.optionsSet = static_cast<std::uint8_t>(d.optionsSet | (1u << index));
  if (d.engine && d.engine->isValid()) d.engine->setOption(option, value);
}

int AbstractSocket::socketOption(SocketOption option) {
  auto& d = *d_;
  if (!d.engine || !d.engine->isValid()) return -1;
  const int value = d.engine->option(option);
  // The kernel reports a boolean option as any non-zero value.
  if (value > 0 && (option == LowDelayOption || option == KeepAliveOption)) return 1;
  return value;
}

SocketType AbstractSocket::socketType() const { return d_->type; }
SocketState AbstractSocket::state() const { return d_->state; }
SocketError AbstractSocket::error() const { return d_->error; }

bool AbstractSocket::flush() {
  auto& d = *d_;
  const bool wrote = d.flushWrites();
  if (!d.notes.empty()) d.requestDeferred();
  return wrote;
}

void AbstractSocket::close() {
  auto token = lifeToken();
  IODevice::close();  // emits aboutToClose; drops the read buffer
  if (token.expired()) return;  // a slot of aboutToClose deleted the socket
  auto& d = *d_;
  // Announced bytes go with the buffer. They are read out first: a socket
  // closed with unread data in the kernel would end with a reset, not a FIN.
  if (d.announced > 0) {
    d.takeAnnounced(true);
    d.readBuffer().clear();
  }
  d.largeReader = false;
  if (d.state != UnconnectedState) disconnectFromHost();
  d.localPort = d.peerPort = 0;
  d.localAddress = d.peerAddress = HostAddress();
  d.peerName.clear();
}

bool AbstractSocket::atEnd() const { return bytesAvailable() == 0; }

std::int64_t AbstractSocket::bytesAvailable() const { return IODevice::bytesAvailable() + d_->announced; }

std::int64_t AbstractSocket::bytesToWrite() const {
  return static_cast<std::int64_t>(d_->writeBuffer.size()) + d_->fileBytesToWrite();
}

std::int64_t AbstractSocket::readData(char* data, std::int64_t maxSize) {
  auto& d = *d_;
  // Only a read of kDirectMin bytes or more beyond the buffer gets here with
  // bytes announced (prepareRead() took them into the buffer for any other).
  if (d.announced > 0) return d.readDirect(data, maxSize);
  return d.readDataResult();
}

void AbstractSocket::prepareRead(std::int64_t wanted, bool keep) {
  auto& d = *d_;
  // The reader's latest piece size decides whether the next edges are read
  // in place; a small or keeping read takes announced bytes into the buffer.
  const bool large = !keep && wanted >= detail::SocketPrivate::kDirectMin;
  d.largeReader = large;
  if (d.announced > 0 && !large) d.takeAnnounced();
}

std::int64_t AbstractSocket::writeData(const char* data, std::int64_t size) {
  auto& d = *d_;
  if (d.state == UnconnectedState || d.state == BoundState || (d.state == ClosingState && !d.engine)) {
    d.setError(UnknownSocketError, "Socket is not connected");
    return -1;
  }
  d.writeBuffer.append(data, static_cast<std::size_t>(size));
  if (d.state == ConnectedState && !d.flushPending) {
    d.flushPending = true;  // one gathered write per loop iteration
    if (!d.deliveringHere()) d.requestDeferred();
  }
  return size;
}

std::int64_t AbstractSocket::sendFile(int fd, std::int64_t offset, std::int64_t count) {
  auto& d = *d_;
  if (d.state != ConnectedState || !isWritable()) {
    d.setError(UnknownSocketError, "Socket is not connected");
    return -1;
  }
  if (!d.engine || !d.engine->canSendFile()) {
    d.setError(UnsupportedSocketOperationError, "Operation on socket is not supported");
    return -1;
  }
  if (offset < 0 || count < 0) {
    d.setError(UnknownSocketError, "Invalid file range");
    return -1;
  }
  if (count == 0) return 0;
  detail::UniqueFd file = detail::UniqueFd::duplicate(fd);
  if (!file) {
    d.setError(UnknownSocketError, "Invalid file descriptor");
    return -1;
  }
  std::size_t before = d.writeBuffer.size();
  if (!d.fileSends) d.fileSends = std::make_unique<detail::SocketPrivate::FileQueue>();
  for (const auto& queued : d.fileSends->files) before -= queued.after;
  d.fileSends->files.push_back({std::move(file), offset, count, before});
  d.fileSends->bytes += count;
  if (!d.flushPending) {
    d.flushPending = true;  // sent with the loop's next gathered write
    if (!d.deliveringHere()) d.requestDeferred();
  }
  return count;
}

void AbstractSocket::setSocketState(SocketState s) { d_->setState(s); }
void AbstractSocket::setSocketError(SocketError e) { d_->error = e; }
void AbstractSocket::setLocalPort(std::uint16_t port) { d_->localPort = port; }
void AbstractSocket::setLocalAddress(const HostAddress& address) { d_->localAddress = address; }
void AbstractSocket::setPeerPort(std::uint16_t port) { d_->peerPort = port; }
void AbstractSocket::setPeerAddress(const HostAddress& address) { d_->peerAddress = address; }
void AbstractSocket::setPeerName(std::string_view name) { d_->peerName = name; }

// ------------------------------------------------------------ blocking

bool AbstractSocket::waitForConnected(int msecs) {
  auto& d = *d_;
  auto token = lifeToken();
  if (d.state == ConnectedState) return true;
  if (d.state != HostLookupState && d.state != ConnectingState) return false;
  const Deadline deadline(msecs);
  if (d.state == HostLookupState) {
    if (d.startPending || d.lookingUp()) {
      d.startPending = false;
      d.abortLookup();
      d.startLookup(true);
    }
    if (!d.flushNotes()) return false;
  }
  while (d.state == ConnectingState) {
    bool readReady = false;
    bool writeReady = false;
    const int rc = d.engine->waitFor(false, true, deadline.remaining(), &readReady, &writeReady);
    if (rc == 0) break;
    if (rc < 0) {
      d.testConnection();
    } else {
      d.testConnection();
    }
    if (!d.flushNotes()) return false;
  }
  if (d.state == ConnectingState) {
    // Out of time: give up the attempt, as Qt does.
    d.setError(SocketTimeoutError, detail::text::kSocketTimeout);
    d.resetSocketLayer();
    d.state = UnconnectedState;
    d.note(Note::StateChanged, static_cast<std::int64_t>(UnconnectedState));
    d.flushNotes();
    return false;
  }
  return !token.expired() && d.state == ConnectedState;
}

bool AbstractSocket::waitForReadyRead(int msecs) {
  auto& d = *d_;
  auto token = lifeToken();
  if (d.state == UnconnectedState || d.state == BoundState) return false;
  const Deadline deadline(msecs);
  if (d.state == HostLookupState || d.state == ConnectingState) {
    if (!waitForConnected(msecs)) return false;
    if (token.expired()) return false;
  }
  if (!d.flushNotes()) return false;
  // Bytes already announced are not new: they move into the buffer, and the
  // wait is for more.
  if (d.announced > 0) d.takeAnnounced();
  while (d.state == ConnectedState || d.state == ClosingState) {
    if (!d.engine || !d.engine->isValid()) return false;
    bool readReady = false;
    bool writeReady = false;
    const int rc = d.engine->waitFor(true, d.hasPendingWrites(), deadline.remaining(), &readReady, &writeReady);
    if (rc == 0) {
      d.timedOut();
      return false;
    }
    if (writeReady) d.flushWrites();
    if (readReady) {
      const auto before = d.readBuffer().size();
      d.readable = true;
      d.readFromSocket();
      const bool gotData = d.readBuffer().size() > before;
      if (!d.flushNotes()) return false;
      if (gotData) return true;
    } else if (!d.flushNotes()) {
      return false;
    }
  }
  return false;
}

bool AbstractSocket::waitForBytesWritten(int msecs) {
  auto& d = *d_;
  auto token = lifeToken();
  if (d.state == UnconnectedState || d.state == BoundState) return false;
  if (d.state == HostLookupState || d.state == ConnectingState) {
    if (!waitForConnected(msecs)) return false;
    if (token.expired()) return false;
  }
  if (!d.hasPendingWrites()) return false;
  const Deadline deadline(msecs);
  while (d.hasPendingWrites() && (d.state == ConnectedState || d.state == ClosingState)) {
    bool readReady = false;
    bool writeReady = false;
    const int rc = d.engine->waitFor(true, true, deadline.remaining(), &readReady, &writeReady);
    if (rc == 0) {
      d.timedOut();
      return false;
    }
    // Keep reading while waiting, so that two peers writing to each other in
    // blocking mode cannot deadlock.
    if (readReady) {
      d.readable = true;
      d.readFromSocket();
    }
    if (writeReady && d.flushWrites()) {
      d.flushPending = false;
      return d.flushNotes() && !token.expired();
    }
    if (!d.flushNotes()) return false;
  }
  return false;
}

bool AbstractSocket::waitForDisconnected(int msecs) {
  auto& d = *d_;
  auto token = lifeToken();
  if (d.state == UnconnectedState) {
    d.flushNotes();
    return false;
  }
  const Deadline deadline(msecs);
  if (d.state == HostLookupState || d.state == ConnectingState) {
    if (!waitForConnected(msecs)) return false;
    if (token.expired()) return false;
  }
  while (d.state != UnconnectedState) {
    if (!d.engine || !d.engine->isValid()) {
      if (!d.flushNotes()) return true;
      break;
    }
    bool readReady = false;
    bool writeReady = false;
    const int rc = d.engine->waitFor(true, d.hasPendingWrites(), deadline.remaining(), &readReady, &writeReady);
    if (rc == 0) {
      d.timedOut();
      return false;
    }
    if (writeReady) d.flushWrites();
    if (readReady) {
      d.readable = true;
      d.readFromSocket();
    }
    if (!d.flushNotes()) return true;
  }
  return d.state == UnconnectedState;
}

}  // namespace tether
