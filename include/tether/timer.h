// Timer: single-shot and repeating timers on the owner thread's dispatcher
// (Qt's QTimer). Intervals are in milliseconds; a timer fires no earlier than
// its interval after start() and is delivered by the event loop, never from
// inside start().
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "tether/object.h"
#include "tether/signal.h"

namespace tether {

namespace detail {
class Dispatcher;
struct TimerRecord;
}  // namespace detail

class Timer : public Object {
 public:
  explicit Timer(Object* parent = nullptr);
  ~Timer() override;

  // Starts (or restarts) the timer with the current interval.
  void start();
  // Sets the interval, then starts (or restarts) the timer.
  void start(int msec);
  void stop();

  bool isActive() const;
  // Milliseconds until the next timeout; 0 if overdue, -1 if inactive.
  int remainingTime() const;

  // Default 0: a zero timer fires once the loop has handled pending events.
  // Changing the interval of an active timer restarts it.
  void setInterval(int msec);
  int interval() const { return interval_; }
  void setInterval(std::chrono::milliseconds interval) { setInterval(static_cast<int>(interval.count())); }
  std::chrono::milliseconds intervalAsDuration() const { return std::chrono::milliseconds(interval_); }

  void setSingleShot(bool singleShot) { singleShot_ = singleShot; }
  bool isSingleShot() const { return singleShot_; }

  Signal<> timeout;

  // Calls fn once after msec milliseconds, on the calling thread.
  static void singleShot(int msec, std::function<void()> fn);
  // The same, but not at all if context was destroyed first; fn runs on
  // context's thread (any thread may call this while context is alive).
  static void singleShot(int msec, const Object* context, std::function<void()> fn);

 private:
  void fire();

  std::shared_ptr<detail::Dispatcher> dispatcher_;
  std::unique_ptr<detail::TimerRecord> record_;
  int interval_ = 0;
  bool singleShot_ = false;
};

}  // namespace tether
