#include "reactor/dispatcher.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <cerrno>
#include <cstdint>
#include <utility>

#include "tether/object.h"

namespace tether::detail {

namespace {

constexpr std::size_t kBatchSize = 256;

// Releases the thread's dispatcher when the thread exits, so that functions
// posted to a finished thread are dropped instead of piling up.
struct ThreadDispatcherHolder {
  std::shared_ptr<Dispatcher> dispatcher;
  ~ThreadDispatcherHolder() {
    if (dispatcher) dispatcher->shutdown();
  }
};

thread_local ThreadDispatcherHolder tlsDispatcher;

}  // namespace

std::shared_ptr<Poster> currentLoopPoster() { return Dispatcher::current(); }

std::shared_ptr<Dispatcher> Dispatcher::current() {
  if (!tlsDispatcher.dispatcher) tlsDispatcher.dispatcher = std::make_shared<Dispatcher>();
  return tlsDispatcher.dispatcher;
}

// ---------------------------------------------------------------- Watcher

void Watcher::attach(Dispatcher& dispatcher, int fd, WatchHandler* handler) {
  unwatch();
  dispatcher_ = &dispatcher;
  fd_ = fd;
  handler_ = handler;
}

Watcher::~Watcher() { unwatch(); }

int Watcher::watch(std::uint32_t events, bool edgeTriggered) {
  const std::uint32_t wanted = events | (edgeTriggered ? std::uint32_t{EPOLLET} : 0u);
  if (registered_ && wanted == events_) return 0;
  const int rc = dispatcher_->ctl(registered_ ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, this, wanted);
  if (rc != 0) return rc;
  registered_ = true;
  events_ = wanted;
  return 0;
}

void Watcher::unwatch() {
  if (!registered_) return;
  dispatcher_->ctl(EPOLL_CTL_DEL, this, 0);
  dispatcher_->forget(this);
  registered_ = false;
  events_ = 0;
}

void Watcher::abandon() {
  if (!registered_) return;
  dispatcher_->forget(this);
  registered_ = false;
  events_ = 0;
}

// ---------------------------------------------------------------- Dispatcher

Dispatcher::Dispatcher()
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wakeFd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      thread_(std::this_thread::get_id()) {
  // Without these two descriptors no loop can run at all; there is no caller
  // to report to from a thread's first use, so the process cannot continue.
  if (!epoll_ || !wakeFd_) std::terminate();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up descriptor is the only null entry
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wakeFd_.get(), &ev) != 0) std::terminate();
}

Dispatcher::~Dispatcher() {
  std::vector<TimerRecord*> left;
  left.swap(timers_);
  for (TimerRecord* t : left) {
    t->heapIndex = static_cast<std::size_t>(-1);
    if (t->abandon) t->abandon();
  }
}

void Dispatcher::shutdown() {
  std::vector<std::function<void()>> dropped;
  {
    std::lock_guard lock(postMutex_);
    shutDown_ = true;
    dropped.swap(posted_);
  }
  // `dropped` is destroyed outside the lock: closures may own objects whose
  // destructors post again.
}

int Dispatcher::ctl(int op, Watcher* watcher, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = watcher;
  if (::epoll_ctl(epoll_.get(), op, watcher->fd_, op == EPOLL_CTL_DEL ? nullptr : &ev) != 0)
    return errno;
  return 0;
}

void Dispatcher::forget(Watcher* watcher) {
  for (Batch* batch : activeBatches_)
    for (std::size_t i = batch->next; i < batch->size; ++i)
      if (batch->events[i].data.ptr == watcher) batch->events[i].data.ptr = this;  // tombstone
}

void Dispatcher::post(std::function<void()> fn) {
  bool wake = false;
  {
    std::lock_guard lock(postMutex_);
    if (shutDown_) return;
    posted_.push_back(std::move(fn));
    hasPosted_.store(true, std::memory_order_release);
    if (!wakePending_) {
      wakePending_ = true;
      wake = !isOwnerThread();  // the owner thread checks the queue before it waits
    }
  }
  if (wake) wakeUp();
}

