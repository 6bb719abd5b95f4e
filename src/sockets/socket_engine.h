// The socket engine: the narrow interface between a public socket class
// (AbstractSocket, TcpServer, later UdpSocket) and whatever moves its bytes.
// The native engine makes the system calls; proxy and TLS engines will
// implement the same interface, so the socket classes carry no `if`s for them.
//
// An engine never emits signals. It reports readiness to one EngineHandler
// through the dispatcher and returns failures as SocketFailure values.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>

#include "reactor/dispatcher.h"
#include "sockets/socket_error.h"
#include "tether/host_address.h"
#include "tether/network_datagram.h"
#include "tether/socket_types.h"

namespace tether::detail {

class ByteBuffer;
class Dispatcher;

// Receives an engine's readiness: its watchEvents() is given the epoll event
// set (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLHUP), edge-triggered.
// The native engine's watcher calls it directly.
using EngineHandler = WatchHandler;

enum class ConnectResult { Connected, InProgress, Failed };

class SocketEngine {
 public:
  virtual ~SocketEngine() = default;

  // An address and port, as the system reports them for one end.
  struct Endpoint {
    HostAddress address;
    std::uint16_t port = 0;
  };

  // A new non-blocking, close-on-exec socket. AnyIPProtocol gives a dual-stack
  // IPv6 socket.
  virtual bool create(SocketType type, NetworkLayerProtocol protocol) = 0;
  // Takes ownership of an existing descriptor and makes it non-blocking.
  virtual bool adopt(int descriptor) = 0;
  virtual int descriptor() const = 0;
  virtual bool isValid() const = 0;
  virtual SocketType socketType() const = 0;
  virtual NetworkLayerProtocol protocol() const = 0;
  // Gives up the descriptor without closing it.
  virtual int release() = 0;
  virtual void close() = 0;

  virtual bool bind(const HostAddress& address, std::uint16_t port, BindMode mode) = 0;
  virtual bool listen(int backlog) = 0;
  // A new non-blocking, close-on-exec descriptor, or -1 (failure() says why;
  // TemporaryError means nothing to accept now). With `peer`, the accepting
  // call also reports who connected (no getpeername() afterwards).
  virtual int accept(Endpoint* peer) = 0;
  // Takes a descriptor that accept() of a listening engine of this kind
  // returned, where the listener is of `protocol`: it is known to be a
  // non-blocking, close-on-exec stream socket, so this checks nothing and
  // makes no system call. Engines that need more keep the default.
  virtual bool adoptAccepted(int descriptor, NetworkLayerProtocol /*protocol*/) { return adopt(descriptor); }
  virtual ConnectResult connect(const HostAddress& address, std::uint16_t port) = 0;
  // After the descriptor became writable while connecting: the outcome.
  virtual ConnectResult finishConnect() = 0;
  // getsockname() / getpeername() now (a null address and port 0 when the
  // system has none). Engines keep no copy: the socket layer asks once when
  // it binds, connects or adopts, and keeps what it needs.
  virtual Endpoint localEndpoint() const = 0;
  virtual Endpoint peerEndpoint() const = 0;

  // > 0: bytes appended to `into` (at most maxBytes, 0 = no limit); 0: end of
  // stream; -1: failure, with wouldBlock() telling whether it was EAGAIN.
  virtual ssize_t read(ByteBuffer& into, std::size_t maxBytes) = 0;
  // Gathers the buffers in one call. >= 0: bytes written; -1: failure (or
  // would block, see wouldBlock()).
  virtual ssize_t write(const iovec* buffers, int count) = 0;
  virtual bool wouldBlock() const = 0;
  // After a successful read(): whether it emptied the receive queue, so the
  // caller need not read again until the next readiness edge. Engines that
  // cannot tell (TLS holds decrypted records of its own) return false and
  // are read until they would block.
  virtual bool lastReadDrained() const { return false; }
  // Reading straight into the caller's memory (AbstractSocket on a bulk
  // stream): the bytes the receive queue holds now, or -1 when the engine
  // cannot tell or keeps bytes of its own (TLS records); then one read into
  // `data`, with read()'s results. Engines that return -1 are always read
  // into the buffer.
  virtual std::int64_t pendingBytes() { return -1; }
  virtual ssize_t readInto(char* /*data*/, std::size_t /*maxBytes*/) { return -1; }
  // Half-close: no more writes (FIN).
  virtual void shutdownWrite() = 0;

  // Zero-copy file sending (AbstractSocket::sendFile). An engine that can
  // send from a file straight to its descriptor says so and implements
  // sendFile(): up to `count` bytes of the file `fd` from `offset`, without
  // changing the file's own offset. > 0: bytes sent; 0: the file ends before
  // `offset`; -1: failure (or would block, see wouldBlock()). Engines that
  // must see the bytes (TLS, framing proxies) keep the defaults.
  virtual bool canSendFile() const { return false; }
  virtual ssize_t sendFile(int /*fd*/, std::int64_t /*offset*/, std::int64_t /*count*/) { return -1; }

  // Registers with the dispatcher; events go to `handler` until stopWatching().
  virtual bool startWatching(Dispatcher& dispatcher, EngineHandler* handler) = 0;
  virtual void stopWatching() = 0;

  virtual bool setOption(SocketOption option, int value) = 0;
  // -1 when unsupported or on failure.
  virtual int option(SocketOption option) const = 0;

