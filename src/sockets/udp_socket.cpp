// UdpSocket over AbstractSocket's state machine. Binding, connecting,
// closing and the signal queue are AbstractSocket's; this file adds the
// datagram calls and Qt's readyRead rule for datagram sockets: after a
// readyRead, none follows until the application has read a datagram.
#include "tether/udp_socket.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <utility>
#include <vector>

#include "sockets/socket_private.h"
#include "system/deadline.h"

namespace tether {

namespace detail {

namespace {
constexpr const char* kNotBound = "The socket is not bound";
constexpr const char* kNoDatagram = "No datagram available for reading";
constexpr const char* kNotConnected = "Socket is not connected";
constexpr const char* kBusy = "The socket is connecting or closing";
constexpr const char* kNoDestination = "The datagram has no destination and the socket is not connected";
constexpr const char* kSendBufferFull = "Unable to send a datagram";
constexpr const char* kIPv4GroupOnIPv6Socket =
    "Cannot join an IPv4 multicast group on a socket bound to HostAddress::Any or an IPv6 address; "
    "bind to HostAddress::AnyIPv4";
}  // namespace

struct UdpSocketPrivate final : DatagramEvents {
  using Note = SocketPrivate::Note;
  using Header = SocketEngine::DatagramHeader;
  using Parts = SocketEngine::DatagramParts;
  enum class Pending { Yes, No, Failed };

  UdpSocketPrivate(UdpSocket* owner, SocketPrivate& socket) : q(owner), d(socket) { d.datagramEvents = this; }
  ~UdpSocketPrivate() { d.datagramEvents = nullptr; }
  UdpSocketPrivate(const UdpSocketPrivate&) = delete;
  UdpSocketPrivate& operator=(const UdpSocketPrivate&) = delete;

  bool usable() const {
    return d.engine && d.engine->isValid() &&
           (d.state == SocketState::BoundState || d.state == SocketState::ConnectedState);
  }

  // Whether a datagram waits. A network error the engine reports instead
  // (ICMP port unreachable on a connected socket) becomes error(), and, with
  // `announce`, errorOccurred from the loop.
  Pending pending(bool announce) {
    if (!usable()) return Pending::No;
    if (d.engine->hasPendingDatagrams()) return Pending::Yes;
    if (d.engine->wouldBlock()) return Pending::No;
    d.setError(d.engine->failure());
    if (announce) d.note(Note::ErrorOccurred, static_cast<std::int64_t>(d.error));
    return Pending::Failed;
  }

  // readyRead for waiting datagrams, unless one was emitted and nothing has
  // been read since (Qt's rule).
  void look() {
    if (d.hasPendingData) return;
    if (pending(true) == Pending::Yes) {
      d.hasPendingData = true;
      d.note(Note::ReadyRead);
    }
  }

  void datagramsReadable() override {
    if (d.engine) d.engine->datagramsReadable();
    look();
  }

  void resumeDatagrams() override {
    releasePostponed();
    look();
  }

  // bytesWritten of datagrams sent from inside a signal of this socket.
  void releasePostponed() {
    for (const std::int64_t n : postponedWritten) d.note(Note::BytesWritten, n);
    postponedWritten.clear();
  }

  // The application read: readyRead may follow, from the loop, if more waits.
  // Whether more waits is left to that look: asking now would read ahead of
  // an application that is about to read again itself (a batch loop), one
  // extra system call per batch.
  void afterRead() {
    d.hasPendingData = false;
    if (usable() && d.engine->mayHavePendingDatagrams()) scheduleLook();
  }

  void scheduleLook() {
    d.readPending = true;
    d.requestDeferred();
  }

  void noteWritten(std::int64_t n) {
    if (!q->bytesWritten.hasConnections()) return;
    if (d.flushing > 0) {
      // Sent from a slot of this socket: the signal waits for the next turn
      // of the loop, so that "send the next one on bytesWritten" cannot spin
      // inside one emission.
      postponedWritten.push_back(n);
      scheduleLook();
      return;
    }
    d.note(Note::BytesWritten, n);
  }

  bool requireUsable() {
    if (usable()) return true;
    d.setError(SocketError::OperationError, kNotBound);
    return false;
  }

