// The datagram half of the native engine: how a UDP socket's datagrams move
// between the kernel and the application.
//
// Receiving. The kernel is asked with recvmmsg() for up to kSlots datagrams
// at once into a per-socket batch: one 64 KiB slot per datagram (the largest
// UDP payload fits, so nothing is ever cut short), with the sender and the
// packet information (destination, interface, hop limit) beside it.
// hasPendingDatagrams(), pendingDatagramSize() and readDatagram() are served
// from that batch; only when it is used up is the kernel asked again, and
// only if the last answer did not already say the queue was empty (a short
// batch or EAGAIN) — edge-triggered readiness (datagramsReadable()) says when
// to look again. No MSG_PEEK, no size query per datagram.
//
// Memory. The slots are one anonymous mapping, so a slot costs physical
// memory only for the pages a datagram actually touched: 16 small datagrams
// use 16 pages. The mapping is made on first use and given back once the
// socket has been idle (nothing received, batch empty) for kIdleRelease, and
// when the socket closes. A socket that never receives holds nothing.
//
// Batches for the caller: readBatch() first hands over what the batch holds,
// then lets recvmmsg() write straight into the caller's buffers;
// writeBatch() is one sendmmsg() per 64 datagrams; writeSegmented() uses UDP
// generic segmentation offload (a UDP_SEGMENT control message: one system
// call and one trip through the stack for up to 64 datagrams) where the
// kernel has it, and sendmmsg() where it has not or refuses.
//
// Owner thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "reactor/dispatcher.h"
#include "sockets/socket_engine.h"

namespace tether::detail {

// An IPv4 address used through a dual-stack socket: its v4-mapped form
// (::ffff:a.b.c.d). Anything else, or any address on an IPv4 socket, is
// returned unchanged.
HostAddress mappedForSocket(const HostAddress& address, NetworkLayerProtocol socketProtocol);
// The reverse: a v4-mapped address seen on an IPv6 or dual-stack socket as
// plain IPv4. Only ::ffff:0:0/96 is unmapped; "::" and "::1" stay IPv6.
HostAddress unmappedForSocket(const HostAddress& address, NetworkLayerProtocol socketProtocol);

class DatagramChannel {
 public:
  using Header = SocketEngine::DatagramHeader;
  using Parts = SocketEngine::DatagramParts;

  static constexpr std::size_t kSlots = 16;
  static constexpr std::size_t kSlotBytes = 64 * 1024;
  static constexpr std::chrono::milliseconds kIdleRelease{1000};

  DatagramChannel();
  ~DatagramChannel();
  DatagramChannel(const DatagramChannel&) = delete;
  DatagramChannel& operator=(const DatagramChannel&) = delete;

  // Takes up a new or adopted UDP socket: broadcasting allowed, packet
  // information and hop limits delivered with every datagram.
  void attach(int fd, NetworkLayerProtocol protocol);
  // The socket is closing: drops what was received and gives the memory back.
  void detach();
  bool attached() const { return fd_ >= 0; }
  // Where the idle-release timer runs (the socket's dispatcher).
  void setDispatcher(Dispatcher* dispatcher);

  void markReadable() { systemMayHaveMore_ = true; }
  // Whether a datagram (or an error) waits; receives ahead only when the
  // kernel cannot tell without receiving.
  bool hasPending();
  // Whether hasPending() could say yes (or report an error) without asking
  // the system anything but the socket's own queue: no system call.
  bool mayHavePending() const;
  std::int64_t pendingSize();
  std::int64_t read(char* data, std::int64_t maxSize, Header* header, Parts parts);
  std::int64_t readBatch(DatagramBuffer* buffers, std::size_t count, Parts parts);

  std::int64_t write(const char* data, std::int64_t size, const Header& header);
  std::int64_t writeBatch(const OutgoingDatagram* datagrams, std::size_t count);
  std::int64_t writeSegmented(const char* data, std::int64_t size, std::int64_t segmentSize,
                              const HostAddress& address, std::uint16_t port);
  bool hasSegmentationOffload() const;

  bool changeMembership(bool join, const HostAddress& group, int interfaceIndex);
  int multicastInterface(HostAddress* address) const;
  bool setMulticastInterface(int interfaceIndex);

  std::size_t memory() const;
  const SocketFailure& failure() const { return failure_; }
  bool wouldBlock() const { return wouldBlock_; }

 private:
  struct Batch;

  bool receiveBatch();
  // hasPending(), with the next datagram in the batch (read() and
  // pendingSize() need it there).
  bool ensureReceived();
  bool ensureBatch();
  void releaseBatch();
  void noteUse();
  void idleCheck();
  bool fail(int err);
  bool failWith(SocketError error, const char* text);
  // Fills the header parts of a received message.
  void describe(const msghdr& message, Header* header, Parts parts) const;
  // sockaddr for `address`:port as this socket needs it; 0 for Null.
  socklen_t destinationFor(const HostAddress& address, std::uint16_t port, sockaddr_storage* out) const;
  // Whether a datagram to `destination` (Null: the connected peer) goes out
  // on the IPv4 path (and so takes IPv4 control messages).
  bool ipv4Path(const HostAddress& destination) const;

  int fd_ = -1;
  NetworkLayerProtocol protocol_ = NetworkLayerProtocol::UnknownNetworkLayerProtocol;
  std::unique_ptr<Batch> batch_;
  bool systemMayHaveMore_ = false;
  bool usedSinceCheck_ = false;
  bool wouldBlock_ = false;
  bool hasDeferredFailure_ = false;  // consumed from the kernel, not yet reported
  SocketFailure deferredFailure_;
  SocketFailure failure_;
  int multicastIndex_ = 0;
  Dispatcher* dispatcher_ = nullptr;
  TimerRecord idleTimer_;
};

}  // namespace tether::detail
