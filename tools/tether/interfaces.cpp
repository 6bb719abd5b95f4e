// `tether interfaces`: NetworkInterface::allInterfaces() (QNetworkInterface)
// with flags, type, MTU, hardware address and addresses, of the network
// namespace the tool runs in.
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "command_support.h"
#include "commands.h"
#include "tether/network_interface.h"

namespace tether::cli {

namespace {

std::vector<std::string> flagNames(NetworkInterface::InterfaceFlags flags) {
  static constexpr std::pair<NetworkInterface::InterfaceFlag, const char*> kFlags[] = {
      {NetworkInterface::IsUp, "IsUp"},
      {NetworkInterface::IsRunning, "IsRunning"},
      {NetworkInterface::CanBroadcast, "CanBroadcast"},
      {NetworkInterface::IsLoopBack, "IsLoopBack"},
      {NetworkInterface::IsPointToPoint, "IsPointToPoint"},
      {NetworkInterface::CanMulticast, "CanMulticast"},
  };
  std::vector<std::string> names;
  for (const auto& [flag, name] : kFlags)
    if (flags & flag) names.emplace_back(name);
  return names;
}

const char* typeName(NetworkInterface::InterfaceType type) {
  switch (type) {
    case NetworkInterface::Loopback: return "Loopback";
    case NetworkInterface::Virtual: return "Virtual";
    case NetworkInterface::Ethernet: return "Ethernet";
    case NetworkInterface::Slip: return "Slip";
    case NetworkInterface::CanBus: return "CanBus";
    case NetworkInterface::Ppp: return "Ppp";
    case NetworkInterface::Fddi: return "Fddi";
    case NetworkInterface::Wifi: return "Wifi";
    case NetworkInterface::Phonet: return "Phonet";
    case NetworkInterface::Ieee802154: return "Ieee802154";
    case NetworkInterface::SixLoWPAN: return "SixLoWPAN";
    case NetworkInterface::Ieee80216: return "Ieee80216";
    case NetworkInterface::Ieee1394: return "Ieee1394";
    case NetworkInterface::Unknown: break;
  }
  return "Unknown";
}

const char* eligibilityName(NetworkAddressEntry::DnsEligibilityStatus status) {
  switch (status) {
    case NetworkAddressEntry::DnsEligible: return "eligible";
    case NetworkAddressEntry::DnsIneligible: return "ineligible";
    case NetworkAddressEntry::DnsEligibilityUnknown: break;
  }
  return "unknown";
}

void report(const NetworkInterface& i, const Reporter& out) {
  nlohmann::json addresses = nlohmann::json::array();
  std::string lines;
  for (const NetworkAddressEntry& e : i.addressEntries()) {
    const bool v4 = e.ip().protocol() == NetworkLayerProtocol::IPv4Protocol;
    nlohmann::json entry{{"ip", e.ip().toString()},
                         {"prefixLength", e.prefixLength()},
                         {"netmask", e.netmask().toString()},
                         {"dnsEligibility", eligibilityName(e.dnsEligibility())},
                         {"permanent", e.isPermanent()}};
    if (!e.broadcast().isNull()) entry["broadcast"] = e.broadcast().toString();
    addresses.push_back(std::move(entry));
    lines += fmt::format("\n    {} {}/{}", v4 ? "inet" : "inet6", e.ip().toString(), e.prefixLength());
    if (!e.broadcast().isNull()) lines += " brd " + e.broadcast().toString();
    if (e.isTemporary()) lines += " temporary";
  }
  const std::vector<std::string> flags = flagNames(i.flags());
  out.print({{"event", "interface"},
             {"index", i.index()},
             {"name", i.name()},
             {"flags", flags},
             {"type", typeName(i.type())},
             {"mtu", i.maximumTransmissionUnit()},
             {"hardwareAddress", i.hardwareAddress()},
             {"addresses", addresses}},
            fmt::format("{}: {} <{}> {} mtu {}{}{}", i.index(), i.name(), fmt::join(flags, ","), typeName(i.type()),
                        i.maximumTransmissionUnit(),
                        i.hardwareAddress().empty() ? std::string() : " hw " + i.hardwareAddress(), lines));
}

}  // namespace

void addInterfacesCommand(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "interfaces",
      "List the network interfaces (QNetworkInterface::allInterfaces) with their flags, type, MTU, hardware "
      "address and IP addresses");
  cmd->add_flag("--json", *json, "Print one JSON line per interface");
  cmd->callback([json] {
    const Reporter out("interfaces", *json);
    const std::vector<NetworkInterface> all = NetworkInterface::allInterfaces();
    if (all.empty()) out.fail("cannot list the network interfaces", kExitFailed);
    for (const NetworkInterface& i : all) report(i, out);
  });
}

}  // namespace tether::cli
