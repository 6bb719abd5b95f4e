// NetworkDatagram: one UDP datagram with its metadata (Qt's QNetworkDatagram):
// the payload, the sender and destination addresses and ports, the hop limit
// (TTL) and the index of the network interface it arrived on or should leave
// by. UdpSocket::receiveDatagram() fills one in; UdpSocket::writeDatagram()
// sends one.
//
//   tether::NetworkDatagram in = socket.receiveDatagram();
//   socket.writeDatagram(std::move(in).makeReply("pong"));
//
// On reception (Linux): senderAddress()/senderPort() are the peer's;
// destinationAddress() is the address the datagram was sent to (a local
// address, or the broadcast or multicast address it was sent to);
// destinationPort() is the socket's port; hopLimit() is the TTL or hop limit
// it arrived with; interfaceIndex() is the interface it arrived on
// (NetworkInterface::index()). On a dual-stack socket (bound to
// HostAddress::Any) IPv4 peers are reported as plain IPv4 addresses.
//
// When sending: the destination says where it goes (Null: the peer of a
// connected socket); a sender address picks the local source address (it must
// be one of this host's); hopLimit() -1 and interfaceIndex() 0 leave the
// choice to the system.
//
// A plain value; any thread, no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "tether/host_address.h"

namespace tether {

class NetworkDatagram {
 public:
  // No payload, no addresses (not valid), hop limit -1, interface 0.
  NetworkDatagram() = default;
  // A datagram to send `data` to destinationAddress:port.
  explicit NetworkDatagram(std::string data, const HostAddress& destinationAddress = HostAddress(),
                           std::uint16_t port = 0);

  void swap(NetworkDatagram& other) noexcept;
  friend void swap(NetworkDatagram& a, NetworkDatagram& b) noexcept { a.swap(b); }

  // Back to the default-constructed value.
  void clear();

  // True when the datagram has a sender or a destination address. A valid
  // datagram may have an empty payload.
  [[nodiscard]] bool isValid() const noexcept;
  [[nodiscard]] bool isNull() const noexcept { return !isValid(); }

  // The interface index (NetworkInterface::index()); 0: unknown / let the
  // system choose.
  [[nodiscard]] unsigned interfaceIndex() const noexcept { return interfaceIndex_; }
  void setInterfaceIndex(unsigned index) noexcept { interfaceIndex_ = index; }

  [[nodiscard]] HostAddress senderAddress() const { return sender_; }
  [[nodiscard]] HostAddress destinationAddress() const { return destination_; }
  // -1 when the matching address is Null.
  [[nodiscard]] int senderPort() const noexcept;
  [[nodiscard]] int destinationPort() const noexcept;
  void setSender(const HostAddress& address, std::uint16_t port = 0);
  void setDestination(const HostAddress& address, std::uint16_t port);

  // The TTL (IPv4) or hop limit (IPv6): as received, or to send with (1..255;
  // -1: the system's default).
  [[nodiscard]] int hopLimit() const noexcept { return hopLimit_; }
  void setHopLimit(int count) noexcept { hopLimit_ = count; }

  [[nodiscard]] const std::string& data() const& noexcept { return data_; }
  // Moves the payload out of a datagram that is going away.
  [[nodiscard]] std::string data() && noexcept { return std::move(data_); }
  void setData(std::string data) { data_ = std::move(data); }

  // A datagram answering this one, carrying `payload`: its destination is
  // this datagram's sender; its interface index is this one's; its hop limit
  // is the default (-1); and its sender is this datagram's destination only
  // when that is an IPv6 unicast address — an IPv4 destination may have been
  // a broadcast address, which cannot be a source. The && overload reuses
  // this datagram's storage.
  [[nodiscard]] NetworkDatagram makeReply(std::string payload) const&;
  [[nodiscard]] NetworkDatagram makeReply(std::string payload) &&;

 private:
  std::string data_;
  HostAddress sender_;
  HostAddress destination_;
  std::uint16_t senderPort_ = 0;
  std::uint16_t destinationPort_ = 0;
  int hopLimit_ = -1;
  unsigned interfaceIndex_ = 0;
};

// --- batches (tether additions; see UdpSocket::readDatagrams() and
// UdpSocket::writeDatagrams())

// What UdpSocket::readDatagrams() fills in besides the payload (size and
// truncated). Asking for less spares the system work on every datagram:
// Payload asks for nothing else, Sender for the sender's address and port,
// All also for the destination address, hop limit and interface index. The
// fields not asked for keep their defaults (Null, 0, -1, 0).
enum class DatagramDetails { Payload, Sender, All };

// One slot of a batch receive: the caller's storage for one datagram, and
// what arrived in it.
struct DatagramBuffer {
  char* data = nullptr;             // in: where the payload goes
  std::int64_t capacity = 0;        // in: bytes available at data
  std::int64_t size = 0;            // out: payload bytes stored (at most capacity)
  bool truncated = false;           // out: the datagram was longer; the rest of it is lost
  HostAddress senderAddress;        // out
  std::uint16_t senderPort = 0;     // out
  HostAddress destinationAddress;   // out: Null when the system did not say
  int hopLimit = -1;                // out: -1 when the system did not say
  unsigned interfaceIndex = 0;      // out: 0 when the system did not say
};

// One datagram of a batch send: a view of its payload, which must stay valid
// during the call, and where it goes.
struct OutgoingDatagram {
  std::string_view data;
  HostAddress address;      // Null: the peer of a connected socket
  std::uint16_t port = 0;
};

}  // namespace tether
