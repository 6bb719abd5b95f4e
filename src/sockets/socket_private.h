// AbstractSocket's private state: the connection state machine, the write
// buffer, the queue of signals waiting for the event loop, and the engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "tether/detail/byte_buffer.h"
#include "tether/detail/rare_string.h"
#include "reactor/dispatcher.h"
#include "sockets/socket_engine.h"
#include "system/unique_fd.h"
#include "tether/abstract_socket.h"

namespace tether::detail {

// Datagram sockets take datagrams, not a stream: UdpSocket installs one of
// these, and the socket's readiness goes to it instead of the stream reader.
class DatagramEvents {
 public:
  // EPOLLIN or EPOLLERR: datagrams (or an ICMP error) may be waiting.
  virtual void datagramsReadable() = 0;
  // The deferred call after the application read datagrams: look again.
  virtual void resumeDatagrams() = 0;

 protected:
  DatagramEvents() = default;
  DatagramEvents(const DatagramEvents&) = default;
  DatagramEvents& operator=(const DatagramEvents&) = default;
  ~DatagramEvents() = default;
};

// A FIFO of small values that keeps its first few inside the owner (one
// cache line for four notes) and moves to the heap only when more wait at
// once. A socket's queue rarely holds more than readyRead and bytesWritten,
// and std::deque would allocate a map and a 512-byte block per socket.
template <typename T, std::size_t Inline = 4>
class SmallQueue {
 public:
  SmallQueue() = default;
  SmallQueue(const SmallQueue&) = delete;
  SmallQueue& operator=(const SmallQueue&) = delete;

  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  T& front() { return slot(head_); }
  T& back() { return slot(head_ + count_ - 1); }
  void push_back(const T& value) {
    if (count_ == capacity_) grow();
    slot(head_ + count_) = value;
    ++count_;
  }
  void pop_front() {
    head_ = (head_ + 1) % capacity_;
    if (--count_ == 0) head_ = 0;
  }
  void pop_back() { --count_; }
  void clear() { head_ = count_ = 0; }

 private:
  T* data() { return heap_ ? heap_.get() : inline_; }
  T& slot(std::size_t i) { return data()[i % capacity_]; }
  void grow() {
    auto bigger = std::make_unique<T[]>(capacity_ * 2);
    for (std::size_t i = 0; i < count_; ++i) bigger[i] = slot(head_ + i);
    heap_ = std::move(bigger);
    capacity_ *= 2;
    head_ = 0;
  }

  T inline_[Inline] = {};
  std::unique_ptr<T[]> heap_;
  std::uint32_t capacity_ = Inline;
  std::uint32_t head_ = 0;
  std::uint32_t count_ = 0;
};

struct SocketPrivate final : EngineHandler, DeferredCall {
  explicit SocketPrivate(AbstractSocket* owner, SocketType socketType);
  ~SocketPrivate();
  SocketPrivate(const SocketPrivate&) = delete;
  SocketPrivate& operator=(const SocketPrivate&) = delete;

  // A signal waiting to be emitted, in order: eight bytes, so four wait
  // inside the socket in half a cache line. The value is a state, an error
  // or a byte count (56 bits hold any count a socket can write).
  struct Note {
    enum Kind : std::uint8_t { StateChanged, HostFound, Connected, Disconnected, ErrorOccurred, ReadyRead,
                               BytesWritten, ReadChannelFinished };
    Kind kind : 8;
    std::int64_t value : 56;
  };
  static_assert(sizeof(Note) == 8);

  // A socket adopted by TcpServer is handed to the application already
  // connected: it must not later report a stateChanged(ConnectedState) that
  // happened before anyone could connect to it.
  static void forgetAdoptionNotes(AbstractSocket* socket) { socket->d_->notes.clear(); }
  // TcpServer's default incomingConnection(): a descriptor straight from
  // the listener's accept(), with the peer accept() reported and the local
  // end when the listener's address says it (null: ask the system). The
  // socket ends up as setSocketDescriptor() leaves it, connected and open
  // for reading and writing.
  static bool adoptAccepted(AbstractSocket& socket, int descriptor, NetworkLayerProtocol listenerProtocol,
                            const SocketEngine::Endpoint* local, const SocketEngine::Endpoint& peer);
  // LocalSocket drives a private AbstractSocket through this state machine.
  static SocketPrivate& of(AbstractSocket& socket) { return *socket.d_; }

  // --- signal delivery
  void note(Note::Kind kind, std::int64_t value = 0);
  void setState(SocketState s);  // records the state and notes stateChanged
  void setError(SocketError e, std::string text);
  void setError(const SocketFailure& f) { setError(f.error, f.text); }
  // Emits every queued note. Returns false if the socket was destroyed by a
  // slot (the caller must return without touching members).
  bool flushNotes();
  // A blocking wait ran out of time: SocketTimeoutError, emitted; the state
  // stays as it is.
  void timedOut();

