// bench_suite: runs every workload against every server, prints the tables,
// writes CSV and draws the chart. See bench/README.md.
//
//   bench_suite [--out DIR] [--reps 5] [--seconds 2] [--warmup 0.5] [--smoke]
//               [--workloads W1,W4-32B,...] [--servers raw,tether,...]
//               [--server NAME=COMMAND ...] [--server-cpu 0] [--client-cpu 1]
//               [--connect-timeout 60] [--idle-connections 10000]
//               [--loadgen PATH] [--subject tether] [--max-other 20] [--attempts 3]
//               [--quiet-wait 30]
//   bench_suite --from-csv runs.csv[,more.csv] [--out DIR]
//
// Without --server it measures every server built next to it: raw, tether,
// asio, libuv, qt5 (Qt's default dispatcher) and qt5-noglib (the same
// binary with QT_NO_GLIB=1). Repetitions are interleaved across servers, in
// a rotating order; a run disturbed by other work on its cores (other% above
// --max-other) is taken again, up to --attempts times, keeping the quietest,
// and each run first waits up to --quiet-wait seconds for quiet cores.
// Every child is bounded in time and dies with the driver. --from-csv draws
// the tables and the chart again from earlier runs, measuring nothing.

#include "bench_common.hpp"
#include "suite.hpp"
#include "suite_child.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string_view>

