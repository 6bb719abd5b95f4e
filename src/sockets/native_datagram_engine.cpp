#include "sockets/native_datagram_engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iterator>

namespace tether::detail {

namespace {

#ifndef UDP_SEGMENT
constexpr int UDP_SEGMENT = 103;  // linux/udp.h, kernel 4.18
#endif
#ifndef SOL_UDP
constexpr int SOL_UDP = 17;
#endif

// One segmented send: the kernel takes at most 64 segments, and the whole
// must fit one IPv4 datagram before it is cut up.
constexpr std::size_t kMaxSegmentsPerSend = 64;
constexpr std::size_t kMaxSegmentedBytes = 65507;
// Messages per recvmmsg()/sendmmsg() straight from or to the caller's storage.
constexpr std::size_t kDirectChunk = 64;

union SocketAddress {
  sockaddr any;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

// Room for every control message a datagram can carry here: IPV6_PKTINFO
// and IP_PKTINFO (a v4 datagram on a dual-stack socket brings both), and a
// hop limit.
constexpr std::size_t kControlBytes =
    CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo)) + 2 * CMSG_SPACE(sizeof(int));
struct ControlBuffer {
  alignas(cmsghdr) char bytes[kControlBytes];
};
// What a send may attach: packet information, a hop limit, a segment size.
constexpr std::size_t kSendControlBytes =
    CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(std::uint16_t));
struct SendControlBuffer {
  alignas(cmsghdr) char bytes[kSendControlBytes];
};

bool isIPv4(const HostAddress& a) { return a.protocol() == NetworkLayerProtocol::IPv4Protocol; }

bool isV4Mapped(const IPv6Address& bytes) {
  static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::equal(std::begin(kPrefix), std::end(kPrefix), bytes.begin());
}

// Link-scoped IPv6 addresses name their interface (fe80::/10, ff02::/16 and
// the other multicast scopes 1 and 2).
bool isLinkScoped(const in6_addr& a) {
  if (a.s6_addr[0] == 0xfe && (a.s6_addr[1] & 0xc0) == 0x80) return true;
  return a.s6_addr[0] == 0xff && ((a.s6_addr[1] & 0x0f) == 1 || (a.s6_addr[1] & 0x0f) == 2);
}

template <typename T>
T cmsgValue(const cmsghdr* c) {
  T value;
  std::memcpy(&value, CMSG_DATA(c), sizeof value);
  return value;
}

template <typename T>
cmsghdr* appendCmsg(msghdr& msg, cmsghdr* at, int level, int type, const T& value) {
  at->cmsg_level = level;
  at->cmsg_type = type;
  at->cmsg_len = CMSG_LEN(sizeof value);
  std::memcpy(CMSG_DATA(at), &value, sizeof value);
  msg.msg_controllen += CMSG_SPACE(sizeof value);
  return reinterpret_cast<cmsghdr*>(reinterpret_cast<char*>(at) + CMSG_SPACE(sizeof value));
}

void setFlag(int fd, int level, int name) {
  int on = 1;
  ::setsockopt(fd, level, name, &on, sizeof on);
}

int retryOnInterrupt(auto&& call) {
  for (;;) {
    const int rc = call();
    if (rc >= 0 || errno != EINTR) return rc;
  }
}

}  // namespace

HostAddress mappedForSocket(const HostAddress& address, NetworkLayerProtocol socketProtocol) {
  // Any on an IPv4 socket: the IPv4 fallback of a dual-stack socket.
  if (socketProtocol == NetworkLayerProtocol::IPv4Protocol && address == HostAddress(HostAddress::Any))
    return HostAddress(HostAddress::AnyIPv4);
  if (socketProtocol == NetworkLayerProtocol::IPv4Protocol || !isIPv4(address)) return address;
  IPv6Address mapped{};
  mapped[10] = mapped[11] = 0xff;
  const std::uint32_t v4 = address.toIPv4Address();
  for (std::size_t i = 0; i < 4; ++i) mapped[12 + i] = static_cast<std::uint8_t>(v4 >> (24 - 8 * i));
  return HostAddress(mapped);
}

HostAddress unmappedForSocket(const HostAddress& address, NetworkLayerProtocol socketProtocol) {
  if (socketProtocol == NetworkLayerProtocol::IPv4Protocol ||
      address.protocol() != NetworkLayerProtocol::IPv6Protocol || !isV4Mapped(address.toIPv6Address()))
    return address;
  return HostAddress(address.toIPv4Address());
}

