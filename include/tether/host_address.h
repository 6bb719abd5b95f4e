// HostAddress: an IPv4 or IPv6 address, the counterpart of Qt's QHostAddress.
//
// A HostAddress is a plain value (copyable, movable, comparable, hashable) and
// never does DNS: HostInfo does that. It holds one of
//   - nothing at all (Null, protocol() == UnknownNetworkLayerProtocol),
//   - an IPv4 address (IPv4Protocol),
//   - an IPv6 address with an optional scope id (IPv6Protocol),
//   - the dual-stack "any" address (Any, AnyIPProtocol), which is neither
//     0.0.0.0 nor :: but stands for both, exactly as in Qt.
//
// Thread rule: a HostAddress has no hidden shared state; distinct objects may
// be used on distinct threads, and const access to one object from several
// threads is safe.
//
// Deliberate differences from Qt (for the porting guide):
//   - Text is UTF-8 in a std::string_view; only ASCII blanks are trimmed.
//   - Qt's number reader lets an IPv4 part start with '+', a blank or (Qt 6.8)
//     a "0b" binary prefix, and an IPv6 group start with "0x"; tether rejects
//     those. The documented forms (dotted decimal, inet_aton short forms with
//     octal and hex parts, RFC 4291 IPv6 text, embedded IPv4, "%scope") are
//     accepted exactly as Qt accepts them.
//   - clear(), a failed setAddress() and every setAddress() overload reset the
//     scope id and all stored bits; Qt keeps stale bits, which can resurface.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <utility>

#include "tether/detail/rare_string.h"
#include "tether/socket_types.h"

namespace tether {

// Sixteen bytes of an IPv6 address in network byte order (Qt's Q_IPV6ADDR).
using IPv6Address = std::array<std::uint8_t, 16>;

class HostAddress {
 public:
  // Well-known addresses; values and order are Qt's.
  enum SpecialAddress {
    Null,           // no address; the same as HostAddress()
    Broadcast,      // 255.255.255.255
    LocalHost,      // 127.0.0.1
    LocalHostIPv6,  // ::1
    Any,            // dual-stack any-address: binds IPv4 and IPv6 at once
    AnyIPv6,        // :: (IPv6 only)
    AnyIPv4,        // 0.0.0.0 (IPv4 only)
  };

  // Which cross-protocol conversions isEqual() may apply; combine with |.
  enum ConversionModeFlag : unsigned {
    StrictConversion = 0,           // different protocols never compare equal
    ConvertV4MappedToIPv4 = 1,      // ::ffff:a.b.c.d equals a.b.c.d (RFC 4291 2.5.5.2)
    ConvertV4CompatToIPv4 = 2,      // ::a.b.c.d equals a.b.c.d (RFC 4291 2.5.5.1)
    ConvertUnspecifiedAddress = 4,  // Any, AnyIPv4 and AnyIPv6 all equal each other
    ConvertLocalHost = 8,           // ::1 equals 127.0.0.1
    TolerantConversion = 0xff,      // all of the above
  };
  using ConversionMode = unsigned;

  // The Null address: isNull() is true and protocol() is
  // UnknownNetworkLayerProtocol.
  HostAddress() noexcept = default;

  // One of the special addresses. Implicit, as in Qt, so that
  // `HostAddress a = HostAddress::LocalHost;` and comparisons read naturally.
  HostAddress(SpecialAddress address) noexcept;  // NOLINT(google-explicit-constructor)

  // The IPv4 address `ip4` in host byte order (0x7f000001 is 127.0.0.1).
  explicit HostAddress(std::uint32_t ip4) noexcept;

  // The IPv6 address in the 16 bytes at `ip6` (network byte order).
  explicit HostAddress(const std::uint8_t* ip6) noexcept;
  explicit HostAddress(const IPv6Address& ip6) noexcept;

  // Parses `text` as setAddress(std::string_view) does; the result is Null if
  // the text is not an address.
  explicit HostAddress(std::string_view text);

  // The address held by a native AF_INET or AF_INET6 socket address; any
  // other family (or a null pointer) gives Null. The port and, as in Qt, the
  // IPv6 scope id are ignored; fromSockaddr() also reads both.
  explicit HostAddress(const sockaddr* address) noexcept;

  HostAddress(const HostAddress&) = default;
  HostAddress(HostAddress&&) noexcept = default;
  HostAddress& operator=(const HostAddress&) = default;
  HostAddress& operator=(HostAddress&&) noexcept = default;
  ~HostAddress() = default;

  // Replaces the address with a special one.
  HostAddress& operator=(SpecialAddress address) noexcept;

  // Exchanges the two addresses; never fails.
  void swap(HostAddress& other) noexcept;
  friend void swap(HostAddress& a, HostAddress& b) noexcept { a.swap(b); }

