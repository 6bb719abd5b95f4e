// `tether multicast send|receive`: Qt's Multicast Sender and Multicast
// Receiver examples. The sender sends "Multicast message N" every second to
// group 239.255.43.21 (and ff12::2115 when asked) on port 45454 with a TTL of
// 1; the receiver binds the port (shared), joins the groups and prints what
// arrives.
//
// Deviations from Qt's examples, for safety and for loopback:
//   - Both ends use the loopback interface "lo" unless --interface names
//     another one ("default" leaves the choice to the system, as Qt's
//     examples do), so nothing leaves the machine by default.
//   - The default group is the IPv4 one only: the loopback interface carries
//     no IPv6 multicast. Repeat --group for several (Qt's sender uses both).
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command_support.h"
#include "commands.h"
#include "datagram_examples.h"
#include "tether/network_interface.h"
#include "tether/udp_socket.h"

namespace tether::cli {

namespace {

constexpr const char* kDefaultInterface = "lo";
constexpr const char* kDefaultGroup = "239.255.43.21";

struct MulticastOptions {
  DatagramOptions datagrams;
  std::vector<std::string> groups{kDefaultGroup};
  std::string interface = kDefaultInterface;
  int ttl = 1;
};

// What the command line asked for, checked.
struct Setup {
  std::vector<HostAddress> groups4;
  std::vector<HostAddress> groups6;
  NetworkInterface iface;  // invalid: the system's choice
  std::string interfaceName;
};

Setup checkOptions(const MulticastOptions& options, const Reporter& out) {
  Setup setup;
  for (const std::string& text : options.groups) {
    const HostAddress group(text);
    if (!group.isMulticast()) out.fail("not a multicast group address: " + text, kExitUsage);
    (group.protocol() == NetworkLayerProtocol::IPv4Protocol ? setup.groups4 : setup.groups6).push_back(group);
  }
  if (options.interface != "default") {
    setup.iface = NetworkInterface::interfaceFromName(options.interface);
    if (!setup.iface.isValid()) out.fail("no network interface named " + options.interface, kExitUsage);
    setup.interfaceName = setup.iface.name();
  }
  return setup;
}

nlohmann::json groupList(const MulticastOptions& options) { return options.groups; }

// A UDP socket of one family bound to its "any" address.
std::unique_ptr<UdpSocket> bindSocket(HostAddress::SpecialAddress any, std::uint16_t port, BindMode mode,
                                      const Reporter& out) {
  auto socket = std::make_unique<UdpSocket>();
  if (!socket->bind(any, port, mode)) {
    out.fail(fmt::format("cannot bind {} port {}: {}", HostAddress(any).toString(), port, socket->errorString()),
             kExitNetwork);
  }
  return socket;
}

void runSender(const MulticastOptions& options) {
  const Reporter out("multicast send", options.datagrams.json);
  const Setup setup = checkOptions(options, out);
  if (options.datagrams.port == 0) out.fail("the port to send to cannot be 0", kExitUsage);
  EventLoop loop;
  // From before the first line: a script may signal as soon as it read it.
  const StopOnSignals stop([&loop](int) { loop.exit(kStoppedBySignal); });
  std::unique_ptr<UdpSocket> socket4;
  std::unique_ptr<UdpSocket> socket6;
  for (auto* socket : {&socket4, &socket6}) {
    const bool v4 = socket == &socket4;
    if ((v4 ? setup.groups4 : setup.groups6).empty()) continue;
    *socket = bindSocket(v4 ? HostAddress::AnyIPv4 : HostAddress::AnyIPv6, 0, DefaultForPlatform, out);
    (*socket)->setSocketOption(SocketOption::MulticastTtlOption, options.ttl);
    if (setup.iface.isValid()) (*socket)->setMulticastInterface(setup.iface);
  }
  out.print({{"event", "sending"},
             {"groups", groupList(options)},
             {"port", options.datagrams.port},
             {"interface", setup.interfaceName},
             {"ttl", options.ttl}},
            fmt::format("multicasting to {} port {} on {} (TTL {})", fmt::join(options.groups, ", "),
                        options.datagrams.port, setup.iface.isValid() ? setup.interfaceName : "the default interface",
                        options.ttl));
  RepeatingSender sender(loop, out, options.datagrams, "Multicast message ", [&](const std::string& payload) {
    for (const auto& [socket, groups] : {std::pair{socket4.get(), &setup.groups4}, {socket6.get(), &setup.groups6}}) {
      for (const HostAddress& group : *groups) {
        if (socket->writeDatagram(payload, group, options.datagrams.port) < 0)
          return fmt::format("cannot send to {} port {}: {}", group.toString(), options.datagrams.port,
                             socket->errorString());
      }
    }
    return std::string();
  });
  auto status = sender.start();
  if (!status) status = loop.exec();
  if (*status == kStoppedBySignal) status = interruptedStatus(out, sender.sent(), options.datagrams.count, "sent");
  if (*status != kExitOk) exitWith(*status);
}

void runReceiver(const MulticastOptions& options) {
  const Reporter out("multicast receive", options.datagrams.json);
  const Setup setup = checkOptions(options, out);
  EventLoop loop;
  // From before the first line: a script may signal as soon as it read it.
  const StopOnSignals stop([&loop](int) { loop.exit(kStoppedBySignal); });
  DatagramPrinter printer(loop, out, options.datagrams.count);
  std::unique_ptr<UdpSocket> socket4;
  std::unique_ptr<UdpSocket> socket6;
  std::uint16_t port = options.datagrams.port;
  for (auto* socket : {&socket4, &socket6}) {
    const bool v4 = socket == &socket4;
    const std::vector<HostAddress>& groups = v4 ? setup.groups4 : setup.groups6;
    if (groups.empty()) continue;
    // Shared, as in Qt's receiver; with port 0 the second family takes the
    // port the first one got.
    *socket = bindSocket(v4 ? HostAddress::AnyIPv4 : HostAddress::AnyIPv6, port, ShareAddress | ReuseAddressHint, out);
    port = (*socket)->localPort();
    for (const HostAddress& group : groups) {
      const bool joined = setup.iface.isValid() ? (*socket)->joinMulticastGroup(group, setup.iface)
                                                : (*socket)->joinMulticastGroup(group);
      if (!joined)
        out.fail(fmt::format("cannot join {}{}: {}", group.toString(),
                             setup.iface.isValid() ? " on " + setup.interfaceName : std::string(),
                             (*socket)->errorString()),
                 kExitNetwork);
    }
    printer.watch(**socket);
  }
  out.print({{"event", "listening"}, {"groups", groupList(options)}, {"port", port}, {"interface", setup.interfaceName}},
            fmt::format("port {}", port));
  int status = loop.exec();
  if (status == kStoppedBySignal)
    status = interruptedStatus(out, printer.received(), options.datagrams.count, "received");
  if (status != kExitOk) exitWith(status);
}

void addMulticastOptions(CLI::App* command, MulticastOptions& options, bool sender) {
  addDatagramOptions(command, options.datagrams, sender);
  command
      ->add_option("-g,--group", options.groups,
                   "Multicast group (repeat for several; Qt's examples use 239.255.43.21 and ff12::2115)")
      ->capture_default_str();
  command
      ->add_option("--interface", options.interface,
                   "Network interface to send or join on; \"default\": the system's choice, as in Qt's examples "
                   "(the default stays on this machine)")
      ->capture_default_str();
}

}  // namespace

void addMulticastCommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "multicast",
      "Qt's Multicast Sender and Receiver: send \"Multicast message N\" every second to group 239.255.43.21 port "
      "45454, or join the group and print what arrives. Uses the loopback interface unless --interface says "
      "otherwise.");
  cmd->require_subcommand(1);

  auto sendOptions = std::make_shared<MulticastOptions>();
  CLI::App* send = cmd->add_subcommand("send", "Send \"Multicast message N\" datagrams to the groups");
  addMulticastOptions(send, *sendOptions, true);
  send->add_option("--ttl", sendOptions->ttl, "Time to live (hop limit) of the datagrams")
      ->capture_default_str()
      ->check(CLI::Range(0, 255));
  send->callback([sendOptions] { runSender(*sendOptions); });

  auto receiveOptions = std::make_shared<MulticastOptions>();
  CLI::App* receive = cmd->add_subcommand(
      "receive", "Join the groups and print the datagrams that arrive on the port; prints \"port N\" first");
  addMulticastOptions(receive, *receiveOptions, false);
  receive->callback([receiveOptions] { runReceiver(*receiveOptions); });
}

}  // namespace tether::cli