void Dispatcher::wakeUp() {
  const std::uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the wake-up is pending.
  [[maybe_unused]] ssize_t n = ::write(wakeFd_.get(), &one, sizeof one);
}

void Dispatcher::scheduleTimer(TimerRecord* timer, Clock::time_point deadline) {
  if (timer->isScheduled()) cancelTimer(timer);
  timer->deadline = deadline;
  timer->sequence = timerSequence_++;
  timer->heapIndex = timers_.size();
  timers_.push_back(timer);
  heapUp(timer->heapIndex);
}

void Dispatcher::cancelTimer(TimerRecord* timer) {
  if (!timer->isScheduled()) return;
  const std::size_t i = timer->heapIndex;
  const std::size_t last = timers_.size() - 1;
  if (i != last) heapSwap(i, last);
  timers_.pop_back();
  timer->heapIndex = static_cast<std::size_t>(-1);
  if (i < timers_.size()) {
    heapDown(i);
    heapUp(i);
  }
}

bool Dispatcher::heapLess(std::size_t a, std::size_t b) const {
  const TimerRecord* x = timers_[a];
  const TimerRecord* y = timers_[b];
  if (x->deadline != y->deadline) return x->deadline < y->deadline;
  return x->sequence < y->sequence;
}

void Dispatcher::heapSwap(std::size_t a, std::size_t b) {
  std::swap(timers_[a], timers_[b]);
  timers_[a]->heapIndex = a;
  timers_[b]->heapIndex = b;
}

void Dispatcher::heapUp(std::size_t i) {
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!heapLess(i, parent)) break;
    heapSwap(i, parent);
    i = parent;
  }
}

void Dispatcher::heapDown(std::size_t i) {
  for (;;) {
    const std::size_t l = 2 * i + 1;
    const std::size_t r = l + 1;
    std::size_t smallest = i;
    if (l < timers_.size() && heapLess(l, smallest)) smallest = l;
    if (r < timers_.size() && heapLess(r, smallest)) smallest = r;
    if (smallest == i) return;
    heapSwap(i, smallest);
    i = smallest;
  }
}

void Dispatcher::schedule(DeferredCall* call) {
  if (call->queued_) return;
  call->queued_ = true;
  deferredCalls_.push_back(call);
}

void Dispatcher::cancel(DeferredCall* call) {
  if (!call->queued_) return;
  call->queued_ = false;
  for (auto& c : deferredCalls_)
    if (c == call) c = nullptr;
  for (auto& c : runningCalls_)
    if (c == call) c = nullptr;
}

void Dispatcher::enterLoop() {
  ++loopDepth_;
  // A loop nested inside a slot: let the objects whose delivery it
  // interrupted send and deliver what that slot queued.
  for (DeferredCall* call : delivering_) schedule(call);
}

void Dispatcher::leaveDelivery(DeferredCall* call) {
  for (auto it = delivering_.rbegin(); it != delivering_.rend(); ++it)
    if (*it == call) {
      delivering_.erase(std::next(it).base());
      return;
    }
}

bool Dispatcher::runDeferredCalls() {
  if (deferredCalls_.empty()) return false;
  // One round: calls scheduled while these run wait for the next iteration,
  // so a call that keeps rescheduling itself cannot starve I/O.
  runningCalls_.swap(deferredCalls_);
  for (std::size_t i = 0; i < runningCalls_.size(); ++i) {
    DeferredCall* call = runningCalls_[i];
    if (!call) continue;
    runningCalls_[i] = nullptr;
    call->queued_ = false;
    call->runDeferred();  // may cancel or destroy other calls: they are nulled
  }
  runningCalls_.clear();
  return true;
}

void Dispatcher::deferDelete(std::weak_ptr<ObjectLife> life) {
  deferred_.push_back({std::move(life), loopDepth_});
}

