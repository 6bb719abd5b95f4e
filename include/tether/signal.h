// Signal<Args...>: a member per Qt signal.
//
//   server.newConnection.connect([&] { ... });              // plain function
//   socket->readyRead.connect(this, &Client::readFortune);   // member of an Object
//   socket->disconnected.connect(socket, [socket] { socket->deleteLater(); });
//
// Rules (all of them tested in tests/unit/signal_test.cpp):
// - connect/disconnect/emit are owner-thread only: the thread of the object
//   the signal belongs to. Delivery to a receiver on another thread is queued
//   to the receiver's thread (see ConnectionType).
// - A connection made with a receiver Object ends when the receiver is
//   destroyed; nothing is called on a dead receiver, queued calls included.
// - A slot may take a prefix of the signal's arguments (fewer, or none), as
//   in Qt.
// - Emission is safe when a slot connects, disconnects (itself or others), or
//   destroys the object that owns the signal: slots connected during an
//   emission are not called by it, disconnected ones are not called any more,
//   and when the owner dies the emission stops and emit() returns false.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tether/detail/object_life.h"

namespace tether {

enum class ConnectionType {
  AutoConnection,    // direct if the receiver lives on the emitting thread, else queued
  DirectConnection,  // called inside emit()
  QueuedConnection,  // posted to the receiver's thread (or the emitter's, with no receiver)
};

namespace detail {

struct SlotBase {
  // Written on the emitter's thread, read by queued calls on the receiver's.
  std::atomic<bool> connected{true};
  bool isConnected() const { return connected.load(std::memory_order_acquire); }
  void end() { connected.store(false, std::memory_order_release); }
};

}  // namespace detail

// A handle on one connection. Copyable; disconnect() ends the connection (a
// no-op when it already ended). Destroying a Connection does not disconnect:
// use ScopedConnection for that.
class Connection {
 public:
  Connection() = default;
  explicit Connection(std::weak_ptr<detail::SlotBase> slot) : slot_(std::move(slot)) {}

  void disconnect() {
    if (auto slot = slot_.lock()) slot->end();
    slot_.reset();
  }
  bool isConnected() const {
    auto slot = slot_.lock();
    return slot && slot->isConnected();
  }
  explicit operator bool() const { return isConnected(); }

 private:
  std::weak_ptr<detail::SlotBase> slot_;
};

// Disconnects when it goes out of scope.
class ScopedConnection {
 public:
  ScopedConnection() = default;
  ScopedConnection(Connection c) : connection_(std::move(c)) {}  // NOLINT: implicit by design
  ScopedConnection(ScopedConnection&& other) noexcept
      : connection_(std::exchange(other.connection_, Connection{})) {}
  ScopedConnection& operator=(ScopedConnection&& other) noexcept {
    if (this != &other) {
      connection_.disconnect();
      connection_ = std::exchange(other.connection_, Connection{});
    }
    return *this;
  }
  ScopedConnection(const ScopedConnection&) = delete;
  ScopedConnection& operator=(const ScopedConnection&) = delete;
  ~ScopedConnection() { connection_.disconnect(); }

  void disconnect() { connection_.disconnect(); }
  bool isConnected() const { return connection_.isConnected(); }
  Connection release() { return std::exchange(connection_, Connection{}); }

 private:
  Connection connection_;
};

namespace detail {

// Calls f with the longest prefix of the signal's arguments it accepts.
template <std::size_t N, class F, class Tuple>
constexpr bool invocableWithPrefix() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return std::is_invocable_v<F&, std::tuple_element_t<I, Tuple>...>;
  }(std::make_index_sequence<N>{});
}

template <class F, class Tuple, std::size_t N = std::tuple_size_v<Tuple>>
constexpr std::size_t acceptedArgumentCount() {
  if constexpr (invocableWithPrefix<N, F, Tuple>()) {
    return N;
  } else {
    static_assert(N > 0, "slot cannot be called with any prefix of the signal's arguments");
    if constexpr (N > 0) return acceptedArgumentCount<F, Tuple, N - 1>();
    return 0;
  }
}

template <class F, class... Args>
void invokePrefix(F& f, Args&... args) {
  using Tuple = std::tuple<Args&...>;
  constexpr std::size_t n = acceptedArgumentCount<F, Tuple>();
  auto refs = std::forward_as_tuple(args...);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    std::invoke(f, std::get<I>(refs)...);
  }(std::make_index_sequence<n>{});
}

template <class R, class M>
struct MemberSlot {
  R* receiver;
  M method;
  template <class... A>
    requires std::is_invocable_v<M, R*, A...>
  void operator()(A&&... a) const {
    std::invoke(method, receiver, std::forward<A>(a)...);
  }
};

