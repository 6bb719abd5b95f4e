// pingpong: driver of the TCP ping-pong benchmark.
//
//   pingpong --server raw=./raw_epoll_echo_server --server tether=./tether_echo_server
//            [--loadgen PATH] [--seconds 2] [--warmup 0.5] [--reps 3] [--smoke]
//            [--csv runs.csv] [--summary-csv summary.csv]
//            [--sizes 16,4096,65536] [--connections 1,100,1000]
//            [--server-cpu 0] [--client-cpu 1]
//
// For every workload (size x connections) and every repetition, each server
// is run in turn (repetitions interleaved across servers): the server is
// started with "--port 0 --cpu <server-cpu>" appended, its "port N" line is
// read, the load generator runs pinned to <client-cpu>, then the server gets
// SIGTERM and reports "cpu_us N". Prints a table of medians (min-max), server
// CPU per message and the ratio to the server named "raw"; writes CSV.

#include "bench_common.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kProg = "pingpong";

// ---------------------------------------------------------------------------
// Child process bookkeeping: every live child is listed here so that a
// signal to the driver (or any exit path) takes the children down with it.

constexpr std::size_t kMaxChildren = 8;
std::array<std::atomic<pid_t>, kMaxChildren> g_children{};

void register_child(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) {
      return;
    }
  }
}

void unregister_child(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) {
      return;
    }
  }
}

void kill_all_children() {
  for (auto& slot : g_children) {
    pid_t pid = slot.exchange(0);
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
}

extern "C" void on_fatal_signal(int sig) {
  // Async-signal-safe: kill(2), waitpid(2) and _exit(2) only.
  kill_all_children();
  _exit(128 + sig);
}

// A child process with its stdout on a pipe. The destructor kills and reaps
// it if it is still running.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { terminate_now(); }

  bool start(const std::vector<std::string>& argv, std::string& error) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      error = std::string("pipe2: ") + std::strerror(errno);
      return false;
    }
    std::vector<char*> cargv;
    cargv.reserve(argv.size() + 1);
    for (const auto& a : argv) {
      cargv.push_back(const_cast<char*>(a.c_str()));
    }
    cargv.push_back(nullptr);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
      error = std::string("fork: ") + std::strerror(errno);
      ::close(fds[0]);
      ::close(fds[1]);
      return false;
    }
    if (pid == 0) {
      // Die with the driver, whatever happens to it.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) {
        _exit(127);
      }
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      dup2(fds[1], STDOUT_FILENO);
      execvp(cargv[0], cargv.data());
      const char* msg = "pingpong: exec failed: ";
      ssize_t ignored = write(STDERR_FILENO, msg, std::strlen(msg));
      ignored = write(STDERR_FILENO, cargv[0], std::strlen(cargv[0]));
      ignored = write(STDERR_FILENO, "\n", 1);
      (void)ignored;
      _exit(127);
    }
    ::close(fds[1]);
    pid_ = pid;
    out_fd_ = fds[0];
    register_child(pid);
    return true;
  }

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Reads one stdout line, waiting until `deadline` (monotonic seconds).
  // std::nullopt on EOF or timeout (see eof()).
  std::optional<std::string> read_line(double deadline) {
    for (;;) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      if (eof_ || out_fd_ < 0) {
        if (!buffer_.empty()) {
          std::string line;
          line.swap(buffer_);
          return line;
        }
        return std::nullopt;
      }
      const double left = deadline - bench::now_seconds();
      if (left <= 0) {
        return std::nullopt;
      }
      pollfd p{out_fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::ceil(std::min(left, 1.0) * 1000)));
      if (r < 0 && errno != EINTR) {
        eof_ = true;
      }
      if (r > 0) {
        char buf[4096];
        ssize_t n = ::read(out_fd_, buf, sizeof(buf));
        if (n > 0) {
          buffer_.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          eof_ = true;
        }
      }
    }
  }

  bool eof() const { return eof_; }

  // Takes whatever stdout output is available without blocking, so that a
  // chatty child never stalls on a full pipe.
  void drain() {
    while (!eof_ && out_fd_ >= 0) {
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0) {
        return;
      }
      char buf[4096];
      ssize_t n = ::read(out_fd_, buf, sizeof(buf));
      if (n > 0) {
        if (buffer_.size() < (1u << 20)) {
          buffer_.append(buf, static_cast<std::size_t>(n));
        }
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        eof_ = true;
      }
    }
  }

  void signal(int sig) {
    if (pid_ > 0) {
      ::kill(pid_, sig);
    }
  }

  // Waits for the child to exit until `deadline`; fills status and rusage.
  // Returns false on timeout (the child is still running).
  bool wait_until(double deadline, int& status, rusage& ru) {
    if (pid_ <= 0) {
      return false;
    }
    for (;;) {
      pid_t r = ::wait4(pid_, &status, WNOHANG, &ru);
      if (r == pid_) {
        reaped();
        return true;
      }
      if (r < 0 && errno != EINTR) {
        reaped();
        status = -1;
        return true;
      }
      if (bench::now_seconds() >= deadline) {
        return false;
      }
      ::usleep(5000);
    }
  }

  void terminate_now() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      reaped();
    }
    if (out_fd_ >= 0) {
      ::close(out_fd_);
      out_fd_ = -1;
    }
  }

 private:
  void reaped() {
    unregister_child(pid_);
    pid_ = -1;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
};

