#include "tether/timer.h"

#include <gtest/gtest.h>

#include <chrono>

#include "support/test_support.h"
#include "tether/event_loop.h"

using namespace tether;
using Clock = std::chrono::steady_clock;

TEST(Timer, SingleShotFiresOnceNoEarlierThanItsInterval) {
  Timer timer;
  timer.setSingleShot(true);
  int fired = 0;
  timer.timeout.connect([&] { ++fired; });
  const auto start = Clock::now();
  timer.start(30);
  EXPECT_TRUE(timer.isActive());
  ASSERT_TRUE(test::runUntil([&] { return fired == 1; }, 2000));
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(30));
  EXPECT_FALSE(timer.isActive());
  test::runFor(60);
  EXPECT_EQ(fired, 1);
}

TEST(Timer, RepeatingTimerFiresUntilStopped) {
  Timer timer;
  int fired = 0;
  timer.timeout.connect([&] {
    if (++fired == 3) timer.stop();
  });
  timer.start(5);
  ASSERT_TRUE(test::runUntil([&] { return fired == 3; }, 2000));
  test::runFor(30);
  EXPECT_EQ(fired, 3);
  EXPECT_FALSE(timer.isActive());
}

TEST(Timer, StartNeverFiresInsideTheCall) {
  Timer timer;
  int fired = 0;
  timer.timeout.connect([&] { ++fired; });
  timer.start(0);
  EXPECT_EQ(fired, 0);
  ASSERT_TRUE(test::runUntil([&] { return fired >= 1; }, 2000));
}

TEST(Timer, RemainingTimeIsMinusOneWhenInactiveAndBoundedWhenActive) {
  Timer timer;
  EXPECT_EQ(timer.remainingTime(), -1);
  timer.start(1000);
  EXPECT_GT(timer.remainingTime(), 900);
  EXPECT_LE(timer.remainingTime(), 1000);
  timer.stop();
  EXPECT_EQ(timer.remainingTime(), -1);
}

TEST(Timer, IntervalDefaultsToZeroAndSetIntervalRestartsAnActiveTimer) {
  Timer timer;
  EXPECT_EQ(timer.interval(), 0);
  EXPECT_FALSE(timer.isSingleShot());
  timer.start(10000);
  timer.setInterval(20);
  EXPECT_EQ(timer.interval(), 20);
  EXPECT_LE(timer.remainingTime(), 20);
}

TEST(Timer, StaticSingleShotCallsTheFunctionOnce) {
  int fired = 0;
  Timer::singleShot(5, [&] { ++fired; });
  ASSERT_TRUE(test::runUntil([&] { return fired == 1; }, 2000));
  test::runFor(20);
  EXPECT_EQ(fired, 1);
}

TEST(Timer, StaticSingleShotWithDeadContextDoesNothing) {
  int fired = 0;
  {
    Object context;
    Timer::singleShot(1, &context, [&] { ++fired; });
  }
  test::runFor(30);
  EXPECT_EQ(fired, 0);
}

TEST(Timer, DestroyingTheTimerInItsOwnSlotIsSafe) {
  auto* timer = new Timer;
  int fired = 0;
  timer->timeout.connect([&] {
    ++fired;
    delete timer;
  });
  timer->start(1);
  ASSERT_TRUE(test::runUntil([&] { return fired == 1; }, 2000));
  test::runFor(20);
  EXPECT_EQ(fired, 1);
}

TEST(Timer, TimersFireInDeadlineOrder) {
  Timer a, b, c;
  std::vector<char> order;
  for (auto* t : {&a, &b, &c}) t->setSingleShot(true);
  a.timeout.connect([&] { order.push_back('a'); });
  b.timeout.connect([&] { order.push_back('b'); });
  c.timeout.connect([&] { order.push_back('c'); });
  c.start(30);
  a.start(10);
  b.start(20);
  ASSERT_TRUE(test::runUntil([&] { return order.size() == 3; }, 2000));
  EXPECT_EQ(order, (std::vector<char>{'a', 'b', 'c'}));
}
