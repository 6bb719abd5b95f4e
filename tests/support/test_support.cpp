#include "support/test_support.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include "reactor/dispatcher.h"
#include "tether/event_loop.h"

namespace tether::test {

bool runUntil(const std::function<bool()>& pred, int timeoutMs) {
  EventLoop loop;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (!pred()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return pred();
    // Wake at least every 10 ms to re-check pred() against the deadline.
    loop.processEvents(EventLoop::WaitForMoreEvents, static_cast<int>(std::min<long>(left, 10)));
  }
  return true;
}

void runFor(int ms) {
  EventLoop loop;
  loop.processEvents(EventLoop::WaitForMoreEvents, ms);
}

int openDescriptorCount() {
  int count = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (dirent* entry = ::readdir(dir))
      if (entry->d_name[0] != '.') ++count;
    ::closedir(dir);
  }
  return count - 1;  // the directory stream's own descriptor
}

DescriptorLeakCheck::DescriptorLeakCheck() {
  detail::Dispatcher::current();  // its own descriptors are not a leak
  before_ = openDescriptorCount();
}

DescriptorLeakCheck::~DescriptorLeakCheck() {
  // Let deferred deletions run first.
  EventLoop loop;
  loop.processEvents();
  loop.processEvents();
  EXPECT_EQ(openDescriptorCount(), before_) << "descriptor leak";
}

}  // namespace tether::test
