// Stream loads over TCP or a Unix-domain socket: ping-pong (with optional
// round-trip times), bulk one-way, and idle connections.

#include "loadgen.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace loadgen {

namespace {

struct Conn {
  int fd = -1;
  bool connected = false;
  bool watching_out = false;
  bool up = false;           // its first round trip is over (bulk: connected)
  std::size_t sent = 0;      // bytes of the current message written
  std::size_t received = 0;  // bytes of the current message echoed back
  double started = 0;        // when the current message started (--latency)
};

class StreamLoad {
 public:
  explicit StreamLoad(const Options& o)
      : opt_(o),
        size_(static_cast<std::size_t>(o.size)),
        message_(size_),
        scratch_(std::max<std::size_t>(size_, bench::kReadSize)) {
    for (std::size_t i = 0; i < size_; ++i) {
      message_[i] = static_cast<char>('a' + static_cast<int>(i % 26));
    }
  }

  ~StreamLoad() {
    for (Conn& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
    }
    if (epfd_ >= 0) ::close(epfd_);
  }

  StreamLoad(const StreamLoad&) = delete;
  StreamLoad& operator=(const StreamLoad&) = delete;

  int run();

 private:
  bool echoing() const { return opt_.mode != Mode::Bulk; }
  void open_one(std::size_t i, const Target& target);
  void set_out(Conn& c, std::size_t idx, bool want);
  void pump_send(Conn& c, std::size_t idx);
  void maybe_complete(Conn& c, std::size_t idx);
  void pump_recv(Conn& c, std::size_t idx, bool to_eagain);
  void handle(std::size_t idx, std::uint32_t what);
  void poll_once(int timeout_ms);
  int hold_idle();
  void report(double elapsed, unsigned long long base);

  Options opt_;
  std::size_t size_;
  std::vector<char> message_;
  std::vector<char> scratch_;
  std::vector<Conn> conns_;
  std::vector<epoll_event> events_ = std::vector<epoll_event>(1024);
  int epfd_ = -1;
  std::size_t connected_ = 0;
  std::size_t ready_ = 0;             // connections up (first round trip done; bulk: connected)
  unsigned long long completed_ = 0;  // round trips (or bulk: bytes written)
  bool measuring_ = false;
  std::vector<double> rtt_us_;        // --latency: round trips in the window
  std::vector<std::size_t> still_writable_;  // bulk: stopped before the kernel refused
  std::vector<std::size_t> serving_;         // the list being served
};

int StreamLoad::run() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) die_errno("epoll_create1", errno);
  const Target target = resolve_target(opt_);

  // Phase 1: open every connection, at most kMaxOpening at a time: a
  // connection counts as up once its first message came back (bulk: once
  // connected). The cap keeps every server's accept queue (Qt 5's holds 50)
  // from overflowing, which would leave connections half-open for seconds.
  // Each starts its traffic as soon as it is up; the clock for warm-up
  // starts when the last one is.
  constexpr std::size_t kMaxOpening = 32;
  const auto count = static_cast<std::size_t>(opt_.connections);
  conns_.resize(count);
  const double connect_deadline = bench::now_seconds() + opt_.connect_timeout;
  std::size_t opened = 0;
  while (ready_ < count) {
    while (opened < count && opened - ready_ < kMaxOpening) open_one(opened++, target);
    if (bench::now_seconds() >= connect_deadline) {
      std::fprintf(stderr, "loadgen: only %zu of %zu connections came up (%zu connected) "
                   "within %.1f s\n", ready_, count, connected_, opt_.connect_timeout);
      return 1;
    }
    poll_once(10);
  }
  const bool idle = opt_.mode == Mode::Idle;
  if (idle) return hold_idle();

  // Phase 2: warm-up, then the measured window.
  const double warm_end = bench::now_seconds() + opt_.warmup;
  while (bench::now_seconds() < warm_end) poll_once(5);
  if (opt_.latency) rtt_us_.reserve(1 << 20);
  measuring_ = true;
  const double t0 = bench::now_seconds();
  const unsigned long long base = completed_;
  const double t_end = t0 + opt_.seconds;
  double t1 = t0;
  while ((t1 = bench::now_seconds()) < t_end) poll_once(5);
  measuring_ = false;
  report(t1 - t0, base);
  return 0;
}

void StreamLoad::report(double elapsed, unsigned long long base) {
  const bool bulk = opt_.mode == Mode::Bulk;
  // Bulk counts bytes; its "messages" are S-byte chunks.
  const unsigned long long unit = bulk ? size_ : 1;
  const unsigned long long messages = (completed_ - base) / unit;
  const double rate = elapsed > 0 ? static_cast<double>(messages) / elapsed : 0.0;
  std::printf("{\"mode\":\"%s\",\"connections\":%lld,\"size\":%lld,\"seconds\":%g,\"messages\":%llu,"
              "\"msgs_per_sec\":%.1f,\"elapsed\":%.6f,\"total_messages\":%llu",
              bulk ? "bulk" : "pingpong", opt_.connections, opt_.size, opt_.seconds, messages, rate,
              elapsed, completed_ / unit);
  if (bulk) {
    std::printf(",\"bytes_per_sec\":%.1f",
                elapsed > 0 ? static_cast<double>(completed_ - base) / elapsed : 0.0);
  }
  if (opt_.latency) {
    std::sort(rtt_us_.begin(), rtt_us_.end());
    std::printf(",\"samples\":%zu,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f",
                rtt_us_.size(), percentile(rtt_us_, 0.5), percentile(rtt_us_, 0.99),
                percentile(rtt_us_, 0.999), rtt_us_.empty() ? 0.0 : rtt_us_.back());
  }
  std::printf("}\n");
  std::fflush(stdout);
}