  // Blocking wait with no event loop: poll() for readability and/or
  // writability. Returns 1 when ready (flags set), 0 on timeout, -1 on error.
  virtual int waitFor(bool forRead, bool forWrite, int msecs, bool* readReady, bool* writeReady) = 0;

  // The last failure.
  virtual const SocketFailure& failure() const = 0;

  // --- datagrams (UdpSocket)
  // Implemented by the native engine; the defaults fail (and failure() says
  // nothing new), so engines that never carry datagrams need nothing.
  // Receiving is served from a batch the engine takes from the system: these
  // may make a system call only when that batch is used up.
  struct DatagramHeader {
    HostAddress senderAddress;
    std::uint16_t senderPort = 0;
    HostAddress destinationAddress;
    std::uint16_t destinationPort = 0;
    int hopLimit = -1;
    unsigned interfaceIndex = 0;
  };
  using DatagramParts = DatagramDetails;
  // EPOLLIN or EPOLLERR was seen: the system may hold datagrams (or an error).
  virtual void datagramsReadable() {}
  // False when there is none; wouldBlock() is then false if the system
  // reported an error instead (failure() says which; it is reported once).
  virtual bool hasPendingDatagrams() { return false; }
  // False only when hasPendingDatagrams() would surely say no: nothing
  // held and the system's queue seen empty since its last edge. No system call.
  virtual bool mayHavePendingDatagrams() const { return true; }
  // -1 when there is none.
  virtual std::int64_t pendingDatagramSize() { return -1; }
  // Takes the next datagram: copies at most maxSize bytes of it (the rest is
  // dropped) and fills `header` as far as `parts` asks. Returns the bytes
  // copied, or -1 (nothing pending: wouldBlock(); or failure()).
  virtual std::int64_t readDatagram(char* /*data*/, std::int64_t /*maxSize*/, DatagramHeader* /*header*/,
                                    DatagramParts /*parts*/) { return -1; }
  // Fills up to `count` slots; returns how many (0: none pending), or -1 on
  // failure.
  virtual std::int64_t readDatagrams(DatagramBuffer* /*buffers*/, std::size_t /*count*/, DatagramParts /*parts*/) {
    return -1;
  }
  // Sends one datagram whole; a Null destination sends to the connected
  // peer. Returns the payload size, or -1 (wouldBlock() for EAGAIN).
  virtual std::int64_t writeDatagram(const char* /*data*/, std::int64_t /*size*/, const DatagramHeader& /*header*/) {
    return -1;
  }
  // Sends a batch; returns how many went (from the first), or -1 if none did.
  virtual std::int64_t writeDatagrams(const OutgoingDatagram* /*datagrams*/, std::size_t /*count*/) { return -1; }
  // Sends `data` as datagrams of segmentSize bytes (the last may be shorter),
  // with UDP segmentation offload where the system has it. Returns the bytes
  // sent (whole datagrams), or -1 if none went.
  virtual std::int64_t writeSegmented(const char* /*data*/, std::int64_t /*size*/, std::int64_t /*segmentSize*/,
                                      const HostAddress& /*address*/, std::uint16_t /*port*/) { return -1; }
  // Whether writeSegmented() can hand whole batches to the system.
  virtual bool hasSegmentationOffload() const { return false; }
  // Interface 0: the system's choice. A group with a scope id and interface 0
  // uses the scope's interface.
  virtual bool joinMulticastGroup(const HostAddress& /*group*/, int /*interfaceIndex*/) { return false; }
  virtual bool leaveMulticastGroup(const HostAddress& /*group*/, int /*interfaceIndex*/) { return false; }
  // The outgoing multicast interface's index, or 0; for an IPv4 interface
  // set by address rather than by index, 0 with *address set to it.
  virtual int multicastInterface(HostAddress* /*address*/) const { return 0; }
  virtual bool setMulticastInterface(int /*interfaceIndex*/) { return false; }
  // Bytes the engine holds for received datagrams (diagnostics, tests).
  virtual std::size_t datagramMemory() const { return 0; }

  // --- local (Unix-domain) sockets
  // Implemented by the Unix-domain engine (unix_socket_engine.cpp); the
  // defaults say "not supported" by failing, so other engines need nothing.
  // A Unix-domain address: a file system path, or a name in Linux's abstract
  // namespace (the bytes of `name`, no terminator). Empty: unnamed.
  struct UnixAddress {
    std::string name;
    bool abstractNamespace = false;
  };
  // Creates, binds and listens. fileMode != 0 (a path only): the socket file
  // appears with exactly these permission bits, never with others (it is
  // bound under a private temporary name and linked into place once
  // listening); an existing file at the path is never replaced.
  virtual bool listenLocal(const UnixAddress&, unsigned /*fileMode*/, int /*backlog*/) { return false; }
  // Creates a socket if there is none and connects it. InProgress means the
  // server's backlog is full (EAGAIN): call again later.
  virtual ConnectResult connectLocal(const UnixAddress&) { return ConnectResult::Failed; }
  // getsockname()/getpeername() as Unix-domain addresses.
  virtual UnixAddress localUnixAddress() const { return {}; }
  virtual UnixAddress peerUnixAddress() const { return {}; }
};

std::unique_ptr<SocketEngine> createNativeSocketEngine();

}  // namespace tether::detail
