// The load generator's parts: options, the timing of a run, and one entry
// point per kind of load (loadgen_stream.cpp, loadgen_churn.cpp,
// loadgen_udp.cpp). See loadgen.cpp for the command line.
#pragma once

#include "bench_common.hpp"

#include <sys/socket.h>

#include <string>
#include <vector>

namespace loadgen {

enum class Mode {
  PingPong,  // each connection keeps one message in flight (echo server)
  Bulk,      // each connection sends as fast as the server reads (sink server)
  Idle,      // one round trip per connection, then hold them idle (echo server)
  Churn,     // connect, wait for the server to close, reset, again (close server)
  Udp,       // datagrams as fast as possible at one port (udp server)
};

struct Options {
  Mode mode = Mode::PingPong;
  std::string host = "127.0.0.1";
  long long port = -1;
  std::string unix_path;  // stream modes: connect to this Unix-domain socket instead
  long long connections = 1;
  long long size = 16;
  double seconds = 2.0;
  double warmup = 0.5;
  long long cpu = -1;
  double connect_timeout = 20.0;
  bool latency = false;  // ping-pong: record every round trip's time
};

[[noreturn]] void die(const char* what);
[[noreturn]] void die_errno(const char* what, int err);

// The socket address to reach the server at (TCP/UDP or Unix-domain).
struct Target {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = 0;
};
Target resolve_target(const Options& o);

// Percentile (0..1) of sorted samples.
double percentile(const std::vector<double>& sorted, double p);

int run_stream(const Options& o);  // PingPong, Bulk, Idle
int run_churn(const Options& o);
int run_udp(const Options& o);

}  // namespace loadgen