// ------------------------------------------------------------ the batch

struct DatagramChannel::Batch {
  char* arena = nullptr;  // kSlots * kSlotBytes, mapped on first use
  std::array<mmsghdr, kSlots> messages{};
  std::array<iovec, kSlots> vectors{};
  std::array<SocketAddress, kSlots> names{};
  std::array<ControlBuffer, kSlots> controls{};
  std::size_t next = 0;   // first unread message
  std::size_t count = 0;  // unread messages

  const char* payload(std::size_t slot) const { return arena + slot * kSlotBytes; }
  std::int64_t size(std::size_t slot) const {
    return std::min<std::int64_t>(messages[slot].msg_len, static_cast<std::int64_t>(kSlotBytes));
  }
};

DatagramChannel::DatagramChannel() {
  idleTimer_.callback = [this] { idleCheck(); };
}

DatagramChannel::~DatagramChannel() { detach(); }

void DatagramChannel::attach(int fd, NetworkLayerProtocol protocol) {
  detach();
  fd_ = fd;
  protocol_ = protocol;
  setFlag(fd, SOL_SOCKET, SO_BROADCAST);
  if (protocol != NetworkLayerProtocol::IPv6Protocol) {
    // IPv4, and the IPv4 half of a dual-stack socket.
    setFlag(fd, IPPROTO_IP, IP_PKTINFO);
    setFlag(fd, IPPROTO_IP, IP_RECVTTL);
  }
  if (protocol != NetworkLayerProtocol::IPv4Protocol) {
    setFlag(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO);
    setFlag(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT);
  }
}

void DatagramChannel::detach() {
  releaseBatch();
  fd_ = -1;
  systemMayHaveMore_ = false;
  hasDeferredFailure_ = false;
  multicastIndex_ = 0;
}

void DatagramChannel::setDispatcher(Dispatcher* dispatcher) {
  if (dispatcher_ && dispatcher_ != dispatcher) dispatcher_->cancelTimer(&idleTimer_);
  dispatcher_ = dispatcher;
}

