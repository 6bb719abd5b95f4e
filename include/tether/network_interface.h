// NetworkInterface and NetworkAddressEntry: the host's network interfaces and
// their addresses, the counterparts of Qt's QNetworkInterface and
// QNetworkAddressEntry.
//
//   for (const NetworkInterface& i : NetworkInterface::allInterfaces()) {
//     if (!(i.flags() & NetworkInterface::IsUp)) continue;
//     for (const NetworkAddressEntry& e : i.addressEntries())
//       std::cout << i.name() << ' ' << e.ip() << '/' << e.prefixLength() << '\n';
//   }
//
// Both classes are plain values. A NetworkInterface is a snapshot taken when
// it was obtained: it never changes afterwards, and copies share the
// snapshot. Every static function takes a fresh snapshot; nothing is cached.
//
// Where the data comes from (Linux): one rtnetlink socket, an RTM_GETLINK dump
// for the links and an RTM_GETADDR dump for their IPv4 and IPv6 addresses, as
// Qt's Linux backend does. Netlink sockets belong to the network namespace of
// the thread that opens them, so every function reports the interfaces of the
// calling thread's network namespace (see setns(2)), which is what a process
// or thread that changed namespaces expects. sysfs is not read: it shows the
// namespace of whoever mounted it, not the caller's.
//
// Thread rule: every function may be called from any thread; objects have no
// hidden shared mutable state.
//
// Behaviour is Qt 6's, including what surprises people:
//   - IsUp is the administrative state (IFF_UP). IsRunning is the operational
//     state (IFLA_OPERSTATE is UP, or IFF_RUNNING when the kernel reports
//     "unknown", as for the loopback): an interface that is up without
//     carrier (a veth whose peer is down, an unplugged cable) has IsUp and
//     not IsRunning. Qt 5.15 cleared IsUp instead.
//   - allAddresses() leaves out the addresses of interfaces without IsUp, and
//     those addresses are DnsIneligible in addressEntries().
//   - A missing IPv4 broadcast address is computed as ip | ~netmask, so a /32
//     (or a point-to-point address) reports its own address as broadcast.
//
// Deliberate differences from Qt (for the porting guide):
//   - Names are UTF-8 std::string; lifetimes are std::chrono::steady_clock
//     time points (kForever for "never") instead of QDeadlineTimer.
//   - DNS eligibility treats only IPv6 addresses flagged temporary (RFC 4941
//     privacy addresses) as temporary. Qt 6 also marks secondary IPv4
//     addresses DnsIneligible because the kernel reuses that flag bit for
//     IFA_F_SECONDARY; Qt 5.15 marks deprecated addresses DnsEligible.
//   - netmask() is Null when the prefix length does not fit the protocol of
//     ip() (for example a length of 64 kept after setIp() switched to IPv4);
//     Qt computes a mask with an out-of-range shift there.
//   - A netlink dump interrupted by a concurrent change (NLM_F_DUMP_INTR) is
//     taken again, up to a few times; datagrams of any size are read whole.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tether/host_address.h"

namespace tether {

namespace detail {
struct NetworkInterfaceData;
}  // namespace detail

// One IP address of an interface with its netmask (as a prefix length), its
// IPv4 broadcast address, its lifetimes and whether it may be published in
// DNS.
class NetworkAddressEntry {
 public:
  // Values are Qt's.
  enum DnsEligibilityStatus : std::int8_t {
    DnsEligibilityUnknown = -1,  // not determined (the default)
    DnsIneligible = 0,           // temporary, deprecated, loopback, link-local or interface down
    DnsEligible = 1,             // an address this host can be reached at
  };

  using Clock = std::chrono::steady_clock;
  // A lifetime that never ends.
  static constexpr Clock::time_point kForever = Clock::time_point::max();

  // No address, no netmask (prefixLength() -1), no broadcast,
  // DnsEligibilityUnknown, lifetime unknown (and therefore permanent).
  NetworkAddressEntry() = default;

  void swap(NetworkAddressEntry& other) noexcept;
  friend void swap(NetworkAddressEntry& a, NetworkAddressEntry& b) noexcept { a.swap(b); }

  // Equal when ip(), prefixLength() and broadcast() are equal, as in Qt: DNS
  // eligibility and lifetimes are not compared, and neither are scope ids
  // (HostAddress's operator== ignores them).
  [[nodiscard]] bool operator==(const NetworkAddressEntry& other) const noexcept;

