// raw_epoll_echo_server: the "physical limit" stand-in for the ping-pong
// benchmark. A single-threaded, edge-triggered epoll TCP echo server with
// no abstraction at all: what every other server is compared against.
//
//   raw_epoll_echo_server [--port P] [--cpu N] [--host A]
//
// Prints "port N" (the bound port) as its first stdout line, runs until
// SIGTERM/SIGINT, then prints "cpu_us N" (its own user+system CPU time in
// microseconds) and exits 0.

#include "bench_common.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kProg = "raw_epoll_echo_server";
// Bytes queued for one connection before the server stops reading from it
// (back-pressure); never reached by ping-pong, which keeps one message in
// flight.
constexpr std::size_t kMaxPending = 16u * 1024u * 1024u;
constexpr std::size_t kReadChunk = 256u * 1024u;

struct Connection {
  int fd = -1;
  std::vector<char> pending;  // bytes read but not yet written back
  std::size_t pending_off = 0;
  bool watching_out = false;  // EPOLLOUT currently in the interest set
  bool read_paused = false;   // stopped reading because pending is too big

  std::size_t pending_size() const { return pending.size() - pending_off; }
};

struct Server {
  int epfd = -1;
  int listen_fd = -1;
  int sig_fd = -1;
  std::vector<std::unique_ptr<Connection>> conns;  // indexed by fd
  std::vector<char> scratch = std::vector<char>(kReadChunk);
  unsigned long long accepted = 0;

  void set_interest(Connection& c, bool want_out) {
    if (c.watching_out == want_out) {
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (want_out ? EPOLLOUT : 0u);
    ev.data.fd = c.fd;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev) == 0) {
      c.watching_out = want_out;
    }
  }

  void close_conn(int fd) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= conns.size() || !conns[static_cast<std::size_t>(fd)]) {
      return;
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns[static_cast<std::size_t>(fd)].reset();
  }

  // Writes as much of the pending queue as the kernel takes.
  // Returns false if the connection failed.
  bool flush(Connection& c) {
    while (c.pending_size() > 0) {
      ssize_t n = ::send(c.fd, c.pending.data() + c.pending_off, c.pending_size(), MSG_NOSIGNAL);
      if (n > 0) {
        c.pending_off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      }
      return false;
    }
    if (c.pending_size() == 0) {
      c.pending.clear();
      c.pending_off = 0;
    }
    return true;
  }

  // Reads until EAGAIN, echoing every chunk straight back.
  // Returns false if the connection is finished (EOF or error).
  bool on_readable(Connection& c) {
    for (;;) {
      if (c.pending_size() >= kMaxPending) {
        c.read_paused = true;
        return true;
      }
      ssize_t n = ::read(c.fd, scratch.data(), scratch.size());
      if (n > 0) {
        const auto len = static_cast<std::size_t>(n);
        std::size_t written = 0;
        if (c.pending_size() == 0) {
          ssize_t w = ::send(c.fd, scratch.data(), len, MSG_NOSIGNAL);
          if (w > 0) {
            written = static_cast<std::size_t>(w);
          } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return false;
          }
        }
        if (written < len) {
          // Kernel buffer full: queue the rest and wait for EPOLLOUT.
          c.pending.insert(c.pending.end(), scratch.data() + written, scratch.data() + len);
          set_interest(c, true);
        }
        continue;
      }
      if (n == 0) {
        return false;  // peer closed
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c.read_paused = false;
        return true;
      }
      return false;
    }
  }

  bool on_writable(Connection& c) {
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

  void accept_all() {
    for (;;) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) {
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          std::fprintf(stderr, "%s: accept4: %s\n", kProg, std::strerror(errno));
        }
        return;  // EAGAIN, or out of descriptors: retried on the next edge
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      const auto idx = static_cast<std::size_t>(fd);
      if (idx >= conns.size()) {
        conns.resize(idx + 1024);
      }
      auto c = std::make_unique<Connection>();
      c->fd = fd;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
      ev.data.fd = fd;
      if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        std::fprintf(stderr, "%s: epoll_ctl(ADD): %s\n", kProg, std::strerror(errno));
        ::close(fd);
        continue;
      }
      conns[idx] = std::move(c);
      ++accepted;
      // Data may already be waiting (the client sends right after connect).
      if (!on_readable(*conns[idx])) {
        close_conn(fd);
      }
    }
  }
};

