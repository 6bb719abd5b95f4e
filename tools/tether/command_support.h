// What the network subcommands (fortune, fortune-server, echo-server,
// broadcast, multicast, lookup, interfaces) share: error reports in the tool's
// style, parsing of addresses and destinations, the "port N" first line of a
// server, and stopping a server cleanly on SIGINT or SIGTERM.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tether/host_address.h"

namespace tether {
class SocketNotifier;
}

namespace tether::cli {

// A subcommand's output: errors as "tether <name>: <what>" on stderr, or as
// {"event":"error","reason":...} lines on stdout under --json; other lines
// as given on stdout (flushed, so that a script reading a pipe sees them at
// once).
class Reporter {
 public:
  Reporter(std::string command, bool json) : command_(std::move(command)), json_(json) {}
  bool json() const { return json_; }
  const std::string& command() const { return command_; }

  // `event` under --json, `text` otherwise.
  void print(const nlohmann::json& event, const std::string& text) const;
  void error(const std::string& reason) const;
  // error(), then ends the subcommand with `status` (see exitWith()).
  [[noreturn]] void fail(const std::string& reason, int status) const;

 private:
  std::string command_;
  bool json_;
};

// "HOST:PORT" or "[IPv6]:PORT", port 1..65535. The host is returned without
// brackets. False for anything else.
bool parseHostPort(std::string_view text, std::string& host, std::uint16_t& port);

// "ADDRESS", "ADDRESS:PORT", "[IPv6]:PORT" or a bare IPv6 address (which
// takes no port): an IP literal and a port (0 when none was given). nullopt
// when the text is none of these.
std::optional<std::pair<HostAddress, std::uint16_t>> parseAddressAndPort(std::string_view text);

// An address to listen or bind on: "0.0.0.0", "::" and "any" mean every IPv4
// and IPv6 address (HostAddress::Any); anything else must be an IP literal.
// Null when it is not.
HostAddress parseListenAddress(std::string_view text);

// Bytes as one line of text: valid UTF-8 other than control characters is
// kept, every other byte is written as \xNN.
std::string printableText(std::string_view bytes);

// What a loop ended by StopOnSignals returns when the command has no status
// of its own for it (see the users).
inline constexpr int kStoppedBySignal = -2;

// Calls `onSignal(signalNumber)` from the calling thread's event loop when
// SIGINT or SIGTERM arrives, for as long as it lives (a self-pipe watched by
// a SocketNotifier). The previous dispositions come back on destruction.
// One at a time per process.
class StopOnSignals {
 public:
  explicit StopOnSignals(std::function<void(int)> onSignal);
  ~StopOnSignals();
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tether::cli