  [[nodiscard]] DnsEligibilityStatus dnsEligibility() const noexcept { return dnsEligibility_; }
  void setDnsEligibility(DnsEligibilityStatus status) noexcept { dnsEligibility_ = status; }

  // The address; link-local IPv6 addresses read from the system carry the
  // interface's name as scope id ("fe80::1%eth0").
  [[nodiscard]] HostAddress ip() const { return ip_; }
  // Sets the address. The prefix length is kept, so netmask() follows the
  // new address's protocol.
  void setIp(const HostAddress& ip) { ip_ = ip; }

  // The netmask in the protocol of ip(): 255.255.255.0 for a /24,
  // ffff:ffff:ffff:ffff:: for a /64. Null when there is no prefix length,
  // when ip() is neither IPv4 nor IPv6, or when the length does not fit.
  [[nodiscard]] HostAddress netmask() const;
  // Sets the prefix length from a netmask of ip()'s protocol. A mask of the
  // other protocol, or one whose one-bits are not contiguous from the top,
  // clears the prefix length (-1).
  void setNetmask(const HostAddress& netmask);

  // The number of leading one-bits in the netmask: 0..32 for IPv4, 0..128
  // for IPv6, or -1 when unknown.
  [[nodiscard]] int prefixLength() const noexcept { return prefixLength_; }
  // Sets the prefix length, checked against the protocol ip() has now: a
  // length outside 0..32 (IPv4) or 0..128 (IPv6), or any length while ip()
  // is not an IPv4 or IPv6 address, clears it (-1).
  void setPrefixLength(int length) noexcept;

  // The IPv4 broadcast address; Null for IPv6 and when there is none.
  [[nodiscard]] HostAddress broadcast() const { return broadcast_; }
  void setBroadcast(const HostAddress& broadcast) { broadcast_ = broadcast; }

  // True once lifetimes were set (always for entries read from the system,
  // which reports them for every address).
  [[nodiscard]] bool isLifetimeKnown() const noexcept { return lifetimeKnown_; }
  // When the address stops being preferred as a source address (deprecated),
  // or kForever.
  [[nodiscard]] Clock::time_point preferredLifetime() const noexcept { return preferred_; }
  // When the address is removed from the interface, or kForever.
  [[nodiscard]] Clock::time_point validityLifetime() const noexcept { return validity_; }
  // Sets both deadlines; isLifetimeKnown() becomes true even if both are
  // kForever.
  void setAddressLifetime(Clock::time_point preferred, Clock::time_point validity) noexcept;
  // Both deadlines back to kForever and isLifetimeKnown() false.
  void clearAddressLifetime() noexcept;
  // True when the address never expires (validityLifetime() is kForever),
  // which includes addresses whose lifetime is unknown.
  [[nodiscard]] bool isPermanent() const noexcept { return validity_ == kForever; }
  [[nodiscard]] bool isTemporary() const noexcept { return !isPermanent(); }

 private:
  HostAddress ip_;
  HostAddress broadcast_;
  Clock::time_point preferred_ = kForever;
  Clock::time_point validity_ = kForever;
  int prefixLength_ = -1;
  bool lifetimeKnown_ = false;
  DnsEligibilityStatus dnsEligibility_ = DnsEligibilityUnknown;
};

// One network interface of the host (of the calling thread's network
// namespace): its name, index, flags, type, MTU, hardware address and IP
// addresses. A default-constructed NetworkInterface is invalid: isValid()
// false, index 0, empty name and addresses, no flags, type Unknown, MTU 0.
class NetworkInterface {
 public:
  // Values are Qt's; combine with |.
  enum InterfaceFlag : unsigned {
    IsUp = 0x1,             // administratively up (IFF_UP)
    IsRunning = 0x2,        // operational: up with carrier (IFLA_OPERSTATE / IFF_RUNNING)
    CanBroadcast = 0x4,     // IFF_BROADCAST
    IsLoopBack = 0x8,       // IFF_LOOPBACK
    IsPointToPoint = 0x10,  // IFF_POINTOPOINT
    CanMulticast = 0x20,    // IFF_MULTICAST
  };
  using InterfaceFlags = unsigned;

