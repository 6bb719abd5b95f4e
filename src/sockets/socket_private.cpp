// The state machine behind AbstractSocket. Every path that changes state
// queues its signals as notes; notes are emitted in order by flushNotes(),
// either at the end of the event-loop callback that caused them or, for
// changes made by the application's own calls, from a deferred call on the
// next turn of the loop.
#include "sockets/socket_private.h"

#include <sys/epoll.h>

#include <algorithm>

#include "tether/host_info.h"

namespace tether::detail {

namespace {
// What one read(2) asks for on the event path. The application gets each
// chunk (readyRead) before the next is read, so a bulk stream passes through
// one buffer that stays in cache, as in a hand-written loop with a 64 KiB
// buffer. Reading all the kernel holds at once (megabytes on a fast sender)
// measured up to 1.5x the CPU per byte: the bytes leave the cache before the
// application copies them out, and the receive window opens in larger, later
// steps.
constexpr std::size_t kReadChunk = 64 * 1024;
// Qt's connect timeout per address.
constexpr int kConnectTimeoutMs = 30000;
}  // namespace

SocketPrivate::SocketPrivate(AbstractSocket* owner, SocketType socketType)
    : type(socketType), q(owner), dispatcher(Dispatcher::current()), device(owner) {}

bool SocketPrivate::adoptAccepted(AbstractSocket& socket, int descriptor, NetworkLayerProtocol listenerProtocol,
                                  const SocketEngine::Endpoint* local, const SocketEngine::Endpoint& peer) {
  SocketPrivate& d = *socket.d_;
  // A new socket: nothing to reset, no lookup to abort, no writes queued.
  if (!d.engine) d.engine = createNativeSocketEngine();
  if (!d.engine->adoptAccepted(descriptor, listenerProtocol)) {
    d.setError(d.engine->failure());
    return false;
  }
  d.applyOptions();
  socket.IODevice::open(IODevice::ReadWrite);
  if (local) {
    d.localAddress = local->address;
    d.localPort = local->port;
  } else {
    d.takeLocalEndpoint();
  }
  d.peerAddress = peer.address;
  d.peerPort = peer.port;
  d.state = SocketState::ConnectedState;
  // Registered on the way back to the loop (edge-triggered registration
  // reports data that arrived in between).
  d.watchPending = true;
  d.requestDeferred();
  return true;
}

SocketPrivate::ConnectPhase& SocketPrivate::connectPhase() {
  if (!connecting) {
    connecting = std::make_unique<ConnectPhase>();
    connecting->timer.callback = [this] {
      connectTimedOut();
      flushNotes();
    };
  }
  return *connecting;
}

SocketPrivate::~SocketPrivate() {
  dispatcher->cancel(this);
  while (flushing-- > 0) dispatcher->leaveDelivery(this);  // destroyed by a slot
  cancelConnectTimer();
  abortLookup();
}

// ------------------------------------------------------------ notes

void SocketPrivate::note(Note::Kind kind, std::int64_t value) {
  notes.push_back({kind, value});
  if (flushing == 0 && dispatching == 0) requestDeferred();
}

void SocketPrivate::setState(SocketState s) {
  state = s;
  note(Note::StateChanged, static_cast<std::int64_t>(s));
}

void SocketPrivate::setError(SocketError e, std::string text) {
  error = e;
  q->setErrorString(std::move(text));
}

bool SocketPrivate::flushNotes() {
  // Re-entrant: a slot that runs a nested loop may flush what follows in
  // the FIFO; every note is popped before it is emitted, so each is emitted
  // once and in order. readyRead and bytesWritten are not emitted
  // recursively (Qt's rule).
  ++flushing;
  dispatcher->enterDelivery(this);
  for (;;) {
    if (notes.empty()) {
      if (!eofPending) break;
      // End of stream is handled once the data that came with it has been
      // delivered: the readyRead slot still sees a connected socket.
      eofPending = false;
      handleRemoteClose(eofReason);
      continue;
    }
    const Note n = notes.front();
    notes.pop_front();
    bool alive = true;
    switch (n.kind) {
      case Note::StateChanged:
        alive = q->stateChanged.emit(static_cast<SocketState>(n.value));
        break;
      case Note::HostFound:
        alive = q->hostFound.emit();
        break;
      case Note::Connected:
        alive = q->connected.emit();
        break;
      case Note::Disconnected:
        alive = q->disconnected.emit();
        break;
      case Note::ErrorOccurred:
        alive = q->errorOccurred.emit(static_cast<SocketError>(n.value));
        break;
      case Note::ReadyRead:
        // Not recursively: a slot that waits for more data inside readyRead
        // gets no nested readyRead.
        if (emittingReadyRead) break;
        emittingReadyRead = true;
        alive = device->readyRead.emit();
        if (alive) {
          emittingReadyRead = false;
          if (announced > 0) settleAnnounced();
        }
        break;
      case Note::BytesWritten:
        if (emittingBytesWritten) break;
        emittingBytesWritten = true;
        alive = device->bytesWritten.emit(n.value);
        if (alive) emittingBytesWritten = false;
        break;
      case Note::ReadChannelFinished:
        alive = device->readChannelFinished.emit();
        break;
    }
    // Only a slot can destroy the socket, and every signal emitted here
    // belongs to q or to the device that owns q: if either died, the
    // emission says so (no lifetime token per flush, which would cost two
    // atomic operations on another cache line for every message).
    if (!alive) return false;
  }
  dispatcher->leaveDelivery(this);
  --flushing;
  return true;
}

void SocketPrivate::timedOut() {
  setError(SocketError::SocketTimeoutError, text::kNetworkTimeout);
  note(Note::ErrorOccurred, static_cast<std::int64_t>(error));
  flushNotes();
}

// ------------------------------------------------------------ loop entry points

void SocketPrivate::runDeferred() {
  if (watchPending) {
    watchPending = false;
    startWatching();
  }
  if (startPending) {
    startPending = false;
    startLookup(false);
  }
  if (flushPending) {
    flushPending = false;
    flushWrites();
  }
  if (readPending) {
    readPending = false;
    if (datagramEvents) {
      datagramEvents->resumeDatagrams();
    } else if (readable && engine) {
      readFromSocket(kReadChunk);
      deliverReads();
      return;
    }
  }
  flushNotes();
}

bool SocketPrivate::deliverReads() {
  for (std::size_t round = 1;; ++round) {
    readingOn = true;  // AbstractSocket::readBufferConsumed(): this loop reads on
    const bool alive = flushNotes();
    if (!alive) return false;
    readingOn = false;
    if (flushPending) {
      flushPending = false;
      flushWrites();
    }
    if (!readable || readPending || readEof || !engine || datagramEvents) return true;
    if (readBufferLimit > 0 && static_cast<std::int64_t>(readBuffer().size()) >= readBufferLimit)
      return true;  // full: AbstractSocket::readBufferConsumed() resumes
    if (round * kReadChunk >= kReadBudget) {
      readPending = true;  // fairness: continue on the next iteration
      requestDeferred();
      return true;
    }
    if (!largeStream || !announceInPlace()) readFromSocket(kReadChunk);
  }
}

void SocketPrivate::watchEvents(std::uint32_t events) {
  // While dispatching, notes and writes made by our own slots need no
  // deferred call: they are handled below, while the socket is still hot in
  // the cache, in one gathered write.
  ++dispatching;
  if (datagramEvents) {
    if (events & (EPOLLIN | EPOLLERR)) datagramEvents->datagramsReadable();
    finishDispatch();
    return;
  }
  if (state == SocketState::ConnectingState) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) testConnection();
    if (state != SocketState::ConnectedState) {
      finishDispatch();
      return;
    }
  }
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) peerHalfClosed = true;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    readable = true;
    if (!largeStream || !announceInPlace()) readFromSocket(kReadChunk);
  }
  if ((events & EPOLLOUT) && engine && hasPendingWrites()) flushWrites();
  finishDispatch();
}

