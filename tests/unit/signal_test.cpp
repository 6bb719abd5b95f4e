#include "tether/signal.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"
#include "tether/event_loop.h"
#include "tether/object.h"

using namespace tether;

namespace {

struct Emitter : Object {
  Signal<int, std::string> changed;
  Signal<> pinged;
};

struct Receiver : Object {
  std::vector<int> values;
  int pings = 0;
  void onChanged(int v, const std::string&) { values.push_back(v); }
  void onValue(int v) { values.push_back(v * 10); }
  void onPing() { ++pings; }
};

}  // namespace

TEST(Signal, CallsSlotsInConnectionOrderWithArguments) {
  Signal<int, std::string> s;
  std::vector<std::string> calls;
  s.connect([&](int v, const std::string& t) { calls.push_back("a" + std::to_string(v) + t); });
  s.connect([&](int v, const std::string& t) { calls.push_back("b" + std::to_string(v) + t); });
  EXPECT_TRUE(s.emit(7, "x"));
  EXPECT_EQ(calls, (std::vector<std::string>{"a7x", "b7x"}));
}

TEST(Signal, SlotMayTakeAPrefixOfTheArguments) {
  Signal<int, std::string> s;
  int got = 0;
  int none = 0;
  s.connect([&](int v) { got = v; });
  s.connect([&] { ++none; });
  s.emit(3, "ignored");
  EXPECT_EQ(got, 3);
  EXPECT_EQ(none, 1);
}

TEST(Signal, ConnectsMemberFunctionsOfReceivers) {
  Emitter e;
  Receiver r;
  e.changed.connect(&r, &Receiver::onChanged);
  e.changed.connect(&r, &Receiver::onValue);
  e.pinged.connect(&r, &Receiver::onPing);
  e.changed.emit(4, "t");
  e.pinged.emit();
  EXPECT_EQ(r.values, (std::vector<int>{4, 40}));
  EXPECT_EQ(r.pings, 1);
}

TEST(Signal, ConnectionEndsWhenReceiverIsDestroyed) {
  Emitter e;
  int calls = 0;
  auto r = std::make_unique<Receiver>();
  Connection c = e.pinged.connect(r.get(), [&] { ++calls; });
  e.pinged.emit();
  r.reset();
  e.pinged.emit();
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(c.isConnected());
  EXPECT_FALSE(e.pinged.hasConnections());
}

TEST(Signal, DisconnectStopsDelivery) {
  Signal<> s;
  int calls = 0;
  Connection c = s.connect([&] { ++calls; });
  s.emit();
  c.disconnect();
  s.emit();
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(c.isConnected());
}

TEST(Signal, ScopedConnectionDisconnectsAtEndOfScope) {
  Signal<> s;
  int calls = 0;
  {
    ScopedConnection scoped = s.connect([&] { ++calls; });
    s.emit();
  }
  s.emit();
  EXPECT_EQ(calls, 1);
}

TEST(Signal, SlotDisconnectingItselfDuringEmissionIsNotCalledAgain) {
  Signal<> s;
  int first = 0;
  int second = 0;
  Connection c;
  c = s.connect([&] {
    ++first;
    c.disconnect();
  });
  s.connect([&] { ++second; });
  s.emit();
  s.emit();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 2);
}

TEST(Signal, SlotDisconnectingALaterSlotPreventsItsCallInTheSameEmission) {
  Signal<> s;
  int later = 0;
  Connection laterConnection;
  s.connect([&] { laterConnection.disconnect(); });
  laterConnection = s.connect([&] { ++later; });
  s.emit();
  EXPECT_EQ(later, 0);
}

TEST(Signal, SlotConnectedDuringEmissionIsCalledFromTheNextEmissionOn) {
  Signal<> s;
  int added = 0;
  bool once = false;
  s.connect([&] {
    if (!once) {
      once = true;
      s.connect([&] { ++added; });
    }
  });
  s.emit();
  EXPECT_EQ(added, 0);
  s.emit();
  EXPECT_EQ(added, 1);
}

