#include "tether/socket_notifier.h"

#include <sys/epoll.h>
#include <sys/stat.h>

#include <algorithm>
#include <cassert>
#include <map>
#include <utility>
#include <memory>
#include <vector>

#include "reactor/dispatcher.h"

namespace tether::detail {

// All notifiers of one descriptor on one thread share one level-triggered
// watcher whose interest is the union of the enabled notifiers' types (epoll
// takes a descriptor only once per set).
class NotifierHub final : public WatchHandler {
 public:
  static bool attach(SocketNotifier* n) {
    auto& hub = hubs()[n->socket_];
    if (hub && !hub->sameFile()) hub->reopened();
    if (!hub) hub = std::make_unique<NotifierHub>(n->socket_);
    hub->orphaned_ = false;
    hub->notifiers_.push_back(n);
    if (hub->update() == 0) return true;
    hub->detachOnly(n);
    return false;
  }

  static void detach(SocketNotifier* n) {
    auto& map = hubs();
    auto it = map.find(n->socket_);
    if (it == map.end()) return;
    it->second->detachOnly(n);
    if (it->second->notifiers_.empty()) {
      if (it->second->dispatching_ > 0) it->second->orphaned_ = true;  // freed after dispatch
      else map.erase(it);
    } else {
      it->second->update();
    }
  }

  explicit NotifierHub(int fd)
      : watcher_(*Dispatcher::current(), fd, this),
        identity_(identify(fd)) {}

  ~NotifierHub() {
    // A descriptor closed while notifiers still watched it: the kernel has
    // dropped the registration, and the number may belong to another file.
    if (!sameFile()) watcher_.abandon();
  }

 private:
  using HubMap = std::map<int, std::unique_ptr<NotifierHub>>;
  static HubMap& hubs() {
    thread_local HubMap map;
    return map;
  }

  void detachOnly(SocketNotifier* n) { std::erase(notifiers_, n); }

  // The open file behind a descriptor number (device and inode), so that a
  // number reused after close() is not mistaken for the old file.
  static std::pair<dev_t, ino_t> identify(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return {0, 0};
    return {st.st_dev, st.st_ino};
  }
  bool sameFile() const { return identify(watcher_.fd()) == identity_; }

  // The descriptor was closed and its number reused while old notifiers
  // still named it: start over on the new file.
  void reopened() {
    watcher_.abandon();
    identity_ = identify(watcher_.fd());
  }

  int update() {
    std::uint32_t events = 0;
    for (SocketNotifier* n : notifiers_) events |= mask(n->type_);
    if (events == 0) {
      watcher_.unwatch();
      return 0;
    }
    return watcher_.watch(events, false);
  }

  static std::uint32_t mask(SocketNotifier::Type t) {
    switch (t) {
      case SocketNotifier::Read:
        return EPOLLIN;
      case SocketNotifier::Write:
        return EPOLLOUT;
      case SocketNotifier::Exception:
        return EPOLLPRI;
    }
    return 0;
  }

  void watchEvents(std::uint32_t events) override {
    // An error or hang-up wakes readers and writers, so they see it on their
    // next read or write, as poll() reports it.
    if (events & (EPOLLERR | EPOLLHUP)) events |= EPOLLIN | EPOLLOUT;
    ++dispatching_;
    // Copy: slots may delete notifiers (including this hub's last one).
    std::vector<ObjectPtr<SocketNotifier>> targets(notifiers_.begin(), notifiers_.end());
    const int fd = watcher_.fd();
    for (auto& target : targets) {
      SocketNotifier* n = target.get();
      if (!n || !n->enabled_ || !(events & mask(n->type_))) continue;
      n->activated.emit(fd, n->type_);
    }
    --dispatching_;
    if (orphaned_) hubs().erase(fd);  // destroys this hub
  }

  Watcher watcher_;
  std::pair<dev_t, ino_t> identity_;
  std::vector<SocketNotifier*> notifiers_;
  int dispatching_ = 0;
  bool orphaned_ = false;
};

}  // namespace tether::detail

namespace tether {

SocketNotifier::SocketNotifier(int socket, Type type, Object* parent)
    : Object(parent), socket_(socket), type_(type) {
  setEnabled(true);
}

SocketNotifier::~SocketNotifier() { setEnabled(false); }

void SocketNotifier::setEnabled(bool enable) {
  assert(isOwnerThread());
  if (enable == enabled_ || socket_ < 0) return;
  if (enable) enabled_ = detail::NotifierHub::attach(this);
  else {
    enabled_ = false;
    detail::NotifierHub::detach(this);
  }
}

}  // namespace tether
