// The chart: one SVG with a panel per workload. Each panel has one bar per
// server, its length the server's median relative to raw's (raw = 1, the
// dashed line), a whisker for min-max, and the figure and CPU per message
// written beside it. Plain SVG 1.1, no scripts, no external fonts.

#include "suite.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

namespace suite {

namespace {

constexpr int kColumns = 3;
constexpr int kPanelWidth = 480;
constexpr int kLabelWidth = 72;
constexpr int kTextWidth = 212;
constexpr int kBarHeight = 13;
constexpr int kBarPitch = 18;
constexpr int kPanelTitle = 34;
constexpr int kMargin = 16;
constexpr int kHeader = 92;

// Fixed colours for the known servers, a palette for the others.
const char* color_for(std::size_t index, const std::string& name) {
  static const std::pair<const char*, const char*> known[] = {
      {"raw", "#7f7f7f"},   {"tether", "#d62728"}, {"asio", "#1f77b4"},
      {"libuv", "#2ca02c"}, {"qt5", "#9467bd"},    {"qt5-noglib", "#c5b0d5"}};
  for (const auto& [n, c] : known) {
    if (name == n) return c;
  }
  static const char* palette[] = {"#ff7f0e", "#8c564b", "#17becf", "#bcbd22", "#e377c2"};
  return palette[index % (sizeof(palette) / sizeof(palette[0]))];
}

std::string escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

std::string short_figure(const Workload& w, double v) {
  if (w.metric == Metric::Rate && w.unit != "MiB/s") return human_rate(v) + " " + w.unit;
  return fmt(v >= 100 ? "%.0f" : "%.1f", v) + " " + w.unit;
}

void panel(std::ostringstream& svg, const Options& o, const Workload& w,
           const std::vector<RunResult>& results, int x, int y) {
  // The reference: raw's median, or the best median when raw did not run.
  const Summary raw = summarize(results, "raw", w.key);
  double ref = raw.ok > 0 ? raw.med : 0;
  std::vector<Summary> sums;
  for (const auto& spec : o.servers) sums.push_back(summarize(results, spec.name, w.key));
  if (ref <= 0) {
    for (const auto& s : sums) {
      if (s.ok) ref = higher_is_better(w.metric) ? std::max(ref, s.med) : (ref > 0 ? std::min(ref, s.med) : s.med);
    }
  }
  double scale_max = 1.2;
  for (const auto& s : sums) {
    if (s.ok && ref > 0) scale_max = std::max(scale_max, s.hi / ref);
  }
  scale_max *= 1.04;
  const int bar_area = kPanelWidth - kLabelWidth - kTextWidth;
  const std::string direction = higher_is_better(w.metric) ? "higher is better" : "lower is better";
  svg << "<text x='" << x << "' y='" << y + 14 << "' class='pt'>" << escape(w.title) << "</text>\n"
      << "<text x='" << x << "' y='" << y + 27 << "' class='ps'>" << escape(w.unit) << ", "
      << direction << "; bar = median / " << (raw.ok ? "raw" : "best") << ", whisker = min-max</text>\n";
  const int top = y + kPanelTitle;
  const int x0 = x + kLabelWidth;
  const int ref_x = x0 + static_cast<int>(bar_area / scale_max);
  const int bottom = top + static_cast<int>(o.servers.size()) * kBarPitch;
  svg << "<line x1='" << x0 << "' y1='" << top - 3 << "' x2='" << x0 << "' y2='" << bottom
      << "' class='axis'/>\n"
      << "<line x1='" << ref_x << "' y1='" << top - 3 << "' x2='" << ref_x << "' y2='" << bottom
      << "' class='ref'/>\n";
  for (std::size_t i = 0; i < o.servers.size(); ++i) {
    const Summary& s = sums[i];
    const int by = top + static_cast<int>(i) * kBarPitch;
    svg << "<text x='" << x0 - 6 << "' y='" << by + 10 << "' class='lab'>"
        << escape(o.servers[i].name) << "</text>\n";
    if (s.ok == 0 || ref <= 0) {
      svg << "<text x='" << x0 + 4 << "' y='" << by + 10 << "' class='val'>"
          << (s.runs ? "FAILED" : "not run") << "</text>\n";
      continue;
    }
    auto px = [&](double v) { return x0 + static_cast<int>(v / ref / scale_max * bar_area); };
    const int len = std::max(1, px(s.med) - x0);
    svg << "<rect x='" << x0 << "' y='" << by << "' width='" << len << "' height='" << kBarHeight
        << "' fill='" << color_for(i, o.servers[i].name) << "'/>\n";
    const int wy = by + kBarHeight / 2;
    svg << "<line x1='" << px(s.lo) << "' y1='" << wy << "' x2='" << px(s.hi) << "' y2='" << wy
        << "' class='wh'/>\n";
    std::string label = short_figure(w, s.med) + "  " + fmt("%.2f", s.med / ref) + "x";
    if (s.cpu_ns > 0) label += "  " + fmt("%.0f", s.cpu_ns) + " ns/" + w.per;
    svg << "<text x='" << x0 + bar_area + 6 << "' y='" << by + 10 << "' class='val'>"
        << escape(label) << "</text>\n";
  }
}

}  // namespace

bool write_chart(const Options& o, const std::vector<Workload>& workloads,
                 const std::vector<RunResult>& results, const std::string& path) {
  const int panel_height = kPanelTitle + static_cast<int>(o.servers.size()) * kBarPitch + 18;
  const int rows = (static_cast<int>(workloads.size()) + kColumns - 1) / kColumns;
  const int width = kMargin * 2 + kColumns * kPanelWidth + (kColumns - 1) * kMargin;
  const int height = kHeader + rows * panel_height + kMargin;
  std::ostringstream svg;
  svg << "<?xml version='1.0' encoding='UTF-8'?>\n"
      << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
      << "' viewBox='0 0 " << width << ' ' << height << "' font-family='DejaVu Sans, Arial, sans-serif'>\n"
      << "<style>.h{font-size:18px;font-weight:bold}.s{font-size:12px;fill:#444}"
         ".pt{font-size:13px;font-weight:bold}.ps{font-size:10px;fill:#666}"
         ".lab{font-size:11px;text-anchor:end}.val{font-size:10px;fill:#222}"
         ".axis{stroke:#444;stroke-width:1}.ref{stroke:#000;stroke-width:1;stroke-dasharray:3,3}"
         ".wh{stroke:#000;stroke-width:1.2}</style>\n"
      << "<rect width='100%' height='100%' fill='white'/>\n"
      << "<text x='" << kMargin << "' y='28' class='h'>tether benchmark suite"
      << (o.smoke ? " (SMOKE RUN: not a measurement)" : "") << "</text>\n"
      << "<text x='" << kMargin << "' y='48' class='s'>Each bar: median of " << o.reps
      << " run(s) relative to the raw epoll server (dashed line = raw = 1); " << o.seconds
      << " s measured after " << o.warmup << " s warm-up; server on cpu " << o.server_cpu
      << ", load generator on cpu " << o.client_cpu << "; loopback.</text>\n"
      << "<text x='" << kMargin << "' y='64' class='s'>Beside each bar: the figure, its ratio to "
         "raw, and the server's CPU time per message.</text>\n";
  int lx = kMargin;
  for (std::size_t i = 0; i < o.servers.size(); ++i) {
    svg << "<rect x='" << lx << "' y='74' width='12' height='12' fill='"
        << color_for(i, o.servers[i].name) << "'/><text x='" << lx + 16 << "' y='84' class='s'>"
        << escape(o.servers[i].name) << "</text>\n";
    lx += 26 + static_cast<int>(o.servers[i].name.size()) * 8;
  }
  for (std::size_t i = 0; i < workloads.size(); ++i) {
    const int col = static_cast<int>(i) % kColumns;
    const int row = static_cast<int>(i) / kColumns;
    panel(svg, o, workloads[i], results, kMargin + col * (kPanelWidth + kMargin),
          kHeader + row * panel_height);
  }
  svg << "</svg>\n";
  std::ofstream f(path);
  f << svg.str();
  f.close();
  return static_cast<bool>(f);
}

}  // namespace suite
