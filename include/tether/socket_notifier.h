// SocketNotifier: readiness of any descriptor (Qt's QSocketNotifier).
//
//   tether::SocketNotifier notifier(fd, tether::SocketNotifier::Read);
//   notifier.activated.connect([&](int fd, tether::SocketNotifier::Type) { ... read(fd) ... });
//
// Level-triggered, as in Qt: while enabled, activated is emitted on every
// loop iteration in which the descriptor is ready, so the slot must consume
// the condition (read the data) or disable the notifier. Several notifiers
// (one per type) may watch the same descriptor. Disable or destroy the
// notifier before closing the descriptor.
//
// The descriptor must not be one that a tether socket is already watching
// (sockets own their descriptors); on such a descriptor the notifier cannot
// be enabled and isEnabled() stays false.
//
// Owner thread only.
#pragma once

#include <memory>

#include "tether/object.h"
#include "tether/signal.h"

namespace tether {

namespace detail {
class NotifierHub;
}

class SocketNotifier : public Object {
 public:
  enum Type { Read = 0, Write = 1, Exception = 2 };

  // Enabled from the start, as in Qt.
  SocketNotifier(int socket, Type type, Object* parent = nullptr);
  ~SocketNotifier() override;

  int socket() const { return socket_; }
  Type type() const { return type_; }
  bool isEnabled() const { return enabled_; }
  void setEnabled(bool enable);

  Signal<int, Type> activated;

 private:
  friend class detail::NotifierHub;
  int socket_;
  Type type_;
  bool enabled_ = false;
};

}  // namespace tether
