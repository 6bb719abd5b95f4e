// EventLoop: runs the calling thread's event dispatcher (Qt's QEventLoop).
//
// Every thread has one dispatcher (edge-triggered epoll, timers, posted
// functions, deferred deletions), created on first use. EventLoop objects are
// the ways to run it: exec() until exit(), or processEvents() for one pass.
// Loops nest: exec() inside a slot runs a nested loop on the same dispatcher.
// See docs/architecture.md for one iteration step by step.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "tether/object.h"

namespace tether {

namespace detail {
class Dispatcher;
}

class EventLoop : public Object {
 public:
  enum ProcessEventsFlag : unsigned {
    AllEvents = 0x00,
    // Block until at least one event was handled (a timer, I/O, a posted call).
    WaitForMoreEvents = 0x04,
  };
  using ProcessEventsFlags = unsigned;

  explicit EventLoop(Object* parent = nullptr);
  ~EventLoop() override;

  // Runs until exit() is called; returns the code given to exit(). Owner
  // thread only. Calling exec() on a loop that is already running returns -1.
  int exec();
  // Makes exec() return `code` once control is back in it. Any thread.
  void exit(int code = 0);
  void quit() { exit(0); }
  bool isRunning() const { return running_.load(std::memory_order_acquire); }

  // One pass over pending events: I/O, due timers, posted functions, deferred
  // deletions. With WaitForMoreEvents it first waits for something to happen.
  // Returns true if anything was handled. Owner thread only.
  bool processEvents(ProcessEventsFlags flags = AllEvents);
  // Processes events for at most maxTimeMs milliseconds, or until there is
  // nothing left to do, whichever comes first. Owner thread only.
  void processEvents(ProcessEventsFlags flags, int maxTimeMs);

  // Wakes the dispatcher if it is waiting. Any thread.
  void wakeUp();

  // Runs fn on this loop's thread, in a later iteration. Any thread.
  void post(std::function<void()> fn);

  // Runs fn on context's thread, in a later iteration of its dispatcher, if
  // context is still alive then. Any thread, as long as context is alive at
  // the time of the call.
  static void post(const Object* context, std::function<void()> fn);

  // Runs fn on the calling thread's dispatcher in a later iteration (never
  // inside this call). Owner thread.
  static void postToCurrentThread(std::function<void()> fn);

 private:
  std::shared_ptr<detail::Dispatcher> dispatcher_;
  std::atomic<bool> running_{false};
  std::atomic<bool> exitRequested_{false};
  std::atomic<int> exitCode_{0};
};

}  // namespace tether
