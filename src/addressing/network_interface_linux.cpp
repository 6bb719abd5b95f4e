// The Linux scan behind NetworkInterface: rtnetlink dumps of the links
// (RTM_GETLINK) and of their addresses (RTM_GETADDR), as Qt's Linux backend
// does, read on a socket of the calling thread's network namespace.
//
// Messages are copied out of the receive buffer with memcpy rather than
// through the NLMSG_*/RTA_* macros: no misaligned reads, no old-style casts,
// and every length is checked before it is used.
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/wireless.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <vector>

#include "addressing/network_interface_data.h"
#include "system/unique_fd.h"

namespace tether::detail {

namespace {

using Clock = NetworkAddressEntry::Clock;

// A dump interrupted by a concurrent change is taken again this many times
// before the last (possibly inconsistent) result is used.
constexpr int kDumpAttempts = 3;
// The kernel answers dumps at once; this only bounds a recv() that should
// never block.
constexpr int kReceiveTimeoutSeconds = 5;
constexpr std::size_t kInitialBufferSize = 32 * 1024;
// The lifetime the kernel reports for addresses that never expire.
constexpr std::uint32_t kInfiniteLifetime = 0xffffffff;

constexpr std::size_t align4(std::size_t size) { return (size + 3) & ~std::size_t{3}; }
constexpr std::size_t kMessageHeaderSize = align4(sizeof(nlmsghdr));
constexpr std::size_t kAttributeHeaderSize = align4(sizeof(rtattr));

template <typename T>
T readAs(const unsigned char* bytes) {
  T value;
  std::memcpy(&value, bytes, sizeof value);
  return value;
}

// Calls onAttribute(type, data, size) for each well-formed rtattr in the
// `size` bytes at `bytes`; stops at the first malformed one.
void forEachAttribute(
    const unsigned char* bytes, std::size_t size,
    const std::function<void(unsigned, const unsigned char*, std::size_t)>& onAttribute) {
  while (size >= kAttributeHeaderSize) {
    const auto header = readAs<rtattr>(bytes);
    if (header.rta_len < kAttributeHeaderSize || header.rta_len > size) return;
    onAttribute(header.rta_type, bytes + kAttributeHeaderSize,
                header.rta_len - kAttributeHeaderSize);
    const std::size_t step = align4(header.rta_len);
    if (step >= size) return;
    bytes += step;
    size -= step;
  }
}

enum class DumpResult { Complete, Interrupted, Failed };

// One NETLINK_ROUTE socket, created in the calling thread's network namespace.
class RouteNetlink {
 public:
  RouteNetlink() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {
    if (!fd_) return;
    const timeval timeout{kReceiveTimeoutSeconds, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }

  [[nodiscard]] bool isValid() const { return fd_.valid(); }

  // Sends a dump request of `requestType` whose payload is `body`, and calls
  // onMessage(payload, size) for every reply of `replyType`.
  DumpResult dump(std::uint16_t requestType, const std::vector<unsigned char>& body,
                  std::uint16_t replyType,
                  const std::function<void(const unsigned char*, std::size_t)>& onMessage) {
    const std::uint32_t seq = ++sequence_;
    if (!send(requestType, seq, body)) return DumpResult::Failed;
    bool interrupted = false;
    for (;;) {
      const std::ptrdiff_t received = receive();
      if (received < 0) return errno == ENOBUFS ? DumpResult::Interrupted : DumpResult::Failed;
      const unsigned char* bytes = buffer_.data();
      auto size = static_cast<std::size_t>(received);
      while (size >= kMessageHeaderSize) {
        const auto header = readAs<nlmsghdr>(bytes);
        if (header.nlmsg_len < kMessageHeaderSize || header.nlmsg_len > size) break;
        if (header.nlmsg_seq == seq) {
          if ((header.nlmsg_flags & NLM_F_DUMP_INTR) != 0) interrupted = true;
          if (header.nlmsg_type == NLMSG_DONE)
            return interrupted ? DumpResult::Interrupted : DumpResult::Complete;
          if (header.nlmsg_type == NLMSG_ERROR) return DumpResult::Failed;
          if (header.nlmsg_type == replyType)
            onMessage(bytes + kMessageHeaderSize, header.nlmsg_len - kMessageHeaderSize);
        }
        const std::size_t step = align4(header.nlmsg_len);
        if (step >= size) break;
        bytes += step;
        size -= step;
      }
    }
  }

 private:
  bool send(std::uint16_t type, std::uint32_t seq, const std::vector<unsigned char>& body) {
    nlmsghdr header{};
    header.nlmsg_len = static_cast<std::uint32_t>(kMessageHeaderSize + body.size());
    header.nlmsg_type = type;
    header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.nlmsg_seq = seq;
    const auto* head = reinterpret_cast<const unsigned char*>(&header);
    std::vector<unsigned char> request(head, head + sizeof header);
    request.resize(kMessageHeaderSize);
    request.insert(request.end(), body.begin(), body.end());
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
      const ssize_t sent = ::sendto(fd_.get(), request.data(), request.size(), 0,
                                    reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
      if (sent == static_cast<ssize_t>(request.size())) return true;
      if (sent < 0 && errno == EINTR) continue;
      return false;
    }
  }

  // Reads the next datagram from the kernel whole into buffer_ (growing it
  // first if the datagram is larger) and returns its size, or -1 with errno.
  std::ptrdiff_t receive() {
    if (buffer_.size() < kInitialBufferSize) buffer_.resize(kInitialBufferSize);
    for (;;) {
      const ssize_t pending =
          ::recv(fd_.get(), buffer_.data(), buffer_.size(), MSG_PEEK | MSG_TRUNC);
      if (pending < 0) {
        if (errno == EINTR) continue;
        return -1;
      }
      if (static_cast<std::size_t>(pending) > buffer_.size())
        buffer_.resize(static_cast<std::size_t>(pending));
      sockaddr_nl sender{};
      iovec vector{buffer_.data(), buffer_.size()};
      msghdr message{};
      message.msg_name = &sender;
      message.msg_namelen = sizeof sender;
      message.msg_iov = &vector;
      message.msg_iovlen = 1;
      const ssize_t received = ::recvmsg(fd_.get(), &message, 0);
      if (received < 0) {
        if (errno == EINTR) continue;
        return -1;
      }
      if (sender.nl_pid != 0) continue;  // only the kernel answers dumps
      return received;
    }
  }

  UniqueFd fd_;
  std::uint32_t sequence_ = 0;
  std::vector<unsigned char> buffer_;
};

// Qt's mapping of the kernel's interface flags.
NetworkInterface::InterfaceFlags convertFlags(unsigned kernelFlags) {
  NetworkInterface::InterfaceFlags flags = 0;
  if ((kernelFlags & IFF_UP) != 0) flags |= NetworkInterface::IsUp;
  if ((kernelFlags & IFF_RUNNING) != 0) flags |= NetworkInterface::IsRunning;
  if ((kernelFlags & IFF_BROADCAST) != 0) flags |= NetworkInterface::CanBroadcast;
  if ((kernelFlags & IFF_LOOPBACK) != 0) flags |= NetworkInterface::IsLoopBack;
  if ((kernelFlags & IFF_POINTOPOINT) != 0) flags |= NetworkInterface::IsPointToPoint;
  if ((kernelFlags & IFF_MULTICAST) != 0) flags |= NetworkInterface::CanMulticast;
  return flags;
}

// Classifies interfaces by hardware type as Qt's Linux backend does. An
// Ethernet-type interface that answers the wireless-extensions mode ioctl
// is Wi-Fi; the ioctl needs a socket of the caller's namespace, opened on
// first use.
class TypeProbe {
 public:
  NetworkInterface::InterfaceType classify(unsigned short hardwareType, const std::string& name) {
    switch (hardwareType) {
      case ARPHRD_LOOPBACK:
        return NetworkInterface::Loopback;
      case ARPHRD_ETHER:
        return isWireless(name) ? NetworkInterface::Wifi : NetworkInterface::Ethernet;
      case ARPHRD_SLIP:
      case ARPHRD_CSLIP:
      case ARPHRD_SLIP6:
      case ARPHRD_CSLIP6:
        return NetworkInterface::Slip;
      case ARPHRD_CAN:
        return NetworkInterface::CanBus;
      case ARPHRD_PPP:
        return NetworkInterface::Ppp;
      case ARPHRD_FDDI:
        return NetworkInterface::Fddi;
      case ARPHRD_IEEE80211:
      case ARPHRD_IEEE80211_PRISM:
      case ARPHRD_IEEE80211_RADIOTAP:
        return NetworkInterface::Wifi;
      case ARPHRD_IEEE802154:
        return NetworkInterface::Ieee802154;
      case ARPHRD_PHONET:
      case ARPHRD_PHONET_PIPE:
        return NetworkInterface::Phonet;
      case ARPHRD_6LOWPAN:
        return NetworkInterface::SixLoWPAN;
      case ARPHRD_TUNNEL:
      case ARPHRD_TUNNEL6:
      case ARPHRD_NONE:
      case ARPHRD_VOID:
        return NetworkInterface::Virtual;
      default:
        return NetworkInterface::Unknown;
    }
  }

