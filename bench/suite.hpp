// The suite driver's parts: what a workload is, what one run measures, and
// the functions that run, summarize and draw (suite_*.cpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace suite {

// A server under test: a name and a command ("VAR=VALUE" words before the
// program are set in its environment).
struct ServerSpec {
  std::string name;
  std::vector<std::string> env;
  std::vector<std::string> argv;
};

// How a workload's figure reads.
enum class Metric {
  Rate,     // per second, higher is better (ping-pong, bulk, churn, datagrams)
  Memory,   // bytes per idle connection, lower is better
  Latency,  // microseconds per round trip, lower is better
};

struct Workload {
  std::string key;        // short id, e.g. "W1-16B-x100" (used by --workloads)
  std::string group;      // "W1" .. "W8"
  std::string title;      // for the table and chart
  std::string server_mode;  // echo | sink | close | udp
  bool unix_socket = false;
  std::string load_mode;  // loadgen --mode
  long long size = 0;
  long long connections = 1;
  Metric metric = Metric::Rate;
  std::string unit;       // of the figure: "msg/s", "MiB/s", ...
  std::string per;        // what the CPU time is divided by: "msg", "64KiB", ...
};

struct RunResult {
  std::string server;
  std::string workload;  // Workload::key
  int rep = 0;
  bool ok = false;
  std::string error;
  double value = 0;           // the workload's figure (see Metric)
  double cpu_ns = 0;          // server CPU time per message, ns
  long long server_cpu_us = -1;
  std::string cpu_source;     // "report" (cpu_us line) or "rusage" (wait4)
  long long loadgen_cpu_us = -1;
  unsigned long long total_messages = 0;
  double elapsed = 0;
  double foreign_cpu_pct = -1;  // other work on the two cores, % of one core
  int attempts = 1;             // runs taken to get this one (noisy ones are retaken)
  std::map<std::string, double> extra;  // drop_pct, p99_us, p999_us, rss_kib, ...
};

struct Options {
  std::vector<ServerSpec> servers;
  std::vector<std::string> only_workloads;  // key prefixes; empty = all
  std::string loadgen;
  std::string out_dir;
  std::string subject = "tether";
  double seconds = 2.0;
  double warmup = 0.5;
  int reps = 5;
  bool smoke = false;
  int server_cpu = 0;
  int client_cpu = 1;
  double connect_timeout = 60.0;
  int idle_connections = 10000;
  double max_other = 20;  // retake a run when other% is above this ...
  int attempts = 3;       // ... up to this many times in all, keeping the quietest
  double quiet_wait = 30;  // before each run, wait up to this long for quiet cores
  std::vector<std::string> from_csv;  // report on these runs.csv files instead of running
};

// Median, min and max of one workload for one server.
struct Summary {
  int ok = 0;
  int runs = 0;
  double med = 0, lo = 0, hi = 0, cpu_ns = 0;
  double foreign_pct = -1;  // worst run
  std::map<std::string, double> extra;  // medians
};

std::vector<Workload> all_workloads(const Options& o);
// Waits until the two benchmark cores are busy with other work for at most
// max_other % of a core (false: still busy after max_seconds).
bool wait_for_quiet(const Options& o, double max_seconds);
RunResult run_one(const Options& o, const ServerSpec& spec, const Workload& w, int rep);
Summary summarize(const std::vector<RunResult>& all, const std::string& server,
                  const std::string& workload);

// Prints the tables to stdout (and returns them as text); writes the CSVs.
std::string print_tables(const Options& o, const std::vector<Workload>& workloads,
                         const std::vector<RunResult>& results);
bool write_csvs(const Options& o, const std::vector<Workload>& workloads,
                const std::vector<RunResult>& results);
// Reads runs.csv files written by write_csvs (for --from-csv): the runs,
// and the servers, repetitions and timing they were taken with.
bool read_runs_csv(const std::string& path, Options& o, std::vector<RunResult>& runs);
bool write_chart(const Options& o, const std::vector<Workload>& workloads,
                 const std::vector<RunResult>& results, const std::string& path);

// Shared formatting.
std::string fmt(const char* f, double v);
std::string csv_field(const std::string& s);
std::string human_rate(double v);
bool higher_is_better(Metric m);

}  // namespace suite