namespace {

using suite::Options;
using suite::ServerSpec;

constexpr const char* kProg = "bench_suite";

void usage() {
  std::fprintf(
      stderr,
      "usage: %s [--out DIR] [--reps 5] [--seconds 2] [--warmup 0.5] [--smoke]\n"
      "          [--workloads W1,W4-32B,...] [--servers raw,tether,...]\n"
      "          [--server NAME=COMMAND ...] [--server-cpu 0] [--client-cpu 1]\n"
      "          [--connect-timeout 60] [--idle-connections 10000] [--loadgen PATH]\n"
      "          [--subject tether] [--max-other 20] [--attempts 3]\n"
      "          [--quiet-wait 30]\n"
      "       %s --from-csv runs.csv[,more.csv] [--out DIR] [--subject tether]\n"
      "  COMMAND is split on spaces; leading VAR=VALUE words go to its environment.\n"
      "  --smoke: every workload for 0.2 s with a few connections, 1 rep; checks that\n"
      "           the suite runs, the figures mean nothing.\n",
      kProg, kProg);
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in{std::string(s)};
  while (std::getline(in, item, sep)) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string self_dir() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  const std::string p(buf, static_cast<std::size_t>(n));
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

bool executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

ServerSpec parse_server(std::string_view v) {
  ServerSpec s;
  const auto eq = v.find('=');
  s.name = std::string(v.substr(0, eq));
  for (auto& word : split(v.substr(eq + 1), ' ')) {
    if (s.argv.empty() && word.find('=') != std::string::npos && word.front() != '/' &&
        word.front() != '.') {
      s.env.push_back(word);
    } else {
      s.argv.push_back(word);
    }
  }
  return s;
}

// The servers built next to the driver, in the table's order.
std::vector<ServerSpec> default_servers(const std::string& dir) {
  std::vector<ServerSpec> out;
  auto add = [&](const char* name, const char* binary, std::vector<std::string> env) {
    const std::string path = dir + "/" + binary;
    if (executable(path)) out.push_back({name, std::move(env), {path}});
  };
  add("raw", "raw_server", {});
  add("tether", "tether_server", {});
  add("asio", "asio_server", {});
  add("libuv", "libuv_server", {});
  add("qt5", "qt5_server", {});
  add("qt5-noglib", "qt5_server", {"QT_NO_GLIB=1"});
  return out;
}

bool parse_args(int argc, char** argv, Options& o) {
  std::vector<std::string> only_servers;
  bool timing_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
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
    const std::string_view v = argv[++i];
    auto bad = [&]() {
      std::fprintf(stderr, "%s: bad value for %s: '%s'\n", kProg, argv[i - 1], argv[i]);
      return false;
    };
    if (a == "--server") {
      if (v.find('=') == std::string_view::npos || v.front() == '=') return bad();
      o.servers.push_back(parse_server(v));
      if (o.servers.back().argv.empty()) return bad();
    } else if (a == "--servers") {
      only_servers = split(v, ',');
    } else if (a == "--workloads") {
      o.only_workloads = split(v, ',');
    } else if (a == "--from-csv") {
      o.from_csv = split(v, ',');
    } else if (a == "--out") {
      o.out_dir = std::string(v);
    } else if (a == "--loadgen") {
      o.loadgen = std::string(v);
    } else if (a == "--subject") {
      o.subject = std::string(v);
    } else if (a == "--seconds" || a == "--warmup" || a == "--connect-timeout" || a == "--max-other" ||
               a == "--quiet-wait") {
      const auto d = bench::parse_double(v);
      if (!d || *d < 0 || *d > 3600 || (a == "--seconds" && *d == 0)) return bad();
      double& field = a == "--seconds"      ? o.seconds
                      : a == "--warmup"     ? o.warmup
                      : a == "--max-other"  ? o.max_other
                      : a == "--quiet-wait" ? o.quiet_wait
                                            : o.connect_timeout;
      field = *d;
      timing_set = timing_set || a == "--seconds" || a == "--warmup";
    } else if (a == "--reps" || a == "--server-cpu" || a == "--client-cpu" || a == "--idle-connections" ||
               a == "--attempts") {
      const auto n = bench::parse_int(v);
      if (!n || *n < -1 || *n > 100000 || (a != "--server-cpu" && a != "--client-cpu" && *n < 1)) {
        return bad();
      }
      const int value = static_cast<int>(*n);
      if (a == "--reps") {
        o.reps = value;
        timing_set = true;
      } else if (a == "--server-cpu") {
        o.server_cpu = value;
      } else if (a == "--client-cpu") {
        o.client_cpu = value;
      } else if (a == "--attempts") {
        o.attempts = value;
      } else {
        o.idle_connections = value;
      }
    } else {
      std::fprintf(stderr, "%s: unknown argument '%s'\n", kProg, argv[i - 1]);
      return false;
    }
  }
  if (o.out_dir.empty()) o.out_dir = o.smoke ? "bench-smoke" : "bench-results";
  if (!o.from_csv.empty()) return true;  // the servers come from the files
  const std::string dir = self_dir();
  if (o.servers.empty()) o.servers = default_servers(dir);
  if (!only_servers.empty()) {
    std::erase_if(o.servers, [&](const ServerSpec& s) {
      return std::find(only_servers.begin(), only_servers.end(), s.name) == only_servers.end();
    });
  }
  if (o.servers.empty()) {
    std::fprintf(stderr, "%s: no server to measure (none built next to %s, or --servers "
                         "matched none)\n", kProg, dir.c_str());
    return false;
  }
  if (o.smoke) {
    if (timing_set) std::fprintf(stderr, "%s: --smoke overrides --seconds/--warmup/--reps\n", kProg);
    o.seconds = 0.2;
    o.warmup = 0.05;
    o.reps = 1;
    o.connect_timeout = std::min(o.connect_timeout, 20.0);
    o.attempts = 1;
    o.quiet_wait = 0;
  }
  if (o.loadgen.empty()) o.loadgen = dir + "/loadgen";
  return true;
}

// W6 belongs to bench/file_transfer (another program, with its own table);
// run it when built. Returns false if it failed.
bool run_file_transfer(const Options& o, std::string& report) {
  const std::string program = self_dir() + "/file_transfer";
  if (!executable(program)) {
    report = "W6 file transfer (1 GiB): pending - bench/file_transfer is not built yet.\n";
    std::fputs(report.c_str(), stdout);
    return true;
  }
  std::vector<std::string> argv = {program, "--dir", o.out_dir + "/file-transfer", "--csv",
                                   o.out_dir + "/file_transfer.csv"};
  argv.push_back(o.smoke ? "--smoke" : "--pin");
  suite::Child child;
  std::string error;
  if (!child.start(argv, {}, error)) {
    report = "W6 file transfer: could not start " + program + ": " + error + "\n";
    std::fputs(report.c_str(), stdout);
    return false;
  }
  const double deadline = bench::now_seconds() + (o.smoke ? 60.0 : 1800.0);
  report = "W6 file transfer (" + program + "):\n";
  while (auto line = child.read_line(deadline)) report += *line + "\n";
  int status = 0;
  rusage ru{};
  bool ok = true;
  if (!child.wait_until(deadline + 5.0, status, ru)) {
    report += "W6: file_transfer did not finish in time (killed)\n";
    ok = false;
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    report += "W6: file_transfer failed (" + suite::describe_status(status) + ")\n";
    ok = false;
  }
  std::fputs(report.c_str(), stdout);
  return ok;
}


// Runs every workload, repetitions interleaved across servers in a rotating
// order; a run with more than --max-other foreign load is taken again.
std::vector<suite::RunResult> measure(const Options& o, const std::vector<suite::Workload>& workloads,
                                      int& failures) {
  const std::size_t total = workloads.size() * static_cast<std::size_t>(o.reps) * o.servers.size();
  std::size_t done = 0;
  std::vector<suite::RunResult> results;
  for (const auto& w : workloads) {
    for (int rep = 1; rep <= o.reps; ++rep) {
      for (std::size_t k = 0; k < o.servers.size(); ++k) {
        // A rotating order: no server always runs right after the same one.
        const auto& spec = o.servers[(k + static_cast<std::size_t>(rep) - 1) % o.servers.size()];
        suite::RunResult r;
        for (int attempt = 1; attempt <= o.attempts; ++attempt) {
          if (o.quiet_wait > 0) suite::wait_for_quiet(o, o.quiet_wait);
          suite::RunResult next = suite::run_one(o, spec, w, rep);
          next.attempts = attempt;
          const bool quieter = next.ok && (!r.ok || next.foreign_cpu_pct < r.foreign_cpu_pct);
          if (attempt == 1 || quieter) r = std::move(next);
          if (!r.ok || o.max_other <= 0 || r.foreign_cpu_pct <= o.max_other) break;
          std::fprintf(stderr, "  %s %s rep %d: other %.0f%% > %.0f%%, taking it again\n",
                       w.title.c_str(), spec.name.c_str(), rep, r.foreign_cpu_pct, o.max_other);
        }
        ++done;
        if (r.ok) {
          std::fprintf(stderr, "[%zu/%zu] %-28s %-11s rep %d: %12.1f %-7s %7.0f ns/%s  other %.0f%%\n",
                       done, total, w.title.c_str(), spec.name.c_str(), rep, r.value, w.unit.c_str(),
                       r.cpu_ns, w.per.c_str(), r.foreign_cpu_pct);
        } else {
          ++failures;
          std::fprintf(stderr, "[%zu/%zu] %-28s %-11s rep %d: FAILED: %s\n", done, total,
                       w.title.c_str(), spec.name.c_str(), rep, r.error.c_str());
        }
        results.push_back(std::move(r));
      }
    }
  }
  suite::kill_all_children();
  return results;
}

bool wants_file_transfer(const Options& o) {
  return o.from_csv.empty() &&
         (o.only_workloads.empty() ||
          std::any_of(o.only_workloads.begin(), o.only_workloads.end(),
                      [](const std::string& p) { return p.rfind("W6", 0) == 0; }));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, o)) {
    usage();
    return 2;
  }
  suite::install_child_reaper();
  std::vector<suite::RunResult> results;
  int failures = 0;
  std::vector<suite::Workload> workloads;
  if (!o.from_csv.empty()) {
    o.reps = 0;
    for (const auto& path : o.from_csv) {
      if (!suite::read_runs_csv(path, o, results)) return 2;
    }
    workloads = suite::all_workloads(o);
    std::erase_if(workloads, [&](const suite::Workload& w) {
      return std::none_of(results.begin(), results.end(),
                          [&](const suite::RunResult& r) { return r.workload == w.key; });
    });
  } else {
    if (!executable(o.loadgen)) {
      std::fprintf(stderr, "%s: load generator '%s' is not executable (use --loadgen)\n", kProg,
                   o.loadgen.c_str());
      return 2;
    }
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (o.server_cpu >= ncpu || o.client_cpu >= ncpu) {
      std::fprintf(stderr, "%s: only %ld CPUs online; adjust --server-cpu/--client-cpu\n", kProg, ncpu);
      return 2;
    }
    if (o.smoke) {
      std::fprintf(stderr, "%s: SMOKE RUN (%.1f s per run, 1 rep): checks the suite runs; "
                           "the figures are not measurements.\n", kProg, o.seconds);
    }
    workloads = suite::all_workloads(o);
    results = measure(o, workloads, failures);
  }
  mkdir(o.out_dir.c_str(), 0755);

  std::printf("\n");
  std::string text = suite::print_tables(o, workloads, results);
  if (wants_file_transfer(o)) {
    std::string w6;
    std::printf("\n");
    if (!run_file_transfer(o, w6)) ++failures;
    text += "\n" + w6;
  }
  bool io_ok = suite::write_csvs(o, workloads, results);
  const std::string chart = o.out_dir + "/chart.svg";
  io_ok = suite::write_chart(o, workloads, results, chart) && io_ok;
  std::ofstream(o.out_dir + "/table.txt") << text;
  std::printf("\nwrote %s/runs.csv, %s/summary.csv, %s/table.txt and %s\n", o.out_dir.c_str(),
              o.out_dir.c_str(), o.out_dir.c_str(), chart.c_str());
  if (failures > 0) {
    std::fprintf(stderr, "%s: %d run(s) failed\n", kProg, failures);
    return 1;
  }
  return io_ok ? 0 : 1;
}
