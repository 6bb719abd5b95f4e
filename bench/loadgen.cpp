// loadgen: the one TCP ping-pong load generator used against every server.
//
//   loadgen --host 127.0.0.1 --port P --connections C --size S
//           --seconds T --warmup W [--cpu N] [--connect-timeout SEC]
//
// Opens C non-blocking TCP_NODELAY connections. Each keeps exactly one
// S-byte message in flight: send it, wait until S bytes came back, send the
// next. Single-threaded, edge-triggered epoll. Once every connection is up,
// the first W seconds are warm-up; round trips completed in the following T
// seconds are counted. Prints one JSON line:
//
//   {"connections":C,"size":S,"seconds":T,"messages":N,"msgs_per_sec":X,
//    "elapsed":E,"total_messages":M}
//
// "elapsed" is the measured window actually observed (~T); "total_messages"
// counts every round trip since the first connection came up (warm-up
// included), which is what the driver divides server CPU time by.
// Exit status is non-zero on any failure (connect error, peer closed, ...).

#include "bench_common.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kProg = "loadgen";
constexpr long long kMaxConnections = 100000;
constexpr long long kMaxSize = 64LL * 1024 * 1024;

struct Conn {
  int fd = -1;
  bool connected = false;
  bool watching_out = false;
  std::size_t sent = 0;      // bytes of the current message written
  std::size_t received = 0;  // bytes of the current message echoed back
};

struct Options {
  std::string host = "127.0.0.1";
  long long port = -1;
  long long connections = 1;
  long long size = 16;
  double seconds = 2.0;
  double warmup = 0.5;
  long long cpu = -1;
  double connect_timeout = 20.0;
};

void usage() {
  std::fprintf(stderr,
               "usage: %s --port P [--host 127.0.0.1] [--connections C] [--size S]\n"
               "          [--seconds T] [--warmup W] [--cpu N] [--connect-timeout SEC]\n",
               kProg);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "%s: %s\n", kProg, what);
  std::exit(1);
}

[[noreturn]] void die_errno(const char* what, int err) {
  std::fprintf(stderr, "%s: %s: %s\n", kProg, what, std::strerror(err));
  std::exit(1);
}

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s: missing value for %s\n", kProg, argv[i]);
      return false;
    }
    std::string_view v = argv[++i];
    std::optional<long long> iv;
    std::optional<double> dv;
    if (a == "--host") {
      o.host = std::string(v);
      continue;
    }
    if (a == "--port" || a == "--connections" || a == "--size" || a == "--cpu") {
      iv = bench::parse_int(v);
      if (!iv) {
        std::fprintf(stderr, "%s: bad integer for %s: '%s'\n", kProg, argv[i - 1], argv[i]);
        return false;
      }
      if (a == "--port") {
        o.port = *iv;
      } else if (a == "--connections") {
        o.connections = *iv;
      } else if (a == "--size") {
        o.size = *iv;
      } else {
        o.cpu = *iv;
      }
      continue;
    }
    if (a == "--seconds" || a == "--warmup" || a == "--connect-timeout") {
      dv = bench::parse_double(v);
      if (!dv || *dv < 0 || *dv > 86400) {
        std::fprintf(stderr, "%s: bad number for %s: '%s'\n", kProg, argv[i - 1], argv[i]);
        return false;
      }
      if (a == "--seconds") {
        o.seconds = *dv;
      } else if (a == "--warmup") {
        o.warmup = *dv;
      } else {
        o.connect_timeout = *dv;
      }
      continue;
    }
    std::fprintf(stderr, "%s: unknown argument '%s'\n", kProg, argv[i - 1]);
    return false;
  }
  if (o.port <= 0 || o.port > 65535) {
    std::fprintf(stderr, "%s: --port is required (1..65535)\n", kProg);
    return false;
  }
  if (o.connections < 1 || o.connections > kMaxConnections) {
    std::fprintf(stderr, "%s: --connections must be 1..%lld\n", kProg, kMaxConnections);
    return false;
  }
  if (o.size < 1 || o.size > kMaxSize) {
    std::fprintf(stderr, "%s: --size must be 1..%lld\n", kProg, kMaxSize);
    return false;
  }
  if (o.seconds <= 0) {
    std::fprintf(stderr, "%s: --seconds must be > 0\n", kProg);
    return false;
  }
  return true;
}

