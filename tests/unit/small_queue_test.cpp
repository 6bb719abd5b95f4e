// SmallQueue: the FIFO behind a socket's queue of notes.
#include <gtest/gtest.h>

#include <deque>

#include "sockets/socket_private.h"

using tether::detail::SmallQueue;

namespace {

// Drives a SmallQueue and a std::deque through the same operations.
struct Twin {
  SmallQueue<int, 4> q;
  std::deque<int> ref;
  void push(int v) {
    q.push_back(v);
    ref.push_back(v);
  }
  void pop() {
    q.pop_front();
    ref.pop_front();
  }
  void check() {
    ASSERT_EQ(q.size(), ref.size());
    ASSERT_EQ(q.empty(), ref.empty());
    if (!ref.empty()) {
      EXPECT_EQ(q.front(), ref.front());
      EXPECT_EQ(q.back(), ref.back());
    }
  }
};

}  // namespace

TEST(SmallQueue, StartsEmpty) {
  SmallQueue<int, 4> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
}

TEST(SmallQueue, KeepsOrderAcrossWrapAroundInsideTheInlineSlots) {
  Twin t;
  for (int round = 0; round < 10; ++round) {
    t.push(round * 10);
    t.push(round * 10 + 1);
    t.push(round * 10 + 2);
    t.check();
    t.pop();
    t.pop();
    t.check();
  }
  while (!t.ref.empty()) {
    t.check();
    t.pop();
  }
  t.check();
}

TEST(SmallQueue, GrowsPastTheInlineSlotsInOrderEvenWhenWrapped) {
  Twin t;
  t.push(1);
  t.push(2);
  t.push(3);
  t.pop();  // head no longer at 0: growing must unwrap
  for (int v = 4; v < 40; ++v) {
    t.push(v);
    t.check();
  }
  for (int i = 0; i < 20; ++i) t.pop();
  for (int v = 40; v < 100; ++v) t.push(v);
  while (!t.ref.empty()) {
    t.check();
    t.pop();
  }
  t.check();
}

TEST(SmallQueue, PopBackAndClear) {
  SmallQueue<int, 4> q;
  for (int v = 0; v < 6; ++v) q.push_back(v);
  q.pop_back();
  EXPECT_EQ(q.size(), 5u);
  EXPECT_EQ(q.back(), 4);
  EXPECT_EQ(q.front(), 0);
  q.clear();
  EXPECT_TRUE(q.empty());
  q.push_back(7);
  EXPECT_EQ(q.front(), 7);
  EXPECT_EQ(q.back(), 7);
}