bool DatagramChannel::ensureBatch() {
  if (batch_) return true;
  void* arena = ::mmap(nullptr, kSlots * kSlotBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (arena == MAP_FAILED) return fail(errno);
  auto batch = std::make_unique<Batch>();
  batch->arena = static_cast<char*>(arena);
  for (std::size_t i = 0; i < kSlots; ++i) {
    batch->vectors[i] = {batch->arena + i * kSlotBytes, kSlotBytes};
    msghdr& h = batch->messages[i].msg_hdr;
    h.msg_name = &batch->names[i];
    h.msg_iov = &batch->vectors[i];
    h.msg_iovlen = 1;
    h.msg_control = batch->controls[i].bytes;
  }
  batch_ = std::move(batch);
  return true;
}

void DatagramChannel::releaseBatch() {
  if (dispatcher_) dispatcher_->cancelTimer(&idleTimer_);
  if (!batch_) return;
  ::munmap(batch_->arena, kSlots * kSlotBytes);
  batch_.reset();
}

std::size_t DatagramChannel::memory() const { return batch_ ? kSlots * kSlotBytes + sizeof(Batch) : 0; }

// Received or read something: the memory is in use. A timer looks every
// kIdleRelease; finding the socket unused since its last look, with nothing
// unread, it gives the memory back.
void DatagramChannel::noteUse() {
  usedSinceCheck_ = true;
  if (dispatcher_ && batch_ && !idleTimer_.isScheduled())
    dispatcher_->scheduleTimer(&idleTimer_, Clock::now() + kIdleRelease);
}

void DatagramChannel::idleCheck() {
  if (!batch_) return;
  if (!usedSinceCheck_ && batch_->count == 0) {
    releaseBatch();
    return;
  }
  usedSinceCheck_ = false;
  // Unread datagrams keep the memory until the application reads them; the
  // read that empties the batch starts the timer again.
  if (batch_->count == 0) dispatcher_->scheduleTimer(&idleTimer_, Clock::now() + kIdleRelease);
}

bool DatagramChannel::fail(int err) {
  failure_ = mapSystemError(err, SocketCall::Datagram);
  return false;
}

bool DatagramChannel::failWith(SocketError error, const char* text) {
  failure_ = {error, 0, text};
  return false;
}

// ------------------------------------------------------------ receiving

bool DatagramChannel::receiveBatch() {
  if (!ensureBatch()) return false;
  Batch& b = *batch_;
  for (std::size_t i = 0; i < kSlots; ++i) {
    msghdr& h = b.messages[i].msg_hdr;
    h.msg_namelen = sizeof(SocketAddress);
    h.msg_controllen = sizeof(ControlBuffer);
    h.msg_flags = 0;
  }
  const int n = retryOnInterrupt(
      [&] { return ::recvmmsg(fd_, b.messages.data(), static_cast<unsigned>(kSlots), MSG_DONTWAIT, nullptr); });
  if (n > 0) {
    b.next = 0;
    b.count = static_cast<std::size_t>(n);
    // A short batch means the queue was empty: the next datagram raises a
    // new edge.
    if (static_cast<std::size_t>(n) < kSlots) systemMayHaveMore_ = false;
    noteUse();
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    systemMayHaveMore_ = false;
    wouldBlock_ = true;
    return false;
  }
  // An error the kernel held for the socket (an ICMP port unreachable on a
  // connected socket: ECONNREFUSED). It is consumed; datagrams may follow.
  return fail(n < 0 ? errno : EIO);
}

bool DatagramChannel::hasPending() {
  wouldBlock_ = false;
  if (batch_ && batch_->count > 0) return true;
  if (hasDeferredFailure_) {
    hasDeferredFailure_ = false;
    failure_ = deferredFailure_;
    return false;
  }
  if (fd_ < 0 || !systemMayHaveMore_) {
    wouldBlock_ = true;
    return false;
  }
  // Ask the kernel whether a datagram is queued (the next one's length)
  // instead of receiving ahead: the reader that follows takes the
  // datagrams with only the details it wants (readDatagrams() with
  // Payload asks for no sender and no control messages, which cost the
  // kernel work per datagram). 0 is both "none" and "an empty datagram",
  // and an error the kernel holds shows only to a receive: those take the
  // batch.
  int next = 0;
  if (::ioctl(fd_, FIONREAD, &next) == 0 && next > 0) return true;
  return receiveBatch();
}

bool DatagramChannel::ensureReceived() {
  if (!hasPending()) return false;
  if (batch_ && batch_->count > 0) return true;
  return receiveBatch();
}

bool DatagramChannel::mayHavePending() const {
  return (batch_ && batch_->count > 0) || hasDeferredFailure_ || (fd_ >= 0 && systemMayHaveMore_);
}

std::int64_t DatagramChannel::pendingSize() {
  if (!ensureReceived()) return -1;
  return batch_->size(batch_->next);
}

std::int64_t DatagramChannel::read(char* data, std::int64_t maxSize, Header* header, Parts parts) {
  if (!ensureReceived()) return -1;
  Batch& b = *batch_;
  const std::size_t slot = b.next;
  const std::int64_t copied = std::clamp<std::int64_t>(maxSize, 0, b.size(slot));
  if (copied > 0) std::memcpy(data, b.payload(slot), static_cast<std::size_t>(copied));
  if (header && parts != Parts::Payload) describe(b.messages[slot].msg_hdr, header, parts);
  ++b.next;
  --b.count;
  noteUse();
  return copied;
}

void DatagramChannel::describe(const msghdr& message, Header* header, Parts parts) const {
  if (message.msg_namelen > 0) {
    header->senderAddress = unmappedForSocket(
        HostAddress::fromSockaddr(static_cast<const sockaddr*>(message.msg_name), &header->senderPort), protocol_);
  }
  if (parts != Parts::All) return;
  if (message.msg_flags & MSG_CTRUNC) return;  // cannot happen: the buffer fits every message asked for
  for (const cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&message), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      const auto info = cmsgValue<in6_pktinfo>(c);
      sockaddr_in6 to{};
      to.sin6_family = AF_INET6;
      to.sin6_addr = info.ipi6_addr;
      if (isLinkScoped(info.ipi6_addr)) to.sin6_scope_id = static_cast<std::uint32_t>(info.ipi6_ifindex);
      header->destinationAddress =
          unmappedForSocket(HostAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&to)), protocol_);
      header->interfaceIndex = static_cast<unsigned>(info.ipi6_ifindex);
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
               c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
      // ipi_addr: the address in the packet's header (a broadcast or
      // multicast address too), not the local address that took it.
      const auto info = cmsgValue<in_pktinfo>(c);
      header->destinationAddress = HostAddress(static_cast<std::uint32_t>(ntohl(info.ipi_addr.s_addr)));
      header->interfaceIndex = static_cast<unsigned>(info.ipi_ifindex);
    } else if (c->cmsg_len >= CMSG_LEN(sizeof(int)) &&
               ((c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) ||
                (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL))) {
      header->hopLimit = cmsgValue<int>(c);
    }
  }
}

