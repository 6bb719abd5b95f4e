// Object: the base of every tether class that has signals, an owner thread
// and a lifetime others can observe (Qt's QObject, without moc).
//
// Ownership: an Object may have a parent; a parent deletes its children when
// it is destroyed, and a child deleted first leaves its parent's list. Objects
// without a parent are owned by whoever created them.
//
// Threading: an Object belongs to the thread that constructed it. Every
// member function is owner-thread only unless documented "any thread".
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "tether/detail/object_life.h"
#include "tether/signal.h"

namespace tether {

class Object {
 public:
  explicit Object(Object* parent = nullptr);
  virtual ~Object();

  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  Object* parent() const { return parent_; }
  // Moves this object under `parent` (nullptr: no parent, the caller owns it).
  // Both must live on the same thread.
  void setParent(Object* parent);
  // In no particular order.
  const std::vector<Object*>& children() const;

  // Schedules deletion on the owner thread's event loop: the object is deleted
  // when control returns to the loop that was running when deleteLater() was
  // called (or to any loop, if none was running). A nested loop started later
  // does not delete it. Calling it more than once is harmless. The object
  // must have been created with new and be owned by no std::unique_ptr.
  // Any thread.
  void deleteLater();

  std::thread::id threadId() const { return thread_; }
  bool isOwnerThread() const { return std::this_thread::get_id() == thread_; }

  // A weak reference that expires when this object is destroyed: how signals,
  // timers and posted functions know their receiver is gone.
  std::weak_ptr<detail::ObjectLife> lifeToken() const { return life_; }

  // Emitted from the destructor, after the derived classes' destructors ran
  // and before the children are deleted.
  Signal<Object*> destroyed;

 private:
  std::shared_ptr<detail::ObjectLife> life_;  // reset when destruction starts
  std::thread::id thread_;
  Object* parent_ = nullptr;
  std::uint32_t indexInParent_ = 0;
  bool deletePending_ = false;
  // Allocated by the first child: most objects (a server's sockets) have none.
  std::unique_ptr<std::vector<Object*>> children_;
};

// A weak pointer to an Object (Qt's QPointer): null once the object is gone.
// Owner thread only.
template <class T>
class ObjectPtr {
 public:
  ObjectPtr() = default;
  ObjectPtr(T* object)  // NOLINT: implicit like a raw pointer
      : object_(object), life_(object ? object->lifeToken() : std::weak_ptr<detail::ObjectLife>{}) {}
  T* get() const { return life_.expired() ? nullptr : object_; }
  T* operator->() const { return get(); }
  T& operator*() const { return *get(); }
  explicit operator bool() const { return get() != nullptr; }
  bool isNull() const { return get() == nullptr; }

 private:
  T* object_ = nullptr;
  std::weak_ptr<detail::ObjectLife> life_;
};

}  // namespace tether
