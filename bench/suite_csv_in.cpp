// Reading runs.csv back (bench_suite --from-csv): the tables and the chart
// can be drawn again, or from several runs together, without measuring.

#include "bench_common.hpp"
#include "suite.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>

namespace suite {

namespace {

// One CSV record's fields (quotes as write_csvs writes them).
std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

double number(const std::string& s) { return bench::parse_double(s).value_or(0); }

}  // namespace

bool read_runs_csv(const std::string& path, Options& o, std::vector<RunResult>& runs) {
  std::ifstream f(path);
  std::string line;
  if (!f || !std::getline(f, line)) {
    std::fprintf(stderr, "bench_suite: cannot read %s\n", path.c_str());
    return false;
  }
  const std::vector<std::string> header = split_csv(line);
  auto column = [&](const char* name) -> int {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int smoke_col = column("smoke");
  const int error_col = column("error");
  if (column("workload") < 0 || column("server") < 0 || smoke_col < 0 || error_col < 0) {
    std::fprintf(stderr, "bench_suite: %s is not a runs.csv of bench_suite\n", path.c_str());
    return false;
  }
  while (std::getline(f, line)) {
    const std::vector<std::string> v = split_csv(line);
    if (v.size() != header.size()) continue;
    auto get = [&](const char* name) {
      const int c = column(name);
      return c < 0 ? std::string() : v[static_cast<std::size_t>(c)];
    };
    RunResult r;
    r.workload = get("workload");
    r.server = get("server");
    r.rep = static_cast<int>(number(get("rep")));
    r.ok = get("ok") == "1";
    r.error = get("error");
    r.value = number(get("value"));
    r.cpu_ns = number(get("cpu_ns_per_op"));
    r.server_cpu_us = static_cast<long long>(number(get("server_cpu_us")));
    r.cpu_source = get("cpu_source");
    r.loadgen_cpu_us = static_cast<long long>(number(get("loadgen_cpu_us")));
    r.total_messages = static_cast<unsigned long long>(number(get("total_messages")));
    r.elapsed = number(get("elapsed_s"));
    r.foreign_cpu_pct = number(get("other_cpu_pct"));
    r.attempts = std::max(1, static_cast<int>(number(get("attempts"))));
    // The extras sit between "smoke" and "error".
    for (int c = smoke_col + 1; c < error_col; ++c) {
      const std::string& cell = v[static_cast<std::size_t>(c)];
      if (!cell.empty()) r.extra[header[static_cast<std::size_t>(c)]] = number(cell);
    }
    o.reps = std::max(o.reps, r.rep);
    if (r.workload.rfind("W7-", 0) == 0) {
      const auto x = r.workload.rfind("-x");
      o.idle_connections = static_cast<int>(number(r.workload.substr(x + 2)));
    }
    if (const double s = number(get("seconds")); s > 0) o.seconds = s;
    o.warmup = number(get("warmup"));
    o.smoke = get("smoke") == "1";
    const bool known = std::any_of(o.servers.begin(), o.servers.end(),
                                   [&](const ServerSpec& s) { return s.name == r.server; });
    if (!known) o.servers.push_back({r.server, {}, {}});
    runs.push_back(std::move(r));
  }
  return true;
}

}  // namespace suite