void SocketPrivate::finishDispatch() {
  if (!deliverReads()) return;  // a slot destroyed the socket
  --dispatching;
  if (!notes.empty()) flushNotes();
}

// ------------------------------------------------------------ connecting

void SocketPrivate::startLookup(bool blocking) {
  if (state != SocketState::HostLookupState) return;
  ConnectPhase& c = connectPhase();
  const HostAddress literal(c.hostName);
  if (!literal.isNull()) {
    lookupFinished({literal});
    return;
  }
  if (blocking) {
    lookupFinished(HostInfo::fromName(c.hostName).addresses());
    return;
  }
  c.lookupId = HostInfo::lookupHost(c.hostName, q, [this](const HostInfo& info) {
    connecting->lookupId = -1;
    lookupFinished(info.addresses());
    flushNotes();
  });
}

void SocketPrivate::abortLookup() {
  if (!connecting) return;
  if (connecting->lookupId != -1) HostInfo::abortHostLookup(connecting->lookupId);
  connecting->lookupId = -1;
}

void SocketPrivate::lookupFinished(const std::vector<HostAddress>& found) {
  if (state != SocketState::HostLookupState) return;
  ConnectPhase& c = connectPhase();
  c.addresses.clear();
  for (const HostAddress& a : found) {
    const auto p = a.protocol();
    if (c.preferredProtocol == NetworkLayerProtocol::AnyIPProtocol || p == c.preferredProtocol)
      c.addresses.push_back(a);
  }
  c.nextAddress = 0;
  if (c.addresses.empty()) {
    state = SocketState::UnconnectedState;
    setError(SocketError::HostNotFoundError, text::kHostNotFound);
    note(Note::StateChanged, static_cast<std::int64_t>(state));
    note(Note::ErrorOccurred, static_cast<std::int64_t>(SocketError::HostNotFoundError));
    return;
  }
  setState(SocketState::ConnectingState);
  note(Note::HostFound);
  c.lastConnectFailure = {SocketError::ConnectionRefusedError, 0, text::kConnectionRefused};
  connectToNextAddress();
}

