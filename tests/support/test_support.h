// Helpers shared by the tests: running the loop until a condition holds (with
// a deadline, never a sleep), and counting open descriptors for leak checks.
#pragma once

#include <chrono>
#include <functional>

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

}  // namespace tether::test
