// Internal: a one-pointer string for values that are rarely set.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace tether {

namespace detail {

// A string that is almost always empty (an IPv6 scope id, a socket's peer
// name or error text): one pointer, allocated only when set, so that the
// objects that carry one per socket or per datagram stay small. Copies are
// deep.
class RareString {
 public:
  RareString() = default;
  RareString(const RareString& other) : text_(other.text_ ? std::make_unique<std::string>(*other.text_) : nullptr) {}
  RareString(RareString&&) noexcept = default;
  RareString& operator=(const RareString& other) {
    if (this != &other) text_ = other.text_ ? std::make_unique<std::string>(*other.text_) : nullptr;
    return *this;
  }
  RareString& operator=(RareString&&) noexcept = default;
  ~RareString() = default;
  RareString& operator=(std::string_view text) {
    if (text.empty()) text_.reset();
    else text_ = std::make_unique<std::string>(text);
    return *this;
  }

  [[nodiscard]] bool empty() const noexcept { return !text_; }
  [[nodiscard]] std::string str() const { return text_ ? *text_ : std::string(); }
  void clear() noexcept { text_.reset(); }
  void swap(RareString& other) noexcept { text_.swap(other.text_); }

 private:
  std::unique_ptr<std::string> text_;
};

}  // namespace detail

}  // namespace tether
