// raw_server: the "physical limit" stand-in. A single-threaded,
// edge-triggered epoll server with no abstraction at all, speaking every
// protocol of the suite; what every other server is compared against.
//
//   raw_server [--mode echo|sink|close|udp] [--unix PATH] [--port P] [--cpu N]
//
// Stream reads stop at the first short read (the receive queue was empty,
// epoll(7)); datagrams are read with recvmmsg, kUdpBatch at a time.

#include "bench_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace {

constexpr const char* kProg = "raw_server";
// Bytes queued for one connection before the server stops reading from it
// (back-pressure); never reached by ping-pong, which keeps one message in
// flight.
constexpr std::size_t kMaxPending = 16u * 1024u * 1024u;

struct Connection {
  int fd = -1;
  std::vector<char> pending;  // bytes read but not yet written back
  std::size_t pending_off = 0;
  bool watching_out = false;  // EPOLLOUT currently in the interest set
  bool read_paused = false;   // stopped reading because pending is too big

  std::size_t pending_size() const { return pending.size() - pending_off; }
};

bool would_block() { return errno == EAGAIN || errno == EWOULDBLOCK; }

class Server {
 public:
  explicit Server(const bench::ServerOptions& o) : opt_(o) {}

  int run();

 private:
  bool open_listener(unsigned& port);
  void set_interest(Connection& c, bool want_out);
  void close_conn(int fd);
  bool flush(Connection& c);
  bool on_readable(Connection& c);
  bool on_writable(Connection& c);
  void accept_all();
  void on_datagrams();
  void on_event(int fd, std::uint32_t what);

  bench::ServerOptions opt_;
  bench::ServerStats stats_;
  int epfd_ = -1;
  int listen_fd_ = -1;
  int sig_fd_ = -1;
  std::vector<std::unique_ptr<Connection>> conns_;  // indexed by fd
  std::vector<char> scratch_ = std::vector<char>(bench::kReadSize);
  std::vector<char> udp_slots_;  // kUdpBatch datagram slots of kReadSize
  std::vector<iovec> udp_iov_;
  std::vector<mmsghdr> udp_msgs_;
};

void Server::set_interest(Connection& c, bool want_out) {
  if (c.watching_out == want_out) {
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (want_out ? EPOLLOUT : 0u);
  ev.data.fd = c.fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev) == 0) {
    c.watching_out = want_out;
  }
}

void Server::close_conn(int fd) {
  const auto idx = static_cast<std::size_t>(fd);
  if (fd < 0 || idx >= conns_.size() || !conns_[idx]) {
    return;
  }
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  conns_[idx].reset();
}

// Writes as much of the pending queue as the kernel takes.
// Returns false if the connection failed.
bool Server::flush(Connection& c) {
  while (c.pending_size() > 0) {
    const ssize_t n = ::send(c.fd, c.pending.data() + c.pending_off, c.pending_size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.pending_off += static_cast<std::size_t>(n);
    } else if (n < 0 && would_block()) {
      break;
    } else if (n >= 0 || errno != EINTR) {
      return false;
    }
  }
  if (c.pending_size() == 0) {
    c.pending.clear();
    c.pending_off = 0;
  }
  return true;
}

// Reads until a short read, echoing every chunk straight back (or counting
// it, in sink mode). Returns false if the connection is finished.
bool Server::on_readable(Connection& c) {
  const bool echo = opt_.mode == bench::ServerMode::Echo;
  for (;;) {
    if (c.pending_size() >= kMaxPending) {
      c.read_paused = true;
      return true;
    }
    const ssize_t n = ::read(c.fd, scratch_.data(), scratch_.size());
    if (n == 0) {
      return false;  // peer closed
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      c.read_paused = false;
      return would_block();
    }
    const auto len = static_cast<std::size_t>(n);
    stats_.bytes += len;
    if (echo) {
      std::size_t written = 0;
      if (c.pending_size() == 0) {
        const ssize_t w = ::send(c.fd, scratch_.data(), len, MSG_NOSIGNAL);
        if (w > 0) {
          written = static_cast<std::size_t>(w);
        } else if (w < 0 && !would_block() && errno != EINTR) {
          return false;
        }
      }
      if (written < len) {
        // Kernel buffer full: queue the rest and wait for EPOLLOUT.
        c.pending.insert(c.pending.end(), scratch_.data() + written, scratch_.data() + len);
        set_interest(c, true);
      }
    }
    if (len < scratch_.size()) {
      c.read_paused = false;
      return true;  // short read: the queue is empty, the next data raises an edge
    }
  }
}

bool Server::on_writable(Connection& c) {
  if (!flush(c)) {
    return false;
  }
  if (c.pending_size() == 0) {
    set_interest(c, false);
  }
  if (c.read_paused && c.pending_size() < kMaxPending) {
    c.read_paused = false;
    return on_readable(c);
  }
  return true;
}