  // --- event loop entry points
  void watchEvents(std::uint32_t events) override;
  void runDeferred() override;
  // Emits the notes of an I/O event, then sends what the slots wrote.
  void finishDispatch();
  void requestDeferred() { dispatcher->schedule(this); }
  // Where received bytes go: the read buffer of the device the application
  // reads, so a LocalSocket's reader takes them without a second layer.
  ByteBuffer& readBuffer() { return device->readBuffer(); }
  // The device's readData(): everything received is already in the read
  // buffer, so 0 (nothing more now), or -1 (end of stream) once a closed
  // socket's buffer has been drained.
  std::int64_t readDataResult() const {
    return state == SocketState::UnconnectedState || (readEof && !eofPending) ? -1 : 0;
  }

  // --- connecting
  void startLookup(bool blocking);
  void lookupFinished(const std::vector<HostAddress>& found);
  void connectToNextAddress();
  void testConnection();
  void connectionEstablished();
  void connectTimedOut();
  bool ensureEngine(NetworkLayerProtocol protocol);
  void startWatching();
  void applyOptions();

  // --- data
  // Reads until the kernel is drained, the read buffer is full or `budget`
  // bytes have come (then the caller reads on: deliverReads(), or a
  // deferred run for the whole kReadBudget).
  void readFromSocket(std::size_t budget = kReadBudget);
  // Bytes read per readiness event before yielding to other sockets; the
  // rest is read on the next iteration.
  static constexpr std::size_t kReadBudget = std::size_t{1} << 20;
  // Emits what the last read queued, then reads the next chunk, until the
  // kernel is drained, the buffer is full, or kReadBudget is spent (the
  // rest on the next deferred run). False if a slot destroyed the socket.
  bool deliverReads();
  // A bulk stream read by an application that reads in large pieces is not
  // copied through the read buffer: on a readiness edge the socket asks the
  // kernel how many bytes wait (FIONREAD) and announces them, and a read()
  // of kDirectMin bytes or more beyond the buffer takes them straight into
  // the caller's memory (readDirect()). False when the edge is read the
  // usual way (small or unknown amounts, end of stream near, a read buffer
  // limit, a LocalSocket's stream).
  bool announceInPlace();
  static constexpr std::int64_t kDirectMin = 16 * 1024;
  // AbstractSocket::readData() with announced bytes: one read into `data`.
  std::int64_t readDirect(char* data, std::int64_t maxSize);
  // Moves the announced bytes into the read buffer without announcing them
  // again (small reads, peek, readLine, transactions, closing).
  // `closing`: the socket layer goes; an end of stream found is not handled.
  void takeAnnounced(bool closing = false);
  // After a readyRead emission (any path that emits it): announced bytes
  // the slot left unread are taken into the buffer and reading resumes.
  void settleAnnounced();
  // The stream ended (`failed`: with an error): handled once the notes
  // before it are emitted.
  void endOfStream(bool failed);
  bool flushWrites();  // true if anything was written
  void handleRemoteClose(const SocketFailure& reason);

  // --- closing
  void finishDisconnect();
  void resetSocketLayer();
  void abortLookup();

  // Members in the order an I/O event touches them: the first cache lines
  // serve every message; what only connecting, closing or sendFile() need
  // comes last (a server with thousands of connections keeps the hot part
  // of each in cache). The one-byte flags come first, where they fill the
  // bytes the base classes leave free.
  bool readable = false;       // the kernel may hold unread data (edge-triggered)
  bool readEof = false;        // end of stream seen
  bool peerHalfClosed = false; // RDHUP/HUP/ERR seen: read until the end of stream
  bool eofPending = false;     // end of stream read; handled after the notes before it
  bool emittingReadyRead = false;
  bool emittingBytesWritten = false;
  bool pendingClose = false;   // disconnectFromHost() while looking up / connecting
  bool abortCalled = false;
  bool startPending = false;   // connectToHost() waits for the loop to start
  bool readPending = false;    // resume reading on the next deferred run
  bool flushPending = false;
  // Datagram sockets: Qt's "readyRead was emitted and nothing has been read
  // since" flag (no further readyRead until then).
  bool hasPendingData = false;
  // An accepted socket joins the epoll set on its first deferred run, not
  // at once: one the application closes before returning to the loop (a
  // server that refuses or answers at once) never costs an epoll_ctl() pair.
  bool watchPending = false;
  // deliverReads() is emitting readyRead and reads on afterwards: the
  // application's read needs no deferred call to resume reading.
  bool readingOn = false;
  // Reading in place (see announceInPlace()): the last read of the stream
  // brought kDirectMin bytes or more, and the application's last read asked
  // for that much beyond what was buffered.
  bool largeStream = false;
  bool largeReader = false;
  std::uint8_t optionsSet = 0;  // a bit per SocketOption in optionValues
  SocketType type;
  SocketState state = SocketState::UnconnectedState;
  SocketError error = SocketError::UnknownSocketError;
  int flushing = 0;
  int dispatching = 0;  // inside watchEvents()
  int deliveryDepth = 0;  // the loop depth at which the current delivery began
  AbstractSocket* q;
  std::shared_ptr<Dispatcher> dispatcher;
  std::unique_ptr<SocketEngine> engine;
  std::int64_t readBufferLimit = 0;
  // Bytes announced with readyRead that are still in the kernel's receive
  // queue: bytesAvailable() counts them, a large read() takes them straight
  // into the caller's memory, anything else moves them into the buffer
  // first (takeAnnounced()).
  std::int64_t announced = 0;
  SmallQueue<Note> notes;
  ByteBuffer writeBuffer;
  // The device whose readyRead, bytesWritten and readChannelFinished the
  // notes are emitted on: q itself, or the LocalSocket that wraps q (no
  // forwarding slot between them). Its bytesWritten also decides whether a
  // BytesWritten note is worth queueing: a write nobody listens to costs
  // none. The device owns q, so it outlives every emission q makes.
  IODevice* device;
  // Datagram sockets: where readiness goes instead of the stream reader.
  DatagramEvents* datagramEvents = nullptr;

