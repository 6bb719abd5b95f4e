// Progress reporting for long jobs: a live bar with rate and ETA on a
// terminal, a plain line every second otherwise, JSON lines with --json.
//
//   Progress progress(Progress::styleFor(json, quiet), totalBytes);
//   progress.setLabel("big.iso");
//   progress.update(bytesDone);          // cheap; redraws at most 10x/s
//   progress.finish();                   // the last line
//
// JSON lines are objects with an "event" member; every command's --json
// output uses writeJsonLine() so that a script reads one object per line.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace tether::cli {

// One JSON object per line on `out`, flushed.
void writeJsonLine(std::FILE* out, const nlohmann::json& object);

// "512 B", "1.5 KiB", "12.0 MiB", "1.00 GiB".
std::string formatBytes(std::int64_t bytes);
// "850.3 MiB/s".
std::string formatRate(double bytesPerSecond);
// "0:05", "12:34", "1:02:03"; "--:--" when unknown (negative or not finite).
std::string formatDuration(double seconds);

class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Style {
    Bar,    // redrawn in place (a terminal)
    Lines,  // a line per second and a last one (not a terminal)
    Json,   // {"event":"progress",...} lines on stdout
    None,
  };
  // Bar when `fd` is a terminal, Lines otherwise; Json with --json; None
  // when quiet.
  static Style styleFor(bool json, bool quiet, int fd);

  // Draws on stderr (Bar, Lines) or stdout (Json).
  Progress(Style style, std::int64_t total, Clock::time_point start = Clock::now());
  Progress(Style style, std::int64_t total, std::FILE* out, Clock::time_point start);

  Style style() const { return style_; }
  void setLabel(std::string label) { label_ = std::move(label); }
  void setTotal(std::int64_t total) { total_ = total; }
  // Extra members for JSON progress lines (e.g. "peer").
  void setJsonContext(nlohmann::json context) { context_ = std::move(context); }

  // Bytes done so far; draws when the style's interval has passed.
  void update(std::int64_t done, Clock::time_point now = Clock::now());
  // Draws the final state (and ends the bar's line).
  void finish(Clock::time_point now = Clock::now());

  // Recent rate in bytes per second (over the last few seconds), and the
  // estimated seconds left (negative when unknown).
  double rate() const;
  double eta() const;
  double elapsed(Clock::time_point now) const;
  std::int64_t done() const { return done_; }

  // The bar line for a terminal `width` columns wide (no "\r").
  std::string renderBar(int width) const;
  // The plain line.
  std::string renderLine() const;

 private:
  void draw(Clock::time_point now, bool last);

  Style style_;
  std::int64_t total_;
  std::FILE* out_;
  Clock::time_point start_;
  Clock::time_point lastDraw_{};
  bool drawn_ = false;
  std::int64_t done_ = 0;
  std::string label_;
  nlohmann::json context_;
  std::deque<std::pair<Clock::time_point, std::int64_t>> samples_;  // for the rate
  bool finished_ = false;
};

}  // namespace tether::cli