class LoadGen {
 public:
  explicit LoadGen(const Options& o)
      : opt_(o),
        size_(static_cast<std::size_t>(o.size)),
        message_(size_),
        scratch_(std::max<std::size_t>(size_, 64 * 1024)) {
    for (std::size_t i = 0; i < size_; ++i) {
      message_[i] = static_cast<char>('a' + static_cast<int>(i % 26));
    }
  }

  ~LoadGen() {
    for (Conn& c : conns_) {
      if (c.fd >= 0) {
        ::close(c.fd);
      }
    }
    if (epfd_ >= 0) {
      ::close(epfd_);
    }
  }

  LoadGen(const LoadGen&) = delete;
  LoadGen& operator=(const LoadGen&) = delete;

  int run() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
      die_errno("epoll_create1", errno);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(opt_.port));
    if (inet_pton(AF_INET, opt_.host.c_str(), &addr.sin_addr) != 1) {
      die("--host must be a numeric IPv4 address");
    }

    // Phase 1: open every connection. Each starts its ping-pong as soon as
    // it is up; the clock for warm-up starts when the last one is.
    const auto count = static_cast<std::size_t>(opt_.connections);
    conns_.resize(count);
    const double t_start = bench::now_seconds();
    for (std::size_t i = 0; i < count; ++i) {
      open_one(i, addr);
      // Handle completed handshakes while opening thousands at once.
      if (i % 256 == 255) {
        poll_once(0);
      }
    }
    const double connect_deadline = t_start + opt_.connect_timeout;
    while (connected_ < count) {
      const double now = bench::now_seconds();
      if (now >= connect_deadline) {
        std::fprintf(stderr, "%s: only %zu of %zu connections came up within %.1f s\n", kProg,
                     connected_, count, opt_.connect_timeout);
        return 1;
      }
      poll_once(10);
    }

    // Phase 2: warm-up, then the measured window.
    const double warm_end = bench::now_seconds() + opt_.warmup;
    while (bench::now_seconds() < warm_end) {
      poll_once(5);
    }
    const double t0 = bench::now_seconds();
    const unsigned long long base = completed_;
    const double t_end = t0 + opt_.seconds;
    double t1 = t0;
    for (;;) {
      t1 = bench::now_seconds();
      if (t1 >= t_end) {
        break;
      }
      poll_once(5);
    }
    const unsigned long long messages = completed_ - base;
    const double elapsed = t1 - t0;
    std::printf(
        "{\"connections\":%lld,\"size\":%lld,\"seconds\":%g,\"messages\":%llu,"
        "\"msgs_per_sec\":%.1f,\"elapsed\":%.6f,\"total_messages\":%llu}\n",
        opt_.connections, opt_.size, opt_.seconds, messages,
        elapsed > 0 ? static_cast<double>(messages) / elapsed : 0.0, elapsed, completed_);
    std::fflush(stdout);
    return 0;
  }

 private:
  void open_one(std::size_t i, const sockaddr_in& addr) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      die_errno("socket", errno);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Conn& c = conns_[i];
    c.fd = fd;
    int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    if (r != 0 && errno != EINPROGRESS && errno != EINTR) {
      die_errno("connect", errno);
    }
    // Registered only after connect(): a socket that is still closed polls
    // as EPOLLHUP. Completion (or r == 0) is reported as EPOLLOUT.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = i;
    c.watching_out = true;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      die_errno("epoll_ctl(ADD)", errno);
    }
  }

  void set_out(Conn& c, std::size_t idx, bool want) {
    if (c.watching_out == want) {
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (want ? EPOLLOUT : 0u);
    ev.data.u64 = idx;
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
      die_errno("epoll_ctl(MOD)", errno);
    }
    c.watching_out = want;
  }

  // Writes the rest of the current message; arms EPOLLOUT if the kernel
  // buffer is full.
  void pump_send(Conn& c, std::size_t idx) {
    while (c.sent < size_) {
      ssize_t n = ::send(c.fd, message_.data() + c.sent, size_ - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_out(c, idx, true);
        return;
      }
      die_errno("send", n < 0 ? errno : EPIPE);
    }
    set_out(c, idx, false);
  }

  // A round trip is complete when the whole message went out and came back.
  void maybe_complete(Conn& c, std::size_t idx) {
    if (c.sent == size_ && c.received == size_) {
      ++completed_;
      c.sent = 0;
      c.received = 0;
      pump_send(c, idx);
    }
  }

  // `to_eagain`: keep reading until EAGAIN/EOF even after a short read (used
  // when the peer hung up, so that the EOF is seen).
  void pump_recv(Conn& c, std::size_t idx, bool to_eagain = false) {
    for (;;) {
      ssize_t n = ::read(c.fd, scratch_.data(), scratch_.size());
      if (n > 0) {
        c.received += static_cast<std::size_t>(n);
        if (c.received > c.sent) {
          die("server sent more bytes than it was sent (not an echo)");
        }
        maybe_complete(c, idx);
        if (!to_eagain && static_cast<std::size_t>(n) < scratch_.size()) {
          // A short read on a stream socket means its receive queue was
          // empty (epoll(7)); data arriving later raises a new edge. This
          // spares the load generator a read() that would return EAGAIN.
          return;
        }
        continue;
      }
      if (n == 0) {
        die("server closed a connection");
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      }
      die_errno("read", errno);
    }
  }

  void handle(std::size_t idx, std::uint32_t what) {
    Conn& c = conns_[idx];
    if (!c.connected) {
      if ((what & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) {
        return;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        die_errno("connect", err);
      }
      if ((what & EPOLLOUT) == 0) {
        die("connect failed (hang-up before the connection was established)");
      }
      c.connected = true;
      ++connected_;
      pump_send(c, idx);  // first message; disarms EPOLLOUT when written
      pump_recv(c, idx);
      return;
    }
    if (what & EPOLLERR) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      die_errno("socket error", err != 0 ? err : EIO);
    }
    if (what & EPOLLOUT) {
      pump_send(c, idx);
      maybe_complete(c, idx);
    }
    if (what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
      pump_recv(c, idx, (what & (EPOLLRDHUP | EPOLLHUP)) != 0);
    }
  }

  void poll_once(int timeout_ms) {
    int n = epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) {
        return;
      }
      die_errno("epoll_wait", errno);
    }
    for (int i = 0; i < n; ++i) {
      const epoll_event& ev = events_[static_cast<std::size_t>(i)];
      handle(static_cast<std::size_t>(ev.data.u64), ev.events);
    }
  }

  Options opt_;
  std::size_t size_;
  std::vector<char> message_;
  std::vector<char> scratch_;
  std::vector<Conn> conns_;
  std::vector<epoll_event> events_ = std::vector<epoll_event>(1024);
  int epfd_ = -1;
  std::size_t connected_ = 0;
  unsigned long long completed_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse_args(argc, argv, opt)) {
    usage();
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  if (!bench::pin_to_cpu(static_cast<int>(opt.cpu), kProg)) {
    return 1;
  }
  const auto wanted = static_cast<rlim_t>(opt.connections + 64);
  const rlim_t got = bench::raise_nofile(wanted);
  if (got < wanted) {
    std::fprintf(stderr, "%s: need %llu file descriptors, RLIMIT_NOFILE allows %llu\n", kProg,
                 static_cast<unsigned long long>(wanted), static_cast<unsigned long long>(got));
    return 1;
  }
  LoadGen lg(opt);
  return lg.run();
}