std::int64_t DatagramChannel::readBatch(DatagramBuffer* buffers, std::size_t count, Parts parts) {
  wouldBlock_ = false;
  std::size_t done = 0;
  Header header;
  const auto deliver = [&](DatagramBuffer& out, const msghdr& message, const char* payload, std::int64_t size,
                           bool copy) {
    out.size = std::min(size, out.capacity);
    out.truncated = size > out.capacity || (message.msg_flags & MSG_TRUNC) != 0;
    if (copy && out.size > 0) std::memcpy(out.data, payload, static_cast<std::size_t>(out.size));
    header = Header();
    if (parts != Parts::Payload) describe(message, &header, parts);
    out.senderAddress = std::move(header.senderAddress);
    out.senderPort = header.senderPort;
    out.destinationAddress = std::move(header.destinationAddress);
    out.hopLimit = header.hopLimit;
    out.interfaceIndex = header.interfaceIndex;
  };

  // What the batch already holds comes first, in order.
  while (done < count && batch_ && batch_->count > 0) {
    Batch& b = *batch_;
    const std::size_t slot = b.next;
    deliver(buffers[done], b.messages[slot].msg_hdr, b.payload(slot), b.size(slot), true);
    ++b.next;
    --b.count;
    ++done;
  }
  if (done > 0) noteUse();

  // Then straight from the kernel into the caller's storage.
  while (done < count && fd_ >= 0 && systemMayHaveMore_ && !hasDeferredFailure_) {
    const std::size_t chunk = std::min(count - done, kDirectChunk);
    std::array<mmsghdr, kDirectChunk> messages{};
    std::array<iovec, kDirectChunk> vectors{};
    std::array<SocketAddress, kDirectChunk> names{};
    std::array<ControlBuffer, kDirectChunk> controls;
    for (std::size_t i = 0; i < chunk; ++i) {
      DatagramBuffer& out = buffers[done + i];
      vectors[i] = {out.data, static_cast<std::size_t>(std::max<std::int64_t>(out.capacity, 0))};
      msghdr& h = messages[i].msg_hdr;
      // Only what the caller asked for: the sender's address and the
      // control messages each cost the kernel work per datagram.
      if (parts != Parts::Payload) {
        h.msg_name = &names[i];
        h.msg_namelen = sizeof(SocketAddress);
      }
      h.msg_iov = &vectors[i];
      h.msg_iovlen = 1;
      if (parts == Parts::All) {
        h.msg_control = controls[i].bytes;
        h.msg_controllen = sizeof(ControlBuffer);
      }
    }
    // MSG_TRUNC: msg_len is the datagram's real length, so truncation shows.
    const int n = retryOnInterrupt([&] {
      return ::recvmmsg(fd_, messages.data(), static_cast<unsigned>(chunk), MSG_DONTWAIT | MSG_TRUNC, nullptr);
    });
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        systemMayHaveMore_ = false;
        break;
      }
      const SocketFailure f = mapSystemError(errno, SocketCall::Datagram);
      if (done == 0) {
        failure_ = f;
        return -1;
      }
      deferredFailure_ = f;  // reported by the next call
      hasDeferredFailure_ = true;
      break;
    }
    for (int i = 0; i < n; ++i)
      deliver(buffers[done + static_cast<std::size_t>(i)], messages[static_cast<std::size_t>(i)].msg_hdr, nullptr,
              messages[static_cast<std::size_t>(i)].msg_len, false);
    done += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < chunk) {
      systemMayHaveMore_ = false;
      break;
    }
  }
  if (done == 0 && hasDeferredFailure_) {
    hasDeferredFailure_ = false;
    failure_ = deferredFailure_;
    return -1;
  }
  if (done == 0) wouldBlock_ = true;
  return static_cast<std::int64_t>(done);
}

// ------------------------------------------------------------ sending