// ---------------------------------------------------------------------------
// Noise gauge: CPU time spent on the two benchmark cores by anything but the
// server and the load generator (other processes, hypervisor steal), from
// /proc/stat. Soft-interrupt time is left out: it is the kernel's own TCP
// work for the benchmark and is not charged to any process.

struct CoreTicks {
  bool valid = false;
  unsigned long long task = 0;   // user + nice + system
  unsigned long long steal = 0;
};

CoreTicks read_core_ticks(int cpu) {
  CoreTicks t;
  if (cpu < 0) {
    return t;
  }
  std::ifstream f("/proc/stat");
  const std::string want = "cpu" + std::to_string(cpu);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string name;
    in >> name;
    if (name != want) {
      continue;
    }
    unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0,
                       steal = 0;
    if (in >> user >> nice >> sys >> idle >> iowait >> irq >> softirq >> steal) {
      t.valid = true;
      t.task = user + nice + sys;
      t.steal = steal;
    }
    break;
  }
  return t;
}

long long rusage_us(const rusage& ru) {
  return (static_cast<long long>(ru.ru_utime.tv_sec) + ru.ru_stime.tv_sec) * 1000000LL +
         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

struct ServerSpec {
  std::string name;
  std::vector<std::string> argv;
};

struct Workload {
  long long size;
  long long connections;
};

struct RunResult {
  std::string server;
  long long size = 0;
  long long connections = 0;
  int rep = 0;
  bool ok = false;
  std::string error;
  double msgs_per_sec = 0;
  unsigned long long messages = 0;
  double elapsed = 0;
  unsigned long long total_messages = 0;
  long long server_cpu_us = -1;
  std::string cpu_source;  // "report" (cpu_us line) or "rusage" (wait4)
  double cpu_ns_per_msg = 0;
  long long loadgen_cpu_us = -1;
  double foreign_cpu_pct = -1;  // other work on the two cores, % of one core
};

struct Options {
  std::vector<ServerSpec> servers;
  std::string loadgen;
  double seconds = 2.0;
  double warmup = 0.5;
  int reps = 3;
  bool smoke = false;
  std::string csv;
  std::string summary_csv;
  std::vector<long long> sizes{16, 4096, 65536};
  std::vector<long long> conns{1, 100, 1000};
  int server_cpu = 0;
  int client_cpu = 1;
  double connect_timeout = 20.0;
};

void usage() {
  std::fprintf(
      stderr,
      "usage: %s --server NAME=COMMAND [--server NAME=COMMAND ...]\n"
      "          [--loadgen PATH] [--seconds 2] [--warmup 0.5] [--reps 3] [--smoke]\n"
      "          [--csv FILE] [--summary-csv FILE] [--sizes 16,4096,65536]\n"
      "          [--connections 1,100,1000] [--server-cpu 0] [--client-cpu 1]\n"
      "          [--connect-timeout 20]\n"
      "  COMMAND is split on spaces; \"--port 0 --cpu <server-cpu>\" is appended.\n"
      "  Name one server \"raw\" to get ratio columns.\n"
      "  --smoke: every workload for 0.3 s, 1 rep, no warm-up; checks that the\n"
      "           suite runs, the numbers mean nothing.\n",
      kProg);
}

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string tok;
  while (in >> tok) {
    out.push_back(tok);
  }
  return out;
}