 private:
  bool isWireless(const std::string& name) {
    if (name.size() >= IFNAMSIZ) return false;
    if (!socket_) socket_.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!socket_) return false;
    iwreq request{};
    std::memcpy(request.ifr_name, name.c_str(), name.size() + 1);
    return ::ioctl(socket_.get(), SIOCGIWMODE, &request) >= 0;
  }

  UniqueFd socket_;
};

std::vector<unsigned char> linkRequestBody() {
  const ifinfomsg info{};
  // Statistics are a large part of each link message and are not used.
  const std::uint32_t extMask = RTEXT_FILTER_SKIP_STATS;
  const rtattr attribute{static_cast<unsigned short>(kAttributeHeaderSize + sizeof extMask),
                         IFLA_EXT_MASK};
  std::vector<unsigned char> body(align4(sizeof info) + kAttributeHeaderSize + sizeof extMask);
  std::memcpy(body.data(), &info, sizeof info);
  std::memcpy(body.data() + align4(sizeof info), &attribute, sizeof attribute);
  std::memcpy(body.data() + align4(sizeof info) + kAttributeHeaderSize, &extMask, sizeof extMask);
  return body;
}

DumpResult dumpLinks(RouteNetlink& netlink, std::vector<NetworkInterfaceData>& out) {
  TypeProbe typeProbe;
  return netlink.dump(
      RTM_GETLINK, linkRequestBody(), RTM_NEWLINK,
      [&](const unsigned char* payload, std::size_t size) {
        if (size < sizeof(ifinfomsg)) return;
        const auto info = readAs<ifinfomsg>(payload);
        NetworkInterfaceData data;
        data.index = info.ifi_index;
        data.flags = convertFlags(info.ifi_flags);
        forEachAttribute(payload + align4(sizeof info), size - std::min(size, align4(sizeof info)),
                         [&](unsigned type, const unsigned char* value, std::size_t length) {
                           switch (type) {
                             case IFLA_ADDRESS:
                               data.hardwareAddress = formatHardwareAddress(value, length);
                               break;
                             case IFLA_IFNAME:
                               data.name.assign(
                                   reinterpret_cast<const char*>(value),
                                   ::strnlen(reinterpret_cast<const char*>(value), length));
                               break;
                             case IFLA_MTU:
                               if (length >= sizeof(std::uint32_t))
                                 data.mtu = static_cast<int>(readAs<std::uint32_t>(value));
                               break;
                             case IFLA_OPERSTATE:
                               // As in Qt 6: when the kernel knows the operational state, it
                               // decides IsRunning; IsUp stays the administrative state.
                               if (length >= 1 && value[0] != IF_OPER_UNKNOWN) {
                                 data.flags &= ~NetworkInterface::IsRunning;
                                 if (value[0] == IF_OPER_UP)
                                   data.flags |= NetworkInterface::IsRunning;
                               }
                               break;
                             default:
                               break;
                           }
                         });
        if (data.name.empty()) return;
        data.type = typeProbe.classify(info.ifi_type, data.name);
        out.push_back(std::move(data));
      });
}

NetworkAddressEntry::DnsEligibilityStatus dnsEligibility(const HostAddress& ip, bool ipv6,
                                                         std::uint32_t flags) {
  // IFA_F_TEMPORARY shares its bit with IFA_F_SECONDARY, which is what it
  // means on IPv4: an ordinary second address in a subnet.
  const bool temporary = ipv6 && (flags & IFA_F_TEMPORARY) != 0;
  const bool deprecated = (flags & IFA_F_DEPRECATED) != 0;
  if (temporary || deprecated || ip.isLoopback() || ip.isLinkLocal())
    return NetworkAddressEntry::DnsIneligible;
  return NetworkAddressEntry::DnsEligible;
}

DumpResult dumpAddresses(RouteNetlink& netlink, std::vector<NetworkInterfaceData>& interfaces) {
  std::unordered_map<int, NetworkInterfaceData*> byIndex;
  for (NetworkInterfaceData& data : interfaces) byIndex.emplace(data.index, &data);
  const Clock::time_point now = Clock::now();
  const ifaddrmsg request{};
  std::vector<unsigned char> body(align4(sizeof request));
  std::memcpy(body.data(), &request, sizeof request);

  return netlink.dump(
      RTM_GETADDR, body, RTM_NEWADDR, [&](const unsigned char* payload, std::size_t size) {
        if (size < sizeof(ifaddrmsg)) return;
        const auto info = readAs<ifaddrmsg>(payload);
        if (info.ifa_family != AF_INET && info.ifa_family != AF_INET6) return;
        const auto owner = byIndex.find(static_cast<int>(info.ifa_index));
        if (owner == byIndex.end()) return;  // the link appeared after the link dump
        NetworkInterfaceData& data = *owner->second;
        const bool ipv6 = info.ifa_family == AF_INET6;

        auto makeAddress = [&](const unsigned char* value, std::size_t length) {
          HostAddress address;
          if (!ipv6 && length == 4) {
            address.setAddress(static_cast<std::uint32_t>(value[0]) << 24 |
                               static_cast<std::uint32_t>(value[1]) << 16 |
                               static_cast<std::uint32_t>(value[2]) << 8 | value[3]);
          } else if (ipv6 && length == 16) {
            address.setAddress(value);
            if (address.isLinkLocal()) address.setScopeId(data.name);
          }
          return address;
        };
        auto deadline = [&](std::uint32_t seconds) {
          return seconds == kInfiniteLifetime ? NetworkAddressEntry::kForever
                                              : now + std::chrono::seconds(seconds);
        };

        NetworkAddressEntry entry;
        std::uint32_t flags = info.ifa_flags;  // IFA_FLAGS has all 32 bits, if present
        forEachAttribute(
            payload + align4(sizeof info), size - std::min(size, align4(sizeof info)),
            [&](unsigned type, const unsigned char* value, std::size_t length) {
              switch (type) {
                case IFA_ADDRESS:  // the peer on point-to-point links, else the local address
                  if (entry.ip().isNull()) entry.setIp(makeAddress(value, length));
                  break;
                case IFA_LOCAL:  // the local address, when it differs from IFA_ADDRESS
                  entry.setIp(makeAddress(value, length));
                  break;
                case IFA_BROADCAST:
                  entry.setBroadcast(makeAddress(value, length));
                  break;
                case IFA_CACHEINFO:
                  if (length >= sizeof(ifa_cacheinfo)) {
                    const auto cache = readAs<ifa_cacheinfo>(value);
                    entry.setAddressLifetime(deadline(cache.ifa_prefered),
                                             deadline(cache.ifa_valid));
                  }
                  break;
                case IFA_FLAGS:
                  if (length >= sizeof(std::uint32_t)) flags = readAs<std::uint32_t>(value);
                  break;
                default:
                  break;
              }
            });
        if (entry.ip().isNull()) return;
        entry.setDnsEligibility(dnsEligibility(entry.ip(), ipv6, flags));
        entry.setPrefixLength(info.ifa_prefixlen);
        data.addressEntries.push_back(std::move(entry));
      });
}

}  // namespace

std::vector<NetworkInterfaceData> scanNetworkInterfaces() {
  for (int attempt = 1;; ++attempt) {
    RouteNetlink netlink;
    if (!netlink.isValid()) return {};
    std::vector<NetworkInterfaceData> interfaces;
    const DumpResult links = dumpLinks(netlink, interfaces);
    if (links == DumpResult::Failed) return {};
    // If only the address dump fails, the links are reported without (all
    // of) their addresses.
    const DumpResult addresses = dumpAddresses(netlink, interfaces);
    const bool interrupted =
        links == DumpResult::Interrupted || addresses == DumpResult::Interrupted;
    if (!interrupted || attempt == kDumpAttempts) return interfaces;
  }
}

}  // namespace tether::detail