socklen_t DatagramChannel::destinationFor(const HostAddress& address, std::uint16_t port,
                                          sockaddr_storage* out) const {
  if (address.isNull()) return 0;
  if (protocol_ == NetworkLayerProtocol::IPv4Protocol || !isIPv4(address)) return address.toSockaddr(port, out);
  // An IPv4 destination through a dual-stack socket: ::ffff:a.b.c.d.
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  mapped.sin6_port = htons(port);
  mapped.sin6_addr.s6_addr[10] = mapped.sin6_addr.s6_addr[11] = 0xff;
  const std::uint32_t v4 = htonl(address.toIPv4Address());
  std::memcpy(&mapped.sin6_addr.s6_addr[12], &v4, sizeof v4);
  *out = sockaddr_storage{};
  std::memcpy(out, &mapped, sizeof mapped);
  return sizeof mapped;
}

bool DatagramChannel::ipv4Path(const HostAddress& destination) const {
  if (protocol_ == NetworkLayerProtocol::IPv4Protocol) return true;
  if (!destination.isNull()) return isIPv4(destination) || (destination.protocol() == NetworkLayerProtocol::IPv6Protocol &&
                                                              isV4Mapped(destination.toIPv6Address()));
  // A connected dual-stack socket: the peer's family decides.
  SocketAddress peer{};
  socklen_t len = sizeof peer;
  if (::getpeername(fd_, &peer.any, &len) != 0) return false;
  return peer.any.sa_family == AF_INET || (peer.any.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&peer.v6.sin6_addr));
}

std::int64_t DatagramChannel::write(const char* data, std::int64_t size, const Header& header) {
  wouldBlock_ = false;
  if (fd_ < 0) return failWith(SocketError::UnsupportedSocketOperationError, text::kInvalidDescriptor), -1;
  sockaddr_storage to{};
  iovec vector{const_cast<char*>(data), static_cast<std::size_t>(size)};
  msghdr msg{};
  msg.msg_namelen = destinationFor(header.destinationAddress, header.destinationPort, &to);
  if (msg.msg_namelen > 0) msg.msg_name = &to;
  msg.msg_iov = &vector;
  msg.msg_iovlen = 1;

  SendControlBuffer control;
  const bool wantsInfo = header.interfaceIndex != 0 || !header.senderAddress.isNull();
  if (wantsInfo || header.hopLimit != -1) {
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;  // for CMSG_FIRSTHDR; the real length is summed below
    cmsghdr* at = CMSG_FIRSTHDR(&msg);
    msg.msg_controllen = 0;
    if (ipv4Path(header.destinationAddress)) {
      if (wantsInfo) {
        in_pktinfo info{};
        info.ipi_ifindex = static_cast<int>(header.interfaceIndex);
        // ipi_spec_dst is the source address to use; ipi_addr is ignored on send.
        const HostAddress sender = unmappedForSocket(header.senderAddress, NetworkLayerProtocol::AnyIPProtocol);
        if (isIPv4(sender)) info.ipi_spec_dst.s_addr = htonl(sender.toIPv4Address());
        at = appendCmsg(msg, at, IPPROTO_IP, IP_PKTINFO, info);
      }
      if (header.hopLimit != -1) at = appendCmsg(msg, at, IPPROTO_IP, IP_TTL, header.hopLimit);
    } else {
      if (wantsInfo) {
        in6_pktinfo info{};
        info.ipi6_ifindex = header.interfaceIndex;
        if (header.senderAddress.protocol() == NetworkLayerProtocol::IPv6Protocol) {
          const IPv6Address bytes = header.senderAddress.toIPv6Address();
          std::memcpy(&info.ipi6_addr, bytes.data(), bytes.size());
        }
        at = appendCmsg(msg, at, IPPROTO_IPV6, IPV6_PKTINFO, info);
      }
      if (header.hopLimit != -1) at = appendCmsg(msg, at, IPPROTO_IPV6, IPV6_HOPLIMIT, header.hopLimit);
    }
  }
  const int n = retryOnInterrupt([&] { return static_cast<int>(::sendmsg(fd_, &msg, MSG_NOSIGNAL)); });
  if (n >= 0) return n;
  wouldBlock_ = errno == EAGAIN || errno == EWOULDBLOCK;
  fail(errno);
  return -1;
}