std::optional<std::vector<long long>> parse_list(std::string_view s) {
  std::vector<long long> out;
  while (!s.empty()) {
    auto comma = s.find(',');
    auto item = s.substr(0, comma);
    auto v = bench::parse_int(item);
    if (!v || *v <= 0) {
      return std::nullopt;
    }
    out.push_back(*v);
    if (comma == std::string_view::npos) {
      break;
    }
    s.remove_prefix(comma + 1);
  }
  if (out.empty()) {
    return std::nullopt;
  }
  return out;
}

std::string self_dir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) {
    return ".";
  }
  std::string p(buf, static_cast<std::size_t>(n));
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

bool parse_args(int argc, char** argv, Options& o) {
  bool seconds_set = false;
  bool warmup_set = false;
  bool reps_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    }
    if (a == "--smoke") {
      o.smoke = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s: missing value for %s\n", kProg, argv[i]);
      return false;
    }
    std::string_view v = argv[++i];
    auto bad = [&]() {
      std::fprintf(stderr, "%s: bad value for %s: '%s'\n", kProg, argv[i - 1], argv[i]);
      return false;
    };
    if (a == "--server") {
      auto eq = v.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return bad();
      }
      ServerSpec s{std::string(v.substr(0, eq)), split_ws(v.substr(eq + 1))};
      if (s.argv.empty()) {
        return bad();
      }
      for (const auto& other : o.servers) {
        if (other.name == s.name) {
          std::fprintf(stderr, "%s: server name '%s' given twice\n", kProg, s.name.c_str());
          return false;
        }
      }
      o.servers.push_back(std::move(s));
    } else if (a == "--loadgen") {
      o.loadgen = std::string(v);
    } else if (a == "--csv") {
      o.csv = std::string(v);
    } else if (a == "--summary-csv") {
      o.summary_csv = std::string(v);
    } else if (a == "--seconds" || a == "--warmup" || a == "--connect-timeout") {
      auto d = bench::parse_double(v);
      if (!d || *d < 0 || *d > 3600 || (a == "--seconds" && *d == 0)) {
        return bad();
      }
      if (a == "--seconds") {
        o.seconds = *d;
        seconds_set = true;
      } else if (a == "--warmup") {
        o.warmup = *d;
        warmup_set = true;
      } else {
        o.connect_timeout = *d;
      }
    } else if (a == "--reps" || a == "--server-cpu" || a == "--client-cpu") {
      auto n = bench::parse_int(v);
      if (!n || *n < -1 || *n > 1000 || (a == "--reps" && *n < 1)) {
        return bad();
      }
      if (a == "--reps") {
        o.reps = static_cast<int>(*n);
        reps_set = true;
      } else if (a == "--server-cpu") {
        o.server_cpu = static_cast<int>(*n);
      } else {
        o.client_cpu = static_cast<int>(*n);
      }
    } else if (a == "--sizes" || a == "--connections") {
      auto list = parse_list(v);
      if (!list) {
        return bad();
      }
      (a == "--sizes" ? o.sizes : o.conns) = *list;
    } else {
      std::fprintf(stderr, "%s: unknown argument '%s'\n", kProg, argv[i - 1]);
      return false;
    }
  }
  if (o.servers.empty()) {
    std::fprintf(stderr, "%s: give at least one --server NAME=COMMAND\n", kProg);
    return false;
  }
  if (o.smoke) {
    if (seconds_set || warmup_set || reps_set) {
      std::fprintf(stderr, "%s: --smoke ignores --seconds/--warmup/--reps\n", kProg);
    }
    o.seconds = 0.3;
    o.warmup = 0.0;
    o.reps = 1;
  }
  if (o.loadgen.empty()) {
    o.loadgen = self_dir() + "/loadgen";
  }
  return true;
}