// Idle mode: every connection did one round trip; say so, then keep them
// open and quiet for the measured time (the driver samples the server's
// memory meanwhile).
int StreamLoad::hold_idle() {
  std::printf("{\"idle\":%zu}\n", ready_);
  std::fflush(stdout);
  const double end = bench::now_seconds() + opt_.seconds;
  while (bench::now_seconds() < end) poll_once(20);
  std::printf("{\"mode\":\"idle\",\"connections\":%lld,\"size\":%lld,\"seconds\":%g,\"messages\":%zu,"
              "\"msgs_per_sec\":0,\"elapsed\":%g,\"total_messages\":%zu}\n",
              opt_.connections, opt_.size, opt_.seconds, ready_, opt_.seconds, ready_);
  std::fflush(stdout);
  return 0;
}

void StreamLoad::open_one(std::size_t i, const Target& target) {
  const int fd = ::socket(target.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket", errno);
  if (target.family == AF_INET) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  Conn& c = conns_[i];
  c.fd = fd;
  const int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&target.addr), target.len);
  if (r != 0 && errno != EINPROGRESS && errno != EINTR && errno != EAGAIN) {
    die_errno("connect", errno);
  }
  // Registered only after connect(): a socket that is still closed polls
  // as EPOLLHUP. Completion (or r == 0) is reported as EPOLLOUT. Bulk keeps
  // EPOLLOUT for good; echoing modes drop it once a message is out.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = i;
  c.watching_out = true;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) die_errno("epoll_ctl(ADD)", errno);
}

void StreamLoad::set_out(Conn& c, std::size_t idx, bool want) {
  if (c.watching_out == want || !echoing()) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (want ? EPOLLOUT : 0u);
  ev.data.u64 = idx;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) die_errno("epoll_ctl(MOD)", errno);
  c.watching_out = want;
}

// Writes the rest of the current message (bulk: chunk after chunk until the
// kernel refuses); arms EPOLLOUT if the kernel buffer is full. A bulk
// connection that is still writable after kBulkBurst chunks goes on the
// ready list, so that a fast reader never keeps the loop in one connection.
void StreamLoad::pump_send(Conn& c, std::size_t idx) {
  constexpr int kBulkBurst = 16;
  if (opt_.latency && c.sent == 0) c.started = bench::now_seconds();
  for (int chunks = 0;;) {
    if (c.sent == size_) {
      if (echoing()) break;
      c.sent = 0;  // bulk: the next chunk
      if (++chunks == kBulkBurst) {
        still_writable_.push_back(idx);
        return;
      }
    }
    const ssize_t n = ::send(c.fd, message_.data() + c.sent, size_ - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<std::size_t>(n);
      if (!echoing()) completed_ += static_cast<unsigned long long>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_out(c, idx, true);
      return;
    }
    die_errno("send", n < 0 ? errno : EPIPE);
  }
  set_out(c, idx, false);
}

// A round trip is complete when the whole message went out and came back.
void StreamLoad::maybe_complete(Conn& c, std::size_t idx) {
  if (!echoing() || c.sent != size_ || c.received != size_) return;
  c.sent = 0;
  c.received = 0;
  if (!c.up) {
    c.up = true;
    ++ready_;
    if (opt_.mode == Mode::Idle) return;  // idle from now on
  }
  ++completed_;
  if (opt_.latency && measuring_) {
    rtt_us_.push_back((bench::now_seconds() - c.started) * 1e6);
  }
  pump_send(c, idx);
}

// `to_eagain`: keep reading until EAGAIN/EOF even after a short read (used
// when the peer hung up, so that the EOF is seen).
void StreamLoad::pump_recv(Conn& c, std::size_t idx, bool to_eagain) {
  for (;;) {
    const ssize_t n = ::read(c.fd, scratch_.data(), scratch_.size());
    if (n > 0) {
      c.received += static_cast<std::size_t>(n);
      if (c.received > c.sent || !echoing()) die("server sent bytes it was not sent (not an echo)");
      maybe_complete(c, idx);
      // A short read on a stream socket means its receive queue was empty
      // (epoll(7)); data arriving later raises a new edge.
      if (!to_eagain && static_cast<std::size_t>(n) < scratch_.size()) return;
      continue;
    }
    if (n == 0) die("server closed a connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    die_errno("read", errno);
  }
}

void StreamLoad::handle(std::size_t idx, std::uint32_t what) {
  Conn& c = conns_[idx];
  if (!c.connected) {
    if ((what & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) die_errno("connect", err);
    if ((what & EPOLLOUT) == 0) die("connect failed (hang-up before the connection was established)");
    c.connected = true;
    ++connected_;
    if (!echoing()) {
      c.up = true;
      ++ready_;
    }
    pump_send(c, idx);  // first message; echoing modes disarm EPOLLOUT when it is out
    pump_recv(c, idx, false);
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

void StreamLoad::poll_once(int timeout_ms) {
  if (!still_writable_.empty()) {
    timeout_ms = 0;
    serving_.swap(still_writable_);
    for (const std::size_t idx : serving_) pump_send(conns_[idx], idx);
    serving_.clear();
  }
  const int n = epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return;
    die_errno("epoll_wait", errno);
  }
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = events_[static_cast<std::size_t>(i)];
    handle(static_cast<std::size_t>(ev.data.u64), ev.events);
  }
}

}  // namespace

int run_stream(const Options& o) {
  StreamLoad load(o);
  return load.run();
}

}  // namespace loadgen
