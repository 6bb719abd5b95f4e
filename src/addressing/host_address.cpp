#include "tether/host_address.h"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <net/if.h>
#include <netinet/in.h>
#include <optional>
#include <ostream>

#include "addressing/host_address_text.h"

namespace tether {

namespace {

using Protocol = NetworkLayerProtocol;

constexpr std::uint32_t kLoopbackIPv4 = 0x7f00'0001;
constexpr std::uint32_t kBroadcastIPv4 = 0xffff'ffff;

std::uint32_t readBigEndian32(const std::uint8_t* bytes) noexcept {
  return static_cast<std::uint32_t>(bytes[0]) << 24 | static_cast<std::uint32_t>(bytes[1]) << 16 |
         static_cast<std::uint32_t>(bytes[2]) << 8 | static_cast<std::uint32_t>(bytes[3]);
}

void writeBigEndian32(std::uint8_t* bytes, std::uint32_t value) noexcept {
  bytes[0] = static_cast<std::uint8_t>(value >> 24);
  bytes[1] = static_cast<std::uint8_t>(value >> 16);
  bytes[2] = static_cast<std::uint8_t>(value >> 8);
  bytes[3] = static_cast<std::uint8_t>(value);
}

bool isAllZero(const IPv6Address& bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

// The IPv4 address an IPv6 address stands for under `mode`, if any:
// ::ffff:a.b.c.d (mapped), :: (unspecified), ::1 (loopback) and ::a.b.c.d
// (compatible, which never includes ::1) each need their own flag.
std::optional<std::uint32_t> ipv4Equivalent(const IPv6Address& bytes,
                                            HostAddress::ConversionMode mode) noexcept {
  if (mode == HostAddress::StrictConversion) return std::nullopt;
  if (!std::all_of(bytes.begin(), bytes.begin() + 8, [](std::uint8_t b) { return b == 0; })) {
    return std::nullopt;
  }
  const std::uint32_t middle = readBigEndian32(bytes.data() + 8);
  const std::uint32_t low = readBigEndian32(bytes.data() + 12);
  if (middle == 0xffff) {
    if ((mode & HostAddress::ConvertV4MappedToIPv4) != 0) return low;
    return std::nullopt;
  }
  if (middle != 0) return std::nullopt;
  if (low == 0 && (mode & HostAddress::ConvertUnspecifiedAddress) != 0) return 0;
  if (low == 1 && (mode & HostAddress::ConvertLocalHost) != 0) return kLoopbackIPv4;
  if (low != 1 && (mode & HostAddress::ConvertV4CompatToIPv4) != 0) return low;
  return std::nullopt;
}

// Clears every bit from `prefixLength` on.
void clearHostBits(std::uint8_t* bytes, std::size_t size, int prefixLength) noexcept {
  const auto whole = static_cast<std::size_t>(prefixLength / 8);
  if (whole >= size) return;
  const int partialBits = prefixLength % 8;
  bytes[whole] &= static_cast<std::uint8_t>(0xff00u >> partialBits);
  std::fill(bytes + whole + 1, bytes + size, std::uint8_t{0});
}

// A non-empty run of decimal digits, capped so it cannot overflow.
std::optional<int> parseDecimal(std::string_view digits) noexcept {
  if (digits.empty()) return std::nullopt;
  int value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = std::min(value * 10 + (c - '0'), 100'000);
  }
  return value;
}

// The prefix length of a contiguous IPv4 netmask such as 255.255.240.0.
std::optional<int> prefixOfIPv4Mask(std::uint32_t mask) noexcept {
  const std::uint32_t hostBits = ~mask;
  if ((hostBits & (hostBits + 1)) != 0) return std::nullopt;
  return std::popcount(mask);
}

// The interface index a scope id names: a decimal number is the index itself,
// anything else an interface name (0 if there is no such interface).
std::uint32_t scopeIndex(const std::string& scopeId) noexcept {
  std::uint32_t index = 0;
  const char* end = scopeId.data() + scopeId.size();
  const auto result = std::from_chars(scopeId.data(), end, index);
  if (result.ec == std::errc{} && result.ptr == end) return index;
  return if_nametoindex(scopeId.c_str());
}

std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58'476d'1ce4'e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d0'49bb'1331'11ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

enum class HostAddress::Category : std::uint8_t {
  Unknown,  // Null, or reserved for future use
  Loopback,
  LocalNet,  // 0.0.0.0/8, ::, Any, ::ffff:0.0.0.0
  LinkLocal,
  Multicast,
  Broadcast,
  Global,
  PrivateNetwork,  // RFC 1918; counts as global
  UniqueLocal,     // fc00::/7; counts as global
  SiteLocal,       // fec0::/10; counts as global
};

HostAddress::HostAddress(SpecialAddress address) noexcept { setAddress(address); }

HostAddress::HostAddress(std::uint32_t ip4) noexcept { setIPv4(ip4); }

HostAddress::HostAddress(const std::uint8_t* ip6) noexcept { setIPv6(ip6); }

HostAddress::HostAddress(const IPv6Address& ip6) noexcept { setIPv6(ip6.data()); }

HostAddress::HostAddress(std::string_view text) { setAddress(text); }

HostAddress::HostAddress(const sockaddr* address) noexcept { setAddress(address); }

HostAddress& HostAddress::operator=(SpecialAddress address) noexcept {
  setAddress(address);
  return *this;
}

void HostAddress::swap(HostAddress& other) noexcept {
  std::swap(ip4_, other.ip4_);
  std::swap(ip6_, other.ip6_);
  std::swap(protocol_, other.protocol_);
  scopeId_.swap(other.scopeId_);
}

void HostAddress::clear() noexcept {
  ip4_ = 0;
  ip6_ = {};
  protocol_ = Protocol::UnknownNetworkLayerProtocol;
  scopeId_.clear();
}

void HostAddress::setIPv4(std::uint32_t ip4) noexcept {
  clear();
  protocol_ = Protocol::IPv4Protocol;
  ip4_ = ip4;
  // The mapped form ::ffff:a.b.c.d, except that 0.0.0.0 maps to ::.
  if (ip4 != 0) {
    ip6_[10] = 0xff;
    ip6_[11] = 0xff;
    writeBigEndian32(ip6_.data() + 12, ip4);
  }
}

void HostAddress::setIPv6(const std::uint8_t* ip6) noexcept {
  clear();
  protocol_ = Protocol::IPv6Protocol;
  std::memcpy(ip6_.data(), ip6, ip6_.size());
  ip4_ = ipv4Equivalent(ip6_, ConvertV4MappedToIPv4 | ConvertUnspecifiedAddress).value_or(0);
}

void HostAddress::setAddress(std::uint32_t ip4) noexcept { setIPv4(ip4); }

void HostAddress::setAddress(const std::uint8_t* ip6) noexcept { setIPv6(ip6); }

void HostAddress::setAddress(const IPv6Address& ip6) noexcept { setIPv6(ip6.data()); }

void HostAddress::setAddress(SpecialAddress address) noexcept {
  switch (address) {
    case Null:
      clear();
      return;
    case Broadcast:
      setIPv4(kBroadcastIPv4);
      return;
    case LocalHost:
      setIPv4(kLoopbackIPv4);
      return;
    case AnyIPv4:
      setIPv4(0);
      return;
    case LocalHostIPv6: {
      IPv6Address loopback{};
      loopback[15] = 1;
      setIPv6(loopback.data());
      return;
    }
    case AnyIPv6:
      setIPv6(IPv6Address{}.data());
      return;
    case Any:
      clear();
      protocol_ = Protocol::AnyIPProtocol;
      return;
  }
  clear();
}

void HostAddress::setAddress(const sockaddr* address) noexcept {
  clear();
  if (address == nullptr) return;
  if (address->sa_family == AF_INET) {
    sockaddr_in ip4{};
    std::memcpy(&ip4, address, sizeof ip4);
    setIPv4(ntohl(ip4.sin_addr.s_addr));
  } else if (address->sa_family == AF_INET6) {
    sockaddr_in6 ip6{};
    std::memcpy(&ip6, address, sizeof ip6);
    setIPv6(ip6.sin6_addr.s6_addr);
  }
}

bool HostAddress::setAddress(std::string_view input) {
  clear();
  const std::string_view trimmed = host_address_text::trimBlanks(input);
  if (trimmed.empty()) return false;

  // Every IPv6 address has a colon; an IPv4 address never has one.
  if (trimmed.find(':') != std::string_view::npos) {
    const std::size_t percent = trimmed.rfind('%');
    const auto bytes = host_address_text::parseIPv6(trimmed.substr(0, percent));
    if (!bytes) return false;
    setIPv6(bytes->data());
    if (percent != std::string_view::npos) scopeId_ = trimmed.substr(percent + 1);
    return true;
  }
  const auto ip4 = host_address_text::parseIPv4(trimmed);
  if (!ip4) return false;
  setIPv4(*ip4);
  return true;
}

std::uint32_t HostAddress::toIPv4Address(bool* ok) const noexcept {
  if (ok != nullptr) {
    *ok = protocol_ == Protocol::IPv4Protocol || protocol_ == Protocol::AnyIPProtocol ||
          (protocol_ == Protocol::IPv6Protocol &&
           ipv4Equivalent(ip6_, ConvertV4MappedToIPv4 | ConvertUnspecifiedAddress));
  }
  return ip4_;
}

std::string HostAddress::toString() const {
  std::string out;
  switch (protocol_) {
    case Protocol::IPv4Protocol:
    case Protocol::AnyIPProtocol:
      host_address_text::appendIPv4(out, ip4_);
      break;
    case Protocol::IPv6Protocol:
      host_address_text::appendIPv6(out, ip6_);
      if (!scopeId_.empty()) {
        out.push_back('%');
        out += scopeId_.str();
      }
      break;
    case Protocol::UnknownNetworkLayerProtocol:
      break;
  }
  return out;
}

std::string HostAddress::scopeId() const {
  return protocol_ == Protocol::IPv6Protocol ? scopeId_.str() : std::string();
}

void HostAddress::setScopeId(std::string_view id) {
  if (protocol_ == Protocol::IPv6Protocol) scopeId_ = id;
}

bool HostAddress::isEqual(const HostAddress& other, ConversionMode mode) const noexcept {
  const bool unspecifiedMatch = (mode & ConvertUnspecifiedAddress) != 0;
  switch (protocol_) {
    case Protocol::IPv4Protocol:
      switch (other.protocol_) {
        case Protocol::IPv4Protocol:
          return ip4_ == other.ip4_;
        case Protocol::IPv6Protocol:
          return ipv4Equivalent(other.ip6_, mode) == ip4_;
        case Protocol::AnyIPProtocol:
          return unspecifiedMatch && ip4_ == 0;
        case Protocol::UnknownNetworkLayerProtocol:
          return false;
      }
      return false;
    case Protocol::IPv6Protocol:
      switch (other.protocol_) {
        case Protocol::IPv4Protocol:
          return ipv4Equivalent(ip6_, mode) == other.ip4_;
        case Protocol::IPv6Protocol:
          return ip6_ == other.ip6_;
        case Protocol::AnyIPProtocol:
          return unspecifiedMatch && isAllZero(ip6_);
        case Protocol::UnknownNetworkLayerProtocol:
          return false;
      }
      return false;
    case Protocol::AnyIPProtocol:
      if (unspecifiedMatch && other.protocol_ != Protocol::AnyIPProtocol) {
        return other.isEqual(*this, mode);
      }
      return other.protocol_ == Protocol::AnyIPProtocol;
    case Protocol::UnknownNetworkLayerProtocol:
      return other.protocol_ == Protocol::UnknownNetworkLayerProtocol;
  }
  return false;
}

bool HostAddress::operator==(SpecialAddress other) const noexcept {
  switch (other) {
    case Null:
      return protocol_ == Protocol::UnknownNetworkLayerProtocol;
    case Any:
      return protocol_ == Protocol::AnyIPProtocol;
    case Broadcast:
      return protocol_ == Protocol::IPv4Protocol && ip4_ == kBroadcastIPv4;
    case LocalHost:
      return protocol_ == Protocol::IPv4Protocol && ip4_ == kLoopbackIPv4;
    case AnyIPv4:
      return protocol_ == Protocol::IPv4Protocol && ip4_ == 0;
    case LocalHostIPv6:
    case AnyIPv6:
      return protocol_ == Protocol::IPv6Protocol && ip6_ == HostAddress(other).ip6_;
  }
  return false;
}

bool HostAddress::isInSubnet(const HostAddress& subnet, int prefixLength) const noexcept {
  if (subnet.protocol_ != protocol_ || prefixLength < 0) return false;
  if (protocol_ == Protocol::IPv4Protocol) {
    if (prefixLength == 0) return true;
    const std::uint32_t mask = ~std::uint32_t{0} << (32 - std::min(prefixLength, 32));
    return ((ip4_ ^ subnet.ip4_) & mask) == 0;
  }
  if (protocol_ == Protocol::IPv6Protocol) {
    IPv6Address mine = ip6_;
    IPv6Address theirs = subnet.ip6_;
    clearHostBits(mine.data(), mine.size(), std::min(prefixLength, 128));
    clearHostBits(theirs.data(), theirs.size(), std::min(prefixLength, 128));
    return mine == theirs;
  }
  return false;
}

std::pair<HostAddress, int> HostAddress::parseSubnet(std::string_view subnet) {
  const auto invalid = [] { return std::pair<HostAddress, int>{HostAddress(), -1}; };
  const std::string_view trimmed = host_address_text::trimBlanks(subnet);
  const std::size_t slash = trimmed.find('/');
  const std::string_view network = trimmed.substr(0, slash);
  if (network.empty()) return invalid();
  const bool isIPv6 = network.find(':') != std::string_view::npos;

  int prefix = -1;
  if (slash != std::string_view::npos) {
    const std::string_view mask = trimmed.substr(slash + 1);
    if (!isIPv6 && mask.find('.') != std::string_view::npos) {
      // An IPv4 netmask in dotted form; only contiguous masks make sense.
      HostAddress maskAddress;
      if (!maskAddress.setAddress(mask) || maskAddress.protocol_ != Protocol::IPv4Protocol) {
        return invalid();
      }
      const auto length = prefixOfIPv4Mask(maskAddress.ip4_);
      if (!length) return invalid();
      prefix = *length;
    } else {
      const auto length = parseDecimal(mask);
      if (!length) return invalid();
      prefix = *length;
    }
  }

  if (isIPv6) {
    if (prefix > 128) return invalid();
    if (prefix < 0) prefix = 128;
    HostAddress address;
    if (!address.setAddress(network)) return invalid();
    IPv6Address bytes = address.ip6_;
    clearHostBits(bytes.data(), bytes.size(), prefix);
    detail::RareString scope = std::move(address.scopeId_);
    address.setIPv6(bytes.data());
    address.scopeId_ = std::move(scope);
    return {std::move(address), prefix};
  }

  if (prefix > 32) return invalid();
  // One to four decimal parts with an optional trailing dot: "10.", "172.16".
  // The dot count keeps "1.2.3.4." out, as in Qt.
  if (std::count(network.begin(), network.end(), '.') > 3) return invalid();
  std::string_view parts = network;
  if (parts.back() == '.') parts.remove_suffix(1);
  std::uint32_t address = 0;
  int count = 0;
  while (true) {
    const std::size_t dot = parts.find('.');
    const auto value = parseDecimal(parts.substr(0, dot));
    if (!value || *value > 0xff || count == 4) return invalid();
    address = address << 8 | static_cast<std::uint32_t>(*value);
    ++count;
    if (dot == std::string_view::npos) break;
    parts.remove_prefix(dot + 1);
  }
  if (count < 4) address <<= 8 * (4 - count);
  if (prefix < 0) {
    prefix = 8 * count;
  } else if (prefix == 0) {
    address = 0;
  } else {
    address &= ~std::uint32_t{0} << (32 - prefix);
  }
  return {HostAddress(address), prefix};
}

HostAddress::Category HostAddress::classify() const noexcept {
  if (ip4_ != 0) {
    // IPv4, or IPv4-mapped IPv6 (RFC 5735 ranges).
    const std::uint32_t a = ip4_;
    if ((a & 0xff00'0000) == 0x7f00'0000) return Category::Loopback;   // 127/8
    if ((a & 0xf000'0000) == 0xe000'0000) return Category::Multicast;  // 224/4
    if ((a & 0xffff'0000) == 0xa9fe'0000) return Category::LinkLocal;  // 169.254/16
    if ((a & 0xff00'0000) == 0) return Category::LocalNet;             // 0/8
    if ((a & 0xf000'0000) == 0xf000'0000) {                            // 240/4
      return a == kBroadcastIPv4 ? Category::Broadcast : Category::Unknown;
    }
    if ((a & 0xff00'0000) == 0x0a00'0000 || (a & 0xfff0'0000) == 0xac10'0000 ||
        (a & 0xffff'0000) == 0xc0a8'0000) {
      return Category::PrivateNetwork;  // 10/8, 172.16/12, 192.168/16
    }
    return Category::Global;
  }

  // A non-mapped IPv6 address, ::ffff:0.0.0.0, 0.0.0.0, Any or Null.
  const std::uint32_t top = readBigEndian32(ip6_.data());
  const bool highHalfZero = top == 0 && readBigEndian32(ip6_.data() + 4) == 0;
  if (!highHalfZero) {
    switch (top >> 24) {
      case 0xff:
        return Category::Multicast;  // ff00::/8
      case 0xfe:
        if ((top & 0xffc0'0000) == 0xfe80'0000) return Category::LinkLocal;  // fe80::/10
        if ((top & 0xffc0'0000) == 0xfec0'0000) return Category::SiteLocal;  // fec0::/10
        return Category::Unknown;                                            // fe00::/9
      case 0xfc:
      case 0xfd:
        return Category::UniqueLocal;  // fc00::/7
      default:
        return Category::Global;
    }
  }
  const std::uint32_t middle = readBigEndian32(ip6_.data() + 8);
  const std::uint32_t low = readBigEndian32(ip6_.data() + 12);
  if (middle == 0 && low == 1) return Category::Loopback;  // ::1
  if (middle == 0xffff) return Category::LocalNet;         // ::ffff:0.0.0.0
  if (middle != 0 || low != 0) return Category::Global;
  return isNull() ? Category::Unknown : Category::LocalNet;
}

bool HostAddress::isLoopback() const noexcept { return classify() == Category::Loopback; }

bool HostAddress::isGlobal() const noexcept {
  switch (classify()) {
    case Category::Global:
    case Category::PrivateNetwork:
    case Category::UniqueLocal:
    case Category::SiteLocal:
      return true;
    default:
      return false;
  }
}

bool HostAddress::isLinkLocal() const noexcept { return classify() == Category::LinkLocal; }

bool HostAddress::isSiteLocal() const noexcept { return classify() == Category::SiteLocal; }

bool HostAddress::isUniqueLocalUnicast() const noexcept {
  return classify() == Category::UniqueLocal;
}

bool HostAddress::isMulticast() const noexcept { return classify() == Category::Multicast; }

bool HostAddress::isBroadcast() const noexcept { return classify() == Category::Broadcast; }

bool HostAddress::isPrivateUse() const noexcept {
  const Category category = classify();
  return category == Category::PrivateNetwork || category == Category::UniqueLocal;
}

std::size_t HostAddress::hash(std::size_t seed) const noexcept {
  // Equal addresses have equal protocols and bytes (the scope id is not
  // compared), so those are exactly what goes in.
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  std::memcpy(&high, ip6_.data(), sizeof high);
  std::memcpy(&low, ip6_.data() + 8, sizeof low);
  std::uint64_t h = mix64(static_cast<std::uint64_t>(seed) ^
                          static_cast<std::uint64_t>(static_cast<int>(protocol_) + 2));
  h = mix64(h ^ high);
  h = mix64(h ^ low);
  return static_cast<std::size_t>(h);
}

socklen_t HostAddress::toSockaddr(std::uint16_t port, sockaddr_storage* out) const noexcept {
  if (out == nullptr || isNull()) return 0;
  *out = sockaddr_storage{};
  if (protocol_ == Protocol::IPv4Protocol) {
    sockaddr_in ip4{};
    ip4.sin_family = AF_INET;
    ip4.sin_port = htons(port);
    ip4.sin_addr.s_addr = htonl(ip4_);
    std::memcpy(out, &ip4, sizeof ip4);
    return sizeof ip4;
  }
  // IPv6, or Any as in6addr_any (all zero bytes).
  sockaddr_in6 ip6{};
  ip6.sin6_family = AF_INET6;
  ip6.sin6_port = htons(port);
  std::memcpy(ip6.sin6_addr.s6_addr, ip6_.data(), ip6_.size());
  if (protocol_ == Protocol::IPv6Protocol && !scopeId_.empty()) {
    ip6.sin6_scope_id = scopeIndex(scopeId_.str());
  }
  std::memcpy(out, &ip6, sizeof ip6);
  return sizeof ip6;
}

HostAddress HostAddress::fromSockaddr(const sockaddr* address, std::uint16_t* port) {
  if (port != nullptr) *port = 0;
  HostAddress result(address);
  if (result.protocol_ == Protocol::IPv4Protocol) {
    sockaddr_in ip4{};
    std::memcpy(&ip4, address, sizeof ip4);
    if (port != nullptr) *port = ntohs(ip4.sin_port);
  } else if (result.protocol_ == Protocol::IPv6Protocol) {
    sockaddr_in6 ip6{};
    std::memcpy(&ip6, address, sizeof ip6);
    if (port != nullptr) *port = ntohs(ip6.sin6_port);
    if (ip6.sin6_scope_id != 0) {
      std::array<char, IF_NAMESIZE> name{};
      result.scopeId_ = if_indextoname(ip6.sin6_scope_id, name.data()) != nullptr
                            ? std::string(name.data())
                            : std::to_string(ip6.sin6_scope_id);
    }
  }
  return result;
}

std::ostream& operator<<(std::ostream& out, const HostAddress& address) {
  if (address == HostAddress::Any) return out << "Any";
  return out << address.toString();
}

}  // namespace tether
