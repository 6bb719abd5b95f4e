// The workloads of the suite and one run of one server on one workload.

#include "bench_common.hpp"
#include "suite.hpp"
#include "suite_child.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>

namespace suite {

namespace {

std::string size_name(long long size) {
  if (size >= 1024 && size % 1024 == 0) return std::to_string(size / 1024) + "KiB";
  return std::to_string(size) + "B";
}

std::string size_title(long long size) {
  if (size >= 1024 && size % 1024 == 0) return std::to_string(size / 1024) + " KiB";
  return std::to_string(size) + " B";
}

Workload make(std::string group, std::string what, std::string server_mode, std::string load_mode,
              long long size, long long connections, Metric metric, std::string unit,
              std::string per) {
  Workload w;
  w.group = std::move(group);
  w.server_mode = std::move(server_mode);
  w.load_mode = std::move(load_mode);
  w.size = size;
  w.connections = connections;
  w.metric = metric;
  w.unit = std::move(unit);
  w.per = std::move(per);
  w.key = w.group + (size > 0 ? "-" + size_name(size) : "") + "-x" + std::to_string(connections);
  w.title = w.group + " " + what + (size > 0 ? " " + size_title(size) : "") + " x" +
            std::to_string(connections);
  return w;
}

// ---------------------------------------------------------------------------
// Noise gauge: CPU time spent on the two benchmark cores by anything but the
// server and the load generator (other processes, hypervisor steal), from
// /proc/stat. Soft-interrupt time is left out: it is the kernel's own network
// work for the benchmark and is not charged to any process.

struct CoreTicks {
  bool valid = false;
  unsigned long long task = 0;  // user + nice + system
  unsigned long long steal = 0;
};

CoreTicks read_core_ticks(int cpu) {
  CoreTicks t;
  if (cpu < 0) return t;
  std::ifstream f("/proc/stat");
  const std::string want = "cpu" + std::to_string(cpu);
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string name;
    in >> name;
    if (name != want) continue;
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

// A "Name:   N kB" field of /proc/PID/status, in KiB; -1 if missing.
long long proc_status_kib(pid_t pid, const char* field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::string want = std::string(field) + ":";
  while (std::getline(f, line)) {
    if (line.rfind(want, 0) == 0) return std::atoll(line.c_str() + want.size());
  }
  return -1;
}

long long rusage_us(const rusage& ru) {
  return (static_cast<long long>(ru.ru_utime.tv_sec) + ru.ru_stime.tv_sec) * 1000000LL +
         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

// Extracts a number for "key": from a flat JSON object.
std::optional<double> json_number(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  const auto pos = json.find(needle);
  if (pos == std::string::npos) return std::nullopt;
  const char* start = json.c_str() + pos + needle.size();
  char* end = nullptr;
  const double v = std::strtod(start, &end);
  if (end == start) return std::nullopt;
  return v;
}

std::string unix_path_for(int rep) {
  static int counter = 0;
  return "/tmp/tether-bench-" + std::to_string(getpid()) + "-" + std::to_string(rep) + "-" +
         std::to_string(++counter) + ".sock";
}

}  // namespace

bool higher_is_better(Metric m) { return m == Metric::Rate; }

bool wait_for_quiet(const Options& o, double max_seconds) {
  const long ticks_per_sec = sysconf(_SC_CLK_TCK);
  const double give_up = bench::now_seconds() + max_seconds;
  for (;;) {
    const CoreTicks s0 = read_core_ticks(o.server_cpu);
    const CoreTicks c0 = read_core_ticks(o.client_cpu);
    ::usleep(300000);
    const CoreTicks s1 = read_core_ticks(o.server_cpu);
    const CoreTicks c1 = read_core_ticks(o.client_cpu);
    if (!s0.valid || !s1.valid || !c0.valid || !c1.valid || ticks_per_sec <= 0) return true;
    const double busy = static_cast<double>((s1.task - s0.task) + (c1.task - c0.task) +
                                            (s1.steal - s0.steal) + (c1.steal - c0.steal)) /
                        static_cast<double>(ticks_per_sec) / 0.3 * 100.0;
    if (busy <= o.max_other) return true;
    if (bench::now_seconds() >= give_up) return false;
    ::usleep(700000);
  }
}

std::vector<Workload> all_workloads(const Options& o) {
  std::vector<Workload> ws;
  const bool smoke = o.smoke;
  // W1: ping-pong. The smoke run keeps one point per size and the big one,
  // with a few connections each.
  const std::vector<long long> sizes{16, 4096, 65536};
  const std::vector<long long> conns = smoke ? std::vector<long long>{2} : std::vector<long long>{1, 100, 1000};
  for (const long long s : sizes) {
    for (const long long c : conns) {
      ws.push_back(make("W1", "TCP ping-pong", "echo", "pingpong", s, c, Metric::Rate, "msg/s", "msg"));
    }
  }
  ws.push_back(make("W1", "TCP ping-pong", "echo", "pingpong", 16, smoke ? 16 : 5000, Metric::Rate,
                    "msg/s", "msg"));
  ws.push_back(make("W2", "TCP bulk one-way", "sink", "bulk", 65536, 1, Metric::Rate, "MiB/s", "64KiB"));
  ws.push_back(make("W3", "TCP accept+close", "close", "churn", 0, smoke ? 4 : 16, Metric::Rate, "conn/s",
                    "conn"));
  for (const long long s : {32LL, 1200LL}) {
    ws.push_back(make("W4", "UDP receive", "udp", "udp", s, 1, Metric::Rate, "dgram/s", "dgram"));
  }
  for (const long long c : smoke ? std::vector<long long>{2} : std::vector<long long>{1, 100}) {
    Workload w = make("W5", "local ping-pong", "echo", "pingpong", 16, c, Metric::Rate, "msg/s", "msg");
    w.unix_socket = true;
    ws.push_back(w);
  }
  ws.push_back(make("W7", "idle memory", "echo", "idle", 16, smoke ? 50 : o.idle_connections,
                    Metric::Memory, "B/conn", "conn"));
  ws.push_back(make("W8", "latency", "echo", "pingpong", 16, 1, Metric::Latency, "us p50", "msg"));

  if (o.only_workloads.empty()) return ws;
  std::vector<Workload> picked;
  for (const auto& w : ws) {
    for (const auto& prefix : o.only_workloads) {
      if (w.key.rfind(prefix, 0) == 0) {
        picked.push_back(w);
        break;
      }
    }
  }
  return picked;
}

RunResult run_one(const Options& o, const ServerSpec& spec, const Workload& w, int rep) {
  RunResult r;
  r.server = spec.name;
  r.workload = w.key;
  r.rep = rep;

  // 1. The server.
  std::vector<std::string> sargv = spec.argv;
  sargv.insert(sargv.end(), {"--mode", w.server_mode});
  const std::string path = w.unix_socket ? unix_path_for(rep) : std::string();
  if (w.unix_socket) sargv.insert(sargv.end(), {"--unix", path});
  sargv.insert(sargv.end(), {"--port", "0", "--cpu", std::to_string(o.server_cpu)});
  Child server;
  if (!server.start(sargv, spec.env, r.error)) return r;
  long long port = -1;
  bool have_path = false;
  const double ready_deadline = bench::now_seconds() + 10.0;
  while (auto line = server.read_line(ready_deadline)) {
    if (line->rfind("port ", 0) == 0) {
      const auto v = bench::parse_int(std::string_view(*line).substr(5));
      if (v && *v > 0 && *v <= 65535) port = *v;
      break;
    }
    if (line->rfind("path ", 0) == 0) {
      have_path = true;
      break;
    }
  }
  if (port < 0 && !have_path) {
    r.error = server.eof() ? "server exited before saying where it listens"
                           : "server said nothing about where it listens within 10 s";
    return r;
  }
  const long long rss_before = proc_status_kib(server.pid(), "RssAnon");

  // 2. The load generator.
  std::vector<std::string> largv = {o.loadgen, "--mode", w.load_mode};
  if (w.unix_socket) {
    largv.insert(largv.end(), {"--unix", path});
  } else {
    largv.insert(largv.end(), {"--host", "127.0.0.1", "--port", std::to_string(port)});
  }
  largv.insert(largv.end(), {"--connections", std::to_string(w.connections),
                             "--size", std::to_string(std::max(1LL, w.size)),
                             "--seconds", std::to_string(o.seconds),
                             "--warmup", std::to_string(o.warmup),
                             "--cpu", std::to_string(o.client_cpu),
                             "--connect-timeout", std::to_string(o.connect_timeout)});
  if (w.metric == Metric::Latency) largv.push_back("--latency");
  std::string json;
  long long rss_idle = -1;
  const long ticks_per_sec = sysconf(_SC_CLK_TCK);
  const CoreTicks s0 = read_core_ticks(o.server_cpu);
  const CoreTicks c0 = read_core_ticks(o.client_cpu);
  const double window_start = bench::now_seconds();
  double window = 0;
  {
    Child load;
    if (!load.start(largv, {}, r.error)) return r;
    const double deadline = bench::now_seconds() + o.connect_timeout + o.warmup + o.seconds + 15.0;
    while (!load.eof() && bench::now_seconds() < deadline) {
      server.drain();
      const double slice = std::min(deadline, bench::now_seconds() + 0.25);
      while (auto line = load.read_line(slice)) {
        if (line->rfind("{\"idle\"", 0) == 0) {
          ::usleep(200000);  // let the server finish its round trips' work
          rss_idle = proc_status_kib(server.pid(), "RssAnon");
        } else if (!line->empty() && line->front() == '{') {
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
  const auto mps = json_number(json, "msgs_per_sec");
  if (!mps) {
    r.error = "load generator printed no result";
    return r;
  }
  r.elapsed = json_number(json, "elapsed").value_or(o.seconds);
  r.total_messages = static_cast<unsigned long long>(json_number(json, "total_messages").value_or(0));
  if (w.load_mode == "udp") ::usleep(100000);  // let the receiver drain its queue

  // 3. Stop the server; collect its counters and CPU time.
  server.signal(SIGTERM);
  std::map<std::string, double> stats;
  const double stop_deadline = bench::now_seconds() + 10.0;
  while (auto line = server.read_line(stop_deadline)) {
    if (line->rfind("stat ", 0) == 0) {
      std::istringstream in(line->substr(5));
      std::string name;
      double v = 0;
      if (in >> name >> v) stats[name] = v;
    } else if (line->rfind("cpu_us ", 0) == 0) {
      if (const auto v = bench::parse_int(std::string_view(*line).substr(7))) {
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
  if (w.unix_socket) ::unlink(path.c_str());
  if (r.server_cpu_us < 0) {
    r.server_cpu_us = rusage_us(ru);  // the server did not report: what wait4 saw
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

  // 4. The workload's figure.
  double per_count = static_cast<double>(r.total_messages);
  switch (w.metric) {
    case Metric::Rate:
      r.value = *mps;
      if (w.load_mode == "bulk") {
        r.value = json_number(json, "bytes_per_sec").value_or(0) / (1024.0 * 1024.0);
      } else if (w.load_mode == "udp") {
        const double sent = json_number(json, "sent_measured").value_or(0);
        const double got = stats["measured"];
        r.value = r.elapsed > 0 ? got / r.elapsed : 0;
        r.extra["drop_pct"] = sent > 0 ? std::max(0.0, 100.0 * (1.0 - got / sent)) : 0;
        r.extra["sent_per_s"] = r.elapsed > 0 ? sent / r.elapsed : 0;
        per_count = stats["datagrams"];
      }
      break;
    case Metric::Latency:
      r.value = json_number(json, "p50_us").value_or(0);
      r.extra["p99_us"] = json_number(json, "p99_us").value_or(0);
      r.extra["p999_us"] = json_number(json, "p999_us").value_or(0);
      r.extra["msg_per_s"] = *mps;
      break;
    case Metric::Memory:
      if (rss_before < 0 || rss_idle < 0) {
        r.error = "could not read the server's memory (/proc/PID/status RssAnon)";
        return r;
      }
      r.value = static_cast<double>(rss_idle - rss_before) * 1024.0 / static_cast<double>(w.connections);
      r.extra["rss_before_kib"] = static_cast<double>(rss_before);
      r.extra["rss_idle_kib"] = static_cast<double>(rss_idle);
      per_count = 0;
      break;
  }
  if (per_count > 0) r.cpu_ns = static_cast<double>(r.server_cpu_us) * 1000.0 / per_count;
  r.ok = true;
  return r;
}

}  // namespace suite