// Extracts a number for "key": from a flat JSON object.
std::optional<double> json_number(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  auto pos = json.find(needle);
  if (pos == std::string::npos) {
    return std::nullopt;
  }
  const char* start = json.c_str() + pos + needle.size();
  char* end = nullptr;
  double v = std::strtod(start, &end);
  if (end == start) {
    return std::nullopt;
  }
  return v;
}

std::string describe_status(int status) {
  if (status == -1) {
    return "lost";
  }
  if (WIFEXITED(status)) {
    return "exit " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return std::string("signal ") + strsignal(WTERMSIG(status));
  }
  return "status " + std::to_string(status);
}

RunResult run_one(const Options& o, const ServerSpec& spec, const Workload& w, int rep) {
  RunResult r;
  r.server = spec.name;
  r.size = w.size;
  r.connections = w.connections;
  r.rep = rep;

  // 1. Server.
  std::vector<std::string> sargv = spec.argv;
  sargv.insert(sargv.end(), {"--port", "0", "--cpu", std::to_string(o.server_cpu)});
  Child server;
  if (!server.start(sargv, r.error)) {
    return r;
  }
  long long port = -1;
  const double port_deadline = bench::now_seconds() + 10.0;
  while (auto line = server.read_line(port_deadline)) {
    if (line->rfind("port ", 0) == 0) {
      auto v = bench::parse_int(std::string_view(*line).substr(5));
      if (v && *v > 0 && *v <= 65535) {
        port = *v;
      }
      break;
    }
  }
  if (port < 0) {
    r.error = server.eof() ? "server exited before printing 'port N'"
                           : "server printed no 'port N' line within 10 s";
    return r;
  }

  // 2. Load generator.
  std::vector<std::string> largv = {o.loadgen,
                                    "--host", "127.0.0.1",
                                    "--port", std::to_string(port),
                                    "--connections", std::to_string(w.connections),
                                    "--size", std::to_string(w.size),
                                    "--seconds", std::to_string(o.seconds),
                                    "--warmup", std::to_string(o.warmup),
                                    "--cpu", std::to_string(o.client_cpu),
                                    "--connect-timeout", std::to_string(o.connect_timeout)};
  std::string json;
  const long ticks_per_sec = sysconf(_SC_CLK_TCK);
  const CoreTicks s0 = read_core_ticks(o.server_cpu);
  const CoreTicks c0 = read_core_ticks(o.client_cpu);
  const double window_start = bench::now_seconds();
  double window = 0;
  {
    Child load;
    if (!load.start(largv, r.error)) {
      return r;
    }
    const double deadline = bench::now_seconds() + o.connect_timeout + o.warmup + o.seconds + 15.0;
    while (!load.eof() && bench::now_seconds() < deadline) {
      server.drain();
      const double slice = std::min(deadline, bench::now_seconds() + 0.25);
      while (auto line = load.read_line(slice)) {
        if (!line->empty() && line->front() == '{') {
          json = *line;
        }
      }
    }
    int status = 0;
    rusage ru{};
    if (!load.wait_until(deadline + 2.0, status, ru)) {
      r.error = "load generator did not finish in time (killed)";
      return r;  // Child destructors kill both processes
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      r.error = "load generator failed (" + describe_status(status) + ")";
      return r;
    }
    r.loadgen_cpu_us = rusage_us(ru);
    window = bench::now_seconds() - window_start;
  }
  const CoreTicks s1 = read_core_ticks(o.server_cpu);
  const CoreTicks c1 = read_core_ticks(o.client_cpu);
  auto mps = json_number(json, "msgs_per_sec");
  auto msgs = json_number(json, "messages");
  if (!mps || !msgs) {
    r.error = "load generator printed no result";
    return r;
  }
  r.msgs_per_sec = *mps;
  r.messages = static_cast<unsigned long long>(*msgs);
  r.elapsed = json_number(json, "elapsed").value_or(o.seconds);
  r.total_messages =
      static_cast<unsigned long long>(json_number(json, "total_messages").value_or(*msgs));

  // 3. Stop the server and collect its CPU time.
  server.signal(SIGTERM);
  const double stop_deadline = bench::now_seconds() + 10.0;
  while (auto line = server.read_line(stop_deadline)) {
    if (line->rfind("cpu_us ", 0) == 0) {
      if (auto v = bench::parse_int(std::string_view(*line).substr(7))) {
        r.server_cpu_us = *v;
        r.cpu_source = "report";
      }
      break;
    }
  }
  int status = 0;
  rusage ru{};
  if (!server.wait_until(stop_deadline, status, ru)) {
    r.error = "server did not exit within 10 s of SIGTERM (killed)";
    return r;
  }
  if (r.server_cpu_us < 0) {
    // The server did not report: fall back to what wait4 saw.
    r.server_cpu_us = rusage_us(ru);
    r.cpu_source = "rusage";
  }
  if (s0.valid && s1.valid && c0.valid && c1.valid && ticks_per_sec > 0 && window > 0 &&
      o.server_cpu != o.client_cpu) {
    const double busy_us =
        static_cast<double>((s1.task - s0.task) + (c1.task - c0.task) + (s1.steal - s0.steal) +
                            (c1.steal - c0.steal)) *
        1e6 / static_cast<double>(ticks_per_sec);
    const double ours_us = static_cast<double>(r.server_cpu_us + r.loadgen_cpu_us);
    r.foreign_cpu_pct = std::max(0.0, (busy_us - ours_us) / (window * 1e6) * 100.0);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    r.error = "server ended badly after SIGTERM (" + describe_status(status) + ")";
    return r;
  }
  if (r.total_messages > 0) {
    r.cpu_ns_per_msg =
        static_cast<double>(r.server_cpu_us) * 1000.0 / static_cast<double>(r.total_messages);
  }
  r.ok = true;
  return r;
}

