// Summaries, the printed tables, the targets and the CSV files.

#include "suite.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

namespace suite {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

bool has_server(const Options& o, const std::string& name) {
  return std::any_of(o.servers.begin(), o.servers.end(),
                     [&](const ServerSpec& s) { return s.name == name; });
}

std::string figure(const Workload& w, double v) {
  if (w.metric == Metric::Rate && w.unit != "MiB/s") return human_rate(v);
  return fmt(v >= 100 ? "%.0f" : "%.2f", v);
}

std::string extra_text(const Workload& w, const Summary& s) {
  auto get = [&](const char* k) {
    const auto it = s.extra.find(k);
    return it == s.extra.end() ? 0.0 : it->second;
  };
  if (w.load_mode == "udp") return "drop " + fmt("%.1f", get("drop_pct")) + "%";
  if (w.metric == Metric::Latency) {
    return "p99 " + fmt("%.1f", get("p99_us")) + " p99.9 " + fmt("%.1f", get("p999_us"));
  }
  if (w.metric == Metric::Memory) {
    return "RSS +" + fmt("%.0f", get("rss_idle_kib") - get("rss_before_kib")) + " KiB";
  }
  return "";
}

// How much better `subject` is than `peer` (above 1: better), for this metric.
double advantage(Metric m, double subject, double peer) {
  if (subject <= 0 || peer <= 0) return 0;
  return higher_is_better(m) ? subject / peer : peer / subject;
}

// The targets for the subject (tether) on one workload; returns the
// ones it misses (empty: all met, or none apply).
std::vector<std::string> missed_targets(const Options& o, const Workload& w,
                                        const std::vector<RunResult>& results) {
  std::vector<std::string> missed;
  const Summary me = summarize(results, o.subject, w.key);
  if (me.ok == 0) return {"no result"};
  auto peer = [&](const std::string& name) {
    return has_server(o, name) ? summarize(results, name, w.key) : Summary{};
  };
  if (w.metric == Metric::Memory) {
    if (me.med > 1024) missed.push_back("<=1 KiB/conn");
    return missed;
  }
  if (w.metric != Metric::Rate) return missed;
  const Summary raw = peer("raw");
  if (raw.ok > 0) {
    const double need = w.connections <= 100 ? 0.95 : 0.9;
    if (me.med < need * raw.med) missed.push_back(">=" + fmt("%.2f", need) + " raw");
    if (raw.cpu_ns > 0 && me.cpu_ns > 1.1 * raw.cpu_ns) missed.push_back("cpu<=1.1 raw");
  }
  const Summary asio = peer("asio");
  const Summary uv = peer("libuv");
  const double best_peer = std::max(asio.ok ? asio.med : 0.0, uv.ok ? uv.med : 0.0);
  if (best_peer > 0 && me.med < best_peer) missed.push_back(">=max(asio,libuv)");
  const Summary qt = peer("qt5");
  if (qt.ok > 0 && w.group == "W1" && w.size == 16 && !o.smoke) {
    const double need = w.connections >= 5000 ? 10 : w.connections >= 1000 ? 3 : 0;
    if (need > 0 && me.med < need * qt.med) missed.push_back(">=" + fmt("%.0f", need) + "x qt5");
  }
  if (qt.ok > 0 && w.group == "W4" && me.med < 2 * qt.med) missed.push_back(">=2x qt5");
  return missed;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

std::string human_rate(double v) {
  if (v >= 1e6) return fmt("%.2f M", v / 1e6);
  if (v >= 1e3) return fmt("%.1f k", v / 1e3);
  return fmt("%.0f", v);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Summary summarize(const std::vector<RunResult>& all, const std::string& server,
                  const std::string& workload) {
  Summary s;
  std::vector<double> values, cpu;
  std::map<std::string, std::vector<double>> extras;
  for (const auto& r : all) {
    if (r.server != server || r.workload != workload) continue;
    ++s.runs;
    if (!r.ok) continue;
    ++s.ok;
    values.push_back(r.value);
    cpu.push_back(r.cpu_ns);
    for (const auto& [k, v] : r.extra) extras[k].push_back(v);
    s.foreign_pct = std::max(s.foreign_pct, r.foreign_cpu_pct);
  }
  if (!values.empty()) {
    s.med = median(values);
    s.lo = *std::min_element(values.begin(), values.end());
    s.hi = *std::max_element(values.begin(), values.end());
    s.cpu_ns = median(cpu);
    for (auto& [k, v] : extras) s.extra[k] = median(v);
  }
  return s;
}

std::string print_tables(const Options& o, const std::vector<Workload>& workloads,
                         const std::vector<RunResult>& results) {
  std::ostringstream out;
  char line[512];
  out << (o.smoke ? "SMOKE RUN - the figures are not measurements\n" : "")
      << "Median (min - max) of " << o.reps << " run(s) per cell: " << o.seconds
      << " s measured after " << o.warmup << " s warm-up, server on cpu " << o.server_cpu
      << ", load generator on cpu " << o.client_cpu << ".\n"
      << "cpu = server CPU time (user+sys) per message; x raw = figure / raw's (for us and B/conn "
         "lower is better); other% = worst run's foreign load on the two cores.\n\n";
  std::snprintf(line, sizeof(line), "%-28s %-11s %12s  %-25s %9s %-6s %6s %6s  %-22s %6s\n",
                "workload", "server", "figure", "(min - max)", "cpu ns", "per", "x raw", "cpu x",
                "", "other%");
  out << line;
  const bool have_raw = has_server(o, "raw");
  double worst_foreign = 0;
  for (const auto& w : workloads) {
    const Summary raw = have_raw ? summarize(results, "raw", w.key) : Summary{};
    for (const auto& spec : o.servers) {
      const Summary s = summarize(results, spec.name, w.key);
      if (s.ok == 0) {
        std::snprintf(line, sizeof(line), "%-28s %-11s %12s\n", w.title.c_str(), spec.name.c_str(),
                      s.runs == 0 ? "-" : "FAILED");
        out << line;
        continue;
      }
      std::string ratio = "-", cpu_ratio = "-";
      if (raw.ok > 0 && raw.med > 0) {
        ratio = fmt("%.2f", s.med / raw.med);
        if (raw.cpu_ns > 0 && s.cpu_ns > 0) cpu_ratio = fmt("%.2f", s.cpu_ns / raw.cpu_ns);
      }
      // Appended piece by piece: GCC 12 -O3 warns falsely (-Wrestrict) on
      // "literal" + std::string chains.
      std::string range = "(";
      range.append(figure(w, s.lo)).append(" - ").append(figure(w, s.hi)).append(")");
      if (s.ok < s.runs) range.append(" ").append(std::to_string(s.runs - s.ok)).append("F");
      worst_foreign = std::max(worst_foreign, s.foreign_pct);
      std::snprintf(line, sizeof(line), "%-28s %-11s %12s  %-25s %9s %-6s %6s %6s  %-22s %6s\n",
                    w.title.c_str(), spec.name.c_str(), (figure(w, s.med) + " " + w.unit).c_str(),
                    range.c_str(), s.cpu_ns > 0 ? fmt("%.0f", s.cpu_ns).c_str() : "-",
                    s.cpu_ns > 0 ? w.per.c_str() : "", ratio.c_str(), cpu_ratio.c_str(),
                    extra_text(w, s).c_str(),
                    s.foreign_pct < 0 ? "?" : fmt("%.0f", s.foreign_pct).c_str());
      out << line;
    }
  }
  if (worst_foreign > 10.0) {
    out << "WARNING: up to " << fmt("%.0f", worst_foreign)
        << "% of a core went to other work during some runs; those figures are disturbed.\n";
  }

  // The subject against each implementation.
  if (has_server(o, o.subject)) {
    std::vector<std::string> peers;
    for (const auto& s : o.servers) {
      if (s.name != o.subject) peers.push_back(s.name);
    }
    out << "\n" << o.subject << " against each (above 1 = " << o.subject
        << " better: its figure / theirs for rates, theirs / its for us and B/conn); "
           "cpu/raw = its CPU per message / raw's\n";
    std::snprintf(line, sizeof(line), "%-28s", "workload");
    out << line;
    for (const auto& p : peers) {
      std::snprintf(line, sizeof(line), " %10s", p.c_str());
      out << line;
    }
    out << "    cpu/raw  targets missed\n";
    for (const auto& w : workloads) {
      const Summary me = summarize(results, o.subject, w.key);
      std::snprintf(line, sizeof(line), "%-28s", w.title.c_str());
      out << line;
      for (const auto& p : peers) {
        const Summary s = summarize(results, p, w.key);
        const double a = me.ok && s.ok ? advantage(w.metric, me.med, s.med) : 0;
        std::snprintf(line, sizeof(line), " %10s", a > 0 ? fmt("%.2f", a).c_str() : "-");
        out << line;
      }
      const Summary raw = have_raw ? summarize(results, "raw", w.key) : Summary{};
      const bool cpu_known = raw.ok && me.ok && raw.cpu_ns > 0 && me.cpu_ns > 0;
      std::snprintf(line, sizeof(line), " %10s  ", cpu_known ? fmt("%.2f", me.cpu_ns / raw.cpu_ns).c_str() : "-");
      out << line;
      const auto missed = missed_targets(o, w, results);
      out << (missed.empty() ? "none" : join(missed, ", ")) << "\n";
    }
  }
  const std::string text = out.str();
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
  return text;
}

bool write_csvs(const Options& o, const std::vector<Workload>& workloads,
                const std::vector<RunResult>& results) {
  std::set<std::string> extra_keys;
  for (const auto& r : results) {
    for (const auto& [k, v] : r.extra) extra_keys.insert(k);
  }
  const std::string runs_path = o.out_dir + "/runs.csv";
  std::ofstream runs(runs_path);
  runs << "workload,group,server,rep,ok,value,unit,cpu_ns_per_op,per,server_cpu_us,cpu_source,"
          "loadgen_cpu_us,total_messages,elapsed_s,other_cpu_pct,attempts,seconds,warmup,smoke";
  for (const auto& k : extra_keys) runs << ',' << k;
  runs << ",error\n";
  for (const auto& r : results) {
    const auto w = std::find_if(workloads.begin(), workloads.end(),
                                [&](const Workload& x) { return x.key == r.workload; });
    runs << r.workload << ',' << w->group << ',' << csv_field(r.server) << ',' << r.rep << ','
         << (r.ok ? 1 : 0) << ',' << fmt("%.3f", r.value) << ',' << w->unit << ','
         << fmt("%.1f", r.cpu_ns) << ',' << w->per << ',' << r.server_cpu_us << ',' << r.cpu_source
         << ',' << r.loadgen_cpu_us << ',' << r.total_messages << ',' << fmt("%.6f", r.elapsed)
         << ',' << fmt("%.1f", r.foreign_cpu_pct) << ',' << r.attempts << ',' << o.seconds << ','
         << o.warmup << ',' << (o.smoke ? 1 : 0);
    for (const auto& k : extra_keys) {
      const auto it = r.extra.find(k);
      runs << ',' << (it == r.extra.end() ? "" : fmt("%.3f", it->second));
    }
    runs << ',' << csv_field(r.error) << '\n';
  }
  runs.close();

  const std::string summary_path = o.out_dir + "/summary.csv";
  std::ofstream sum(summary_path);
  sum << "workload,title,server,runs_ok,runs,median,min,max,unit,median_cpu_ns,per,ratio_vs_raw,"
         "cpu_ratio_vs_raw,"
      << o.subject << "_advantage,worst_other_cpu_pct\n";
  for (const auto& w : workloads) {
    const Summary raw = summarize(results, "raw", w.key);
    const Summary me = summarize(results, o.subject, w.key);
    for (const auto& spec : o.servers) {
      const Summary s = summarize(results, spec.name, w.key);
      const bool ratio = raw.ok && s.ok && raw.med > 0;
      const bool cpu_ratio = ratio && raw.cpu_ns > 0 && s.cpu_ns > 0;
      const double adv = me.ok && s.ok ? advantage(w.metric, me.med, s.med) : 0;
      sum << w.key << ',' << csv_field(w.title) << ',' << csv_field(spec.name) << ',' << s.ok << ','
          << s.runs << ',' << fmt("%.3f", s.med) << ',' << fmt("%.3f", s.lo) << ','
          << fmt("%.3f", s.hi) << ',' << w.unit << ',' << fmt("%.1f", s.cpu_ns) << ',' << w.per
          << ',' << (ratio ? fmt("%.4f", s.med / raw.med) : "") << ','
          << (cpu_ratio ? fmt("%.4f", s.cpu_ns / raw.cpu_ns) : "") << ','
          << (adv > 0 ? fmt("%.4f", adv) : "") << ',' << fmt("%.1f", s.foreign_pct) << '\n';
    }
  }
  sum.close();
  if (!runs || !sum) {
    std::fprintf(stderr, "suite: could not write %s or %s\n", runs_path.c_str(), summary_path.c_str());
    return false;
  }
  return true;
}

}  // namespace suite