int Dispatcher::timeoutForNextTimer(int timeoutMs) const {
  if (timers_.empty()) return timeoutMs;
  const auto now = Clock::now();
  const auto deadline = timers_.front()->deadline;
  if (deadline <= now) return 0;
  // Round up so that a timer never fires early.
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  const int waitMs = static_cast<int>(std::min<std::int64_t>(wait, 24 * 3600 * 1000));
  return timeoutMs < 0 ? waitMs : std::min(timeoutMs, waitMs);
}

bool Dispatcher::runOnce(int timeoutMs) {
  bool handled = false;
  int timeout = timeoutMs;

  if (hasPosted_.load(std::memory_order_acquire)) timeout = 0;
  if (!deferredCalls_.empty() || deferredDeleteDue()) timeout = 0;
  timeout = timeoutForNextTimer(timeout);

  epoll_event events[kBatchSize];
  int n = ::epoll_wait(epoll_.get(), events, static_cast<int>(kBatchSize), timeout);
  if (n < 0) n = 0;  // EINTR: treat as a spurious wake-up
  Batch batch{events, 0, static_cast<std::size_t>(n)};
  activeBatches_.push_back(&batch);
  while (batch.next < batch.size) {
    const epoll_event ev = events[batch.next++];
    if (ev.data.ptr == nullptr) {
      std::uint64_t count;
      [[maybe_unused]] ssize_t r = ::read(wakeFd_.get(), &count, sizeof count);
      handled = true;  // a wake-up is an event: processEvents(WaitForMoreEvents) returns
      continue;
    }
    if (ev.data.ptr == this) continue;  // watcher removed during this batch
    auto* watcher = static_cast<Watcher*>(ev.data.ptr);
    handled = true;
    watcher->handler_->watchEvents(ev.events);
  }
  activeBatches_.pop_back();

  handled |= runDeferredCalls();
  handled |= runDueTimers();
  handled |= runPosted();
  handled |= runDeferredDeletes();
  return handled;
}

bool Dispatcher::runDueTimers() {
  if (timers_.empty()) return false;
  const auto now = Clock::now();
  // Timers (re)started while this pass runs wait for the next pass, so a
  // zero-interval repeating timer cannot starve I/O.
  const std::uint64_t cutoff = timerSequence_;
  bool fired = false;
  while (!timers_.empty()) {
    TimerRecord* top = timers_.front();
    if (top->deadline > now || top->sequence >= cutoff) break;
    cancelTimer(top);
    fired = true;
    top->callback();  // may reschedule or destroy `top`
  }
  return fired;
}

bool Dispatcher::runPosted() {
  if (!hasPosted_.load(std::memory_order_acquire)) return false;
  {
    std::lock_guard lock(postMutex_);
    running_.swap(posted_);
    hasPosted_.store(false, std::memory_order_relaxed);
    wakePending_ = false;
  }
  // Index loop: running_ is only swapped here, and functions posted meanwhile
  // land in posted_ for the next iteration.
  std::vector<std::function<void()>> batch;
  batch.swap(running_);
  for (auto& fn : batch) fn();
  batch.clear();
  if (running_.empty()) running_.swap(batch);  // keep the capacity
  return true;
}

bool Dispatcher::deferredDeleteDue() const {
  const int depth = std::max(loopDepth_, 1);
  for (const auto& d : deferred_)
    if (std::max(d.depth, 1) >= depth) return true;
  return false;
}

bool Dispatcher::runDeferredDeletes() {
  if (deferred_.empty()) return false;
  // Objects scheduled from an outer loop (or from no loop) are deleted here;
  // those scheduled inside a deeper loop wait until control is back there.
  const int depth = std::max(loopDepth_, 1);
  std::vector<DeferredDelete> due;
  std::vector<DeferredDelete> keep;
  for (auto& d : deferred_) {
    if (std::max(d.depth, 1) >= depth) due.push_back(std::move(d));
    else keep.push_back(std::move(d));
  }
  deferred_.swap(keep);
  for (auto& d : due)
    if (auto life = d.life.lock()) {
      Object* object = life->object;
      life.reset();
      delete object;
    }
  return !due.empty();
}

}  // namespace tether::detail