// One connection. The callable lives in the same allocation as the
// connection's bookkeeping (SlotFor<F>), so a slot costs one allocation and
// a call is one indirect jump. No virtual functions: slots are only ever
// owned by shared_ptrs made for their exact type, which destroy them right.
template <class... Args>
struct Slot : SlotBase {
  using Invoke = void (*)(Slot*, Args&...);
  explicit Slot(Invoke f) : invoke(f) {}
  void call(Args&... args) { invoke(this, args...); }

  // The flags first, beside SlotBase's: the bookkeeping is 32 bytes.
  bool hasReceiver = false;
  ConnectionType type = ConnectionType::AutoConnection;
  Invoke invoke;
  std::weak_ptr<ObjectLife> receiver;  // expired => the receiver died, the connection is dead
};

template <class F, class... Args>
struct SlotFor final : Slot<Args...> {
  explicit SlotFor(F f) : Slot<Args...>(&SlotFor::run), fn(std::move(f)) {}
  static void run(Slot<Args...>* self, Args&... args) { invokePrefix(static_cast<SlotFor*>(self)->fn, args...); }
  F fn;
};

// The connections of a signal, in connection order. Most signals that are
// connected at all have one slot: it is kept in place, and only the second
// and later ones go to a vector.
template <class T>
class SlotList {
 public:
  std::size_t size() const { return first_ ? 1 + restSize() : 0; }
  const std::shared_ptr<T>& operator[](std::size_t i) const { return i == 0 ? first_ : (*rest_)[i - 1]; }
  void push_back(std::shared_ptr<T> slot) {
    if (!first_) {
      first_ = std::move(slot);
      return;
    }
    if (!rest_) rest_ = std::make_unique<std::vector<std::shared_ptr<T>>>();
    rest_->push_back(std::move(slot));
  }
  template <class Pred>
  void eraseIf(Pred pred) {
    if (rest_) std::erase_if(*rest_, pred);
    if (first_ && pred(first_)) {
      if (restSize() == 0) {
        first_.reset();
      } else {
        first_ = std::move(rest_->front());
        rest_->erase(rest_->begin());
      }
    }
    if (rest_ && rest_->empty()) rest_.reset();
  }
  void clear() {
    first_.reset();
    rest_.reset();
  }

 private:
  std::size_t restSize() const { return rest_ ? rest_->size() : 0; }

  std::shared_ptr<T> first_;
  // The second and later slots; allocated only when there are any.
  std::unique_ptr<std::vector<std::shared_ptr<T>>> rest_;
};

// Owned by its Signal, and held by each emission running over it (so an
// emission survives a slot that destroys the signal's owner). Owner thread
// only, hence the plain reference count.
template <class... Args>
struct SignalState {
  SlotList<Slot<Args...>> slots;
  int refs = 1;
  int emitting = 0;
  bool alive = true;
  bool needsCompaction = false;

  void compact() {
    slots.eraseIf([](const auto& s) { return !s->isConnected() || (s->hasReceiver && s->receiver.expired()); });
    needsCompaction = false;
  }
  void endAll() {
    for (std::size_t i = 0, n = slots.size(); i < n; ++i) slots[i]->end();
  }
  static void release(SignalState* st) {
    if (--st->refs == 0) delete st;
  }
};

}  // namespace detail

template <class... Args>
class Signal {
 public:
  // The connection list is allocated by the first connect(): an object
  // carries many signals and most never get a slot, so an unconnected
  // signal costs one pointer and an emission that checks it.
  Signal() = default;
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;
  ~Signal() {
    if (!state_) return;
    state_->alive = false;
    state_->endAll();
    State::release(state_);
  }

  // Connects a callable. It is called directly by emit(), or queued to the
  // emitting thread's loop with ConnectionType::QueuedConnection.
  template <class F>
  Connection connect(F&& f, ConnectionType type = ConnectionType::DirectConnection) {
    return add(std::forward<F>(f), {}, false, type);
  }

  // Connects a callable whose lifetime is tied to `receiver`: the connection
  // ends when receiver is destroyed, and with AutoConnection the call is
  // queued to receiver's thread when that is not the emitting thread.
  template <class R, class F>
    requires(!std::is_member_function_pointer_v<std::decay_t<F>>)
  Connection connect(const R* receiver, F&& f,
                     ConnectionType type = ConnectionType::AutoConnection) {
    return add(std::forward<F>(f), lifeOf(receiver), true, type);
  }

  // Connects a member function of an Object-derived receiver.
  template <class R, class M>
    requires std::is_member_function_pointer_v<M>
  Connection connect(R* receiver, M method, ConnectionType type = ConnectionType::AutoConnection) {
    return add(detail::MemberSlot<R, M>{receiver, method}, lifeOf(receiver), true, type);
  }