std::int64_t DatagramChannel::writeBatch(const OutgoingDatagram* datagrams, std::size_t count) {
  wouldBlock_ = false;
  if (fd_ < 0) return failWith(SocketError::UnsupportedSocketOperationError, text::kInvalidDescriptor), -1;
  std::size_t done = 0;
  while (done < count) {
    const std::size_t chunk = std::min(count - done, kDirectChunk);
    std::array<mmsghdr, kDirectChunk> messages{};
    std::array<iovec, kDirectChunk> vectors{};
    std::array<sockaddr_storage, kDirectChunk> names;
    const HostAddress* lastAddress = nullptr;
    std::uint16_t lastPort = 0;
    socklen_t lastLength = 0;
    for (std::size_t i = 0; i < chunk; ++i) {
      const OutgoingDatagram& d = datagrams[done + i];
      vectors[i] = {const_cast<char*>(d.data.data()), d.data.size()};
      msghdr& h = messages[i].msg_hdr;
      h.msg_iov = &vectors[i];
      h.msg_iovlen = 1;
      if (d.address.isNull()) continue;
      // Runs of datagrams to one destination convert its address once.
      if (lastAddress && lastLength > 0 && lastPort == d.port && *lastAddress == d.address &&
          lastAddress->scopeId() == d.address.scopeId()) {
        names[i] = names[i - 1];
      } else {
        lastLength = destinationFor(d.address, d.port, &names[i]);
      }
      lastAddress = &d.address;
      lastPort = d.port;
      h.msg_name = &names[i];
      h.msg_namelen = lastLength;
    }
    const int n = retryOnInterrupt([&] {
      return ::sendmmsg(fd_, messages.data(), static_cast<unsigned>(chunk), MSG_NOSIGNAL);
    });
    if (n < 0) {
      wouldBlock_ = errno == EAGAIN || errno == EWOULDBLOCK;
      if (done == 0) {
        fail(errno);
        return -1;
      }
      break;
    }
    done += static_cast<std::size_t>(n);
    if (static_cast<std::size_t>(n) < chunk) break;  // the rest would fail or block; the caller retries
  }
  return static_cast<std::int64_t>(done);
}

bool DatagramChannel::hasSegmentationOffload() const {
  // Asked once per process: a kernel either has UDP_SEGMENT (4.18+) or not.
  static std::atomic<int> known{-1};
  int state = known.load(std::memory_order_relaxed);
  if (state < 0 && fd_ >= 0) {
    int value = 0;
    socklen_t len = sizeof value;
    state = ::getsockopt(fd_, SOL_UDP, UDP_SEGMENT, &value, &len) == 0 ? 1 : 0;
    known.store(state, std::memory_order_relaxed);
  }
  return state == 1;
}

std::int64_t DatagramChannel::writeSegmented(const char* data, std::int64_t size, std::int64_t segmentSize,
                                             const HostAddress& address, std::uint16_t port) {
  wouldBlock_ = false;
  if (fd_ < 0) return failWith(SocketError::UnsupportedSocketOperationError, text::kInvalidDescriptor), -1;
  if (segmentSize <= 0 || size < 0)
    return failWith(SocketError::UnsupportedSocketOperationError, "Invalid segment size"), -1;
  const auto segment = static_cast<std::size_t>(segmentSize);
  const auto total = static_cast<std::size_t>(size);
  std::size_t sent = 0;

  // One system call per up to 64 segments.
  const std::size_t perSend = std::min(kMaxSegmentsPerSend, kMaxSegmentedBytes / segment);
  if (perSend >= 2 && total > segment && hasSegmentationOffload()) {
    sockaddr_storage to{};
    const socklen_t toLength = destinationFor(address, port, &to);
    while (sent < total) {
      const std::size_t bytes = std::min(total - sent, perSend * segment);
      iovec vector{const_cast<char*>(data + sent), bytes};
      msghdr msg{};
      msg.msg_name = toLength > 0 ? &to : nullptr;
      msg.msg_namelen = toLength;
      msg.msg_iov = &vector;
      msg.msg_iovlen = 1;
      SendControlBuffer control;
      if (bytes > segment) {
        msg.msg_control = control.bytes;
        msg.msg_controllen = sizeof control.bytes;
        cmsghdr* at = CMSG_FIRSTHDR(&msg);
        msg.msg_controllen = 0;
        appendCmsg(msg, at, SOL_UDP, UDP_SEGMENT, static_cast<std::uint16_t>(segment));
      }
      const int n = retryOnInterrupt([&] { return static_cast<int>(::sendmsg(fd_, &msg, MSG_NOSIGNAL)); });
      if (n >= 0) {
        sent += bytes;
        continue;
      }
      const int err = errno;
      // Segments larger than the path MTU (EMSGSIZE), a device without
      // checksum offload (EIO), no offload at all: send them one by one.
      if (err == EMSGSIZE || err == EINVAL || err == EIO || err == EOPNOTSUPP || err == ENOPROTOOPT) break;
      wouldBlock_ = err == EAGAIN || err == EWOULDBLOCK;
      if (sent == 0) {
        fail(err);
        return -1;
      }
      return static_cast<std::int64_t>(sent);
    }
  }

  // One datagram per segment, 64 per sendmmsg().
  while (sent < total) {
    std::array<OutgoingDatagram, kDirectChunk> views;
    std::size_t n = 0;
    std::size_t bytes = 0;
    for (; n < kDirectChunk && sent + bytes < total; ++n) {
      const std::size_t length = std::min(segment, total - sent - bytes);
      views[n].data = std::string_view(data + sent + bytes, length);
      views[n].address = address;
      views[n].port = port;
      bytes += length;
    }
    const std::int64_t went = writeBatch(views.data(), n);
    if (went < 0) {
      if (sent == 0) return -1;
      break;
    }
    for (std::int64_t i = 0; i < went; ++i) sent += views[static_cast<std::size_t>(i)].data.size();
    if (static_cast<std::size_t>(went) < n) break;
  }
  return static_cast<std::int64_t>(sent);
}