bool SocketPrivate::ensureEngine(NetworkLayerProtocol protocol) {
  if (engine && engine->isValid()) {
    const auto have = engine->protocol();
    if (have == protocol || have == NetworkLayerProtocol::AnyIPProtocol ||
        (have == NetworkLayerProtocol::IPv6Protocol && protocol == NetworkLayerProtocol::IPv6Protocol))
      return true;
    // A socket bound to the other family cannot reach this address.
    return false;
  }
  if (!engine) engine = createNativeSocketEngine();
  if (!engine->create(type, protocol)) {
    if (connecting) connecting->lastConnectFailure = engine->failure();
    return false;
  }
  applyOptions();
  return true;
}

void SocketPrivate::applyOptions() {
  for (int i = 0; i < kOptionCount; ++i)
    if (optionsSet & (1u << i)) engine->setOption(static_cast<SocketOption>(i), optionValues[i]);
}

void SocketPrivate::startWatching() {
  if (!engine->startWatching(*dispatcher, this)) setError(engine->failure());
}

void SocketPrivate::connectToNextAddress() {
  ConnectPhase& c = connectPhase();
  for (;;) {
    if (c.nextAddress >= c.addresses.size()) {
      dispatcher->cancelTimer(&c.timer);
      resetSocketLayer();
      state = SocketState::UnconnectedState;
      setError(c.lastConnectFailure);
      note(Note::StateChanged, static_cast<std::int64_t>(state));
      note(Note::ErrorOccurred, static_cast<std::int64_t>(error));
      return;
    }
    const HostAddress host = c.addresses[c.nextAddress++];
    if (state != SocketState::ConnectingState) setState(SocketState::ConnectingState);
    if (engine && engine->isValid() && engine->protocol() != host.protocol() &&
        engine->protocol() != NetworkLayerProtocol::AnyIPProtocol)
      resetSocketLayer();
    if (!ensureEngine(host.protocol())) continue;
    switch (engine->connect(host, c.port)) {
      case ConnectResult::Connected:
        startWatching();
        connectionEstablished();
        return;
      case ConnectResult::InProgress:
        startWatching();
        dispatcher->scheduleTimer(&c.timer, Clock::now() + std::chrono::milliseconds(kConnectTimeoutMs));
        return;
      case ConnectResult::Failed:
        c.lastConnectFailure = engine->failure();
        resetSocketLayer();
        continue;
    }
  }
}

void SocketPrivate::testConnection() {
  switch (engine->finishConnect()) {
    case ConnectResult::Connected:
      connectionEstablished();
      return;
    case ConnectResult::InProgress:
      return;
    case ConnectResult::Failed:
      cancelConnectTimer();
      connectPhase().lastConnectFailure = engine->failure();
      resetSocketLayer();
      connectToNextAddress();
      return;
  }
}

void SocketPrivate::connectTimedOut() {
  if (state != SocketState::ConnectingState) return;
  resetSocketLayer();
  const ConnectPhase& c = connectPhase();
  if (c.nextAddress >= c.addresses.size()) {
    state = SocketState::UnconnectedState;
    setError(SocketError::SocketTimeoutError, text::kConnectionTimedOut);
    note(Note::StateChanged, static_cast<std::int64_t>(state));
    note(Note::ErrorOccurred, static_cast<std::int64_t>(error));
    return;
  }
  connectToNextAddress();
}

