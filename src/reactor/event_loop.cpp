#include "tether/event_loop.h"

#include <cassert>
#include <chrono>

#include "reactor/dispatcher.h"

namespace tether {

namespace {

// Keeps the dispatcher's loop depth right even if a slot throws.
class LoopScope {
 public:
  explicit LoopScope(detail::Dispatcher& d) : d_(d) { d_.enterLoop(); }
  ~LoopScope() { d_.leaveLoop(); }
  LoopScope(const LoopScope&) = delete;
  LoopScope& operator=(const LoopScope&) = delete;

 private:
  detail::Dispatcher& d_;
};

}  // namespace

EventLoop::EventLoop(Object* parent) : Object(parent), dispatcher_(detail::Dispatcher::current()) {}

EventLoop::~EventLoop() = default;

int EventLoop::exec() {
  assert(isOwnerThread());
  if (running_.exchange(true, std::memory_order_acq_rel)) return -1;
  exitRequested_.store(false, std::memory_order_release);
  auto dispatcher = dispatcher_;  // the loop object may be deleted by a slot
  auto token = lifeToken();
  {
    LoopScope scope(*dispatcher);
    for (;;) {
      if (token.expired()) return -1;
      if (exitRequested_.load(std::memory_order_acquire)) break;
      dispatcher->runOnce(-1);
    }
  }
  running_.store(false, std::memory_order_release);
  return exitCode_.load(std::memory_order_acquire);
}

void EventLoop::exit(int code) {
  exitCode_.store(code, std::memory_order_release);
  exitRequested_.store(true, std::memory_order_release);
  if (!isOwnerThread()) dispatcher_->wakeUp();
}

bool EventLoop::processEvents(ProcessEventsFlags flags) {
  assert(isOwnerThread());
  LoopScope scope(*dispatcher_);
  if (!(flags & WaitForMoreEvents)) return dispatcher_->runOnce(0);
  auto dispatcher = dispatcher_;
  while (!dispatcher->runOnce(-1)) {
  }
  return true;
}

void EventLoop::processEvents(ProcessEventsFlags flags, int maxTimeMs) {
  assert(isOwnerThread());
  auto dispatcher = dispatcher_;
  LoopScope scope(*dispatcher);
  const auto deadline = detail::Clock::now() + std::chrono::milliseconds(maxTimeMs);
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - detail::Clock::now()).count();
    if (left <= 0) return;
    const int wait = (flags & WaitForMoreEvents) ? static_cast<int>(left) : 0;
    if (!dispatcher->runOnce(wait) && !(flags & WaitForMoreEvents)) return;
  }
}

void EventLoop::wakeUp() { dispatcher_->wakeUp(); }

void EventLoop::post(std::function<void()> fn) { dispatcher_->post(std::move(fn)); }

void EventLoop::post(const Object* context, std::function<void()> fn) {
  auto token = context->lifeToken();
  auto life = token.lock();
  if (!life) return;
  life->poster->post([token = std::move(token), fn = std::move(fn)] {
    if (!token.expired()) fn();
  });
}

void EventLoop::postToCurrentThread(std::function<void()> fn) {
  detail::Dispatcher::current()->post(std::move(fn));
}

}  // namespace tether