  // Makes this the Null address (and drops any scope id).
  void clear() noexcept;

  // Setters matching the constructors above. Each drops any scope id.
  void setAddress(std::uint32_t ip4) noexcept;
  void setAddress(const std::uint8_t* ip6) noexcept;
  void setAddress(const IPv6Address& ip6) noexcept;
  void setAddress(SpecialAddress address) noexcept;
  void setAddress(const sockaddr* address) noexcept;

  // Parses an IPv4 or IPv6 address and returns true on success; on failure
  // the address becomes Null and false is returned. ASCII blanks around the
  // text are ignored. Accepted, as in Qt:
  //   - IPv4 in inet_aton's forms: "a.b.c.d", "a.b.c" (c fills 16 bits),
  //     "a.b" (b fills 24 bits) and "a" (32 bits); each part decimal, octal
  //     with a leading 0 ("010" is 8) or hex with 0x ("0x7f.1" is 127.0.0.1).
  //   - IPv6 as in RFC 4291: eight groups of 1-4 hex digits, one "::" for one
  //     or more zero groups, the last 32 bits optionally as a strict dotted
  //     quad ("::ffff:1.2.3.4"), and an optional scope id after the last '%'
  //     ("fe80::1%eth0"), kept verbatim.
  // Rejected: host names, brackets ("[::1]"), ports, blanks inside the text.
  bool setAddress(std::string_view text);

  // The address family, or AnyIPProtocol for Any, or
  // UnknownNetworkLayerProtocol for Null.
  [[nodiscard]] NetworkLayerProtocol protocol() const noexcept { return protocol_; }

  // True only for the Null address (not for 0.0.0.0, :: or Any).
  [[nodiscard]] bool isNull() const noexcept {
    return protocol_ == NetworkLayerProtocol::UnknownNetworkLayerProtocol;
  }

  // The IPv4 address in host byte order. Meaningful (and *ok set to true)
  // for IPv4, for Any (0) and, as in Qt, for IPv6 addresses that are
  // IPv4-mapped (::ffff:a.b.c.d gives a.b.c.d) or unspecified (:: gives 0).
  // Otherwise returns 0 and sets *ok to false. `ok` may be null.
  [[nodiscard]] std::uint32_t toIPv4Address(bool* ok = nullptr) const noexcept;

  // The 16 address bytes. For IPv6 the address itself; for IPv4 its mapped
  // form ::ffff:a.b.c.d, except that 0.0.0.0 gives ::; for Null and Any, ::.
  [[nodiscard]] IPv6Address toIPv6Address() const noexcept { return ip6_; }

  // The address as text: dotted decimal for IPv4 and for Any ("0.0.0.0");
  // RFC 5952 canonical form for IPv6 (lower case, longest run of two or more
  // zero groups as "::", first run on ties), with the last 32 bits as a
  // dotted quad for ::ffff:a.b.c.d and ::a.b.c.d as Qt prints them, and
  // "%scope" appended when there is a scope id; "" for Null.
  [[nodiscard]] std::string toString() const;

  // The IPv6 scope id (an interface name such as "eth0" or a decimal index),
  // or "" for non-IPv6 addresses and addresses without one.
  [[nodiscard]] std::string scopeId() const;

  // Sets the scope id; does nothing unless protocol() is IPv6Protocol.
  void setScopeId(std::string_view id);

  // Compares under `mode` (see ConversionModeFlag). Addresses of the same
  // protocol compare their bits; the scope id is not compared, as in Qt.
  // Null equals only Null, and Any equals Any under every mode.
  [[nodiscard]] bool isEqual(const HostAddress& other,
                             ConversionMode mode = TolerantConversion) const noexcept;

  // Strict equality: the same as isEqual(other, StrictConversion), so
  // 127.0.0.1 != ::ffff:127.0.0.1 and Any != 0.0.0.0. The scope id is not
  // compared. C++20 also derives != from these.
  [[nodiscard]] bool operator==(const HostAddress& other) const noexcept {
    return isEqual(other, StrictConversion);
  }

  // True if this is exactly the special address: LocalHost and Broadcast
  // match only IPv4, LocalHostIPv6 and AnyIPv6 only IPv6, AnyIPv4 only
  // 0.0.0.0, Any only Any and Null only Null. Usable either way round.
  [[nodiscard]] bool operator==(SpecialAddress other) const noexcept;

  // True if the first `prefixLength` bits of this address and `subnet` agree.
  // Both must have the same protocol (IPv4 or IPv6, never Any or Null; a
  // v4-mapped IPv6 address is not in an IPv4 subnet). A negative length
  // gives false; lengths above 32 (IPv4) or 128 (IPv6) count as the maximum.
  [[nodiscard]] bool isInSubnet(const HostAddress& subnet, int prefixLength) const noexcept;
  [[nodiscard]] bool isInSubnet(const std::pair<HostAddress, int>& subnet) const noexcept {
    return isInSubnet(subnet.first, subnet.second);
  }

