// loadgen: the one load generator used against every server.
//
//   loadgen --mode pingpong|bulk|idle|churn|udp --port P [--host 127.0.0.1]
//           [--unix PATH] [--connections C] [--size S] [--seconds T]
//           [--warmup W] [--cpu N] [--connect-timeout SEC] [--latency]
//
// Single-threaded, edge-triggered epoll, TCP_NODELAY on every TCP socket.
// Once every connection is up, the first W seconds are warm-up; what
// completes in the following T seconds is counted. Prints one JSON line:
//
//   {"mode":"pingpong","connections":C,"size":S,"seconds":T,"messages":N,
//    "msgs_per_sec":X,"elapsed":E,"total_messages":M, ...}
//
// "elapsed" is the measured window actually observed (~T); "total_messages"
// counts everything since the first connection came up (warm-up included),
// which is what the driver divides the server's CPU time by. Modes add
// fields: --latency p50_us/p99_us/p999_us, bulk bytes_per_sec, udp
// sent_measured; idle prints {"idle":C} once every connection has done its
// round trip, then holds them for T seconds.
//
// Modes (the server's mode in brackets):
//   pingpong [echo]  each connection keeps one S-byte message in flight
//   bulk     [sink]  each connection writes S-byte chunks as fast as it can
//   idle     [echo]  one S-byte round trip per connection, then idle
//   churn    [close] C connects at a time, each waits for the server's close,
//                    then resets its end and starts over
//   udp      [udp]   S-byte datagrams through one connected UDP socket,
//                    sendmmsg batches of segmented sends (UDP_SEGMENT),
//                    as fast as possible
// Exit status is non-zero on any failure (connect error, peer closed, ...).

#include "loadgen.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace loadgen {

namespace {

constexpr const char* kProg = "loadgen";
constexpr long long kMaxConnections = 100000;
constexpr long long kMaxSize = 64LL * 1024 * 1024;

void usage() {
  std::fprintf(stderr,
               "usage: %s --mode pingpong|bulk|idle|churn|udp --port P [--host 127.0.0.1]\n"
               "          [--unix PATH] [--connections C] [--size S] [--seconds T] [--warmup W]\n"
               "          [--cpu N] [--connect-timeout SEC] [--latency]\n",
               kProg);
}

bool parse_mode(std::string_view v, Mode& m) {
  if (v == "pingpong") m = Mode::PingPong;
  else if (v == "bulk") m = Mode::Bulk;
  else if (v == "idle") m = Mode::Idle;
  else if (v == "churn") m = Mode::Churn;
  else if (v == "udp") m = Mode::Udp;
  else return false;
  return true;
}

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    }
    if (a == "--latency") {
      o.latency = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s: missing value for %s\n", kProg, argv[i]);
      return false;
    }
    const std::string_view v = argv[++i];
    auto bad = [&]() {
      std::fprintf(stderr, "%s: bad value for %s: '%s'\n", kProg, argv[i - 1], argv[i]);
      return false;
    };
    if (a == "--mode") {
      if (!parse_mode(v, o.mode)) return bad();
    } else if (a == "--host") {
      o.host = std::string(v);
    } else if (a == "--unix") {
      o.unix_path = std::string(v);
    } else if (a == "--port" || a == "--connections" || a == "--size" || a == "--cpu") {
      const auto n = bench::parse_int(v);
      if (!n) return bad();
      (a == "--port" ? o.port : a == "--connections" ? o.connections : a == "--size" ? o.size : o.cpu) = *n;
    } else if (a == "--seconds" || a == "--warmup" || a == "--connect-timeout") {
      const auto d = bench::parse_double(v);
      if (!d || *d < 0 || *d > 86400) return bad();
      (a == "--seconds" ? o.seconds : a == "--warmup" ? o.warmup : o.connect_timeout) = *d;
    } else {
      std::fprintf(stderr, "%s: unknown argument '%s'\n", kProg, argv[i - 1]);
      return false;
    }
  }
  const bool unix_ok = o.mode == Mode::PingPong || o.mode == Mode::Bulk || o.mode == Mode::Idle;
  if (!o.unix_path.empty() && !unix_ok) {
    std::fprintf(stderr, "%s: --unix works with pingpong, bulk and idle only\n", kProg);
    return false;
  }
  if (o.unix_path.empty() && (o.port <= 0 || o.port > 65535)) {
    std::fprintf(stderr, "%s: --port is required (1..65535), or --unix PATH\n", kProg);
    return false;
  }
  if (o.connections < 1 || o.connections > kMaxConnections) {
    std::fprintf(stderr, "%s: --connections must be 1..%lld\n", kProg, kMaxConnections);
    return false;
  }
  if (o.size < 1 || o.size > kMaxSize || (o.mode == Mode::Udp && o.size > 65507)) {
    std::fprintf(stderr, "%s: --size out of range\n", kProg);
    return false;
  }
  if (o.seconds <= 0) {
    std::fprintf(stderr, "%s: --seconds must be > 0\n", kProg);
    return false;
  }
  return true;
}

}  // namespace

void die(const char* what) {
  std::fprintf(stderr, "%s: %s\n", kProg, what);
  std::exit(1);
}

void die_errno(const char* what, int err) {
  std::fprintf(stderr, "%s: %s: %s\n", kProg, what, std::strerror(err));
  std::exit(1);
}

Target resolve_target(const Options& o) {
  Target t;
  if (!o.unix_path.empty()) {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    if (o.unix_path.size() >= sizeof(un.sun_path)) die("--unix path too long");
    std::memcpy(un.sun_path, o.unix_path.c_str(), o.unix_path.size() + 1);
    std::memcpy(&t.addr, &un, sizeof(un));
    t.len = sizeof(un);
    t.family = AF_UNIX;
    return t;
  }
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(static_cast<std::uint16_t>(o.port));
  if (inet_pton(AF_INET, o.host.c_str(), &in.sin_addr) != 1) {
    die("--host must be a numeric IPv4 address");
  }
  std::memcpy(&t.addr, &in, sizeof(in));
  t.len = sizeof(in);
  t.family = AF_INET;
  return t;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p * static_cast<double>(sorted.size()));
  const auto idx = static_cast<std::size_t>(std::max(1.0, rank)) - 1;
  return sorted[std::min(idx, sorted.size() - 1)];
}

}  // namespace loadgen

int main(int argc, char** argv) {
  loadgen::Options opt;
  if (!loadgen::parse_args(argc, argv, opt)) {
    loadgen::usage();
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  if (!bench::pin_to_cpu(static_cast<int>(opt.cpu), "loadgen")) {
    return 1;
  }
  const auto wanted = static_cast<rlim_t>(opt.connections + 64);
  const rlim_t got = bench::raise_nofile(wanted);
  if (got < wanted) {
    std::fprintf(stderr, "loadgen: need %llu file descriptors, RLIMIT_NOFILE allows %llu\n",
                 static_cast<unsigned long long>(wanted), static_cast<unsigned long long>(got));
    return 1;
  }
  switch (opt.mode) {
    case loadgen::Mode::Churn:
      return loadgen::run_churn(opt);
    case loadgen::Mode::Udp:
      return loadgen::run_udp(opt);
    default:
      return loadgen::run_stream(opt);
  }
}