TEST(Signal, SlotDestroyingTheEmitterStopsEmissionAndEmitReturnsFalse) {
  auto e = std::make_unique<Emitter>();
  int after = 0;
  e->pinged.connect([&] { e.reset(); });
  e->pinged.connect([&] { ++after; });
  Emitter* raw = e.get();
  EXPECT_FALSE(raw->pinged.emit());
  EXPECT_EQ(e, nullptr);
  EXPECT_EQ(after, 0);
}

TEST(Signal, ReceiverDestroyedByAnEarlierSlotIsNotCalled) {
  Emitter e;
  auto r = std::make_unique<Receiver>();
  e.pinged.connect([&] { r.reset(); });
  e.pinged.connect(r.get(), &Receiver::onPing);
  EXPECT_TRUE(e.pinged.emit());
  EXPECT_EQ(r, nullptr);
}

TEST(Signal, DisconnectByReceiverEndsOnlyItsConnections) {
  Emitter e;
  Receiver a;
  Receiver b;
  e.pinged.connect(&a, &Receiver::onPing);
  e.pinged.connect(&b, &Receiver::onPing);
  e.pinged.disconnect(&a);
  e.pinged.emit();
  EXPECT_EQ(a.pings, 0);
  EXPECT_EQ(b.pings, 1);
}

TEST(Signal, QueuedConnectionRunsInALaterLoopIteration) {
  Signal<int> s;
  int got = 0;
  s.connect([&](int v) { got = v; }, ConnectionType::QueuedConnection);
  s.emit(5);
  EXPECT_EQ(got, 0);
  EXPECT_TRUE(test::runUntil([&] { return got == 5; }, 2000));
}

TEST(Signal, EmissionToAReceiverOnAnotherThreadIsQueuedToThatThread) {
  Emitter e;
  std::thread::id ranOn;
  std::thread::id workerId;
  std::atomic<bool> done{false};
  std::unique_ptr<Receiver> r;
  std::unique_ptr<EventLoop> workerLoop;
  std::atomic<bool> ready{false};
  std::thread worker([&] {
    r = std::make_unique<Receiver>();
    workerLoop = std::make_unique<EventLoop>();
    workerId = std::this_thread::get_id();
    ready = true;
    workerLoop->exec();
    r.reset();
  });
  ASSERT_TRUE(test::runUntil([&] { return ready.load(); }, 5000));
  e.changed.connect(r.get(), [&](int v, const std::string& text) {
    ranOn = std::this_thread::get_id();
    EXPECT_EQ(v, 9);
    EXPECT_EQ(text, "copied");
    done = true;
    workerLoop->quit();
  });
  {
    std::string temporary = "copied";
    e.changed.emit(9, temporary);
  }
  worker.join();
  EXPECT_TRUE(done);
  EXPECT_EQ(ranOn, workerId);
}

TEST(Signal, ConnectingWithAReceiverThatIsBeingDestroyedMakesNoConnection) {
  Signal<> s;
  int calls = 0;
  Connection made;
  {
    Receiver r;
    r.destroyed.connect([&] { made = s.connect(&r, [&] { ++calls; }); });
  }
  EXPECT_FALSE(made.isConnected());
  EXPECT_TRUE(s.emit());
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(s.hasConnections());
}

// An unconnected signal holds no connection list: emitting it runs nothing
// and reports the owner alive; the first connect makes it work as usual.
TEST(Signal, AnUnconnectedSignalEmitsNothingAndConnectingLaterWorks) {
  tether::Signal<int> s;
  EXPECT_FALSE(s.hasConnections());
  EXPECT_TRUE(s.emit(1));
  s.disconnectAll();  // harmless without connections
  int got = 0;
  auto c = s.connect([&](int v) { got += v; });
  EXPECT_TRUE(s.hasConnections());
  EXPECT_TRUE(s.emit(5));
  EXPECT_EQ(got, 5);
  c.disconnect();
  EXPECT_FALSE(s.hasConnections());
  EXPECT_TRUE(s.emit(5));
  EXPECT_EQ(got, 5);
}
