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
  virtual ~SlotBase() = default;
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

template <class... Args>
struct Slot final : SlotBase {
  std::function<void(Args&...)> call;
  std::weak_ptr<ObjectLife> receiver;  // expired => the receiver died, the connection is dead
  bool hasReceiver = false;
  ConnectionType type = ConnectionType::AutoConnection;
};

template <class... Args>
struct SignalState {
  std::vector<std::shared_ptr<Slot<Args...>>> slots;
  int emitting = 0;
  bool alive = true;
  bool needsCompaction = false;

  void compact() {
    std::erase_if(slots, [](const auto& s) {
      return !s->isConnected() || (s->hasReceiver && s->receiver.expired());
    });
    needsCompaction = false;
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
    for (auto& slot : state_->slots) slot->end();
  }

  // Connects a callable. It is called directly by emit(), or queued to the
  // emitting thread's loop with ConnectionType::QueuedConnection.
  template <class F>
  Connection connect(F&& f, ConnectionType type = ConnectionType::DirectConnection) {
    return add(wrap(std::forward<F>(f)), {}, false, type);
  }

  // Connects a callable whose lifetime is tied to `receiver`: the connection
  // ends when receiver is destroyed, and with AutoConnection the call is
  // queued to receiver's thread when that is not the emitting thread.
  template <class R, class F>
    requires(!std::is_member_function_pointer_v<std::decay_t<F>>)
  Connection connect(const R* receiver, F&& f,
                     ConnectionType type = ConnectionType::AutoConnection) {
    return add(wrap(std::forward<F>(f)), lifeOf(receiver), true, type);
  }

  // Connects a member function of an Object-derived receiver.
  template <class R, class M>
    requires std::is_member_function_pointer_v<M>
  Connection connect(R* receiver, M method, ConnectionType type = ConnectionType::AutoConnection) {
    return add(wrap(detail::MemberSlot<R, M>{receiver, method}), lifeOf(receiver), true, type);
  }

  // Ends every connection of this signal.
  void disconnectAll() {
    if (!state_) return;
    for (auto& slot : state_->slots) slot->end();
    if (state_->emitting == 0) state_->slots.clear();
    else state_->needsCompaction = true;
  }

  // Ends every connection whose receiver is `receiver`.
  void disconnect(const Object* receiver) {
    if (!state_) return;
    for (auto& slot : state_->slots) {
      auto life = slot->receiver.lock();
      if (slot->hasReceiver && life && life->object == receiver) slot->end();
    }
    state_->needsCompaction = true;
    if (state_->emitting == 0) state_->compact();
  }

  bool hasConnections() const {
    if (!state_) return false;
    for (const auto& slot : state_->slots)
      if (slot->isConnected() && !(slot->hasReceiver && slot->receiver.expired())) return true;
    return false;
  }

  // Calls every connected slot in connection order. Returns false when the
  // signal itself was destroyed during the emission (its owner died), so that
  // the emitting code knows not to touch its members any more.
  bool emit(Args... args) const {
    if (!state_) return true;  // never connected: nothing can run, nothing can die
    std::shared_ptr<State> keep = state_;  // survives the owner's destruction
    State& st = *keep;
    ++st.emitting;
    const std::size_t count = st.slots.size();
    for (std::size_t i = 0; i < count && st.alive; ++i) {
      // A plain pointer: the vector keeps every slot alive until the last
      // emission ends (disconnecting only marks a slot; removal waits for
      // emitting == 0), even if a slot connects more and the vector grows.
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
    --st.emitting;
    if (!st.alive) return false;
    if (st.emitting == 0 && st.needsCompaction) st.compact();
    return true;
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
  static std::function<void(Args&...)> wrap(F&& f) {
    return [fn = std::forward<F>(f)](Args&... a) mutable { detail::invokePrefix(fn, a...); };
  }

  Connection add(std::function<void(Args&...)> call, std::weak_ptr<detail::ObjectLife> receiver,
                 bool withReceiver, ConnectionType type) {
    // A receiver that is already gone (e.g. connecting from its destroyed
    // signal) gets no connection at all.
    if (withReceiver && receiver.expired()) return Connection();
    auto slot = std::make_shared<SlotT>();
    slot->call = std::move(call);
    slot->type = type;
    if (withReceiver) {
      slot->receiver = std::move(receiver);
      slot->hasReceiver = true;
    }
    if (!state_) state_ = std::make_shared<State>();
    if (state_->needsCompaction && state_->emitting == 0) state_->compact();
    state_->slots.push_back(slot);
    return Connection(slot);
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

  std::shared_ptr<State> state_;
};

}  // namespace tether