  // Files queued by AbstractSocket::sendFile(), in order. A file goes out
  // once the `after` bytes of writeBuffer written before it (counted from
  // the previous file) have left; bytes written after it wait for it.
  struct FileSend {
    UniqueFd file;
    std::int64_t offset = 0;
    std::int64_t remaining = 0;
    std::size_t after = 0;
  };
  // Rarely used: allocated by the first sendFile(), freed when it is empty.
  struct FileQueue {
    std::list<FileSend> files;
    std::int64_t bytes = 0;  // what the files still have to send
  };
  std::unique_ptr<FileQueue> fileSends;
  std::int64_t fileBytesToWrite() const { return fileSends ? fileSends->bytes : 0; }
  bool hasPendingWrites() const { return !writeBuffer.empty() || fileSends; }
  void dropFileSends() { fileSends.reset(); }
  void clearWrites() {
    writeBuffer.clear();
    dropFileSends();
  }
  SocketFailure eofReason;

  // What connectToHost() needs until the connection is made: sockets that
  // were accepted, adopted or only bound never allocate it.
  struct ConnectPhase {
    std::string hostName;
    std::vector<HostAddress> addresses;
    std::size_t nextAddress = 0;
    SocketFailure lastConnectFailure;
    TimerRecord timer;  // the connect timeout
    int lookupId = -1;
    std::uint16_t port = 0;
    NetworkLayerProtocol preferredProtocol = NetworkLayerProtocol::AnyIPProtocol;
  };
  std::unique_ptr<ConnectPhase> connecting;
  ConnectPhase& connectPhase();  // created on first use, kept for the next connectToHost()
  bool lookingUp() const { return connecting && connecting->lookupId != -1; }
  void cancelConnectTimer() {
    if (connecting) dispatcher->cancelTimer(&connecting->timer);
  }

  HostAddress localAddress;
  HostAddress peerAddress;
  std::uint16_t localPort = 0;
  std::uint16_t peerPort = 0;
  // Asks the engine (a system call each).
  void takeLocalEndpoint() {
    SocketEngine::Endpoint e = engine->localEndpoint();
    localAddress = std::move(e.address);
    localPort = e.port;
  }
  void takeEndpoints() {
    takeLocalEndpoint();
    SocketEngine::Endpoint e = engine->peerEndpoint();
    peerAddress = std::move(e.address);
    peerPort = e.port;
  }
  RareString peerName;  // set by connectToHost() with a name, or setPeerName()

  // Options set by setSocketOption(), applied to every new engine: a value
  // per option and a bit in optionsSet per option set (no allocation for
  // the common LowDelayOption of a server's sockets).
  static constexpr int kOptionCount = static_cast<int>(SocketOption::PathMtuSocketOption) + 1;
  static_assert(kOptionCount <= 8);
  int optionValues[kOptionCount] = {};

  // Inside this socket's own I/O event or signal delivery, at the loop level
  // where it began: what is queued now is sent and emitted before the
  // delivery returns, so no deferred call is needed. In a nested loop run
  // by a slot it is not.
  bool deliveringHere() const {
    return (dispatching > 0 || flushing > 0) && dispatcher->loopDepth() == deliveryDepth;
  }
  void beginDelivery() {
    if (dispatching == 0 && flushing == 0) deliveryDepth = dispatcher->loopDepth();
  }
};

}  // namespace tether::detail
