#include "tether/network_datagram.h"

namespace tether {

namespace {

// Whether a received datagram's destination can be the source of the reply:
// only an IPv6 unicast address is surely one of ours. An IPv4 destination
// may be a broadcast address, and telling it apart needs every interface's
// broadcast address.
bool usableAsReplySource(const HostAddress& destination) {
  return destination.protocol() == NetworkLayerProtocol::IPv6Protocol && !destination.isMulticast();
}

}  // namespace

NetworkDatagram::NetworkDatagram(std::string data, const HostAddress& destinationAddress, std::uint16_t port)
    : data_(std::move(data)), destination_(destinationAddress), destinationPort_(port) {}

void NetworkDatagram::swap(NetworkDatagram& other) noexcept {
  using std::swap;
  swap(data_, other.data_);
  swap(sender_, other.sender_);
  swap(destination_, other.destination_);
  swap(senderPort_, other.senderPort_);
  swap(destinationPort_, other.destinationPort_);
  swap(hopLimit_, other.hopLimit_);
  swap(interfaceIndex_, other.interfaceIndex_);
}

void NetworkDatagram::clear() { *this = NetworkDatagram(); }

bool NetworkDatagram::isValid() const noexcept { return !sender_.isNull() || !destination_.isNull(); }

int NetworkDatagram::senderPort() const noexcept { return sender_.isNull() ? -1 : senderPort_; }

int NetworkDatagram::destinationPort() const noexcept { return destination_.isNull() ? -1 : destinationPort_; }

void NetworkDatagram::setSender(const HostAddress& address, std::uint16_t port) {
  sender_ = address;
  senderPort_ = port;
}

void NetworkDatagram::setDestination(const HostAddress& address, std::uint16_t port) {
  destination_ = address;
  destinationPort_ = port;
}

NetworkDatagram NetworkDatagram::makeReply(std::string payload) const& {
  NetworkDatagram reply(std::move(payload), sender_, senderPort_);
  reply.interfaceIndex_ = interfaceIndex_;
  if (usableAsReplySource(destination_)) reply.setSender(destination_, destinationPort_);
  return reply;
}

NetworkDatagram NetworkDatagram::makeReply(std::string payload) && {
  data_ = std::move(payload);
  hopLimit_ = -1;
  std::swap(sender_, destination_);
  std::swap(senderPort_, destinationPort_);
  if (!usableAsReplySource(sender_)) {
    sender_ = HostAddress();
    senderPort_ = 0;
  }
  return std::move(*this);
}

}  // namespace tether
