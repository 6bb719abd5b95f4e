// What every server under test shares: its command line, how it announces
// itself, how it is stopped and how it reports. See "Contract for a server
// under test" in bench/README.md.
#pragma once

#include "bench_common.hpp"

#include <sys/signalfd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bench {

// The protocols a server speaks, one per run (--mode).
enum class ServerMode {
  Echo,   // stream: echo every byte back (ping-pong, latency, idle memory)
  Sink,   // stream: read and discard (bulk one-way throughput)
  Close,  // stream: accept and close at once (accept churn)
  Udp,    // datagrams: receive and count (small-datagram receive rate)
};

struct ServerOptions {
  ServerMode mode = ServerMode::Echo;
  std::string host = "127.0.0.1";
  int port = 0;
  int cpu = -1;
  std::string unix_path;  // non-empty: a Unix-domain stream server at this path
};

inline const char* server_usage() {
  return "[--mode echo|sink|close|udp] [--unix PATH] [--host 127.0.0.1] [--port P] [--cpu N]";
}

// Parses the server command line; prints usage and exits on a bad one.
inline ServerOptions parse_server_options(int argc, char** argv, const char* prog) {
  ServerOptions o;
  auto fail = [&](const char* why, const char* what) {
    std::fprintf(stderr, "%s: %s '%s'\nusage: %s %s\n", prog, why, what, prog, server_usage());
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) {
      fail("missing value for", argv[i]);
    }
    const char* value = argv[++i];
    if (flag == "--mode") {
      const std::string_view m = value;
      if (m == "echo") o.mode = ServerMode::Echo;
      else if (m == "sink") o.mode = ServerMode::Sink;
      else if (m == "close") o.mode = ServerMode::Close;
      else if (m == "udp") o.mode = ServerMode::Udp;
      else fail("unknown mode", value);
    } else if (flag == "--unix") {
      o.unix_path = value;
    } else if (flag == "--host") {
      o.host = value;
    } else if (flag == "--port" || flag == "--cpu") {
      const auto v = parse_int(value);
      if (!v || *v < -1 || *v > 65535) {
        fail("bad number", value);
      }
      (flag == "--port" ? o.port : o.cpu) = static_cast<int>(*v);
    } else {
      fail("unknown argument", argv[i - 1]);
    }
  }
  if (!o.unix_path.empty() && o.mode != ServerMode::Echo) {
    fail("--unix serves --mode echo only, not", argv[0]);
  }
  return o;
}

// Pins the server and lifts the descriptor limit; exits if pinning fails.
inline void prepare_server_process(const ServerOptions& o, const char* prog) {
  if (!pin_to_cpu(o.cpu, prog)) {
    std::exit(1);
  }
  raise_nofile(65536);
  std::signal(SIGPIPE, SIG_IGN);
}

// Blocks SIGTERM and SIGINT in the calling thread (call it before any
// thread starts) and returns a non-blocking signalfd that reports them, for
// servers whose event loop can watch a descriptor.
inline int make_stop_signalfd(const char* prog) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  const int fd = sigprocmask(SIG_BLOCK, &mask, nullptr) == 0
                     ? signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)
                     : -1;
  if (fd < 0) {
    std::fprintf(stderr, "%s: signalfd: %s\n", prog, std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

// The first stdout line: where the server listens.
inline void announce(const ServerOptions& o, unsigned port) {
  if (o.unix_path.empty()) {
    std::printf("port %u\n", port);
  } else {
    std::printf("path %s\n", o.unix_path.c_str());
  }
  std::fflush(stdout);
}

// Counters a server reports when it stops ("stat NAME VALUE" lines).
struct ServerStats {
  unsigned long long accepted = 0;   // connections accepted
  unsigned long long bytes = 0;      // stream bytes read
  unsigned long long datagrams = 0;  // datagrams received
  unsigned long long measured = 0;   // of which sent in the measured window

  void count_datagram(const char* data, std::size_t size) {
    ++datagrams;
    if (size > 0 && data[0] == kMeasuredDatagram) {
      ++measured;
    }
  }
};

// The last stdout lines: the counters, then "cpu_us N" (user + system time
// of the whole process), which the driver waits for.
inline void report_and_exit_line(const ServerStats& s) {
  std::printf("stat accepted %llu\nstat bytes %llu\nstat datagrams %llu\nstat measured %llu\n",
              s.accepted, s.bytes, s.datagrams, s.measured);
  std::printf("cpu_us %lld\n", self_cpu_us());
  std::fflush(stdout);
}

}  // namespace bench