  // Parses "address/prefix" into the network address (host bits cleared) and
  // the prefix length; returns {HostAddress(), -1} on any error. Forms:
  //   "a.b.c.d/n" (0..32), "a.b.c.d/255.255.255.0" (contiguous IPv4 mask),
  //   "ipv6/n" (0..128), and for IPv4 one to four decimal parts with an
  //   optional trailing dot and an optional prefix or mask: "10" or "10." is
  //   10.0.0.0/8, "172.16" is 172.16.0.0/16, "192.168.0/24". Without a
  //   prefix, IPv6 gets 128 and IPv4 eight bits per part given. Blanks around
  //   the whole text are ignored.
  [[nodiscard]] static std::pair<HostAddress, int> parseSubnet(std::string_view subnet);

  // 127.0.0.0/8, ::1, and ::ffff:127.x.y.z.
  [[nodiscard]] bool isLoopback() const noexcept;
  // Not reserved for a special purpose: true for public unicast addresses and
  // also (as Qt documents) for RFC 1918 private IPv4, IPv6 unique local
  // (fc00::/7) and deprecated site-local (fec0::/10) addresses; false for
  // loopback, link-local, multicast, broadcast, 0.0.0.0/8, ::, Any, Null and
  // the reserved 240.0.0.0/4 and fe00::/9.
  [[nodiscard]] bool isGlobal() const noexcept;
  // 169.254.0.0/16 and fe80::/10.
  [[nodiscard]] bool isLinkLocal() const noexcept;
  // fec0::/10 (deprecated by RFC 3879).
  [[nodiscard]] bool isSiteLocal() const noexcept;
  // fc00::/7 (RFC 4193).
  [[nodiscard]] bool isUniqueLocalUnicast() const noexcept;
  // 224.0.0.0/4 and ff00::/8.
  [[nodiscard]] bool isMulticast() const noexcept;
  // Only 255.255.255.255 (and its v4-mapped form), not subnet broadcasts.
  [[nodiscard]] bool isBroadcast() const noexcept;
  // RFC 1918 IPv4 (10/8, 172.16/12, 192.168/16) or IPv6 unique local
  // (fc00::/7). Qt 6.6.
  [[nodiscard]] bool isPrivateUse() const noexcept;

  // A hash consistent with operator==: equal addresses hash equally whatever
  // their scope ids. `seed` varies the result (as qHash's seed does).
  [[nodiscard]] std::size_t hash(std::size_t seed = 0) const noexcept;

  // Fills `*out` with the native socket address for this address and `port`
  // (host byte order) and returns its length, ready for bind() or connect():
  //   - IPv4 gives a sockaddr_in (AF_INET);
  //   - IPv6 gives a sockaddr_in6; a numeric scope id becomes sin6_scope_id,
  //     an interface name is looked up with if_nametoindex (0 if unknown);
  //   - Any gives in6addr_any (AF_INET6): the caller makes the socket dual
  //     stack by clearing IPV6_V6ONLY, as Qt does;
  //   - Null fills nothing and returns 0.
  socklen_t toSockaddr(std::uint16_t port, sockaddr_storage* out) const noexcept;

  // The address of a native AF_INET or AF_INET6 socket address, with its
  // port stored in `*port` (host byte order, if `port` is not null). A
  // non-zero sin6_scope_id becomes the scope id as the interface's name, or
  // as a decimal number if no interface has that index, as Qt's socket
  // engine reports peers. Other families give Null and port 0.
  [[nodiscard]] static HostAddress fromSockaddr(const sockaddr* address,
                                                std::uint16_t* port = nullptr);

 private:
  enum class Category : std::uint8_t;
  [[nodiscard]] Category classify() const noexcept;
  void setIPv4(std::uint32_t ip4) noexcept;
  void setIPv6(const std::uint8_t* ip6) noexcept;

  // Mirrors Qt's layout: ip4_ holds the IPv4 address, also for IPv4-mapped
  // IPv6 addresses; ip6_ holds the IPv6 bytes, for IPv4 the mapped form.
  std::uint32_t ip4_ = 0;
  IPv6Address ip6_{};
  NetworkLayerProtocol protocol_ = NetworkLayerProtocol::UnknownNetworkLayerProtocol;
  detail::RareString scopeId_;
};

// Writes toString(), or "Any" for the dual-stack any-address (which
// toString() shows as "0.0.0.0"), so log lines tell the two apart.
std::ostream& operator<<(std::ostream& out, const HostAddress& address);

}  // namespace tether

template <>
struct std::hash<tether::HostAddress> {
  std::size_t operator()(const tether::HostAddress& address) const noexcept {
    return address.hash();
  }
};