void SocketPrivate::connectionEstablished() {
  cancelConnectTimer();
  takeEndpoints();
  setState(SocketState::ConnectedState);
  note(Note::Connected);
  if (pendingClose) {
    pendingClose = false;
    q->disconnectFromHost();
  } else if (!writeBuffer.empty()) {
    flushPending = true;
    requestDeferred();
  }
}

// ------------------------------------------------------------ data

void SocketPrivate::readFromSocket(std::size_t budget) {
  if (!engine || !engine->isValid() || readEof) return;
  ByteBuffer& buffer = readBuffer();
  std::size_t total = 0;
  bool closed = false;
  bool failed = false;
  while (readable) {
    std::size_t limit = 0;
    if (readBufferLimit > 0) {
      const auto held = static_cast<std::int64_t>(buffer.size());
      if (held >= readBufferLimit) break;  // full: resume when the application reads
      limit = static_cast<std::size_t>(readBufferLimit - held);
    }
    if (total >= budget) {
      if (budget < kReadBudget) break;  // deliverReads() reads on
      readPending = true;  // fairness: continue on the next iteration
      requestDeferred();
      break;
    }
    if (limit == 0 || limit > budget - total) limit = budget - total;
    const ssize_t n = engine->read(buffer, limit);
    if (n > 0) {
      total += static_cast<std::size_t>(n);
      largeStream = n >= kDirectMin;
      // The engine says the receive queue is empty: skip the read that
      // would only say EAGAIN (one system call per message). After the
      // peer's FIN (RDHUP) read on, to see the end of stream.
      if (engine->lastReadDrained() && !peerHalfClosed) {
        readable = false;
        break;
      }
      continue;
    }
    if (n == 0) {
      closed = true;
      readable = false;
      break;
    }
    if (engine->wouldBlock()) {
      readable = false;
      break;
    }
    // A read failure (connection reset, ...) ends the connection like a close.
    failed = true;
    closed = true;
    readable = false;
    break;
  }
  if (total > 0) {
    // Bytes announced earlier and read now are not announced twice.
    const auto old = std::min<std::int64_t>(announced, static_cast<std::int64_t>(total));
    announced -= old;
    if (static_cast<std::int64_t>(total) > old) note(Note::ReadyRead);
  }
  if (closed) endOfStream(failed);
}

void SocketPrivate::endOfStream(bool failed) {
  readEof = true;  // nothing more to read; the close itself follows the data
  eofPending = true;
  announced = 0;
  eofReason = failed ? engine->failure()
                     : SocketFailure{SocketError::RemoteHostClosedError, 0, text::kRemoteHostClosed};
  if (dispatching == 0 && flushing == 0) requestDeferred();
}

bool SocketPrivate::announceInPlace() {
  if (!largeReader || peerHalfClosed || readBufferLimit > 0 || device != q || readEof ||
      state != SocketState::ConnectedState)
    return false;
  const std::int64_t n = engine->pendingBytes();
  if (n == 0) {
    // Bytes already read in place raised this edge: nothing new.
    readable = false;
    return true;
  }
  if (n < kDirectMin) {
    largeStream = false;  // -1 (the engine cannot tell) included
    return false;
  }
  // The kernel counts every byte it holds; new bytes raise a new edge.
  readable = false;
  if (n > announced) {
    announced = n;
    note(Note::ReadyRead);
  }
  return true;
}

std::int64_t SocketPrivate::readDirect(char* data, std::int64_t maxSize) {
  const ssize_t n = engine->readInto(data, static_cast<std::size_t>(maxSize));
  if (n > 0) {
    announced = std::max<std::int64_t>(announced - n, 0);
    largeStream = n >= kDirectMin;
    return n;
  }
  announced = 0;
  if (n < 0 && engine->wouldBlock()) return 0;
  endOfStream(n < 0);  // as a read on the event path would have found it
  return 0;
}

void SocketPrivate::takeAnnounced(bool closing) {
  ByteBuffer& buffer = readBuffer();
  std::int64_t want = announced;
  // A limit set since the announcement holds: what does not fit stays in
  // the kernel, uncounted, and is read (and announced) as it makes room.
  if (!closing && readBufferLimit > 0)
    want = std::min(want, std::max<std::int64_t>(readBufferLimit - static_cast<std::int64_t>(buffer.size()), 0));
  announced = 0;
  while (want > 0 && engine && engine->isValid()) {
    const ssize_t n = engine->read(buffer, static_cast<std::size_t>(want));
    if (n > 0) {
      want -= std::min<std::int64_t>(want, n);
      continue;
    }
    if (n < 0 && engine->wouldBlock()) break;
    if (!closing) endOfStream(n < 0);
    break;
  }
}

