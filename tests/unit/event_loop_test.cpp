#include "tether/event_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "support/test_support.h"
#include "tether/timer.h"

using namespace tether;

TEST(EventLoop, ExecReturnsTheCodeGivenToExit) {
  EventLoop loop;
  EventLoop::postToCurrentThread([&] { loop.exit(42); });
  EXPECT_EQ(loop.exec(), 42);
  EXPECT_FALSE(loop.isRunning());
}

TEST(EventLoop, IsRunningInsideExec) {
  EventLoop loop;
  bool running = false;
  EventLoop::postToCurrentThread([&] {
    running = loop.isRunning();
    loop.quit();
  });
  EXPECT_EQ(loop.exec(), 0);
  EXPECT_TRUE(running);
}

TEST(EventLoop, PostedFunctionsRunLaterInPostingOrder) {
  std::vector<int> order;
  EventLoop::postToCurrentThread([&] { order.push_back(1); });
  EventLoop::postToCurrentThread([&] { order.push_back(2); });
  EXPECT_TRUE(order.empty());
  EventLoop loop;
  loop.processEvents();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(EventLoop, PostFromAnotherThreadWakesTheLoop) {
  EventLoop loop;
  std::atomic<std::thread::id> ranOn{};
  std::thread poster([&] { loop.post([&] {
                         ranOn = std::this_thread::get_id();
                         loop.quit();
                       }); });
  Timer guard;
  guard.setSingleShot(true);
  guard.timeout.connect([&] { loop.exit(1); });
  guard.start(5000);
  EXPECT_EQ(loop.exec(), 0);
  poster.join();
  EXPECT_EQ(ranOn.load(), std::this_thread::get_id());
}

TEST(EventLoop, ExitFromAnotherThreadStopsExec) {
  EventLoop loop;
  std::thread stopper([&] {
    while (!loop.isRunning()) std::this_thread::yield();
    loop.exit(7);
  });
  EXPECT_EQ(loop.exec(), 7);
  stopper.join();
}

TEST(EventLoop, ProcessEventsWithoutWaitReturnsFalseWhenIdle) {
  EventLoop loop;
  loop.processEvents();  // drain anything left by earlier tests
  EXPECT_FALSE(loop.processEvents());
}

TEST(EventLoop, ProcessEventsWithTimeLimitReturnsWithinTheLimit) {
  EventLoop loop;
  const auto start = std::chrono::steady_clock::now();
  loop.processEvents(EventLoop::WaitForMoreEvents, 50);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(45));
  EXPECT_LT(took, std::chrono::milliseconds(2000));
}

TEST(EventLoop, PostWithDeadContextIsDropped) {
  int ran = 0;
  {
    Object context;
    EventLoop::post(&context, [&] { ++ran; });
  }
  EventLoop loop;
  loop.processEvents();
  EXPECT_EQ(ran, 0);
}

TEST(EventLoop, PostToAWorkerThreadLoopRunsThere) {
  std::unique_ptr<EventLoop> workerLoop;
  std::atomic<bool> ready{false};
  std::thread::id workerId;
  std::thread worker([&] {
    workerLoop = std::make_unique<EventLoop>();
    workerId = std::this_thread::get_id();
    ready = true;
    workerLoop->exec();
  });
  while (!ready) std::this_thread::yield();
  std::atomic<bool> ran{false};
  std::thread::id ranOn;
  workerLoop->post([&] {
    ranOn = std::this_thread::get_id();
    ran = true;
    workerLoop->quit();
  });
  worker.join();
  EXPECT_TRUE(ran);
  EXPECT_EQ(ranOn, workerId);
}
