// Helpers shared by the tests: running the loop until a condition holds (with
// a deadline, never a sleep), counting open descriptors for leak checks,
// lowering the descriptor limit, running code on a thread without a loop,
// and deterministic test data.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace tether::test {

// Runs the calling thread's event loop until pred() is true or timeoutMs
// passes. Returns pred().
bool runUntil(const std::function<bool()>& pred, int timeoutMs = 5000);

// Runs the loop for about ms milliseconds, handling whatever arrives. Only to
// check that something does NOT happen within a window.
void runFor(int ms);

// Number of descriptors this process has open.
int openDescriptorCount();

// Checks, at the end of a test, that the descriptor count is back to the
// count at construction.
class DescriptorLeakCheck {
 public:
  DescriptorLeakCheck();
  ~DescriptorLeakCheck();
  DescriptorLeakCheck(const DescriptorLeakCheck&) = delete;
  DescriptorLeakCheck& operator=(const DescriptorLeakCheck&) = delete;

 private:
  int before_;
};

// Lowers the soft descriptor limit for the length of a scope.
class DescriptorLimit {
 public:
  explicit DescriptorLimit(rlim_t soft);
  ~DescriptorLimit();
  DescriptorLimit(const DescriptorLimit&) = delete;
  DescriptorLimit& operator=(const DescriptorLimit&) = delete;
  bool applied() const { return applied_; }

 private:
  rlimit saved_{};
  bool applied_ = false;
};

// The lowest descriptor number not in use: with the soft limit set to it,
// every new descriptor fails with EMFILE.
int lowestFreeDescriptor();

// Runs body on a new thread that has no event loop, while this thread's loop
// keeps serving; true once the thread ended, false after timeoutMs (the
// thread is joined either way).
bool runOnThreadWithoutALoop(const std::function<void()>& body, int timeoutMs = 10000);

// Deterministic pseudo-random bytes (xorshift64*), so that a transfer that
// drops, repeats or reorders a chunk cannot pass.
std::string randomBytes(std::size_t size, std::uint64_t seed);

}  // namespace tether::test