void SocketPrivate::settleAnnounced() {
  // The readyRead slot left announced bytes in the system. They move into
  // the buffer and reading goes on, as for any reader: a peer must never
  // stall on a window that only a read from the application would open.
  largeReader = false;
  takeAnnounced();
  if (readEof || !engine) return;
  readable = true;
  if (!readingOn && !readPending) {  // deliverReads() reads on by itself
    readPending = true;
    requestDeferred();
  }
}

void SocketPrivate::handleRemoteClose(const SocketFailure& reason) {
  readEof = true;
  setError(reason);
  note(Note::ErrorOccurred, static_cast<std::int64_t>(error));
  // Nothing more can be sent: drop the socket layer, then close the way
  // disconnectFromHost() does. Unread data stays readable.
  writeBuffer.clear();
  resetSocketLayer();
  if (state == SocketState::ConnectedState) setState(SocketState::ClosingState);
  finishDisconnect();
}

bool SocketPrivate::flushWrites() {
  if (!engine || !engine->isValid() ||
      (state != SocketState::ConnectedState && state != SocketState::ClosingState))
    return false;
  std::int64_t written = 0;
  while (hasPendingWrites()) {
    FileSend* file = fileSends ? &fileSends->files.front() : nullptr;
    ssize_t n;
    if (file && file->after == 0) {
      n = engine->sendFile(file->file.get(), file->offset, file->remaining);
      if (n > 0) {
        file->offset += n;
        file->remaining -= n;
        fileSends->bytes -= n;
        written += n;
        if (file->remaining == 0) {
          fileSends->files.pop_front();
          if (fileSends->files.empty()) fileSends.reset();
        }
        continue;
      }
    } else {
      // The buffered bytes up to the next file, or all of them.
      iovec iov{const_cast<char*>(writeBuffer.data()), file ? file->after : writeBuffer.size()};
      n = engine->write(&iov, 1);
      if (n > 0) {
        writeBuffer.consume(static_cast<std::size_t>(n));
        if (file) file->after -= static_cast<std::size_t>(n);
        written += n;
        // A short write means the send buffer is full: the next EPOLLOUT
        // edge says when to go on (no sendmsg that could only fail).
        if (static_cast<std::size_t>(n) < iov.iov_len) break;
        continue;
      }
    }
    if (n < 0 && engine->wouldBlock()) break;  // EPOLLOUT will call again
    // Write failure, or a file shorter than promised: the connection is
    // unusable.
    if (n == 0 && file)
      setError(SocketError::UnknownSocketError, "The file ended before all the bytes given to sendFile() were sent");
    else
      setError(engine->failure());
    note(Note::ErrorOccurred, static_cast<std::int64_t>(error));
    if (written > 0 && device->bytesWritten.hasConnections()) note(Note::BytesWritten, written);
    abortCalled = true;
    clearWrites();
    const SocketState previous = state;
    resetSocketLayer();
    state = previous;
    finishDisconnect();
    return written > 0;
  }
  if (written > 0 && device->bytesWritten.hasConnections()) note(Note::BytesWritten, written);
  if (!hasPendingWrites()) {
    // The empty buffer goes, as the read buffer does (see
    // AbstractSocket::readBufferConsumed): the next write takes a warm block
    // back from the allocator or the thread's block cache.
    writeBuffer.releaseIfEmpty();
    if (state == SocketState::ClosingState) finishDisconnect();
  }
  return written > 0;
}

// ------------------------------------------------------------ closing

void SocketPrivate::resetSocketLayer() {
  cancelConnectTimer();
  watchPending = false;
  // Announced bytes stay readable after the socket closes, as buffered ones do.
  if (announced > 0) takeAnnounced(true);
  largeStream = false;
  if (engine) engine->close();
  readable = false;
  hasPendingData = false;
}

void SocketPrivate::finishDisconnect() {
  const SocketState previous = state;
  resetSocketLayer();
  dropFileSends();  // their bytes can never go out now; release the files
  state = SocketState::UnconnectedState;
  note(Note::StateChanged, static_cast<std::int64_t>(state));
  note(Note::ReadChannelFinished);
  if (previous == SocketState::ConnectedState || previous == SocketState::ClosingState)
    note(Note::Disconnected);
  localPort = peerPort = 0;
  localAddress = peerAddress = HostAddress();
  peerName.clear();
}

}  // namespace tether::detail