void usage() {
  std::fprintf(stderr, "usage: %s [--port P] [--cpu N] [--host ADDR]\n", kProg);
}

}  // namespace

int main(int argc, char** argv) {
  long long port = 0;
  long long cpu = -1;
  std::string host = "127.0.0.1";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port") {
      auto v = bench::parse_int(value());
      if (!v || *v < 0 || *v > 65535) {
        usage();
        return 2;
      }
      port = *v;
    } else if (a == "--cpu") {
      auto v = bench::parse_int(value());
      if (!v) {
        usage();
        return 2;
      }
      cpu = *v;
    } else if (a == "--host") {
      host = std::string(value());
    } else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "%s: unknown argument '%s'\n", kProg, argv[i]);
      usage();
      return 2;
    }
  }

  if (!bench::pin_to_cpu(static_cast<int>(cpu), kProg)) {
    return 1;
  }
  bench::raise_nofile(65536);

  // SIGTERM/SIGINT arrive through a signalfd in the epoll set: no races.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
    std::perror("sigprocmask");
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);

  Server s;
  s.sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  s.epfd = epoll_create1(EPOLL_CLOEXEC);
  s.listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.sig_fd < 0 || s.epfd < 0 || s.listen_fd < 0) {
    std::perror("setup");
    return 1;
  }
  int one = 1;
  setsockopt(s.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "%s: bad IPv4 address '%s'\n", kProg, host.c_str());
    return 2;
  }
  if (::bind(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(s.listen_fd, SOMAXCONN) != 0) {
    std::fprintf(stderr, "%s: bind/listen %s:%lld: %s\n", kProg, host.c_str(), port,
                 std::strerror(errno));
    return 1;
  }
  socklen_t alen = sizeof(addr);
  getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), &alen);

  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = s.listen_fd;
  epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.listen_fd, &ev);
  ev.events = EPOLLIN;
  ev.data.fd = s.sig_fd;
  epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.sig_fd, &ev);

  std::printf("port %u\n", static_cast<unsigned>(ntohs(addr.sin_port)));
  std::fflush(stdout);

  std::vector<epoll_event> events(1024);
  bool running = true;
  while (running) {
    int n = epoll_wait(s.epfd, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      std::perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
      if (fd == s.listen_fd) {
        s.accept_all();
        continue;
      }
      if (fd == s.sig_fd) {
        running = false;
        continue;
      }
      const auto idx = static_cast<std::size_t>(fd);
      if (idx >= s.conns.size() || !s.conns[idx]) {
        continue;  // closed earlier in this batch
      }
      Connection& c = *s.conns[idx];
      bool ok = true;
      if (what & (EPOLLERR | EPOLLHUP)) {
        ok = false;
      }
      if (ok && (what & EPOLLOUT)) {
        ok = s.on_writable(c);
      }
      if (ok && (what & (EPOLLIN | EPOLLRDHUP))) {
        ok = s.on_readable(c);
      }
      if (!ok) {
        s.close_conn(fd);
      }
    }
  }

  for (std::size_t fd = 0; fd < s.conns.size(); ++fd) {
    if (s.conns[fd]) {
      s.close_conn(static_cast<int>(fd));
    }
  }
  ::close(s.listen_fd);
  ::close(s.sig_fd);
  ::close(s.epfd);
  std::printf("cpu_us %lld\n", bench::self_cpu_us());
  std::fflush(stdout);
  return 0;
}
