// Small helpers shared by the benchmark programs (not part of the library).
#pragma once

#include <sched.h>
#include <sys/resource.h>
#include <time.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace bench {

// The one read size of the suite: every server reads stream sockets into a
// buffer of this size, and every datagram slot has this capacity.
inline constexpr std::size_t kReadSize = 64 * 1024;
// Datagrams per receive call where the library batches (recvmmsg): libuv's
// fixed maximum, used by raw and tether too so that all batch alike.
inline constexpr std::size_t kUdpBatch = 20;
// UDP payloads start with this byte when sent in the measured window (and
// kWarmupDatagram during warm-up), so that a receiver counts the measured
// datagrams without any side channel.
inline constexpr char kMeasuredDatagram = 'M';
inline constexpr char kWarmupDatagram = 'W';

// Monotonic time in seconds.
inline double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Pins the calling process to one CPU; cpu < 0 leaves the affinity alone.
inline bool pin_to_cpu(int cpu, const char* who) {
  if (cpu < 0) {
    return true;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(cpu), &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    std::fprintf(stderr, "%s: sched_setaffinity(cpu %d): %s\n", who, cpu,
                 std::strerror(errno));
    return false;
  }
  return true;
}

// Raises the soft RLIMIT_NOFILE to at least `wanted` (and the hard limit
// too when allowed). Returns the soft limit in effect afterwards.
inline rlim_t raise_nofile(rlim_t wanted) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return 0;
  }
  if (lim.rlim_cur >= wanted) {
    return lim.rlim_cur;
  }
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < wanted) {
    rlimit both{wanted, wanted};
    if (setrlimit(RLIMIT_NOFILE, &both) == 0) {
      return wanted;
    }
    wanted = lim.rlim_max;  // not privileged: settle for the hard limit
  }
  lim.rlim_cur = wanted;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

// CPU time (user + system) of the calling process, in microseconds.
inline long long self_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (static_cast<long long>(ru.ru_utime.tv_sec) + ru.ru_stime.tv_sec) * 1000000LL +
         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

inline std::optional<long long> parse_int(std::string_view s) {
  long long v = 0;
  const char* first = s.data();
  const char* last = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc{} || ptr != last || s.empty()) {
    return std::nullopt;
  }
  return v;
}

inline std::optional<double> parse_double(std::string_view s) {
  if (s.empty()) {
    return std::nullopt;
  }
  std::string copy(s);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(copy.c_str(), &end);
  if (errno != 0 || end != copy.c_str() + copy.size()) {
    return std::nullopt;
  }
  return v;
}

}  // namespace bench
