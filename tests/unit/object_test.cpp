#include "tether/object.h"

#include <gtest/gtest.h>

#include <thread>

#include "support/test_support.h"
#include "tether/event_loop.h"

using namespace tether;

namespace {
struct Tracked : Object {
  explicit Tracked(int* counter, Object* parent = nullptr) : Object(parent), counter_(counter) {}
  ~Tracked() override { ++*counter_; }
  int* counter_;
};
}  // namespace

TEST(Object, ParentDeletesItsChildren) {
  int deleted = 0;
  auto* parent = new Tracked(&deleted);
  new Tracked(&deleted, parent);
  new Tracked(&deleted, parent);
  EXPECT_EQ(parent->children().size(), 2u);
  delete parent;
  EXPECT_EQ(deleted, 3);
}

TEST(Object, ChildDeletedFirstLeavesItsParent) {
  int deleted = 0;
  Tracked parent(&deleted);
  auto* a = new Tracked(&deleted, &parent);
  auto* b = new Tracked(&deleted, &parent);
  delete a;
  ASSERT_EQ(parent.children().size(), 1u);
  EXPECT_EQ(parent.children()[0], b);
}

TEST(Object, SetParentNullTransfersOwnershipToCaller) {
  int deleted = 0;
  std::unique_ptr<Tracked> orphan;
  {
    Tracked parent(&deleted);
    auto* child = new Tracked(&deleted, &parent);
    child->setParent(nullptr);
    orphan.reset(child);
  }
  EXPECT_EQ(deleted, 1);
  orphan.reset();
  EXPECT_EQ(deleted, 2);
}

TEST(Object, DeleteLaterDeletesOnlyWhenControlReturnsToTheLoop) {
  int deleted = 0;
  auto* object = new Tracked(&deleted);
  object->deleteLater();
  object->deleteLater();  // harmless twice
  EXPECT_EQ(deleted, 0);
  ASSERT_TRUE(test::runUntil([&] { return deleted == 1; }, 2000));
}

TEST(Object, DeleteLaterFromANestedLoopWaitsForTheOuterLoopLevel) {
  int deleted = 0;
  EventLoop outer;
  auto* object = new Tracked(&deleted);
  int deletedDuringNested = -1;
  EventLoop::postToCurrentThread([&] {
    object->deleteLater();  // requested at depth 1
    EventLoop nested;
    nested.processEvents(EventLoop::AllEvents, 20);  // depth 2: must not delete
    deletedDuringNested = deleted;
    outer.quit();
  });
  outer.exec();
  EXPECT_EQ(deletedDuringNested, 0);
  ASSERT_TRUE(test::runUntil([&] { return deleted == 1; }, 2000));
}

TEST(Object, DestroyedSignalCarriesTheObject) {
  int deleted = 0;
  auto* object = new Tracked(&deleted);
  Object* seen = nullptr;
  object->destroyed.connect([&](Object* o) { seen = o; });
  Object* raw = object;
  delete object;
  EXPECT_EQ(seen, raw);
}

TEST(Object, ObjectPtrBecomesNullWhenTheObjectDies) {
  int deleted = 0;
  auto* object = new Tracked(&deleted);
  ObjectPtr<Tracked> weak(object);
  EXPECT_EQ(weak.get(), object);
  delete object;
  EXPECT_TRUE(weak.isNull());
}

TEST(Object, DeleteLaterFromAnotherThreadDeletesOnTheOwnerThread) {
  int deleted = 0;
  auto* object = new Tracked(&deleted);
  std::thread other([object] { object->deleteLater(); });
  other.join();
  ASSERT_TRUE(test::runUntil([&] { return deleted == 1; }, 2000));
}
