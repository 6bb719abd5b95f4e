// What `tether broadcast` and `tether multicast` share: Qt's Broadcast and
// Multicast Sender/Receiver examples send "<kind> message N" (N = 1, 2, ...)
// every second to port 45454, and the receivers print every datagram.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "command_support.h"
#include "tether/event_loop.h"
#include "tether/timer.h"

namespace tether {
class UdpSocket;
}

namespace tether::cli {

// The port of Qt's examples.
inline constexpr std::uint16_t kExamplePort = 45454;

struct DatagramOptions {
  std::uint16_t port = kExamplePort;
  int count = 0;          // datagrams to send or receive; 0: until SIGINT or SIGTERM
  int intervalMs = 1000;  // between datagrams sent
  bool json = false;
};

// --port, --count, --json, and for senders --interval.
void addDatagramOptions(CLI::App* command, DatagramOptions& options, bool sender);

// Sends "<prefix><n>" for n = 1, 2, ...: the first at once, then one every
// interval, through `send` (which returns an empty string on success, else
// why it failed). Ends `loop` with 0 after `count` datagrams, or with
// kExitNetwork (after reporting why) when one cannot be sent.
class RepeatingSender {
 public:
  using Send = std::function<std::string(const std::string& payload)>;
  RepeatingSender(EventLoop& loop, const Reporter& out, const DatagramOptions& options, std::string prefix, Send send);
  // Sends the first datagram and starts the timer for the others. Returns
  // the exit status when that already ended the job (it failed, or --count
  // was 1); nullopt while there is more to send from the loop.
  std::optional<int> start();
  int sent() const { return sent_; }

 private:
  // The exit status when the job ends here.
  std::optional<int> sendNext();

  EventLoop& loop_;
  const Reporter& out_;
  const DatagramOptions& options_;
  std::string prefix_;
  Send send_;
  Timer timer_;
  int sent_ = 0;
};

// Prints every datagram that arrives on the sockets it watches; ends `loop`
// with 0 after `count` of them (0: never).
class DatagramPrinter {
 public:
  DatagramPrinter(EventLoop& loop, const Reporter& out, int count) : loop_(loop), out_(out), count_(count) {}
  void watch(UdpSocket& socket);
  int received() const { return received_; }

 private:
  void drain(UdpSocket& socket);

  EventLoop& loop_;
  const Reporter& out_;
  int count_;
  int received_ = 0;
};

// The exit status after SIGINT or SIGTERM (kStoppedBySignal from the loop):
// 0 when sending or receiving had no --count, else kExitFailed with a report
// of how many of them were done.
int interruptedStatus(const Reporter& out, int done, int count, const char* what);

}  // namespace tether::cli
