// NetworkAddressEntry and NetworkInterface: the values, the look-ups by name
// and index, and the adjustments Qt applies after every scan. The scan itself
// is platform code (network_interface_linux.cpp).
#include "tether/network_interface.h"

#include <net/if.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <climits>
#include <cstring>
#include <iterator>
#include <optional>
#include <ostream>
#include <utility>

#include "addressing/network_interface_data.h"

namespace tether {

namespace {

// Number of bits in an address of `address`'s protocol, or 0 if it is
// neither IPv4 nor IPv6.
int addressWidth(const HostAddress& address) noexcept {
  switch (address.protocol()) {
    case NetworkLayerProtocol::IPv4Protocol:
      return 32;
    case NetworkLayerProtocol::IPv6Protocol:
      return 128;
    default:
      return 0;
  }
}

// The leading one-bits of a mask, or -1 if the one-bits are not contiguous
// from the top.
int prefixLengthOfMask(const std::uint8_t* bytes, std::size_t size) noexcept {
  int length = 0;
  std::size_t i = 0;
  for (; i < size && bytes[i] == 0xff; ++i) length += 8;
  if (i == size) return length;
  const std::uint8_t partial = bytes[i];
  const int ones = std::countl_one(partial);
  if (static_cast<std::uint8_t>(partial << ones) != 0) return -1;
  length += ones;
  for (++i; i < size; ++i)
    if (bytes[i] != 0) return -1;
  return length;
}

// The decimal number `text` consists of, if it is nothing but digits and fits
// an int.
std::optional<int> parseIndex(std::string_view text) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// What Qt does to every scan before handing it out: IPv4 addresses without a
// broadcast address get ip | ~netmask, and addresses of interfaces that are
// not up may not be published.
void postProcess(detail::NetworkInterfaceData& data) {
  for (NetworkAddressEntry& entry : data.addressEntries) {
    const HostAddress ip = entry.ip();
    if (ip.protocol() == NetworkLayerProtocol::IPv4Protocol && entry.prefixLength() >= 0 &&
        entry.broadcast().isNull())
      entry.setBroadcast(HostAddress(ip.toIPv4Address() | ~entry.netmask().toIPv4Address()));
    if ((data.flags & NetworkInterface::IsUp) == 0)
      entry.setDnsEligibility(NetworkAddressEntry::DnsIneligible);
  }
}

std::vector<std::shared_ptr<const detail::NetworkInterfaceData>> snapshot() {
  std::vector<detail::NetworkInterfaceData> scanned = detail::scanNetworkInterfaces();
  std::vector<std::shared_ptr<const detail::NetworkInterfaceData>> result;
  result.reserve(scanned.size());
  for (detail::NetworkInterfaceData& data : scanned) {
    postProcess(data);
    result.push_back(std::make_shared<const detail::NetworkInterfaceData>(std::move(data)));
  }
  return result;
}

const char* typeName(NetworkInterface::InterfaceType type) {
  // Indexed by the enum's values, which are Qt's: 0 to 13.
  static constexpr const char* kNames[] = {
      "Unknown", "Loopback", "Virtual", "Ethernet",   "Slip",      "CanBus",    "Ppp",
      "Fddi",    "Wifi",     "Phonet",  "Ieee802154", "SixLoWPAN", "Ieee80216", "Ieee1394"};
  const auto index = static_cast<std::size_t>(type);
  return index < std::size(kNames) ? kNames[index] : "Unknown";
}

}  // namespace

namespace detail {

std::string formatHardwareAddress(const unsigned char* bytes, std::size_t size) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string text;
  text.reserve(size * 3);
  for (std::size_t i = 0; i < size; ++i) {
    if (i != 0) text.push_back(':');
    text.push_back(kHex[bytes[i] >> 4]);
    text.push_back(kHex[bytes[i] & 0xf]);
  }
  return text;
}

}  // namespace detail

// --- NetworkAddressEntry ---------------------------------------------------

void NetworkAddressEntry::swap(NetworkAddressEntry& other) noexcept {
  ip_.swap(other.ip_);
  broadcast_.swap(other.broadcast_);
  std::swap(preferred_, other.preferred_);
  std::swap(validity_, other.validity_);
  std::swap(prefixLength_, other.prefixLength_);
  std::swap(lifetimeKnown_, other.lifetimeKnown_);
  std::swap(dnsEligibility_, other.dnsEligibility_);
}

bool NetworkAddressEntry::operator==(const NetworkAddressEntry& other) const noexcept {
  return ip_ == other.ip_ && prefixLength_ == other.prefixLength_ && broadcast_ == other.broadcast_;
}

HostAddress NetworkAddressEntry::netmask() const {
  const int width = addressWidth(ip_);
  if (prefixLength_ < 0 || prefixLength_ > width) return HostAddress();
  if (width == 32) {
    const std::uint32_t mask = prefixLength_ == 0 ? 0 : ~std::uint32_t{0} << (32 - prefixLength_);
    return HostAddress(mask);
  }
  IPv6Address mask{};
  for (int bit = 0; bit < prefixLength_; ++bit)
    mask[static_cast<std::size_t>(bit / 8)] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
  return HostAddress(mask);
}

