// UdpSocket: a UDP socket (Qt's QUdpSocket).
//
//   tether::UdpSocket socket;
//   socket.bind(tether::HostAddress(tether::HostAddress::LocalHost), 7755);
//   socket.readyRead.connect([&] {
//     while (socket.hasPendingDatagrams()) {
//       tether::NetworkDatagram datagram = socket.receiveDatagram();
//       socket.writeDatagram(std::move(datagram).makeReply("ack"));
//     }
//   });
//
// Binding. bind() (inherited from AbstractSocket, same overloads as Qt) puts
// the socket in BoundState; from then on it receives. BindMode on Linux:
// ShareAddress lets other sockets bind the same address and port
// (SO_REUSEADDR; every one of them must ask for it); ReuseAddressHint lets
// this socket bind an address others share (also SO_REUSEADDR);
// DontShareAddress — and DefaultForPlatform, which means DontShareAddress +
// ReuseAddressHint — binds exclusively: nobody else can bind the address and
// port while this socket has it, whatever they pass. A socket that sends
// without binding first binds itself to HostAddress::Any (dual stack), port 0.
//
// Receiving. readyRead is emitted when datagrams arrive; it is not emitted
// again until the application has read one (readDatagram(), receiveDatagram(),
// readDatagrams(), or read() when connected) — then, if datagrams remain or
// more arrive, it follows on the next turn of the loop. A datagram read into
// too small a buffer gives its first bytes and the rest of it is discarded.
// Datagrams are taken from the system in batches (recvmmsg) into a per-socket
// buffer that is given back when the socket has been idle for a second; see
// src/sockets/native_datagram_engine.h.
//
// Sending. writeDatagram() sends one whole datagram at once or fails (-1,
// error() says why, e.g. DatagramTooLargeError); bytesWritten is emitted once
// per datagram, from the event loop. Broadcasting needs no option: every
// UDP socket may send to a broadcast address.
//
// Connected use. connectToHost() makes a "virtual connection": the socket
// then exchanges datagrams with that one peer through read() and write(),
// one datagram per call. Datagrams from other senders are not received. An
// ICMP "port unreachable" for the peer is reported as
// errorOccurred(ConnectionRefusedError) from the loop; the socket stays
// connected.
//
// Multicast. joinMulticastGroup()/leaveMulticastGroup() need BoundState. An
// IPv4 group needs a socket bound to an IPv4 address (HostAddress::AnyIPv4,
// not HostAddress::Any), as in Qt. MulticastTtlOption and
// MulticastLoopbackOption (setSocketOption) set the TTL and whether this host
// receives its own multicast; on a dual-stack socket they apply to both
// families. setMulticastInterface() picks the outgoing interface.
//
// As everywhere in tether: no signal is emitted from inside the call that
// caused it; a call that fails returns the failure (and sets error()) and
// emits nothing. waitForReadyRead() works without a running loop.
//
// Owner thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "tether/abstract_socket.h"
#include "tether/host_address.h"
#include "tether/network_datagram.h"
#include "tether/network_interface.h"

namespace tether {

namespace detail {
struct UdpSocketPrivate;
}

class UdpSocket : public AbstractSocket {
 public:
  explicit UdpSocket(Object* parent = nullptr);
  ~UdpSocket() override;

  using AbstractSocket::bind;

  // --- multicast (BoundState only; otherwise false with OperationError)
  // Joins on the interface the system picks for the group.
  bool joinMulticastGroup(const HostAddress& groupAddress);
  // Joins on `iface` (by its index; it needs no IPv4 address). An invalid
  // interface means the system's choice.
  bool joinMulticastGroup(const HostAddress& groupAddress, const NetworkInterface& iface);
  // Call with the arguments given to joinMulticastGroup().
  bool leaveMulticastGroup(const HostAddress& groupAddress);
  bool leaveMulticastGroup(const HostAddress& groupAddress, const NetworkInterface& iface);
  // The outgoing interface for multicast (IP_MULTICAST_IF/IPV6_MULTICAST_IF),
  // or an invalid interface if none was set or the socket is not bound.
  NetworkInterface multicastInterface() const;
  // Does nothing unless bound (or connected). An invalid interface restores
  // the system's choice.
  void setMulticastInterface(const NetworkInterface& iface);