// ------------------------------------------------------------ multicast

bool DatagramChannel::changeMembership(bool join, const HostAddress& group, int interfaceIndex) {
  if (fd_ < 0) return failWith(SocketError::UnsupportedSocketOperationError, text::kInvalidDescriptor);
  if (!group.isMulticast()) return failWith(SocketError::SocketAddressNotAvailableError, "Not a multicast group address");
  int rc = 0;
  if (isIPv4(group)) {
    ip_mreqn request{};
    request.imr_multiaddr.s_addr = htonl(group.toIPv4Address());
    request.imr_ifindex = interfaceIndex;
    rc = ::setsockopt(fd_, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &request, sizeof request);
  } else {
    sockaddr_storage ss{};
    group.toSockaddr(0, &ss);
    sockaddr_in6 scoped{};
    std::memcpy(&scoped, &ss, sizeof scoped);
    ipv6_mreq request{};
    request.ipv6mr_multiaddr = scoped.sin6_addr;
    request.ipv6mr_interface = interfaceIndex != 0 ? static_cast<unsigned>(interfaceIndex) : scoped.sin6_scope_id;
    rc = ::setsockopt(fd_, IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, &request, sizeof request);
  }
  if (rc == 0) return true;
  failure_ = mapSystemError(errno, SocketCall::Multicast);
  return false;
}

int DatagramChannel::multicastInterface(HostAddress* address) const {
  if (fd_ < 0) return 0;
  if (protocol_ != NetworkLayerProtocol::IPv4Protocol) {
    int index = 0;
    socklen_t len = sizeof index;
    if (::getsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, &len) != 0) return 0;
    return index;
  }
  // Linux reports the IPv4 interface as an address only; an interface chosen
  // by index (ip_mreqn) reads back as 0.0.0.0, so the index is remembered.
  if (multicastIndex_ != 0) return multicastIndex_;
  in_addr chosen{};
  socklen_t len = sizeof chosen;
  if (::getsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &chosen, &len) == 0 && chosen.s_addr != 0 && address)
    *address = HostAddress(static_cast<std::uint32_t>(ntohl(chosen.s_addr)));
  return 0;
}

bool DatagramChannel::setMulticastInterface(int interfaceIndex) {
  if (fd_ < 0) return failWith(SocketError::UnsupportedSocketOperationError, text::kInvalidDescriptor);
  bool ok = true;
  if (protocol_ != NetworkLayerProtocol::IPv6Protocol) {
    ip_mreqn request{};
    request.imr_ifindex = interfaceIndex;
    const int rc = ::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &request, sizeof request);
    // On a dual-stack socket this is the IPv4 half: best effort.
    if (rc != 0 && protocol_ == NetworkLayerProtocol::IPv4Protocol) ok = false;
  }
  if (ok && protocol_ != NetworkLayerProtocol::IPv4Protocol) {
    const int index = interfaceIndex;
    ok = ::setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof index) == 0;
  }
  if (!ok) {
    failure_ = mapSystemError(errno, SocketCall::Multicast);
    return false;
  }
  multicastIndex_ = interfaceIndex;
  return true;
}

}  // namespace tether::detail
