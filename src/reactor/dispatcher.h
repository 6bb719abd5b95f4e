// The per-thread event dispatcher: edge- or level-triggered epoll watchers,
// a timer heap, a queue of posted functions woken by an eventfd, and
// deferred deletions. Public classes (EventLoop, Timer, sockets) sit on it;
// it is not part of the installed API.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "system/unique_fd.h"
#include "tether/detail/object_life.h"

namespace tether::detail {

class Dispatcher;

using Clock = std::chrono::steady_clock;

// What a watcher calls with the events epoll reported for its descriptor.
class WatchHandler {
 public:
  virtual void watchEvents(std::uint32_t events) = 0;

 protected:
  WatchHandler() = default;
  WatchHandler(const WatchHandler&) = default;
  WatchHandler& operator=(const WatchHandler&) = default;
  ~WatchHandler() = default;
};

// One descriptor registered with the dispatcher's epoll set. Owned by the
// object that owns the descriptor; destroying it unregisters the descriptor,
// and events already collected for it in the current batch are dropped.
class Watcher {
 public:
  // Unattached: attach() before watch().
  Watcher() = default;
  Watcher(Dispatcher& dispatcher, int fd, WatchHandler* handler) { attach(dispatcher, fd, handler); }
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // (Re)targets the watcher; a registration it had is removed first.
  void attach(Dispatcher& dispatcher, int fd, WatchHandler* handler);
  bool isAttached() const { return dispatcher_ != nullptr; }
  // Changes the descriptor of a watcher that is not watching (an owner that
  // keeps its descriptor here rather than in a member of its own).
  void setFd(int fd) { fd_ = fd; }

  // Registers (or changes) interest. `events` is a set of EPOLLIN, EPOLLOUT,
  // EPOLLRDHUP, EPOLLPRI; edge-triggered adds EPOLLET. Returns 0 or an errno.
  int watch(std::uint32_t events, bool edgeTriggered);
  // Unregisters the descriptor (it stays open).
  void unwatch();
  // Forgets the registration without telling epoll: for a descriptor that
  // was closed behind the watcher's back (the kernel dropped it already, and
  // the number may now belong to someone else's registration).
  void abandon();

  int fd() const { return fd_; }
  bool isWatching() const { return registered_; }
  std::uint32_t events() const { return events_; }
  Dispatcher& dispatcher() const { return *dispatcher_; }

 private:
  friend class Dispatcher;
  // 32 bytes: a socket's engine carries one per connection.
  Dispatcher* dispatcher_ = nullptr;
  WatchHandler* handler_ = nullptr;
  int fd_ = -1;
  std::uint32_t events_ = 0;
  bool registered_ = false;
};

// A timer entry in the dispatcher's heap. Owned by its user (Timer).
struct TimerRecord {
  Clock::time_point deadline;
  std::uint64_t sequence = 0;
  std::size_t heapIndex = static_cast<std::size_t>(-1);
  std::function<void()> callback;
  // Called instead of callback when the dispatcher is destroyed with the
  // timer still scheduled (for records that own themselves).
  std::function<void()> abandon;

  bool isScheduled() const { return heapIndex != static_cast<std::size_t>(-1); }
};

// Work an owner-thread object asks to run once, after the I/O events of the
// current iteration (a socket's write flush, its queued signal emissions).
// Scheduling twice before it runs is one call. Owned by the object; cancel()
// before destroying it.
class DeferredCall {
 public:
  virtual void runDeferred() = 0;

 protected:
  DeferredCall() = default;
  DeferredCall(const DeferredCall&) = default;
  DeferredCall& operator=(const DeferredCall&) = default;
  virtual ~DeferredCall() = default;

 private:
  friend class Dispatcher;
  bool queued_ = false;
};

class Dispatcher final : public Poster, public std::enable_shared_from_this<Dispatcher> {
 public:
  // The calling thread's dispatcher, created on first use.
  static std::shared_ptr<Dispatcher> current();

  Dispatcher();
  ~Dispatcher() override;
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Any thread. Dropped silently once the owning thread has exited.
  void post(std::function<void()> fn) override;
  void wakeUp();

  void scheduleTimer(TimerRecord* timer, Clock::time_point deadline);
  void cancelTimer(TimerRecord* timer);

  // Owner thread only.
  void schedule(DeferredCall* call);
  void cancel(DeferredCall* call);

  // An object in the middle of delivering its signals. If a slot runs a
  // nested loop, that loop schedules the object's deferred call, so what the
  // slot queued (signals, writes) proceeds instead of waiting for the outer
  // delivery to finish (see enterLoop()). Owner thread only; leave in the
  // destructor too.
  void enterDelivery(DeferredCall* call) { delivering_.push_back(call); }
  void leaveDelivery(DeferredCall* call);

  // Deletes the object later on this thread (see Object::deleteLater).
  void deferDelete(std::weak_ptr<ObjectLife> life);

  // One iteration: wait up to timeoutMs (-1 = until something happens) for
  // I/O, then dispatch I/O, due timers, posted functions and deferred
  // deletions. Returns true if anything was handled.
  bool runOnce(int timeoutMs);

  // Nesting depth of loops currently running on this dispatcher.
  int loopDepth() const { return loopDepth_; }
  void enterLoop();
  void leaveLoop() { --loopDepth_; }

  std::thread::id thread() const { return thread_; }
  bool isOwnerThread() const { return std::this_thread::get_id() == thread_; }

  // Called when the owning thread exits: pending posts are discarded.
  void shutdown();

 private:
  friend class Watcher;
  int ctl(int op, Watcher* watcher, std::uint32_t events);
  void forget(Watcher* watcher);
  int timeoutForNextTimer(int timeoutMs) const;
  bool runDueTimers();
  bool runPosted();
  bool runDeferredCalls();
  bool runDeferredDeletes();
  bool deferredDeleteDue() const;

  void heapSwap(std::size_t a, std::size_t b);
  void heapUp(std::size_t i);
  void heapDown(std::size_t i);
  bool heapLess(std::size_t a, std::size_t b) const;

  UniqueFd epoll_;
  UniqueFd wakeFd_;
  std::thread::id thread_;

  // The batches being dispatched: one per runOnce() on the stack (a slot may
  // run a nested loop). Entries of removed watchers are tombstoned in every
  // active batch, so nothing is called on a destroyed watcher.
  struct Batch {
    epoll_event* events;
    std::size_t next;
    std::size_t size;
  };
  std::vector<Batch*> activeBatches_;

  std::vector<DeferredCall*> deferredCalls_;
  std::vector<DeferredCall*> delivering_;
  std::vector<DeferredCall*> runningCalls_;

  std::vector<TimerRecord*> timers_;
  std::uint64_t timerSequence_ = 0;

  std::mutex postMutex_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> hasPosted_{false};  // posted_ is non-empty; read without the lock
  bool wakePending_ = false;  // guarded by postMutex_
  bool shutDown_ = false;     // guarded by postMutex_
  std::vector<std::function<void()>> running_;

  struct DeferredDelete {
    std::weak_ptr<ObjectLife> life;
    int depth;
  };
  std::vector<DeferredDelete> deferred_;
  int loopDepth_ = 0;
};

}  // namespace tether::detail