std::string workload_name(const Workload& w) {
  std::string s;
  if (w.size >= 1024 && w.size % 1024 == 0) {
    s = std::to_string(w.size / 1024) + " KiB";
  } else {
    s = std::to_string(w.size) + " B";
  }
  return s + " x " + std::to_string(w.connections);
}

double median(std::vector<double> v) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

struct Summary {
  int ok = 0;
  int runs = 0;
  double med = 0, lo = 0, hi = 0, cpu_ns = 0;
  double foreign_pct = -1;  // worst run
};

Summary summarize(const std::vector<RunResult>& all, const std::string& server,
                  const Workload& w) {
  Summary s;
  std::vector<double> rates, cpu;
  for (const auto& r : all) {
    if (r.server != server || r.size != w.size || r.connections != w.connections) {
      continue;
    }
    ++s.runs;
    if (!r.ok) {
      continue;
    }
    ++s.ok;
    rates.push_back(r.msgs_per_sec);
    cpu.push_back(r.cpu_ns_per_msg);
    s.foreign_pct = std::max(s.foreign_pct, r.foreign_cpu_pct);
  }
  if (!rates.empty()) {
    s.med = median(rates);
    s.lo = *std::min_element(rates.begin(), rates.end());
    s.hi = *std::max_element(rates.begin(), rates.end());
    s.cpu_ns = median(cpu);
  }
  return s;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

// Field for CSV output: quoted if it contains anything special.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) {
    return s;
  }
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') {
      out += '"';
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, o)) {
    usage();
    return 2;
  }

  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  if (access(o.loadgen.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "%s: load generator '%s' is not executable (use --loadgen)\n", kProg,
                 o.loadgen.c_str());
    return 2;
  }
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (o.server_cpu >= ncpu || o.client_cpu >= ncpu) {
    std::fprintf(stderr, "%s: only %ld CPUs online; adjust --server-cpu/--client-cpu\n", kProg,
                 ncpu);
    return 2;
  }

  std::vector<Workload> workloads;
  for (long long size : o.sizes) {
    for (long long c : o.conns) {
      workloads.push_back({size, c});
    }
  }

  if (o.smoke) {
    std::fprintf(stderr, "%s: SMOKE RUN (0.3 s per run, 1 rep): checks the suite runs; "
                         "the figures are not measurements.\n", kProg);
  }
  const std::size_t total = workloads.size() * static_cast<std::size_t>(o.reps) * o.servers.size();
  std::size_t done = 0;
  int failures = 0;
  std::vector<RunResult> results;
  for (const auto& w : workloads) {
    for (int rep = 1; rep <= o.reps; ++rep) {
      for (const auto& spec : o.servers) {
        RunResult r = run_one(o, spec, w, rep);
        ++done;
        if (r.ok) {
          std::fprintf(stderr,
                       "[%zu/%zu] %-14s %-10s rep %d: %12.0f msgs/s  %8.0f ns/msg  "
                       "other load %.0f%%\n",
                       done, total, workload_name(w).c_str(), spec.name.c_str(), rep,
                       r.msgs_per_sec, r.cpu_ns_per_msg, r.foreign_cpu_pct);
        } else {
          ++failures;
          std::fprintf(stderr, "[%zu/%zu] %-14s %-10s rep %d: FAILED: %s\n", done, total,
                       workload_name(w).c_str(), spec.name.c_str(), rep, r.error.c_str());
        }
        results.push_back(std::move(r));
      }
    }
  }

  // Table.
  const bool have_raw = std::any_of(o.servers.begin(), o.servers.end(),
                                    [](const ServerSpec& s) { return s.name == "raw"; });
  std::printf("\nTCP ping-pong%s: %g s measured after %g s warm-up, %d rep(s), "
              "server on cpu %d, load generator on cpu %d\n",
              o.smoke ? " (SMOKE RUN - not a measurement)" : "", o.seconds, o.warmup, o.reps,
              o.server_cpu, o.client_cpu);
  std::printf("%-14s %-10s %12s  %-27s %11s %9s %9s %7s\n", "workload", "server", "msgs/s",
              "(min - max)", "cpu ns/msg", "x raw", "cpu x raw", "other%");
  double worst_foreign = 0;
  std::vector<std::string> summary_rows;
  for (const auto& w : workloads) {
    const Summary raw = have_raw ? summarize(results, "raw", w) : Summary{};
    for (const auto& spec : o.servers) {
      const Summary s = summarize(results, spec.name, w);
      std::string ratio = "-", cpu_ratio = "-";
      if (have_raw && raw.ok > 0 && s.ok > 0 && raw.med > 0) {
        ratio = fmt("%.2f", s.med / raw.med);
        if (raw.cpu_ns > 0) {
          cpu_ratio = fmt("%.2f", s.cpu_ns / raw.cpu_ns);
        }
      }
      if (s.ok == 0) {
        std::printf("%-14s %-10s %12s  %-27s %11s %9s %9s %7s\n", workload_name(w).c_str(),
                    spec.name.c_str(), "FAILED", "", "-", "-", "-", "-");
      } else {
        std::string range = "(" + fmt("%.0f", s.lo) + " - " + fmt("%.0f", s.hi) + ")";
        if (s.ok < s.runs) {
          range += " " + std::to_string(s.runs - s.ok) + " failed";
        }
        worst_foreign = std::max(worst_foreign, s.foreign_pct);
        std::printf("%-14s %-10s %12.0f  %-27s %11.0f %9s %9s %7s\n", workload_name(w).c_str(),
                    spec.name.c_str(), s.med, range.c_str(), s.cpu_ns, ratio.c_str(),
                    cpu_ratio.c_str(), s.foreign_pct < 0 ? "?" : fmt("%.0f", s.foreign_pct).c_str());
      }
      summary_rows.push_back(std::to_string(w.size) + "," + std::to_string(w.connections) + "," +
                             csv_field(spec.name) + "," + std::to_string(s.ok) + "," +
                             std::to_string(s.runs) + "," + fmt("%.1f", s.med) + "," +
                             fmt("%.1f", s.lo) + "," + fmt("%.1f", s.hi) + "," +
                             fmt("%.1f", s.cpu_ns) + "," + (ratio == "-" ? "" : ratio) + "," +
                             (cpu_ratio == "-" ? "" : cpu_ratio) + "," +
                             fmt("%.1f", s.foreign_pct));
    }
  }
  std::printf("other%%: worst run's CPU use on the two benchmark cores by anything else "
              "(other processes, steal), in %% of one core.\n");
  if (worst_foreign > 10.0) {
    std::printf("WARNING: up to %.0f%% of a core went to other work during some runs; "
                "those figures are disturbed. Rerun on a quiet machine.\n",
                worst_foreign);
  }
  std::fflush(stdout);

  bool io_ok = true;
  if (!o.csv.empty()) {
    std::ofstream f(o.csv);
    f << "size,connections,server,rep,ok,msgs_per_sec,messages,elapsed_s,total_messages,"
         "server_cpu_us,cpu_ns_per_msg,cpu_source,loadgen_cpu_us,other_cpu_pct,seconds,warmup,"
         "smoke,error\n";
    for (const auto& r : results) {
      f << r.size << ',' << r.connections << ',' << csv_field(r.server) << ',' << r.rep << ','
        << (r.ok ? 1 : 0) << ',' << fmt("%.1f", r.msgs_per_sec) << ',' << r.messages << ','
        << fmt("%.6f", r.elapsed) << ',' << r.total_messages << ',' << r.server_cpu_us << ','
        << fmt("%.1f", r.cpu_ns_per_msg) << ',' << r.cpu_source << ',' << r.loadgen_cpu_us << ','
        << fmt("%.1f", r.foreign_cpu_pct) << ',' << o.seconds << ','
        << o.warmup << ',' << (o.smoke ? 1 : 0) << ',' << csv_field(r.error) << '\n';
    }
    f.close();
    if (!f) {
      std::fprintf(stderr, "%s: could not write %s\n", kProg, o.csv.c_str());
      io_ok = false;
    }
  }
  if (!o.summary_csv.empty()) {
    std::ofstream f(o.summary_csv);
    f << "size,connections,server,runs_ok,runs,median_msgs_per_sec,min_msgs_per_sec,"
         "max_msgs_per_sec,median_cpu_ns_per_msg,ratio_vs_raw,cpu_ratio_vs_raw,"
         "worst_other_cpu_pct\n";
    for (const auto& row : summary_rows) {
      f << row << '\n';
    }
    f.close();
    if (!f) {
      std::fprintf(stderr, "%s: could not write %s\n", kProg, o.summary_csv.c_str());
      io_ok = false;
    }
  }
  kill_all_children();
  if (failures > 0) {
    std::fprintf(stderr, "%s: %d run(s) failed\n", kProg, failures);
    return 1;
  }
  return io_ok ? 0 : 1;
}
