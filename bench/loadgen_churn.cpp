// Accept churn: C connection attempts in flight at once. Each connects,
// waits for the server to close it (EOF), then closes its own end with a
// reset (SO_LINGER 0: neither side keeps a TIME_WAIT entry, so the run never
// runs out of ports) and starts over. One completed cycle is one message.

#include "loadgen.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

namespace loadgen {

namespace {

class Churn {
 public:
  explicit Churn(const Options& o) : opt_(o), target_(resolve_target(o)) {}
  ~Churn() {
    for (const int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
    if (epfd_ >= 0) ::close(epfd_);
  }
  Churn(const Churn&) = delete;
  Churn& operator=(const Churn&) = delete;

  int run() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) die_errno("epoll_create1", errno);
    fds_.assign(static_cast<std::size_t>(opt_.connections), -1);
    for (std::size_t i = 0; i < fds_.size(); ++i) start(i);
    const double warm_end = bench::now_seconds() + opt_.warmup;
    while (bench::now_seconds() < warm_end) poll_once(5);
    const double t0 = bench::now_seconds();
    const unsigned long long base = completed_;
    double t1 = t0;
    while ((t1 = bench::now_seconds()) < t0 + opt_.seconds) poll_once(5);
    const double elapsed = t1 - t0;
    const unsigned long long messages = completed_ - base;
    std::printf("{\"mode\":\"churn\",\"connections\":%lld,\"size\":0,\"seconds\":%g,\"messages\":%llu,"
                "\"msgs_per_sec\":%.1f,\"elapsed\":%.6f,\"total_messages\":%llu}\n",
                opt_.connections, opt_.seconds, messages,
                elapsed > 0 ? static_cast<double>(messages) / elapsed : 0.0, elapsed, completed_);
    std::fflush(stdout);
    return 0;
  }

 private:
  void start(std::size_t i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die_errno("socket", errno);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const int r = ::connect(fd, reinterpret_cast<const sockaddr*>(&target_.addr), target_.len);
    if (r != 0 && errno != EINPROGRESS && errno != EINTR) die_errno("connect", errno);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;  // the server's close, or an error
    ev.data.u64 = i;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) die_errno("epoll_ctl(ADD)", errno);
    fds_[i] = fd;
  }

  void finish(std::size_t i, std::uint32_t what) {
    const int fd = fds_[i];
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 && err != ECONNRESET) die_errno("churn connection", err);
    if ((what & (EPOLLRDHUP | EPOLLHUP | EPOLLIN)) == 0) return;
    const linger reset{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    ::close(fd);  // also leaves the epoll set
    fds_[i] = -1;
    ++completed_;
    start(i);
  }

  void poll_once(int timeout_ms) {
    const int n = epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (n < 0 && errno != EINTR) die_errno("epoll_wait", errno);
    for (int k = 0; k < n; ++k) {
      const epoll_event& ev = events_[static_cast<std::size_t>(k)];
      finish(static_cast<std::size_t>(ev.data.u64), ev.events);
    }
  }

  Options opt_;
  Target target_;
  std::vector<int> fds_;
  std::vector<epoll_event> events_ = std::vector<epoll_event>(1024);
  int epfd_ = -1;
  unsigned long long completed_ = 0;
};

}  // namespace

int run_churn(const Options& o) {
  Churn churn(o);
  return churn.run();
}

}  // namespace loadgen
