#include "tether/object.h"

#include <cassert>

#include "reactor/dispatcher.h"

namespace tether {

Object::Object(Object* parent)
    : life_(std::make_shared<detail::ObjectLife>()), thread_(std::this_thread::get_id()) {
  life_->object = this;
  life_->thread = thread_;
  life_->poster = detail::Dispatcher::current();
  if (parent) setParent(parent);
}

Object::~Object() {
  // Expire the lifetime token first: from here on, signal connections and
  // queued calls that name this object as receiver are skipped, even those a
  // child's destructor might trigger below.
  life_.reset();
  destroyed.emit(this);
  if (parent_) setParent(nullptr);
  // A child removes itself from children_ (swap-and-pop), so always take the
  // last one.
  while (children_ && !children_->empty()) delete children_->back();
}

const std::vector<Object*>& Object::children() const {
  static const std::vector<Object*> none;
  return children_ ? *children_ : none;
}

void Object::setParent(Object* parent) {
  if (parent == parent_) return;
  assert(!parent || parent->threadId() == threadId());
  if (parent_) {
    auto& siblings = *parent_->children_;
    Object* last = siblings.back();
    siblings[indexInParent_] = last;
    last->indexInParent_ = indexInParent_;
    siblings.pop_back();
  }
  parent_ = parent;
  if (parent_) {
    if (!parent_->children_) parent_->children_ = std::make_unique<std::vector<Object*>>();
    indexInParent_ = static_cast<std::uint32_t>(parent_->children_->size());
    parent_->children_->push_back(this);
  }
}

void Object::deleteLater() {
  if (!life_) return;  // being destroyed already
  if (!isOwnerThread()) {
    std::weak_ptr<detail::ObjectLife> token = life_;
    life_->poster->post([token] {
      if (auto life = token.lock())
        if (life->object) life->object->deleteLater();
    });
    return;
  }
  if (deletePending_) return;
  deletePending_ = true;
  auto dispatcher = std::static_pointer_cast<detail::Dispatcher>(life_->poster);
  dispatcher->deferDelete(life_);
}

}  // namespace tether
