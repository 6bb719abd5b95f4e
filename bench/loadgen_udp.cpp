// Small datagrams: one connected UDP socket sends S-byte datagrams as fast
// as it can, for the warm-up and then the measured window. Each payload's
// first byte says which of the two it belongs to (bench::kWarmupDatagram /
// kMeasuredDatagram), so the receiver counts what arrived of the measured
// ones; loss is sent_measured minus that count.
//
// On loopback the sender's core also runs the kernel's delivery of every
// datagram to the receiving socket, so one datagram per send cannot offer
// more than a receiver takes without effort (about 0.3 M/s of 32 B here,
// and every receiver, Qt 5 included, got all of it). The sender therefore
// uses UDP segmentation offload (UDP_SEGMENT): each message of a sendmmsg
// batch is up to 128 datagrams of S bytes that the kernel splits on the
// receiving side, which offers 1.1-1.7 M datagrams/s. A kernel without it
// (or with a lower segment limit) gets plain or smaller sends.

#include "loadgen.hpp"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <vector>

namespace loadgen {

namespace {

#ifndef UDP_SEGMENT
constexpr int UDP_SEGMENT = 103;  // linux/udp.h, kernel 4.18
#endif

constexpr std::size_t kSendBatch = 32;      // messages per sendmmsg
constexpr std::size_t kMaxSegments = 128;   // datagrams per message (Linux's UDP_MAX_SEGMENTS since 6.x; 64 before)
constexpr std::size_t kMaxUdpPayload = 65507;
constexpr std::size_t kUdpIpHeaders = 28;   // IPv4 + UDP

// The datagrams every message of a batch carries, one after another.
struct Sender {
  int fd = -1;
  std::size_t size = 0;      // bytes per datagram
  std::size_t segments = 1;  // datagrams per message
  std::vector<char> payload;

  // Turns segmentation on with as many datagrams per message as fit in one
  // UDP send, when a datagram fits the path's MTU (a segmented send of
  // larger ones is refused, where plain sends would be fragmented); stays
  // at one datagram per send when the kernel refuses.
  void setUp(int socket, std::size_t bytes) {
    fd = socket;
    size = bytes;
    segments = std::min(kMaxSegments, std::max<std::size_t>(1, kMaxUdpPayload / std::max<std::size_t>(1, bytes)));
    int mtu = 0;
    socklen_t mtuLength = sizeof mtu;
    if (::getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &mtuLength) != 0 || bytes + kUdpIpHeaders > static_cast<std::size_t>(mtu)) {
      segments = 1;
    }
    int gso = static_cast<int>(bytes);
    if (segments > 1 && (bytes == 0 || ::setsockopt(fd, SOL_UDP, UDP_SEGMENT, &gso, sizeof gso) != 0)) segments = 1;
    payload.assign(size * segments, 'x');
  }

  // Back to one datagram per send, segmentation off.
  void plainSends() {
    segments = 1;
    int off = 0;
    if (::setsockopt(fd, SOL_UDP, UDP_SEGMENT, &off, sizeof off) != 0) die_errno("setsockopt(UDP_SEGMENT)", errno);
  }

  // Sends batches until `end`; returns the datagrams the kernel took.
  unsigned long long blast(char tag, double end) {
    if (size > 0) {
      for (std::size_t i = 0; i < segments; ++i) payload[i * size] = tag;
    }
    unsigned long long sent = 0;
    while (bench::now_seconds() < end) {
      iovec iov{payload.data(), size * segments};
      std::vector<mmsghdr> msgs(kSendBatch);
      for (mmsghdr& m : msgs) {
        m.msg_hdr.msg_iov = &iov;
        m.msg_hdr.msg_iovlen = 1;
      }
      while (bench::now_seconds() < end) {
        const int n = ::sendmmsg(fd, msgs.data(), kSendBatch, 0);
        if (n > 0) {
          sent += static_cast<unsigned long long>(n) * segments;
        } else if (n < 0 && errno == EINVAL && segments > 2) {
          segments /= 2;  // an older kernel's lower segment limit
          break;
        } else if (n < 0 && (errno == EINVAL || errno == EIO) && segments > 1) {
          plainSends();  // segmentation refused (EIO: no checksum offload on an older kernel)
          break;
        } else if (n < 0 && errno != EINTR && errno != ENOBUFS && errno != EAGAIN &&
                   errno != ECONNREFUSED) {
          die_errno("sendmmsg", errno);
        }
      }
    }
    return sent;
  }
};

}  // namespace

int run_udp(const Options& o) {
  const Target target = resolve_target(o);
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket", errno);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&target.addr), target.len) != 0) {
    die_errno("connect", errno);
  }
  Sender sender;
  sender.setUp(fd, static_cast<std::size_t>(o.size));
  const unsigned long long warm = sender.blast(bench::kWarmupDatagram, bench::now_seconds() + o.warmup);
  const double t0 = bench::now_seconds();
  const unsigned long long measured = sender.blast(bench::kMeasuredDatagram, t0 + o.seconds);
  const double elapsed = bench::now_seconds() - t0;
  ::close(fd);
  std::printf("{\"mode\":\"udp\",\"connections\":1,\"size\":%lld,\"seconds\":%g,\"messages\":%llu,"
              "\"msgs_per_sec\":%.1f,\"elapsed\":%.6f,\"total_messages\":%llu,\"sent_measured\":%llu}\n",
              o.size, o.seconds, measured, elapsed > 0 ? static_cast<double>(measured) / elapsed : 0.0,
              elapsed, warm + measured, measured);
  std::fflush(stdout);
  return 0;
}

}  // namespace loadgen