void Server::accept_all() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if (!would_block()) {
        std::fprintf(stderr, "%s: accept4: %s\n", kProg, std::strerror(errno));
      }
      return;  // EAGAIN, or out of descriptors: retried on the next edge
    }
    ++stats_.accepted;
    if (opt_.mode == bench::ServerMode::Close) {
      ::close(fd);
      continue;
    }
    if (opt_.unix_path.empty()) {
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    const auto idx = static_cast<std::size_t>(fd);
    if (idx >= conns_.size()) {
      conns_.resize(idx + 1024);
    }
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      std::fprintf(stderr, "%s: epoll_ctl(ADD): %s\n", kProg, std::strerror(errno));
      ::close(fd);
      continue;
    }
    conns_[idx] = std::move(c);
    // Data may already be waiting (the client sends right after connect).
    if (!on_readable(*conns_[idx])) {
      close_conn(fd);
    }
  }
}

// Receives kUdpBatch datagrams per recvmmsg until a batch comes back short.
void Server::on_datagrams() {
  constexpr std::size_t kBatch = bench::kUdpBatch;
  if (udp_slots_.empty()) {
    udp_slots_.resize(kBatch * bench::kReadSize);
    udp_iov_.resize(kBatch);
    udp_msgs_.resize(kBatch);
    for (std::size_t i = 0; i < kBatch; ++i) {
      udp_iov_[i] = iovec{udp_slots_.data() + i * bench::kReadSize, bench::kReadSize};
    }
  }
  std::vector<iovec>& iov = udp_iov_;
  std::vector<mmsghdr>& msgs = udp_msgs_;
  for (;;) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(listen_fd_, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (!would_block()) {
        std::fprintf(stderr, "%s: recvmmsg: %s\n", kProg, std::strerror(errno));
      }
      return;
    }
    for (int i = 0; i < n; ++i) {
      const auto k = static_cast<std::size_t>(i);
      stats_.count_datagram(static_cast<const char*>(iov[k].iov_base), msgs[k].msg_len);
    }
    if (static_cast<std::size_t>(n) < kBatch) {
      return;
    }
  }
}

bool Server::open_listener(unsigned& port) {
  const bool unix_stream = !opt_.unix_path.empty();
  const bool udp = opt_.mode == bench::ServerMode::Udp;
  const int family = unix_stream ? AF_UNIX : AF_INET;
  const int type = (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  listen_fd_ = ::socket(family, type, 0);
  if (listen_fd_ < 0) {
    return false;
  }
  if (unix_stream) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", opt_.unix_path.c_str());
    ::unlink(addr.sun_path);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return false;
    }
  } else {
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(opt_.port));
    if (inet_pton(AF_INET, opt_.host.c_str(), &addr.sin_addr) != 1 ||
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return false;
    }
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  return udp || ::listen(listen_fd_, SOMAXCONN) == 0;
}

void Server::on_event(int fd, std::uint32_t what) {
  if (fd == listen_fd_) {
    if (opt_.mode == bench::ServerMode::Udp) {
      on_datagrams();
    } else {
      accept_all();
    }
    return;
  }
  const auto idx = static_cast<std::size_t>(fd);
  if (idx >= conns_.size() || !conns_[idx]) {
    return;  // closed earlier in this batch
  }
  Connection& c = *conns_[idx];
  bool ok = (what & (EPOLLERR | EPOLLHUP)) == 0;
  if (ok && (what & EPOLLOUT)) {
    ok = on_writable(c);
  }
  if (ok && (what & (EPOLLIN | EPOLLRDHUP))) {
    ok = on_readable(c);
  }
  if (!ok) {
    close_conn(fd);
  }
}

int Server::run() {
  sig_fd_ = bench::make_stop_signalfd(kProg);
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  unsigned port = 0;
  if (epfd_ < 0 || !open_listener(port)) {
    std::fprintf(stderr, "%s: cannot listen: %s\n", kProg, std::strerror(errno));
    return 1;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = listen_fd_;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.events = EPOLLIN;
  ev.data.fd = sig_fd_;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, sig_fd_, &ev);
  bench::announce(opt_, port);

  std::vector<epoll_event> events(1024);
  for (bool running = true; running;) {
    const int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0 && errno != EINTR) {
      std::perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const epoll_event& e = events[static_cast<std::size_t>(i)];
      if (e.data.fd == sig_fd_) {
        running = false;
      } else {
        on_event(e.data.fd, e.events);
      }
    }
  }
  for (std::size_t fd = 0; fd < conns_.size(); ++fd) {
    close_conn(static_cast<int>(fd));
  }
  ::close(listen_fd_);
  if (!opt_.unix_path.empty()) {
    ::unlink(opt_.unix_path.c_str());
  }
  bench::report_and_exit_line(stats_);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::ServerOptions opt = bench::parse_server_options(argc, argv, kProg);
  bench::prepare_server_process(opt, kProg);
  Server server(opt);
  return server.run();
}