void NetworkAddressEntry::setNetmask(const HostAddress& netmask) {
  prefixLength_ = -1;
  if (netmask.protocol() != ip_.protocol()) return;
  if (netmask.protocol() == NetworkLayerProtocol::IPv4Protocol) {
    const std::uint32_t value = netmask.toIPv4Address();
    const std::uint8_t bytes[4] = {
        static_cast<std::uint8_t>(value >> 24), static_cast<std::uint8_t>(value >> 16),
        static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
    prefixLength_ = prefixLengthOfMask(bytes, sizeof bytes);
  } else if (netmask.protocol() == NetworkLayerProtocol::IPv6Protocol) {
    const IPv6Address bytes = netmask.toIPv6Address();
    prefixLength_ = prefixLengthOfMask(bytes.data(), bytes.size());
  }
}

void NetworkAddressEntry::setPrefixLength(int length) noexcept {
  prefixLength_ = length >= 0 && length <= addressWidth(ip_) && addressWidth(ip_) > 0 ? length : -1;
}

void NetworkAddressEntry::setAddressLifetime(Clock::time_point preferred,
                                             Clock::time_point validity) noexcept {
  preferred_ = preferred;
  validity_ = validity;
  lifetimeKnown_ = true;
}

void NetworkAddressEntry::clearAddressLifetime() noexcept {
  preferred_ = kForever;
  validity_ = kForever;
  lifetimeKnown_ = false;
}

// --- NetworkInterface ------------------------------------------------------

bool NetworkInterface::isValid() const noexcept { return d_ && !d_->name.empty(); }

int NetworkInterface::index() const noexcept { return d_ ? d_->index : 0; }

int NetworkInterface::maximumTransmissionUnit() const noexcept { return d_ ? d_->mtu : 0; }

std::string NetworkInterface::name() const { return d_ ? d_->name : std::string(); }

std::string NetworkInterface::humanReadableName() const { return name(); }

NetworkInterface::InterfaceFlags NetworkInterface::flags() const noexcept {
  return d_ ? d_->flags : 0;
}

NetworkInterface::InterfaceType NetworkInterface::type() const noexcept {
  return d_ ? d_->type : Unknown;
}

std::string NetworkInterface::hardwareAddress() const {
  return d_ ? d_->hardwareAddress : std::string();
}

std::vector<NetworkAddressEntry> NetworkInterface::addressEntries() const {
  return d_ ? d_->addressEntries : std::vector<NetworkAddressEntry>();
}

int NetworkInterface::interfaceIndexFromName(std::string_view name) {
  if (name.empty()) return 0;
  if (const std::optional<int> index = parseIndex(name)) return *index;
  if (name.size() >= IF_NAMESIZE || name.find('\0') != std::string_view::npos) return 0;
  const unsigned index = ::if_nametoindex(std::string(name).c_str());
  return index <= INT_MAX ? static_cast<int>(index) : 0;
}

NetworkInterface NetworkInterface::interfaceFromName(std::string_view name) {
  const std::optional<int> index = parseIndex(name);
  for (auto& data : snapshot()) {
    if ((index && data->index == *index) || data->name == name)
      return NetworkInterface(std::move(data));
  }
  return NetworkInterface();
}

NetworkInterface NetworkInterface::interfaceFromIndex(int index) {
  for (auto& data : snapshot()) {
    if (data->index == index) return NetworkInterface(std::move(data));
  }
  return NetworkInterface();
}

std::string NetworkInterface::interfaceNameFromIndex(int index) {
  if (index <= 0) return {};
  char name[IF_NAMESIZE] = {};
  if (::if_indextoname(static_cast<unsigned>(index), name) == nullptr) return {};
  return std::string(name, ::strnlen(name, sizeof name));
}

std::vector<NetworkInterface> NetworkInterface::allInterfaces() {
  std::vector<NetworkInterface> result;
  for (auto& data : snapshot()) result.push_back(NetworkInterface(std::move(data)));
  return result;
}

std::vector<HostAddress> NetworkInterface::allAddresses() {
  std::vector<HostAddress> result;
  for (const auto& data : snapshot()) {
    if ((data->flags & IsUp) == 0) continue;
    for (const NetworkAddressEntry& entry : data->addressEntries) result.push_back(entry.ip());
  }
  return result;
}

// --- Printing --------------------------------------------------------------

std::ostream& operator<<(std::ostream& out, const NetworkAddressEntry& entry) {
  out << "(address = " << entry.ip();
  if (const HostAddress netmask = entry.netmask(); !netmask.isNull())
    out << ", netmask = " << netmask;
  if (const HostAddress broadcast = entry.broadcast(); !broadcast.isNull())
    out << ", broadcast = " << broadcast;
  return out << ')';
}

std::ostream& operator<<(std::ostream& out, const NetworkInterface& networkInterface) {
  if (!networkInterface.isValid()) return out << "NetworkInterface()";
  out << "NetworkInterface(name = " << networkInterface.name()
      << ", index = " << networkInterface.index()
      << ", hardware address = " << networkInterface.hardwareAddress() << ", flags =";
  static constexpr std::pair<NetworkInterface::InterfaceFlag, const char*> kFlagNames[] = {
      {NetworkInterface::IsUp, "IsUp"},
      {NetworkInterface::IsRunning, "IsRunning"},
      {NetworkInterface::CanBroadcast, "CanBroadcast"},
      {NetworkInterface::IsLoopBack, "IsLoopBack"},
      {NetworkInterface::IsPointToPoint, "IsPointToPoint"},
      {NetworkInterface::CanMulticast, "CanMulticast"},
  };
  for (const auto& [flag, text] : kFlagNames)
    if ((networkInterface.flags() & flag) != 0) out << ' ' << text;
  out << ", type = " << typeName(networkInterface.type())
      << ", mtu = " << networkInterface.maximumTransmissionUnit() << ", entries = [";
  const char* separator = "";
  for (const NetworkAddressEntry& entry : networkInterface.addressEntries()) {
    out << separator << entry;
    separator = ", ";
  }
  return out << "])";
}

}  // namespace tether