  // The link-layer kind, from the kernel's ARPHRD_* hardware type as Qt's
  // Linux backend maps it. Values are Qt's.
  enum InterfaceType {
    Unknown = 0,   // any other hardware type
    Loopback = 1,  // ARPHRD_LOOPBACK
    Virtual = 2,   // ARPHRD_TUNNEL, ARPHRD_TUNNEL6, ARPHRD_NONE (tun, wireguard), ARPHRD_VOID
    Ethernet = 3,  // ARPHRD_ETHER that is not wireless: also veth, bridges, bonds, macvlan
    Slip = 4,      // ARPHRD_SLIP, CSLIP, SLIP6, CSLIP6
    CanBus = 5,    // ARPHRD_CAN
    Ppp = 6,       // ARPHRD_PPP
    Fddi = 7,      // ARPHRD_FDDI
    Wifi = 8,      // ARPHRD_ETHER answering the wireless-extensions SIOCGIWMODE
                   // ioctl, or ARPHRD_IEEE80211 (and PRISM, RADIOTAP)
    Ieee80211 = Wifi,
    Phonet = 9,       // ARPHRD_PHONET, PHONET_PIPE
    Ieee802154 = 10,  // ARPHRD_IEEE802154
    SixLoWPAN = 11,   // ARPHRD_6LOWPAN
    Ieee80216 = 12,   // never reported on Linux (as in Qt)
    Ieee1394 = 13,    // never reported on Linux (as in Qt)
  };

  NetworkInterface() noexcept = default;

  void swap(NetworkInterface& other) noexcept { d_.swap(other.d_); }
  friend void swap(NetworkInterface& a, NetworkInterface& b) noexcept { a.swap(b); }

  // True if this describes an interface (its name is not empty).
  [[nodiscard]] bool isValid() const noexcept;
  // The kernel's interface index (the IPv6 scope id), or 0.
  [[nodiscard]] int index() const noexcept;
  // The MTU in bytes, or 0.
  [[nodiscard]] int maximumTransmissionUnit() const noexcept;
  // The kernel's name for the interface ("eth0", "lo"), or "".
  [[nodiscard]] std::string name() const;
  // The same as name() on Linux, which has no separate display name.
  [[nodiscard]] std::string humanReadableName() const;
  [[nodiscard]] InterfaceFlags flags() const noexcept;
  [[nodiscard]] InterfaceType type() const noexcept;
  // The link-layer address as upper-case hex bytes joined by ':'
  // ("02:00:5E:10:00:01"); "" when the interface has none. Not always a MAC:
  // an IPv4 tunnel reports four bytes, for instance.
  [[nodiscard]] std::string hardwareAddress() const;
  // The interface's IPv4 and IPv6 addresses, in the kernel's order. Returned
  // by value, so it is safe on a temporary NetworkInterface.
  [[nodiscard]] std::vector<NetworkAddressEntry> addressEntries() const;

  // The index of the interface called `name`, or 0. A name made only of
  // decimal digits is taken as an index and returned as is, without checking
  // that such an interface exists, as in Qt. "" gives 0.
  [[nodiscard]] static int interfaceIndexFromName(std::string_view name);
  // The interface called `name`, or an invalid one. A name made only of
  // decimal digits also matches the interface with that index.
  [[nodiscard]] static NetworkInterface interfaceFromName(std::string_view name);
  // The interface with that index, or an invalid one.
  [[nodiscard]] static NetworkInterface interfaceFromIndex(int index);
  // The name of the interface with that index, or "" (always for 0).
  [[nodiscard]] static std::string interfaceNameFromIndex(int index);
  // Every interface, in index order as the kernel lists them; empty if the
  // system cannot be asked.
  [[nodiscard]] static std::vector<NetworkInterface> allInterfaces();
  // The ip() of every address entry of every interface that has IsUp.
  [[nodiscard]] static std::vector<HostAddress> allAddresses();

 private:
  explicit NetworkInterface(std::shared_ptr<const detail::NetworkInterfaceData> d) noexcept
      : d_(std::move(d)) {}

  std::shared_ptr<const detail::NetworkInterfaceData> d_;
};

// "(address = 10.0.0.1, netmask = 255.255.255.0, broadcast = 10.0.0.255)",
// leaving out what is Null, for logs and test messages.
std::ostream& operator<<(std::ostream& out, const NetworkAddressEntry& entry);
// "NetworkInterface(name = eth0, hardware address = ..., flags = IsUp ...,
// type = Ethernet, entries = ...)" or "NetworkInterface()" when invalid.
std::ostream& operator<<(std::ostream& out, const NetworkInterface& networkInterface);

}  // namespace tether
