#include "command_support.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "commands.h"
#include "progress.h"
#include "tether/socket_notifier.h"

namespace tether::cli {

// ------------------------------------------------------------ Reporter

void Reporter::print(const nlohmann::json& event, const std::string& text) const {
  if (json_) {
    writeJsonLine(stdout, event);
    return;
  }
  if (text.empty()) return;
  std::fprintf(stdout, "%s\n", text.c_str());
  std::fflush(stdout);
}

void Reporter::error(const std::string& reason) const {
  if (json_) {
    writeJsonLine(stdout, {{"event", "error"}, {"reason", reason}});
    return;
  }
  std::fprintf(stderr, "tether %s: %s\n", command_.c_str(), reason.c_str());
  std::fflush(stderr);
}

void Reporter::fail(const std::string& reason, int status) const {
  error(reason);
  exitWith(status);
}

// ------------------------------------------------------------ parsing

namespace {

std::optional<std::uint16_t> parsePort(std::string_view digits, bool allowZero) {
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535 || (value == 0 && !allowZero)) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

}  // namespace

bool parseHostPort(std::string_view text, std::string& host, std::uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view name = text.substr(0, colon);
  if (name.front() == '[') {
    if (name.size() < 3 || name.back() != ']') return false;
    name = name.substr(1, name.size() - 2);
  } else if (name.find(':') != std::string_view::npos) {
    return false;  // an IPv6 address needs brackets: [::1]:7000
  }
  const auto value = parsePort(text.substr(colon + 1), false);
  if (!value) return false;
  host = std::string(name);
  port = *value;
  return true;
}

std::optional<std::pair<HostAddress, std::uint16_t>> parseAddressAndPort(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    HostAddress address(text.substr(1, close - 1));
    if (address.protocol() != NetworkLayerProtocol::IPv6Protocol) return std::nullopt;
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return std::pair{address, std::uint16_t{0}};
    if (rest.front() != ':') return std::nullopt;
    const auto port = parsePort(rest.substr(1), false);
    if (!port) return std::nullopt;
    return std::pair{address, *port};
  }
  // A bare IPv6 address has colons of its own and takes no port.
  if (text.find(':') != text.rfind(':')) {
    HostAddress address(text);
    if (address.protocol() != NetworkLayerProtocol::IPv6Protocol) return std::nullopt;
    return std::pair{address, std::uint16_t{0}};
  }
  const auto colon = text.find(':');
  HostAddress address(text.substr(0, colon));
  if (address.protocol() != NetworkLayerProtocol::IPv4Protocol) return std::nullopt;
  if (colon == std::string_view::npos) return std::pair{address, std::uint16_t{0}};
  const auto port = parsePort(text.substr(colon + 1), false);
  if (!port) return std::nullopt;
  return std::pair{address, *port};
}

HostAddress parseListenAddress(std::string_view text) {
  if (text == "0.0.0.0" || text == "::" || text == "any") return HostAddress(HostAddress::Any);
  HostAddress address(text);
  if (address.protocol() != NetworkLayerProtocol::IPv4Protocol &&
      address.protocol() != NetworkLayerProtocol::IPv6Protocol)
    return HostAddress();
  return address;
}

std::string printableText(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  auto escape = [&](unsigned char c) { out += fmt::format("\\x{:02x}", c); };
  for (std::size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) escape(c);
      else out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence (no overlong forms, no surrogates, at
    // most U+10FFFF) is kept whole.
    std::size_t length = 0;
    char32_t min = 0;
    char32_t cp = 0;
    if ((c & 0xe0) == 0xc0) length = 2, min = 0x80, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0) length = 3, min = 0x800, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0) length = 4, min = 0x10000, cp = c & 0x07;
    bool valid = length != 0 && i + length <= bytes.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(bytes[i + k]);
      valid = (next & 0xc0) == 0x80;
      cp = (cp << 6) | (next & 0x3f);
    }
    valid = valid && cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    if (!valid) {
      escape(c);
      ++i;
      continue;
    }
    out.append(bytes.substr(i, length));
    i += length;
  }
  return out;
}

// ------------------------------------------------------------ StopOnSignals

namespace {

std::atomic<int> signalPipeWriter{-1};

extern "C" void forwardSignal(int signalNumber) {
  const int saved = errno;
  const int fd = signalPipeWriter.load(std::memory_order_relaxed);
  if (fd >= 0) {
    const auto byte = static_cast<unsigned char>(signalNumber);
    [[maybe_unused]] const ssize_t written = ::write(fd, &byte, 1);
  }
  errno = saved;
}

constexpr int kStopSignals[] = {SIGINT, SIGTERM};

}  // namespace

struct StopOnSignals::State {
  int pipe[2] = {-1, -1};
  struct sigaction previous[std::size(kStopSignals)] = {};
  std::unique_ptr<SocketNotifier> notifier;
  std::function<void(int)> onSignal;
};

StopOnSignals::StopOnSignals(std::function<void(int)> onSignal) : state_(std::make_unique<State>()) {
  state_->onSignal = std::move(onSignal);
  if (::pipe2(state_->pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error(std::string("cannot create a pipe: ") + std::strerror(errno));
  if (signalPipeWriter.exchange(state_->pipe[1]) != -1) throw std::logic_error("StopOnSignals: one at a time");
  state_->notifier = std::make_unique<SocketNotifier>(state_->pipe[0], SocketNotifier::Read);
  State* state = state_.get();
  state_->notifier->activated.connect([state](int fd, SocketNotifier::Type) {
    unsigned char bytes[16];
    const ssize_t n = ::read(fd, bytes, sizeof bytes);
    // The first signal counts; more of them change nothing.
    if (n > 0) state->onSignal(bytes[0]);
  });
  struct sigaction action {};
  action.sa_handler = forwardSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (std::size_t i = 0; i < std::size(kStopSignals); ++i) ::sigaction(kStopSignals[i], &action, &state_->previous[i]);
}

StopOnSignals::~StopOnSignals() {
  for (std::size_t i = 0; i < std::size(kStopSignals); ++i) ::sigaction(kStopSignals[i], &state_->previous[i], nullptr);
  signalPipeWriter.store(-1);
  state_->notifier.reset();
  ::close(state_->pipe[0]);
  ::close(state_->pipe[1]);
}

}  // namespace tether::cli
