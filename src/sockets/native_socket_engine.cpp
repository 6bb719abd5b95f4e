// The native engine: non-blocking BSD sockets on Linux, registered with the
// dispatcher's epoll set once, edge-triggered for reading and writing, so
// that no epoll_ctl() is needed per write.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <memory>
#include <optional>

#include "tether/detail/byte_buffer.h"
#include "reactor/dispatcher.h"
#include "sockets/native_datagram_engine.h"
#include "sockets/socket_engine.h"

namespace tether::detail {

namespace {

class NativeSocketEngine final : public SocketEngine {
 public:
  ~NativeSocketEngine() override { close(); }

  bool create(SocketType type, NetworkLayerProtocol protocol) override {
    close();
    const int family = protocol == NetworkLayerProtocol::IPv4Protocol ? AF_INET : AF_INET6;
    const int kind = type == SocketType::UdpSocket ? SOCK_DGRAM : SOCK_STREAM;
    const int fd = ::socket(family, kind | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return failWith(errno, SocketCall::Create);
    watcher_.setFd(fd);
    type_ = type;
    protocol_ = protocol;
    if (family == AF_INET6) {
      // AnyIPProtocol: one socket for both families, as Qt does.
      int v6only = protocol == NetworkLayerProtocol::IPv6Protocol ? 1 : 0;
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (type == SocketType::UdpSocket) datagrams().attach(fd, protocol);
    return true;
  }

  bool adopt(int descriptor) override {
    close();
    // Check that it is a socket before changing any of its flags: a refused
    // descriptor goes back to the caller as it came.
    int kind = 0;
    socklen_t len = sizeof kind;
    if (::getsockopt(descriptor, SOL_SOCKET, SO_TYPE, &kind, &len) != 0)
      return failWith(errno, SocketCall::Other, SocketError::UnsupportedSocketOperationError,
                      text::kInvalidDescriptor);
    const int flags = ::fcntl(descriptor, F_GETFL);
    if (flags < 0) return failWith(errno, SocketCall::Other, SocketError::UnsupportedSocketOperationError,
                                   text::kInvalidDescriptor);
    if (!(flags & O_NONBLOCK) && ::fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) < 0)
      return failWith(errno, SocketCall::Other);
    ::fcntl(descriptor, F_SETFD, FD_CLOEXEC);
    type_ = kind == SOCK_DGRAM ? SocketType::UdpSocket : kind == SOCK_STREAM ? SocketType::TcpSocket
                                                                               : SocketType::UnknownSocketType;
    watcher_.setFd(descriptor);
    // The family first: addresses of v4-mapped peers are reported by it.
    sockaddr_storage ss{};
    len = sizeof ss;
    protocol_ = NetworkLayerProtocol::UnknownNetworkLayerProtocol;
    if (::getsockname(descriptor, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
      protocol_ = ss.ss_family == AF_INET ? NetworkLayerProtocol::IPv4Protocol
                  : ss.ss_family == AF_INET6 ? NetworkLayerProtocol::IPv6Protocol
                                             : NetworkLayerProtocol::UnknownNetworkLayerProtocol;
    if (type_ == SocketType::UdpSocket) {
      datagrams().attach(descriptor, protocol_);
      rememberLocalPort();
    }
    return true;
  }

  int descriptor() const override { return socketFd(); }
  bool isValid() const override { return socketFd() >= 0; }
  SocketType socketType() const override { return type_; }
  NetworkLayerProtocol protocol() const override { return protocol_; }

  int release() override {
    stopWatching();
    if (datagrams_) datagrams_->detach();
    const int fd = watcher_.fd();
    watcher_.setFd(-1);
    return fd;
  }

  void close() override {
    stopWatching();
    if (datagrams_) datagrams_->detach();
    if (socketFd() >= 0) ::close(socketFd());
    watcher_.setFd(-1);
    localPort_ = 0;
  }

  bool bind(const HostAddress& address, std::uint16_t port, BindMode mode) override {
    // Unix rules: DefaultForPlatform leaves the options alone; ShareAddress
    // and ReuseAddressHint allow rebinding (SO_REUSEADDR); DontShareAddress
    // forbids it. Servers set SO_REUSEADDR themselves before listening.
    // For UDP, DontShareAddress wins over ReuseAddressHint, as documented:
    // an exclusive binding stays exclusive.
    if (type_ == SocketType::UdpSocket && (mode & DontShareAddress) && !(mode & ShareAddress)) {
      int off = 0;
      ::setsockopt(socketFd(), SOL_SOCKET, SO_REUSEADDR, &off, sizeof off);
    } else if (mode & (ShareAddress | ReuseAddressHint)) {
      int on = 1;
      ::setsockopt(socketFd(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    } else if (mode & DontShareAddress) {
      int off = 0;
      ::setsockopt(socketFd(), SOL_SOCKET, SO_REUSEADDR, &off, sizeof off);
    }
    sockaddr_storage ss{};
    const socklen_t len = forSocketFamily(address).toSockaddr(port, &ss);
    if (::bind(socketFd(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
      return failWith(errno, SocketCall::Bind);
    rememberLocalPort();
    return true;
  }

  bool listen(int backlog) override {
    if (::listen(socketFd(), backlog) != 0) return failWith(errno, SocketCall::Listen);
    return true;
  }

  int accept(Endpoint* peer) override {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd = ::accept4(socketFd(), peer ? reinterpret_cast<sockaddr*>(&ss) : nullptr, peer ? &len : nullptr,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      failWith(errno, SocketCall::Accept);
      return fd;
    }
    if (peer) peer->address = unmapped(HostAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), &peer->port));
    return fd;
  }

  bool adoptAccepted(int descriptor, NetworkLayerProtocol protocol) override {
    close();
    watcher_.setFd(descriptor);
    type_ = SocketType::TcpSocket;
    // A dual-stack listener's connections are IPv6 sockets (with v4-mapped
    // peers reported as IPv4, as adopt() would find).
    protocol_ = protocol == NetworkLayerProtocol::IPv4Protocol ? protocol : NetworkLayerProtocol::IPv6Protocol;
    return true;
  }

  ConnectResult connect(const HostAddress& address, std::uint16_t port) override {
    sockaddr_storage ss{};
    const socklen_t len = forSocketFamily(address).toSockaddr(port, &ss);
    if (::connect(socketFd(), reinterpret_cast<sockaddr*>(&ss), len) == 0) {
      rememberLocalPort();
      return ConnectResult::Connected;
    }
    const int err = errno;
    if (err == EINPROGRESS || err == EALREADY || err == EAGAIN) return ConnectResult::InProgress;
    if (err == EISCONN) {
      rememberLocalPort();
      return ConnectResult::Connected;
    }
    failWith(err, SocketCall::Connect);
    return ConnectResult::Failed;
  }

  ConnectResult finishConnect() override {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(socketFd(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) {
      // Writable with no error can still mean "not yet" on a spurious wake-up.
      sockaddr_storage ss{};
      socklen_t sl = sizeof ss;
      if (::getpeername(socketFd(), reinterpret_cast<sockaddr*>(&ss), &sl) != 0) {
        if (errno == ENOTCONN) return ConnectResult::InProgress;
        failWith(errno, SocketCall::Connect);
        return ConnectResult::Failed;
      }
      return ConnectResult::Connected;
    }
    if (err == EINPROGRESS || err == EALREADY) return ConnectResult::InProgress;
    failWith(err, SocketCall::Connect);
    return ConnectResult::Failed;
  }

  Endpoint localEndpoint() const override {
    Endpoint e;
    if (protocol_ == NetworkLayerProtocol::UnknownNetworkLayerProtocol) return e;  // not IP: no host address
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(socketFd(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return e;
    e.address = unmapped(HostAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), &e.port));
    // A UDP socket bound to the dual-stack any-address reports it as Any, as
    // Qt does (getsockname() says "::").
    if (type_ == SocketType::UdpSocket && protocol_ == NetworkLayerProtocol::AnyIPProtocol &&
        e.address == HostAddress(HostAddress::AnyIPv6))
      e.address = HostAddress::Any;
    return e;
  }

  Endpoint peerEndpoint() const override {
    Endpoint e;
    if (protocol_ == NetworkLayerProtocol::UnknownNetworkLayerProtocol) return e;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(socketFd(), reinterpret_cast<sockaddr*>(&ss), &len) == 0)
      e.address = unmapped(HostAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), &e.port));
    return e;
  }

  ssize_t read(ByteBuffer& into, std::size_t maxBytes) override {
    wouldBlock_ = false;
    const std::size_t asked = into.readRoom(maxBytes);  // what one read can take
    ssize_t n;
    do n = into.readFromFd(socketFd(), maxBytes);
    while (n < 0 && errno == EINTR);
    return readResult(n, asked);
  }

  // What one read system call that had room for `asked` bytes returned.
  ssize_t readResult(ssize_t n, std::size_t asked) {
    // A stream read that returns less than it had room for emptied the
    // receive queue: new data raises a new edge.
    if (n >= 0) {
      drained_ = type_ == SocketType::TcpSocket && static_cast<std::size_t>(n) < asked;
      return n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wouldBlock_ = true;
      return -1;
    }
    failWith(errno, SocketCall::Read);
    return -1;
  }

  ssize_t write(const iovec* buffers, int count) override {
    wouldBlock_ = false;
    for (;;) {
      // MSG_NOSIGNAL: a closed peer is an error, not a SIGPIPE. One buffer
      // goes with send(), which spares the kernel the iovec import.
      ssize_t n;
      if (count == 1) {
        n = ::send(socketFd(), buffers[0].iov_base, buffers[0].iov_len, MSG_NOSIGNAL);
      } else {
        msghdr msg{};
        msg.msg_iov = const_cast<iovec*>(buffers);
        msg.msg_iovlen = static_cast<std::size_t>(count);
        n = ::sendmsg(socketFd(), &msg, MSG_NOSIGNAL);
      }
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wouldBlock_ = true;
        return -1;
      }
      failWith(errno, SocketCall::Write);
      return -1;
    }
  }

  bool canSendFile() const override { return type_ == SocketType::TcpSocket; }

  ssize_t sendFile(int fd, std::int64_t offset, std::int64_t count) override {
    wouldBlock_ = false;
    // sendfile(2) has no MSG_NOSIGNAL: block SIGPIPE on this thread for the
    // call, and take back a SIGPIPE the call raised (a closed peer is an
    // error return, never a signal).
    sigset_t pipeSignal;
    sigset_t previous;
    sigemptyset(&pipeSignal);
    sigaddset(&pipeSignal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous);
    sigset_t pending;
    sigpending(&pending);
    const bool alreadyPending = sigismember(&pending, SIGPIPE) == 1;
    ssize_t n;
    off_t at = offset;
    // The kernel sends at most 0x7ffff000 bytes per call.
    const auto want = static_cast<std::size_t>(std::min<std::int64_t>(count, 0x7ffff000));
    do {
      n = ::sendfile(socketFd(), fd, &at, want);
    } while (n < 0 && errno == EINTR);
    const int err = errno;
    if (n < 0 && err == EPIPE && !alreadyPending) {
      const timespec zero{};
      sigtimedwait(&pipeSignal, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (n >= 0) return n;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      wouldBlock_ = true;
      return -1;
    }
    failWith(err, SocketCall::Write);
    return -1;
  }

  bool wouldBlock() const override { return wouldBlock_; }
  bool lastReadDrained() const override { return drained_; }

  std::int64_t pendingBytes() override {
    if (type_ != SocketType::TcpSocket) return -1;
    int n = 0;
    if (::ioctl(socketFd(), FIONREAD, &n) != 0) return -1;
    return n;
  }

  ssize_t readInto(char* data, std::size_t maxBytes) override {
    wouldBlock_ = false;
    ssize_t n;
    do n = ::read(socketFd(), data, maxBytes);
    while (n < 0 && errno == EINTR);
    return readResult(n, maxBytes);
  }

  void shutdownWrite() override { ::shutdown(socketFd(), SHUT_WR); }

  bool startWatching(Dispatcher& dispatcher, EngineHandler* handler) override {
    if (datagrams_) datagrams_->setDispatcher(&dispatcher);
    // Events go straight to the handler: the engine has nothing to add.
    watcher_.attach(dispatcher, socketFd(), handler);
    // A UDP socket never waits to write (a full send buffer is an error the
    // caller sees), and every datagram sent would raise an EPOLLOUT edge.
    const std::uint32_t interest =
        type_ == SocketType::UdpSocket ? std::uint32_t{EPOLLIN} : std::uint32_t{EPOLLIN | EPOLLOUT | EPOLLRDHUP};
    const int rc = watcher_.watch(interest, true);
    if (rc != 0) return failWith(rc, SocketCall::Other);
    return true;
  }

  void stopWatching() override { watcher_.unwatch(); }

  bool setOption(SocketOption option, int value) override {
    int level = 0;
    int name = 0;
    if (!optionName(option, &level, &name)) {
      failure_ = {SocketError::UnsupportedSocketOperationError, 0, "Unsupported socket operation"};
      return false;
    }
    const bool multicast = option == SocketOption::MulticastTtlOption || option == SocketOption::MulticastLoopbackOption;
    if (option == SocketOption::MulticastLoopbackOption) value = value != 0 ? 1 : 0;  // IPv6 takes only 0 and 1
    if (::setsockopt(socketFd(), level, name, &value, sizeof value) != 0) return failWith(errno, SocketCall::Option);
    if (multicast && protocol_ == NetworkLayerProtocol::AnyIPProtocol) {
      // A dual-stack socket sends IPv4 multicast with the IPv4 options.
      ::setsockopt(socketFd(), IPPROTO_IP,
                   option == SocketOption::MulticastTtlOption ? IP_MULTICAST_TTL : IP_MULTICAST_LOOP, &value,
                   sizeof value);
    }
    return true;
  }

  int option(SocketOption option) const override {
    int level = 0;
    int name = 0;
    if (!optionName(option, &level, &name)) return -1;
    int value = 0;
    socklen_t len = sizeof value;
    if (::getsockopt(socketFd(), level, name, &value, &len) != 0) return -1;
    return value;
  }

  int waitFor(bool forRead, bool forWrite, int msecs, bool* readReady, bool* writeReady) override {
    pollfd p{};
    p.fd = socketFd();
    p.events = static_cast<short>((forRead ? POLLIN : 0) | (forWrite ? POLLOUT : 0));
    for (;;) {
      const int rc = ::poll(&p, 1, msecs);
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) return rc;
      if (readReady) *readReady = (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
      if (writeReady) *writeReady = (p.revents & (POLLOUT | POLLHUP | POLLERR)) != 0;
      return 1;
    }
  }

  const SocketFailure& failure() const override { return failure_; }

  // --- datagrams: the work is DatagramChannel's (native_datagram_engine.cpp)
  void datagramsReadable() override { datagrams().markReadable(); }
  bool hasPendingDatagrams() override { return datagramResult(datagrams().hasPending()); }
  bool mayHavePendingDatagrams() const override { return datagrams_ && datagrams_->mayHavePending(); }
  std::int64_t pendingDatagramSize() override { return datagramResult(datagrams().pendingSize()); }
  std::int64_t readDatagram(char* data, std::int64_t maxSize, DatagramHeader* header, DatagramParts parts) override {
    const std::int64_t n = datagramResult(datagrams().read(data, maxSize, header, parts));
    if (n >= 0 && header && !header->destinationAddress.isNull()) header->destinationPort = localPort_;
    return n;
  }
  std::int64_t readDatagrams(DatagramBuffer* buffers, std::size_t count, DatagramParts parts) override {
    return datagramResult(datagrams().readBatch(buffers, count, parts));
  }
  std::int64_t writeDatagram(const char* data, std::int64_t size, const DatagramHeader& header) override {
    return datagramResult(datagrams().write(data, size, header));
  }
  std::int64_t writeDatagrams(const OutgoingDatagram* outgoing, std::size_t count) override {
    return datagramResult(datagrams().writeBatch(outgoing, count));
  }
  std::int64_t writeSegmented(const char* data, std::int64_t size, std::int64_t segmentSize,
                              const HostAddress& address, std::uint16_t port) override {
    return datagramResult(datagrams().writeSegmented(data, size, segmentSize, address, port));
  }
  bool hasSegmentationOffload() const override { return datagrams_ && datagrams_->hasSegmentationOffload(); }
  bool joinMulticastGroup(const HostAddress& group, int interfaceIndex) override {
    return datagramResult(datagrams().changeMembership(true, group, interfaceIndex));
  }
  bool leaveMulticastGroup(const HostAddress& group, int interfaceIndex) override {
    return datagramResult(datagrams().changeMembership(false, group, interfaceIndex));
  }
  int multicastInterface(HostAddress* address) const override {
    return datagrams_ ? datagrams_->multicastInterface(address) : 0;
  }
  bool setMulticastInterface(int interfaceIndex) override {
    return datagramResult(datagrams().setMulticastInterface(interfaceIndex));
  }
  std::size_t datagramMemory() const override { return datagrams_ ? datagrams_->memory() : 0; }

 private:
  // Takes over the channel's failure and would-block state with its result.
  // Only failures are copied: the fast path stays free of string copies.
  bool datagramResult(bool ok) {
    if (!ok) takeDatagramFailure();
    return ok;
  }
  std::int64_t datagramResult(std::int64_t result) {
    if (result < 0) takeDatagramFailure();
    return result;
  }
  void takeDatagramFailure() {
    wouldBlock_ = datagrams().wouldBlock();
    if (!wouldBlock_) failure_ = datagrams().failure();
  }

  bool failWith(int err, SocketCall call) {
    failure_ = mapSystemError(err, call);
    return false;
  }
  bool failWith(int, SocketCall, SocketError error, const char* text) {
    failure_ = {error, 0, text};
    return false;
  }

  // An IPv4 address used on an IPv6 (dual-stack) socket: its v4-mapped form.
  HostAddress forSocketFamily(const HostAddress& address) const { return mappedForSocket(address, protocol_); }

  // A v4-mapped address on a dual-stack socket is reported as plain IPv4,
  // as Qt reports peers of a server listening on Any. Only ::ffff:0:0/96:
  // "::" and "::1" are IPv6 addresses of their own.
  HostAddress unmapped(const HostAddress& address) const { return unmappedForSocket(address, protocol_); }

  bool optionName(SocketOption option, int* level, int* name) const {
    const bool v6 = protocol_ == NetworkLayerProtocol::IPv6Protocol || protocol_ == NetworkLayerProtocol::AnyIPProtocol;
    switch (option) {
      case SocketOption::LowDelayOption:
        *level = IPPROTO_TCP, *name = TCP_NODELAY;
        return true;
      case SocketOption::KeepAliveOption:
        *level = SOL_SOCKET, *name = SO_KEEPALIVE;
        return true;
      case SocketOption::TypeOfServiceOption:
        if (v6) *level = IPPROTO_IPV6, *name = IPV6_TCLASS;
        else *level = IPPROTO_IP, *name = IP_TOS;
        return true;
      case SocketOption::SendBufferSizeSocketOption:
        *level = SOL_SOCKET, *name = SO_SNDBUF;
        return true;
      case SocketOption::ReceiveBufferSizeSocketOption:
        *level = SOL_SOCKET, *name = SO_RCVBUF;
        return true;
      case SocketOption::MulticastTtlOption:
        if (v6) *level = IPPROTO_IPV6, *name = IPV6_MULTICAST_HOPS;
        else *level = IPPROTO_IP, *name = IP_MULTICAST_TTL;
        return true;
      case SocketOption::MulticastLoopbackOption:
        if (v6) *level = IPPROTO_IPV6, *name = IPV6_MULTICAST_LOOP;
        else *level = IPPROTO_IP, *name = IP_MULTICAST_LOOP;
        return true;
      case SocketOption::PathMtuSocketOption:
        if (v6) *level = IPPROTO_IPV6, *name = IPV6_MTU;
        else *level = IPPROTO_IP, *name = IP_MTU;
        return true;
    }
    return false;
  }

  // UDP: the port received datagrams were sent to (the bound one). Streams
  // keep no addresses: the socket asks for them when it needs them.
  void rememberLocalPort() {
    if (type_ == SocketType::UdpSocket) localPort_ = localEndpoint().port;
  }

  // The descriptor, owned by the engine, is kept in the watcher (it watches
  // it whenever the socket is in an event loop).
  int socketFd() const { return watcher_.fd(); }

  // What every I/O event touches comes first: with the watcher inside the
  // engine, an event reaches the socket through one allocation, not two.
  // The whole engine of a TCP connection is 72 bytes.
  SocketType type_ : 8 = SocketType::UnknownSocketType;
  NetworkLayerProtocol protocol_ : 8 = NetworkLayerProtocol::UnknownNetworkLayerProtocol;
  bool wouldBlock_ = false;
  bool drained_ = false;
  std::uint16_t localPort_ = 0;
  Watcher watcher_;
  SocketFailure failure_;
  // Datagram sockets only: a stream socket does not carry the channel.
  std::unique_ptr<DatagramChannel> datagrams_;
  DatagramChannel& datagrams() {
    if (!datagrams_) {
      datagrams_ = std::make_unique<DatagramChannel>();
      if (watcher_.isAttached()) datagrams_->setDispatcher(&watcher_.dispatcher());
    }
    return *datagrams_;
  }
};

// A server holds one engine per connection (W7 in bench/ budgets 1 KiB per
// idle connection in all).
static_assert(sizeof(NativeSocketEngine) <= 72, "the native engine grew: see the per-connection budget");

}  // namespace

std::unique_ptr<SocketEngine> createNativeSocketEngine() { return std::make_unique<NativeSocketEngine>(); }

}  // namespace tether::detail
