#include "tether/timer.h"

#include <algorithm>
#include <cassert>

#include "reactor/dispatcher.h"
#include "tether/event_loop.h"

namespace tether {

Timer::Timer(Object* parent)
    : Object(parent),
      dispatcher_(detail::Dispatcher::current()),
      record_(std::make_unique<detail::TimerRecord>()) {
  record_->callback = [this] { fire(); };
}

Timer::~Timer() { dispatcher_->cancelTimer(record_.get()); }

void Timer::start() {
  assert(isOwnerThread());
  dispatcher_->scheduleTimer(record_.get(),
                             detail::Clock::now() + std::chrono::milliseconds(std::max(interval_, 0)));
}

void Timer::start(int msec) {
  interval_ = msec;
  start();
}

void Timer::stop() { dispatcher_->cancelTimer(record_.get()); }

bool Timer::isActive() const { return record_->isScheduled(); }

int Timer::remainingTime() const {
  if (!isActive()) return -1;
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(record_->deadline - detail::Clock::now()).count();
  return static_cast<int>(std::max<std::int64_t>(left, 0));
}

void Timer::setInterval(int msec) {
  interval_ = msec;
  if (isActive()) start();
}

void Timer::fire() {
  // A repeating timer is rescheduled before the slots run, so a slot may
  // stop() it. The next deadline counts from the previous one, so the
  // period does not drift; a timer that fell behind skips the missed ticks
  // instead of firing them in a burst.
  if (!singleShot_) {
    const auto interval = std::chrono::milliseconds(std::max(interval_, 0));
    const auto now = detail::Clock::now();
    auto next = record_->deadline + interval;
    if (next <= now) next = now + interval;
    dispatcher_->scheduleTimer(record_.get(), next);
  }
  timeout.emit();
}

namespace {

// Owns itself: deleted once it has fired or its context died.
class SingleShot {
 public:
  static void start(int msec, std::weak_ptr<detail::ObjectLife> context, bool hasContext,
                    std::function<void()> fn) {
    auto dispatcher = detail::Dispatcher::current();
    auto* shot = new SingleShot(std::move(context), hasContext, std::move(fn), dispatcher);
    dispatcher->scheduleTimer(&shot->record_,
                              detail::Clock::now() + std::chrono::milliseconds(std::max(msec, 0)));
  }

 private:
  SingleShot(std::weak_ptr<detail::ObjectLife> context, bool hasContext, std::function<void()> fn,
             std::shared_ptr<detail::Dispatcher> dispatcher)
      : context_(std::move(context)), hasContext_(hasContext), fn_(std::move(fn)),
        dispatcher_(std::move(dispatcher)) {
    record_.callback = [this] {
      std::unique_ptr<SingleShot> self(this);
      if (!hasContext_ || !context_.expired()) fn_();
    };
    record_.abandon = [this] { delete this; };
  }

  std::weak_ptr<detail::ObjectLife> context_;
  bool hasContext_;
  std::function<void()> fn_;
  std::weak_ptr<detail::Dispatcher> dispatcher_;  // the dispatcher owns pending shots
  detail::TimerRecord record_;
};

}  // namespace

void Timer::singleShot(int msec, std::function<void()> fn) {
  SingleShot::start(msec, {}, false, std::move(fn));
}

void Timer::singleShot(int msec, const Object* context, std::function<void()> fn) {
  if (context->isOwnerThread()) {
    SingleShot::start(msec, context->lifeToken(), true, std::move(fn));
    return;
  }
  // The context lives on another thread: start the timer there, so fn runs
  // on the context's thread and cannot race with its destruction.
  auto token = context->lifeToken();
  EventLoop::post(context, [msec, token, fn = std::move(fn)]() mutable {
    SingleShot::start(msec, token, true, std::move(fn));
  });
}

}  // namespace tether