  // Ends every connection of this signal.
  void disconnectAll() {
    if (!state_) return;
    state_->endAll();
    if (state_->emitting == 0) state_->slots.clear();
    else state_->needsCompaction = true;
  }

  // Ends every connection whose receiver is `receiver`.
  void disconnect(const Object* receiver) {
    if (!state_) return;
    for (std::size_t i = 0, n = state_->slots.size(); i < n; ++i) {
      const auto& slot = state_->slots[i];
      auto life = slot->receiver.lock();
      if (slot->hasReceiver && life && life->object == receiver) slot->end();
    }
    state_->needsCompaction = true;
    if (state_->emitting == 0) state_->compact();
  }

  bool hasConnections() const {
    if (!state_) return false;
    for (std::size_t i = 0, n = state_->slots.size(); i < n; ++i) {
      const auto& slot = state_->slots[i];
      if (slot->isConnected() && !(slot->hasReceiver && slot->receiver.expired())) return true;
    }
    return false;
  }

  // Calls every connected slot in connection order. Returns false when the
  // signal itself was destroyed during the emission (its owner died), so that
  // the emitting code knows not to touch its members any more.
  bool emit(Args... args) const {
    if (!state_) return true;  // never connected: nothing can run, nothing can die
    // The emission holds the state: it survives the owner's destruction by
    // a slot, and the guard lets go of it even if a slot throws.
    struct Hold {
      State* st;
      explicit Hold(State* s) : st(s) {
        ++st->refs;
        ++st->emitting;
      }
      ~Hold() {
        if (--st->emitting == 0 && st->alive && st->needsCompaction) st->compact();
        State::release(st);
      }
      Hold(const Hold&) = delete;
      Hold& operator=(const Hold&) = delete;
    } hold(state_);
    State& st = *state_;
    const std::size_t count = st.slots.size();
    for (std::size_t i = 0; i < count && st.alive; ++i) {
      // A plain pointer: the list keeps every slot alive until the last
      // emission ends (disconnecting only marks a slot; removal waits for
      // emitting == 0), even if a slot connects more and the list grows.
      SlotT* slot = st.slots[i].get();
      if (!slot->isConnected()) continue;
      if (!slot->hasReceiver) {
        if (slot->type == ConnectionType::QueuedConnection) queueTo(detail::currentLoopPoster(), st.slots[i], args...);
        else slot->call(args...);
        continue;
      }
      std::shared_ptr<detail::ObjectLife> life = slot->receiver.lock();
      if (!life) {
        st.needsCompaction = true;
        continue;
      }
      const bool direct = slot->type == ConnectionType::DirectConnection ||
                          (slot->type == ConnectionType::AutoConnection && life->isOwnerThread());
      if (direct) slot->call(args...);
      else queueTo(life->poster, st.slots[i], args...);
    }
    return st.alive;
  }

  bool operator()(Args... args) const { return emit(std::move(args)...); }

 private:
  using SlotT = detail::Slot<Args...>;
  using State = detail::SignalState<Args...>;

  template <class R>
  static std::weak_ptr<detail::ObjectLife> lifeOf(const R* receiver) {
    static_assert(std::is_base_of_v<Object, R>, "receiver must derive from tether::Object");
    return receiver->lifeToken();
  }

  template <class F>
  Connection add(F&& f, std::weak_ptr<detail::ObjectLife> receiver, bool withReceiver, ConnectionType type) {
    // A receiver that is already gone (e.g. connecting from its destroyed
    // signal) gets no connection at all.
    if (withReceiver && receiver.expired()) return Connection();
    std::shared_ptr<SlotT> slot = std::make_shared<detail::SlotFor<std::decay_t<F>, Args...>>(std::forward<F>(f));
    slot->type = type;
    if (withReceiver) {
      slot->receiver = std::move(receiver);
      slot->hasReceiver = true;
    }
    if (!state_) state_ = new State;
    if (state_->needsCompaction && state_->emitting == 0) state_->compact();
    Connection handle(slot);
    state_->slots.push_back(std::move(slot));
    return handle;
  }

  // Copies the arguments and runs the slot later on the poster's thread, if
  // the slot is still connected and its receiver still alive then.
  static void queueTo(const std::shared_ptr<detail::Poster>& poster, const std::shared_ptr<SlotT>& slot,
                      Args&... args) {
    if (!poster) return;
    poster->post([slot, copies = std::make_tuple(std::decay_t<Args>(args)...)]() mutable {
      if (!slot->isConnected()) return;
      std::shared_ptr<detail::ObjectLife> life;
      if (slot->hasReceiver) {
        life = slot->receiver.lock();
        if (!life) return;
      }
      std::apply([&](auto&... a) { slot->call(a...); }, copies);
    });
  }

  State* state_ = nullptr;  // created by the first connect()
};

}  // namespace tether
