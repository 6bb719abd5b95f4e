#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace tether::cli {

namespace {

using Seconds = std::chrono::duration<double>;

// How often each style draws, and the window the rate is measured over.
constexpr auto kBarInterval = std::chrono::milliseconds(100);
constexpr auto kLineInterval = std::chrono::seconds(1);
constexpr auto kJsonInterval = std::chrono::milliseconds(500);
constexpr auto kRateWindow = std::chrono::seconds(3);

int terminalWidth(std::FILE* out) {
  winsize size{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
  return 80;
}

// Cuts or pads `text` to exactly `width` display columns (bytes; labels are
// file names, cut at a UTF-8 character boundary).
std::string fit(const std::string& text, std::size_t width) {
  if (text.size() <= width) return text + std::string(width - text.size(), ' ');
  std::size_t cut = width > 1 ? width - 1 : 0;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;
  std::string out = text.substr(0, cut) + "~";
  // Count code points to pad to the width.
  std::size_t columns = 0;
  for (char c : out)
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++columns;
  if (columns < width) out += std::string(width - columns, ' ');
  return out;
}

}  // namespace

void writeJsonLine(std::FILE* out, const nlohmann::json& object) {
  const std::string line = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

std::string formatBytes(std::int64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  return value < 10.0 ? fmt::format("{:.2f} {}", value, kUnits[unit]) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string formatRate(double bytesPerSecond) {
  if (!std::isfinite(bytesPerSecond) || bytesPerSecond < 0) bytesPerSecond = 0;
  return formatBytes(static_cast<std::int64_t>(bytesPerSecond)) + "/s";
}

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto total = static_cast<std::int64_t>(std::ceil(seconds));
  const std::int64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  if (h > 0) return fmt::format("{}:{:02}:{:02}", h, m, s);
  return fmt::format("{}:{:02}", m, s);
}

Progress::Style Progress::styleFor(bool json, bool quiet, int fd) {
  if (json) return Style::Json;
  if (quiet) return Style::None;
  return ::isatty(fd) ? Style::Bar : Style::Lines;
}

Progress::Progress(Style style, std::int64_t total, Clock::time_point start)
    : Progress(style, total, style == Style::Json ? stdout : stderr, start) {}

Progress::Progress(Style style, std::int64_t total, std::FILE* out, Clock::time_point start)
    : style_(style), total_(total), out_(out), start_(start) {
  samples_.emplace_back(start, 0);
}

double Progress::elapsed(Clock::time_point now) const { return Seconds(now - start_).count(); }

double Progress::rate() const {
  if (samples_.size() < 2) return 0.0;
  const auto& [t0, b0] = samples_.front();
  const auto& [t1, b1] = samples_.back();
  const double seconds = Seconds(t1 - t0).count();
  return seconds > 0 ? static_cast<double>(b1 - b0) / seconds : 0.0;
}

double Progress::eta() const {
  const double r = rate();
  if (total_ <= 0 || r <= 0) return total_ > 0 && done_ >= total_ ? 0.0 : -1.0;
  return static_cast<double>(std::max<std::int64_t>(0, total_ - done_)) / r;
}

void Progress::update(std::int64_t done, Clock::time_point now) {
  done_ = done;
  samples_.emplace_back(now, done);
  // Keep one sample older than the window, so the rate spans all of it.
  while (samples_.size() > 2 && now - samples_[1].first > kRateWindow) samples_.pop_front();
  if (style_ == Style::None) return;
  const auto interval = style_ == Style::Bar ? std::chrono::duration_cast<Clock::duration>(kBarInterval)
                        : style_ == Style::Json ? std::chrono::duration_cast<Clock::duration>(kJsonInterval)
                                                : std::chrono::duration_cast<Clock::duration>(kLineInterval);
  if (drawn_ ? now - lastDraw_ >= interval : now - start_ >= interval) draw(now, false);
}

void Progress::finish(Clock::time_point now) {
  if (finished_) return;
  finished_ = true;
  if (style_ == Style::None) return;
  // A zero-byte or instant job still gets its final line (rate over the
  // whole job when no window was measured).
  if (samples_.size() < 2 || rate() == 0.0) {
    samples_.clear();
    samples_.emplace_back(start_, 0);
    samples_.emplace_back(now, done_);
  }
  draw(now, true);
}

std::string Progress::renderLine() const {
  std::string line = label_.empty() ? std::string() : label_ + ": ";
  if (total_ > 0) {
    const double percent = 100.0 * static_cast<double>(done_) / static_cast<double>(total_);
    line += fmt::format("{:.0f}% {} / {}", std::floor(percent), formatBytes(done_), formatBytes(total_));
  } else {
    line += formatBytes(done_);
  }
  line += fmt::format(", {}, ETA {}", formatRate(rate()), formatDuration(eta()));
  return line;
}

std::string Progress::renderBar(int width) const {
  const double fraction =
      total_ > 0 ? std::clamp(static_cast<double>(done_) / static_cast<double>(total_), 0.0, 1.0) : 0.0;
  const std::string right = fmt::format(" {:3.0f}% {:>10} {:>12} ETA {:>5}", std::floor(fraction * 100.0),
                                        formatBytes(done_), formatRate(rate()), formatDuration(eta()));
  // label (up to a third of the width), then the bar in what is left; a
  // narrow terminal loses the bar first, then the label.
  const int rightWidth = static_cast<int>(right.size());
  int labelWidth = std::clamp(width / 3, 8, 32);
  int barWidth = width - labelWidth - rightWidth - 3;
  if (barWidth < 5) {
    barWidth = 0;
    labelWidth = width - rightWidth;
  }
  std::string line = labelWidth >= 4 ? fit(label_, static_cast<std::size_t>(labelWidth)) : std::string();
  if (barWidth > 0) {
    const int filled = static_cast<int>(fraction * barWidth);
    line += " [" + std::string(static_cast<std::size_t>(filled), '#') +
            std::string(static_cast<std::size_t>(barWidth - filled), '.') + "]";
  }
  return line + right;
}

void Progress::draw(Clock::time_point now, bool last) {
  lastDraw_ = now;
  drawn_ = true;
  switch (style_) {
    case Style::Bar:
      std::fprintf(out_, "\r%s\x1b[K%s", renderBar(terminalWidth(out_)).c_str(), last ? "\n" : "");
      break;
    case Style::Lines:
      std::fprintf(out_, "%s\n", renderLine().c_str());
      break;
    case Style::Json: {
      nlohmann::json j = context_.is_object() ? context_ : nlohmann::json::object();
      j["event"] = "progress";
      if (!label_.empty()) j["file"] = label_;
      j["bytes"] = done_;
      j["total"] = total_;
      j["rate"] = std::round(rate());
      const double e = eta();
      j["eta"] = e >= 0 ? nlohmann::json(std::round(e * 10) / 10) : nlohmann::json(nullptr);
      j["elapsed"] = std::round(elapsed(now) * 1000) / 1000;
      writeJsonLine(out_, j);
      return;
    }
    case Style::None:
      return;
  }
  std::fflush(out_);
}

}  // namespace tether::cli