  // Sending needs a socket: an unconnected one binds itself, dual stack if
  // the host has IPv6.
  bool readyToSend(const HostAddress& destination) {
    if (d.state == SocketState::UnconnectedState) {
      if (q->bind(HostAddress(HostAddress::Any), 0)) return true;
      return destination.protocol() == NetworkLayerProtocol::IPv4Protocol &&
             q->bind(HostAddress(HostAddress::AnyIPv4), 0);
    }
    if (!usable()) {
      d.setError(SocketError::OperationError, kBusy);
      return false;
    }
    if (destination.isNull() && d.state != SocketState::ConnectedState) {
      d.setError(SocketError::OperationError, kNoDestination);
      return false;
    }
    return true;
  }

  void sendFailed() {
    if (d.engine->wouldBlock()) d.setError(SocketError::TemporaryError, kSendBufferFull);
    else d.setError(d.engine->failure());
  }

  std::int64_t send(const char* data, std::int64_t size, const Header& header) {
    if (!readyToSend(header.destinationAddress)) return -1;
    const std::int64_t n = d.engine->writeDatagram(data, size, header);
    if (n < 0) {
      sendFailed();
      return -1;
    }
    noteWritten(n);
    return n;
  }

  std::int64_t receive(char* data, std::int64_t maxSize, Header* header, Parts parts) {
    if (!requireUsable()) return -1;
    switch (pending(false)) {
      case Pending::Yes:
        break;
      case Pending::No:
        d.setError(SocketError::TemporaryError, kNoDatagram);
        return -1;
      case Pending::Failed:
        return -1;
    }
    const std::int64_t n = d.engine->readDatagram(data, maxSize, header, parts);
    if (n < 0) {
      d.setError(d.engine->failure());
      return -1;
    }
    afterRead();
    return n;
  }

  bool changeMembership(bool join, const HostAddress& group, const NetworkInterface& iface) {
    if (d.state != SocketState::BoundState || !d.engine || !d.engine->isValid()) {
      d.setError(SocketError::OperationError, kNotBound);
      return false;
    }
    const NetworkLayerProtocol bound = d.engine->protocol();
    if (group.protocol() == NetworkLayerProtocol::IPv4Protocol &&
        (bound == NetworkLayerProtocol::IPv6Protocol || bound == NetworkLayerProtocol::AnyIPProtocol)) {
      d.setError(SocketError::UnsupportedSocketOperationError, kIPv4GroupOnIPv6Socket);
      return false;
    }
    const int index = iface.isValid() ? iface.index() : 0;
    const bool ok = join ? d.engine->joinMulticastGroup(group, index) : d.engine->leaveMulticastGroup(group, index);
    if (!ok) d.setError(d.engine->failure());
    return ok;
  }