  // --- receiving
  // True if at least one datagram is waiting.
  bool hasPendingDatagrams() const;
  // The size of the first waiting datagram, or -1 if there is none.
  std::int64_t pendingDatagramSize() const;
  // Reads the next datagram: at most maxSize bytes into data (the rest of the
  // datagram is lost; maxSize 0 discards it), the sender into *address and
  // *port when given. Returns the bytes stored, or -1: nothing waiting
  // (TemporaryError), not bound, or a reported network error.
  std::int64_t readDatagram(char* data, std::int64_t maxSize, HostAddress* address = nullptr,
                            std::uint16_t* port = nullptr);
  // The next datagram with its metadata (NetworkDatagram). maxSize -1: the
  // whole datagram; smaller: the rest is lost; 0: discarded. An invalid
  // NetworkDatagram when nothing is waiting.
  NetworkDatagram receiveDatagram(std::int64_t maxSize = -1);

  // --- sending
  // Sends one datagram to address:port; returns `size`, or -1 with error()
  // set (DatagramTooLargeError when it cannot go as one datagram).
  std::int64_t writeDatagram(const char* data, std::int64_t size, const HostAddress& address, std::uint16_t port);
  std::int64_t writeDatagram(std::string_view datagram, const HostAddress& host, std::uint16_t port);
  // Sends datagram.data() to its destination (Null: the connected peer),
  // from its sender address if set, with its hop limit and on its interface
  // if set.
  std::int64_t writeDatagram(const NetworkDatagram& datagram);

  // --- batches (tether additions)
  // Reads up to buffers.size() datagrams into the caller's storage with as
  // few system calls as possible (recvmmsg straight into the buffers).
  // Returns how many were read (0: none waiting), or -1 with error() set.
  // Counts as reading for readyRead. `details` says which of the sender and
  // destination fields to fill (all by default); asking for fewer is cheaper.
  std::int64_t readDatagrams(std::span<DatagramBuffer> buffers, DatagramDetails details = DatagramDetails::All);
  // Sends the datagrams in order, 64 per system call (sendmmsg). Returns how
  // many were sent — fewer when the system's buffer filled; send the rest
  // later — or -1 with error() set if none was. One bytesWritten with the
  // total follows.
  std::int64_t writeDatagrams(std::span<const OutgoingDatagram> datagrams);
  // Sends `data` cut into datagrams of segmentSize bytes (the last may be
  // shorter) to address:port (Null: the connected peer). Uses UDP
  // segmentation offload (one system call per 64 datagrams) where the kernel
  // has it and the path allows it, one datagram per slot of sendmmsg
  // otherwise. Returns the bytes sent (whole datagrams), or -1 with error()
  // set. One bytesWritten with the total follows.
  std::int64_t writeSegmented(std::string_view data, std::int64_t segmentSize, const HostAddress& address,
                              std::uint16_t port);
  // Whether writeSegmented() gets segmentation offload from this kernel (the
  // socket must exist; false before bind/connect/first send).
  bool hasSegmentationOffload() const;

  // --- device
  // Buffered bytes plus the size of the next datagram.
  std::int64_t bytesAvailable() const override;
  // Bound or connected: true once a datagram is waiting (at once if one is
  // already), emitting readyRead unless it was emitted and nothing has been
  // read since.
  bool waitForReadyRead(int msecs = 30000) override;

 protected:
  // Connected only: one datagram per call.
  std::int64_t readData(char* data, std::int64_t maxSize) override;
  std::int64_t writeData(const char* data, std::int64_t size) override;

 private:
  friend struct detail::UdpSocketPrivate;
  std::unique_ptr<detail::UdpSocketPrivate> u_;
};

}  // namespace tether
