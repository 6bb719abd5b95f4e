// `tether broadcast send|receive`: Qt's Broadcast Sender and Broadcast
// Receiver examples. The sender sends "Broadcast message N" every second to
// port 45454; the receiver binds that port (shared) and prints what arrives.
//
// Safety deviation from Qt's example: the sender's default address is the
// loopback broadcast address 127.255.255.255, not 255.255.255.255, so that
// nothing leaves the machine unless --address says so.
#include <memory>
#include <string>

#include <fmt/format.h>

#include "command_support.h"
#include "commands.h"
#include "datagram_examples.h"
#include "tether/udp_socket.h"

namespace tether::cli {

namespace {

constexpr const char* kDefaultBroadcastAddress = "127.255.255.255";

struct BroadcastOptions {
  DatagramOptions datagrams;
  std::string address;
};

HostAddress ipv4Address(const std::string& text) {
  HostAddress address(text);
  return address.protocol() == NetworkLayerProtocol::IPv4Protocol ? address : HostAddress();
}

void runSender(const BroadcastOptions& options) {
  const Reporter out("broadcast send", options.datagrams.json);
  const HostAddress target = ipv4Address(options.address);
  if (target.isNull())
    out.fail(fmt::format("not an IPv4 address: {} (broadcast is IPv4 only; multicast reaches IPv6)", options.address),
             kExitUsage);
  if (options.datagrams.port == 0) out.fail("the port to send to cannot be 0", kExitUsage);
  EventLoop loop;
  // From before the first line: a script may signal as soon as it read it.
  const StopOnSignals stop([&loop](int) { loop.exit(kStoppedBySignal); });
  UdpSocket socket;
  out.print({{"event", "sending"}, {"address", target.toString()}, {"port", options.datagrams.port}},
            fmt::format("broadcasting to {} port {}", target.toString(), options.datagrams.port));
  RepeatingSender sender(loop, out, options.datagrams, "Broadcast message ", [&](const std::string& payload) {
    if (socket.writeDatagram(payload, target, options.datagrams.port) >= 0) return std::string();
    return fmt::format("cannot send to {} port {}: {}", target.toString(), options.datagrams.port,
                       socket.errorString());
  });
  auto status = sender.start();
  if (!status) status = loop.exec();
  if (*status == kStoppedBySignal) status = interruptedStatus(out, sender.sent(), options.datagrams.count, "sent");
  if (*status != kExitOk) exitWith(*status);
}

void runReceiver(const BroadcastOptions& options) {
  const Reporter out("broadcast receive", options.datagrams.json);
  const HostAddress address = ipv4Address(options.address);
  if (address.isNull())
    out.fail(fmt::format("not an IPv4 address: {} (broadcasts arrive on IPv4 only)", options.address), kExitUsage);
  EventLoop loop;
  // From before the first line: a script may signal as soon as it read it.
  const StopOnSignals stop([&loop](int) { loop.exit(kStoppedBySignal); });
  UdpSocket socket;
  // Shared, as in Qt's receiver: several receivers may listen on one port.
  if (!socket.bind(address, options.datagrams.port, ShareAddress | ReuseAddressHint))
    out.fail(fmt::format("cannot bind {} port {}: {}", options.address, options.datagrams.port, socket.errorString()),
             kExitNetwork);
  out.print({{"event", "listening"}, {"address", address.toString()}, {"port", socket.localPort()}},
            fmt::format("port {}", socket.localPort()));
  DatagramPrinter printer(loop, out, options.datagrams.count);
  printer.watch(socket);
  int status = loop.exec();
  if (status == kStoppedBySignal)
    status = interruptedStatus(out, printer.received(), options.datagrams.count, "received");
  if (status != kExitOk) exitWith(status);
}

}  // namespace

void addBroadcastCommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "broadcast",
      "Qt's Broadcast Sender and Receiver: send \"Broadcast message N\" every second to port 45454, or print the "
      "datagrams that arrive there. Sends to the loopback broadcast address unless --address says otherwise.");
  cmd->require_subcommand(1);

  auto sendOptions = std::make_shared<BroadcastOptions>();
  sendOptions->address = kDefaultBroadcastAddress;
  CLI::App* send = cmd->add_subcommand("send", "Send \"Broadcast message N\" datagrams");
  addDatagramOptions(send, sendOptions->datagrams, true);
  send->add_option("-a,--address", sendOptions->address,
                   "Broadcast address to send to. The default stays on this machine (Qt's example uses "
                   "255.255.255.255, which reaches every host on the local networks)")
      ->capture_default_str();
  send->callback([sendOptions] { runSender(*sendOptions); });

  auto receiveOptions = std::make_shared<BroadcastOptions>();
  receiveOptions->address = "0.0.0.0";
  CLI::App* receive = cmd->add_subcommand(
      "receive", "Print the datagrams that arrive on the port; prints \"port N\" first");
  addDatagramOptions(receive, receiveOptions->datagrams, false);
  receive->add_option("-a,--address", receiveOptions->address, "IPv4 address to bind (0.0.0.0: every one)")
      ->capture_default_str();
  receive->callback([receiveOptions] { runReceiver(*receiveOptions); });
}

}  // namespace tether::cli
