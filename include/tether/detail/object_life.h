// Internal: the lifetime token every Object carries, and the interface through
// which work is posted to a thread's event dispatcher. Signals hold weak
// references to the token; queued calls go through the Poster.
#pragma once

#include <functional>
#include <memory>
#include <thread>

namespace tether {

class Object;

namespace detail {

// Runs functions on one thread's event dispatcher. post() is thread-safe.
class Poster {
 public:
  virtual ~Poster() = default;
  virtual void post(std::function<void()> fn) = 0;
};

// The Poster of the calling thread's dispatcher, created on first use.
std::shared_ptr<Poster> currentLoopPoster();

// Alive exactly as long as its Object: expired weak references mean the
// object is gone. Created on the object's thread and only dereferenced there.
struct ObjectLife {
  Object* object = nullptr;
  std::thread::id thread;
  std::shared_ptr<Poster> poster;

  bool isOwnerThread() const { return std::this_thread::get_id() == thread; }
};

}  // namespace detail
}  // namespace tether
