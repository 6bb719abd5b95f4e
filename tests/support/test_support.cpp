#include "support/test_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>

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

DescriptorLimit::DescriptorLimit(rlim_t soft) {
  ::getrlimit(RLIMIT_NOFILE, &saved_);
  rlimit lowered = saved_;
  lowered.rlim_cur = soft;
  applied_ = ::setrlimit(RLIMIT_NOFILE, &lowered) == 0;
}

DescriptorLimit::~DescriptorLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

int lowestFreeDescriptor() {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::close(fd);
  return fd;
}

bool runOnThreadWithoutALoop(const std::function<void()>& body, int timeoutMs) {
  std::atomic<bool> done{false};
  std::thread worker([&] {
    body();
    done = true;
  });
  const bool finished = runUntil([&] { return done.load(); }, timeoutMs);
  worker.join();
  return finished;
}

std::string randomBytes(std::size_t size, std::uint64_t seed) {
  std::string out(size, '\0');
  std::uint64_t x = seed | 1;
  for (std::size_t i = 0; i < size; i += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    const std::uint64_t v = x * 0x2545F4914F6CDD1DULL;
    for (std::size_t j = 0; j < 8 && i + j < size; ++j) out[i + j] = static_cast<char>(v >> (8 * j));
  }
  return out;
}

}  // namespace tether::test
