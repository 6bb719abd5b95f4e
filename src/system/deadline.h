// The time budget of a blocking waitFor*() call: milliseconds left, with -1
// meaning "no limit" throughout.
#pragma once

#include <chrono>

namespace tether::detail {

class Deadline {
 public:
  // msecs < 0: no limit.
  explicit Deadline(int msecs)
      : forever_(msecs < 0),
        end_(std::chrono::steady_clock::now() + std::chrono::milliseconds(msecs < 0 ? 0 : msecs)) {}
  // Whole milliseconds left (rounded up, so a wait never ends early), 0 when
  // the time is up, -1 for no limit.
  int remaining() const {
    if (forever_) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(end_ - std::chrono::steady_clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
  }
  bool expired() const { return !forever_ && remaining() == 0; }

 private:
  bool forever_;
  std::chrono::steady_clock::time_point end_;
};

}  // namespace tether::detail
