// Small datagrams: one connected UDP socket sends S-byte datagrams in
// sendmmsg batches as fast as it can, for the warm-up and then the measured
// window. Each payload's first byte says which of the two it belongs to
// (bench::kWarmupDatagram / kMeasuredDatagram), so the receiver counts what
// arrived of the measured ones; loss is sent_measured minus that count.

#include "loadgen.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

namespace loadgen {

namespace {

constexpr std::size_t kSendBatch = 32;

// Sends batches until `end`; returns the datagrams the kernel took.
unsigned long long blast(int fd, std::vector<char>& payload, char tag, double end) {
  payload[0] = tag;
  iovec iov{payload.data(), payload.size()};
  std::vector<mmsghdr> msgs(kSendBatch);
  for (mmsghdr& m : msgs) {
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0;
  while (bench::now_seconds() < end) {
    const int n = ::sendmmsg(fd, msgs.data(), kSendBatch, 0);
    if (n > 0) {
      sent += static_cast<unsigned long long>(n);
    } else if (n < 0 && errno != EINTR && errno != ENOBUFS && errno != EAGAIN &&
               errno != ECONNREFUSED) {
      die_errno("sendmmsg", errno);
    }
  }
  return sent;
}

}  // namespace

int run_udp(const Options& o) {
  const Target target = resolve_target(o);
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket", errno);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&target.addr), target.len) != 0) {
    die_errno("connect", errno);
  }
  std::vector<char> payload(static_cast<std::size_t>(o.size), 'x');
  const unsigned long long warm = blast(fd, payload, bench::kWarmupDatagram, bench::now_seconds() + o.warmup);
  const double t0 = bench::now_seconds();
  const unsigned long long measured = blast(fd, payload, bench::kMeasuredDatagram, t0 + o.seconds);
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