  UdpSocket* q;
  SocketPrivate& d;
  std::vector<std::int64_t> postponedWritten;
};

}  // namespace detail

using detail::UdpSocketPrivate;
using Pending = UdpSocketPrivate::Pending;
using Header = UdpSocketPrivate::Header;
using Parts = UdpSocketPrivate::Parts;

UdpSocket::UdpSocket(Object* parent)
    : AbstractSocket(SocketType::UdpSocket, parent),
      u_(std::make_unique<UdpSocketPrivate>(this, detail::SocketPrivate::of(*this))) {}

UdpSocket::~UdpSocket() = default;

// ------------------------------------------------------------ multicast

bool UdpSocket::joinMulticastGroup(const HostAddress& groupAddress) {
  return u_->changeMembership(true, groupAddress, NetworkInterface());
}

bool UdpSocket::joinMulticastGroup(const HostAddress& groupAddress, const NetworkInterface& iface) {
  return u_->changeMembership(true, groupAddress, iface);
}

bool UdpSocket::leaveMulticastGroup(const HostAddress& groupAddress) {
  return u_->changeMembership(false, groupAddress, NetworkInterface());
}

bool UdpSocket::leaveMulticastGroup(const HostAddress& groupAddress, const NetworkInterface& iface) {
  return u_->changeMembership(false, groupAddress, iface);
}

NetworkInterface UdpSocket::multicastInterface() const {
  if (!u_->usable()) return NetworkInterface();
  HostAddress byAddress;
  const int index = u_->d.engine->multicastInterface(&byAddress);
  if (index > 0) return NetworkInterface::interfaceFromIndex(index);
  if (byAddress.isNull()) return NetworkInterface();
  for (const NetworkInterface& iface : NetworkInterface::allInterfaces())
    for (const NetworkAddressEntry& entry : iface.addressEntries())
      if (entry.ip() == byAddress) return iface;
  return NetworkInterface();
}

void UdpSocket::setMulticastInterface(const NetworkInterface& iface) {
  if (!u_->usable()) return;
  auto& d = u_->d;
  if (!d.engine->setMulticastInterface(iface.isValid() ? iface.index() : 0)) d.setError(d.engine->failure());
}

// ------------------------------------------------------------ receiving

bool UdpSocket::hasPendingDatagrams() const { return u_->pending(true) == Pending::Yes; }

std::int64_t UdpSocket::pendingDatagramSize() const {
  if (u_->pending(true) != Pending::Yes) return -1;
  return u_->d.engine->pendingDatagramSize();
}

std::int64_t UdpSocket::readDatagram(char* data, std::int64_t maxSize, HostAddress* address, std::uint16_t* port) {
  const bool wantsSender = address != nullptr || port != nullptr;
  Header header;
  const std::int64_t n = u_->receive(data, maxSize, wantsSender ? &header : nullptr,
                                     wantsSender ? Parts::Sender : Parts::Payload);
  if (n >= 0 && address) *address = std::move(header.senderAddress);
  if (n >= 0 && port) *port = header.senderPort;
  return n;
}

NetworkDatagram UdpSocket::receiveDatagram(std::int64_t maxSize) {
  auto& u = *u_;
  if (!u.requireUsable()) return NetworkDatagram();
  if (maxSize < 0) {
    switch (u.pending(false)) {
      case Pending::Yes:
        maxSize = u.d.engine->pendingDatagramSize();
        break;
      case Pending::No:
        u.d.setError(SocketError::TemporaryError, detail::kNoDatagram);
        return NetworkDatagram();
      case Pending::Failed:
        return NetworkDatagram();
    }
  }
  // No UDP datagram is larger: a huge maxSize costs no huge buffer.
  constexpr std::int64_t kLargestDatagram = 65536;
  std::string data(static_cast<std::size_t>(std::min(maxSize, kLargestDatagram)), '\0');
  Header header;
  const std::int64_t n = u.receive(data.data(), static_cast<std::int64_t>(data.size()), &header, Parts::All);
  if (n < 0) return NetworkDatagram();
  data.resize(static_cast<std::size_t>(n));
  NetworkDatagram datagram(std::move(data));
  datagram.setSender(header.senderAddress, header.senderPort);
  datagram.setDestination(header.destinationAddress, header.destinationPort);
  datagram.setHopLimit(header.hopLimit);
  datagram.setInterfaceIndex(header.interfaceIndex);
  return datagram;
}

// ------------------------------------------------------------ sending

std::int64_t UdpSocket::writeDatagram(const char* data, std::int64_t size, const HostAddress& address,
                                      std::uint16_t port) {
  if (size < 0) size = 0;
  Header header;
  header.destinationAddress = address;
  header.destinationPort = port;
  if (address.isNull()) {
    // Not a destination at all: refused before any automatic bind.
    u_->d.setError(SocketError::OperationError, detail::kNoDestination);
    return -1;
  }
  return u_->send(data, size, header);
}

std::int64_t UdpSocket::writeDatagram(std::string_view datagram, const HostAddress& host, std::uint16_t port) {
  return writeDatagram(datagram.data(), static_cast<std::int64_t>(datagram.size()), host, port);
}

std::int64_t UdpSocket::writeDatagram(const NetworkDatagram& datagram) {
  Header header;
  header.destinationAddress = datagram.destinationAddress();
  header.destinationPort = static_cast<std::uint16_t>(std::max(datagram.destinationPort(), 0));
  header.senderAddress = datagram.senderAddress();
  header.senderPort = static_cast<std::uint16_t>(std::max(datagram.senderPort(), 0));
  header.hopLimit = datagram.hopLimit();
  header.interfaceIndex = datagram.interfaceIndex();
  const std::string& data = datagram.data();
  return u_->send(data.data(), static_cast<std::int64_t>(data.size()), header);
}

// ------------------------------------------------------------ batches

std::int64_t UdpSocket::readDatagrams(std::span<DatagramBuffer> buffers, DatagramDetails details) {
  auto& u = *u_;
  if (!u.requireUsable()) return -1;
  if (buffers.empty()) return 0;
  const std::int64_t n = u.d.engine->readDatagrams(buffers.data(), buffers.size(), details);
  if (n < 0) {
    u.d.setError(u.d.engine->failure());
    return -1;
  }
  if (n > 0) u.afterRead();
  return n;
}

std::int64_t UdpSocket::writeDatagrams(std::span<const OutgoingDatagram> datagrams) {
  auto& u = *u_;
  if (datagrams.empty()) return 0;
  if (!u.readyToSend(datagrams.front().address)) return -1;
  const std::int64_t n = u.d.engine->writeDatagrams(datagrams.data(), datagrams.size());
  if (n < 0) {
    u.sendFailed();
    return -1;
  }
  std::int64_t bytes = 0;
  for (std::int64_t i = 0; i < n; ++i) bytes += static_cast<std::int64_t>(datagrams[static_cast<std::size_t>(i)].data.size());
  if (n > 0) u.noteWritten(bytes);
  return n;
}

std::int64_t UdpSocket::writeSegmented(std::string_view data, std::int64_t segmentSize, const HostAddress& address,
                                       std::uint16_t port) {
  auto& u = *u_;
  if (!u.readyToSend(address)) return -1;
  if (data.empty()) return 0;
  const std::int64_t n = u.d.engine->writeSegmented(data.data(), static_cast<std::int64_t>(data.size()), segmentSize,
                                                    address, port);
  if (n < 0) {
    u.sendFailed();
    return -1;
  }
  if (n > 0) u.noteWritten(n);
  return n;
}

bool UdpSocket::hasSegmentationOffload() const {
  const auto& d = u_->d;
  return d.engine && d.engine->isValid() && d.engine->hasSegmentationOffload();
}

// ------------------------------------------------------------ device

std::int64_t UdpSocket::bytesAvailable() const {
  std::int64_t available = IODevice::bytesAvailable();
  if (u_->pending(true) == Pending::Yes) available += u_->d.engine->pendingDatagramSize();
  return available;
}

std::int64_t UdpSocket::readData(char* data, std::int64_t maxSize) {
  auto& u = *u_;
  if (u.d.state != SocketState::ConnectedState || !u.usable()) return -1;
  switch (u.pending(false)) {
    case Pending::Yes:
      break;
    case Pending::No:
      return 0;
    case Pending::Failed:
      return -1;
  }
  const std::int64_t n = u.d.engine->readDatagram(data, maxSize, nullptr, Parts::Payload);
  if (n < 0) {
    u.d.setError(u.d.engine->failure());
    return -1;
  }
  u.afterRead();
  return n;
}

std::int64_t UdpSocket::writeData(const char* data, std::int64_t size) {
  auto& u = *u_;
  if (u.d.state != SocketState::ConnectedState || !u.usable()) {
    u.d.setError(SocketError::UnknownSocketError, detail::kNotConnected);
    return -1;
  }
  return u.send(data, size, Header());
}

bool UdpSocket::waitForReadyRead(int msecs) {
  assert(isOwnerThread());
  auto& u = *u_;
  auto& d = u.d;
  auto token = lifeToken();
  if (d.state == UnconnectedState) return false;
  const detail::Deadline deadline(msecs);
  if (d.state == HostLookupState || d.state == ConnectingState) {
    if (!waitForConnected(msecs) || token.expired()) return false;
  }
  u.releasePostponed();
  if (!d.flushNotes()) return false;
  while (u.usable()) {
    switch (u.pending(false)) {
      case Pending::Yes:
        if (!d.hasPendingData) {
          d.hasPendingData = true;
          d.note(detail::SocketPrivate::Note::ReadyRead);
        }
        return d.flushNotes();
      case Pending::Failed:
        d.note(detail::SocketPrivate::Note::ErrorOccurred, static_cast<std::int64_t>(d.error));
        d.flushNotes();
        return false;
      case Pending::No:
        break;
    }
    const int rc = d.engine->waitFor(true, false, deadline.remaining(), nullptr, nullptr);
    if (rc == 0) {
      d.timedOut();
      return false;
    }
    if (rc < 0) {
      d.setError(detail::mapSystemError(errno, detail::SocketCall::Other));
      return false;
    }
    d.engine->datagramsReadable();
  }
  return false;
}

}  // namespace tether
