// UdpSocket and NetworkDatagram against Qt's QUdpSocket/QNetworkDatagram
// behaviour: binding and bind modes, datagrams whole or cut short, readyRead
// that waits for the application to read, metadata (sender, destination, hop
// limit, interface), dual stack, connected ("virtual connection") use,
// multicast and broadcast on loopback and across real hosts (network
// namespaces joined by veth pairs and a bridge), and the batch API
// (recvmmsg/sendmmsg/segmentation offload).
//
// Every signal is delivered by the event loop (or, in blocking use, by
// waitForReadyRead()), never from inside the call that caused it; the tests
// check that too. Nothing here broadcasts or multicasts out of the machine's
// real interfaces: on loopback the broadcast address is 127.255.255.255 and
// the multicast interface is "lo" (with TTL 0); everything else happens
// inside private namespaces.
#include "tether/udp_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sockets/native_datagram_engine.h"
#include "sockets/socket_private.h"
#include "support/netns.h"
#include "support/test_support.h"
#include "tether/event_loop.h"
#include "tether/network_datagram.h"
#include "tether/network_interface.h"

using namespace tether;
using S = SocketState;
using test::Namespace;

namespace {

const HostAddress kLocalHost(HostAddress::LocalHost);
const HostAddress kLocalHostIPv6(HostAddress::LocalHostIPv6);
const HostAddress kAnyIPv4(HostAddress::AnyIPv4);
const HostAddress kAnyIPv6(HostAddress::AnyIPv6);
const HostAddress kAny(HostAddress::Any);
const HostAddress kLoopbackBroadcast("127.255.255.255");

// prefix followed by n in decimal. (Not "text" + std::to_string(n): GCC 12
// at -O3 reports a false -Wrestrict for that.)
std::string numbered(const char* prefix, int n) {
  std::string text(prefix);
  text += std::to_string(n);
  return text;
}

std::string st(S s) { return numbered("state:", static_cast<int>(s)); }
std::string err(SocketError e) { return numbered("error:", static_cast<int>(e)); }

// Every signal of a socket, in order; readyRead and bytesWritten counted.
struct Recorder {
  std::vector<std::string> events;
  std::vector<std::int64_t> written;
  int readyReads = 0;

  explicit Recorder(AbstractSocket& s) {
    s.stateChanged.connect([this](SocketState state) { events.push_back(st(state)); });
    s.hostFound.connect([this] { events.emplace_back("hostFound"); });
    s.connected.connect([this] { events.emplace_back("connected"); });
    s.disconnected.connect([this] { events.emplace_back("disconnected"); });
    s.readChannelFinished.connect([this] { events.emplace_back("readChannelFinished"); });
    s.errorOccurred.connect([this](SocketError e) { events.push_back(err(e)); });
    s.bytesWritten.connect([this](std::int64_t n) { written.push_back(n); });
    s.readyRead.connect([this] { ++readyReads; });
  }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;
};

using Events = std::vector<std::string>;

// Runs the loop until a datagram waits at `socket`.
bool arrives(UdpSocket& socket, int timeoutMs = 5000) {
  return test::runUntil([&] { return socket.hasPendingDatagrams(); }, timeoutMs);
}

// Reads the next datagram whole.
std::string take(UdpSocket& socket, HostAddress* sender = nullptr, std::uint16_t* port = nullptr) {
  std::string data(static_cast<std::size_t>(std::max<std::int64_t>(socket.pendingDatagramSize(), 0)), '\0');
  const std::int64_t n = socket.readDatagram(data.data(), static_cast<std::int64_t>(data.size()), sender, port);
  EXPECT_EQ(n, static_cast<std::int64_t>(data.size()));
  return data;
}

// Deterministic bytes, so that a reordered or shortened datagram cannot pass.
std::string pattern(std::size_t size, unsigned seed) {
  std::string out(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (char& c : out) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

int readIntFile(const char* path) {
  std::ifstream in(path);
  int value = -1;
  in >> value;
  return value;
}

int loopbackIndex() { return NetworkInterface::interfaceIndexFromName("lo"); }


// A bound receiver on loopback and a sender.
struct Pair {
  UdpSocket receiver;
  UdpSocket sender;
  bool open(const HostAddress& address = kLocalHost) {
    return receiver.bind(address, 0) && sender.bind(address, 0);
  }
  std::int64_t send(std::string_view data, const HostAddress& to = kLocalHost) {
    return sender.writeDatagram(data, to, receiver.localPort());
  }
};

}  // namespace

// ------------------------------------------------------------ NetworkDatagram

TEST(NetworkDatagram, DefaultIsInvalidWithQtsDefaults) {
  NetworkDatagram d;
  EXPECT_FALSE(d.isValid());
  EXPECT_TRUE(d.isNull());
  EXPECT_EQ(d.data(), "");
  EXPECT_TRUE(d.senderAddress().isNull());
  EXPECT_TRUE(d.destinationAddress().isNull());
  EXPECT_EQ(d.senderPort(), -1);
  EXPECT_EQ(d.destinationPort(), -1);
  EXPECT_EQ(d.hopLimit(), -1);
  EXPECT_EQ(d.interfaceIndex(), 0u);
}

TEST(NetworkDatagram, ConstructorSetsPayloadAndDestination) {
  NetworkDatagram d("hello", kLocalHost, 4242);
  EXPECT_TRUE(d.isValid());
  EXPECT_EQ(d.data(), "hello");
  EXPECT_EQ(d.destinationAddress(), kLocalHost);
  EXPECT_EQ(d.destinationPort(), 4242);
  EXPECT_EQ(d.senderPort(), -1) << "no sender address: no port";
  NetworkDatagram payloadOnly("x");
  EXPECT_FALSE(payloadOnly.isValid()) << "a payload alone is not a valid datagram";
  EXPECT_EQ(payloadOnly.destinationPort(), -1);
}

TEST(NetworkDatagram, SettersAndClear) {
  NetworkDatagram d;
  d.setData(std::string("a\0b", 3));
  d.setSender(kLocalHostIPv6, 7);
  d.setDestination(kLocalHost, 8);
  d.setHopLimit(12);
  d.setInterfaceIndex(3);
  EXPECT_EQ(d.data(), std::string("a\0b", 3));
  EXPECT_EQ(d.senderAddress(), kLocalHostIPv6);
  EXPECT_EQ(d.senderPort(), 7);
  EXPECT_EQ(d.destinationPort(), 8);
  EXPECT_EQ(d.hopLimit(), 12);
  EXPECT_EQ(d.interfaceIndex(), 3u);
  NetworkDatagram other("z", kLocalHost, 1);
  swap(d, other);
  EXPECT_EQ(d.data(), "z");
  EXPECT_EQ(other.hopLimit(), 12);
  other.clear();
  EXPECT_FALSE(other.isValid());
  EXPECT_EQ(other.data(), "");
  EXPECT_EQ(other.hopLimit(), -1);
  EXPECT_EQ(other.interfaceIndex(), 0u);
  d.setSender(kLocalHost);
  EXPECT_EQ(d.senderPort(), 0) << "setSender's port defaults to 0";
}

TEST(NetworkDatagram, MakeReplySwapsEndsAndKeepsTheInterface) {
  NetworkDatagram in("ping");
  in.setSender(HostAddress("fd00::2"), 5000);
  in.setDestination(HostAddress("fd00::1"), 6000);
  in.setHopLimit(60);
  in.setInterfaceIndex(4);
  for (NetworkDatagram reply : {in.makeReply("pong"), NetworkDatagram(in).makeReply("pong")}) {
    EXPECT_EQ(reply.data(), "pong");
    EXPECT_EQ(reply.destinationAddress(), HostAddress("fd00::2"));
    EXPECT_EQ(reply.destinationPort(), 5000);
    EXPECT_EQ(reply.senderAddress(), HostAddress("fd00::1")) << "an IPv6 unicast destination is our address";
    EXPECT_EQ(reply.senderPort(), 6000);
    EXPECT_EQ(reply.hopLimit(), -1);
    EXPECT_EQ(reply.interfaceIndex(), 4u);
  }
  // std::move(x).makeReply reuses x.
  NetworkDatagram moved = std::move(in).makeReply("pong");
  EXPECT_EQ(moved.destinationAddress(), HostAddress("fd00::2"));
  EXPECT_EQ(moved.senderAddress(), HostAddress("fd00::1"));
  EXPECT_EQ(moved.hopLimit(), -1);
}

TEST(NetworkDatagram, MakeReplyDoesNotSendFromAGroupOrAnIPv4Destination) {
  for (const char* destination : {"ff12::1", "239.1.2.3", "10.0.0.255", "10.0.0.1"}) {
    SCOPED_TRACE(destination);
    NetworkDatagram in("ping");
    in.setSender(HostAddress("10.0.0.2"), 5000);
    in.setDestination(HostAddress(destination), 6000);
    NetworkDatagram reply = in.makeReply("pong");
    EXPECT_TRUE(reply.senderAddress().isNull());
    EXPECT_EQ(reply.senderPort(), -1);
    EXPECT_EQ(reply.destinationAddress(), HostAddress("10.0.0.2"));
    NetworkDatagram moved = std::move(in).makeReply("pong");
    EXPECT_TRUE(moved.senderAddress().isNull());
    EXPECT_EQ(moved.destinationPort(), 5000);
  }
}

// ------------------------------------------------------------ binding

TEST(UdpSocket, InitialStateIsQts) {
  test::DescriptorLeakCheck leaks;
  UdpSocket socket;
  EXPECT_EQ(socket.socketType(), SocketType::UdpSocket);
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.error(), SocketError::UnknownSocketError);
  EXPECT_EQ(socket.errorString(), "Unknown error");
  EXPECT_TRUE(socket.isSequential());
  EXPECT_FALSE(socket.isOpen());
  EXPECT_FALSE(socket.isValid());
  EXPECT_EQ(socket.socketDescriptor(), -1);
  EXPECT_EQ(socket.bytesAvailable(), 0);
  EXPECT_FALSE(socket.canReadLine());
  EXPECT_FALSE(socket.hasPendingDatagrams());
  EXPECT_EQ(socket.pendingDatagramSize(), -1);
  EXPECT_FALSE(socket.multicastInterface().isValid());
}

TEST(UdpSocket, BindEntersBoundStateWithTheSignalFromTheLoop) {
  test::DescriptorLeakCheck leaks;
  UdpSocket socket;
  Recorder rec(socket);
  ASSERT_TRUE(socket.bind(kLocalHost, 0));
  EXPECT_EQ(socket.state(), S::BoundState);
  EXPECT_TRUE(rec.events.empty()) << "no signal from inside bind()";
  EXPECT_NE(socket.localPort(), 0);
  EXPECT_EQ(socket.localAddress(), kLocalHost);
  EXPECT_TRUE(socket.isValid());
  EXPECT_FALSE(socket.isOpen()) << "as in Qt, binding does not open the device";
  test::runFor(10);
  EXPECT_EQ(rec.events, Events{st(S::BoundState)});
}

TEST(UdpSocket, BindWithASpecialAddressBindsThatAddress) {
  test::DescriptorLeakCheck leaks;
  UdpSocket socket;
  ASSERT_TRUE(socket.bind(HostAddress::LocalHost, 0));
  EXPECT_EQ(socket.localAddress(), kLocalHost);
  EXPECT_NE(socket.localPort(), 0);
}

TEST(UdpSocket, BindToAPortAloneIsDualStack) {
  test::DescriptorLeakCheck leaks;
  UdpSocket socket;
  ASSERT_TRUE(socket.bind(0));
  EXPECT_EQ(socket.localAddress(), kAny);
  UdpSocket v4;
  UdpSocket v6;
  ASSERT_EQ(v4.writeDatagram("four", kLocalHost, socket.localPort()), 4);
  ASSERT_EQ(v6.writeDatagram("six", kLocalHostIPv6, socket.localPort()), 3);
  std::vector<std::string> got;
  ASSERT_TRUE(test::runUntil([&] {
    while (socket.hasPendingDatagrams()) got.push_back(take(socket));
    return got.size() == 2;
  }));
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"four", "six"}));
}

TEST(UdpSocket, BindOnABoundSocketFails) {
  test::DescriptorLeakCheck leaks;
  UdpSocket socket;
  ASSERT_TRUE(socket.bind(kLocalHost, 0));
  const std::uint16_t port = socket.localPort();
  EXPECT_FALSE(socket.bind(kLocalHost, 0));
  EXPECT_EQ(socket.error(), SocketError::UnsupportedSocketOperationError);
  EXPECT_EQ(socket.state(), S::BoundState);
  EXPECT_EQ(socket.localPort(), port);
}

TEST(UdpSocket, FailedBindReturnsTheErrorEmitsNothingAndKeepsNoDescriptor) {
  test::DescriptorLeakCheck leaks;
  UdpSocket holder;
  ASSERT_TRUE(holder.bind(kLocalHost, 0));
  UdpSocket socket;
  Recorder rec(socket);
  EXPECT_FALSE(socket.bind(kLocalHost, holder.localPort()));
  EXPECT_EQ(socket.error(), SocketError::AddressInUseError);
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.socketDescriptor(), -1);
  test::runFor(10);
  EXPECT_TRUE(rec.events.empty());
  EXPECT_FALSE(socket.bind(HostAddress("192.0.2.250"), 0)) << "not an address of this host";
  EXPECT_EQ(socket.error(), SocketError::SocketAddressNotAvailableError);
}

TEST(UdpSocket, DefaultBindIsExclusive) {
  test::DescriptorLeakCheck leaks;
  UdpSocket first;
  ASSERT_TRUE(first.bind(kLocalHost, 0));
  for (BindMode mode : {BindMode{DefaultForPlatform}, BindMode{ReuseAddressHint}, BindMode{ShareAddress},
                        BindMode{ShareAddress | ReuseAddressHint}}) {
    SCOPED_TRACE(mode);
    UdpSocket second;
    EXPECT_FALSE(second.bind(kLocalHost, first.localPort(), mode));
    EXPECT_EQ(second.error(), SocketError::AddressInUseError);
  }
}

TEST(UdpSocket, ShareAddressLetsSharingSocketsBindTheSamePort) {
  test::DescriptorLeakCheck leaks;
  UdpSocket first;
  ASSERT_TRUE(first.bind(kAnyIPv4, 0, ShareAddress));
  const std::uint16_t port = first.localPort();
  UdpSocket plain;
  EXPECT_FALSE(plain.bind(kAnyIPv4, port)) << "the default does not share";
  EXPECT_EQ(plain.error(), SocketError::AddressInUseError);
  UdpSocket sharing;
  EXPECT_TRUE(sharing.bind(kAnyIPv4, port, ShareAddress)) << sharing.errorString();
  UdpSocket rebinding;
  EXPECT_TRUE(rebinding.bind(kAnyIPv4, port, ReuseAddressHint)) << rebinding.errorString();
  EXPECT_EQ(sharing.localPort(), port);
  EXPECT_EQ(rebinding.localPort(), port);

  // A broadcast reaches every socket on the shared port.
  UdpSocket sender;
  ASSERT_EQ(sender.writeDatagram("all", kLoopbackBroadcast, port), 3);
  for (UdpSocket* s : {&first, &sharing, &rebinding}) {
    ASSERT_TRUE(arrives(*s));
    EXPECT_EQ(take(*s), "all");
  }
}

TEST(UdpSocket, DontShareAddressStaysExclusiveEvenAgainstReuseAddressHint) {
  test::DescriptorLeakCheck leaks;
  for (BindMode exclusive : {BindMode{DontShareAddress}, BindMode{DontShareAddress | ReuseAddressHint}}) {
    SCOPED_TRACE(exclusive);
    UdpSocket first;
    ASSERT_TRUE(first.bind(kLocalHost, 0, exclusive));
    UdpSocket second;
    EXPECT_FALSE(second.bind(kLocalHost, first.localPort(), ShareAddress | ReuseAddressHint));
    EXPECT_EQ(second.error(), SocketError::AddressInUseError);
  }
  // Nor does an exclusive binding join a shared one.
  UdpSocket shared;
  ASSERT_TRUE(shared.bind(kLocalHost, 0, ShareAddress));
  UdpSocket exclusive;
  EXPECT_FALSE(exclusive.bind(kLocalHost, shared.localPort(), DontShareAddress | ReuseAddressHint));
}

// ------------------------------------------------------------ sending and receiving

TEST(UdpSocket, WriteDatagramDeliversTheBytesAndTheSender) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  const std::string payload("A\0B\xff", 4);
  EXPECT_EQ(p.send(payload), 4);
  ASSERT_TRUE(arrives(p.receiver));
  HostAddress sender;
  std::uint16_t port = 0;
  char buffer[64];
  EXPECT_EQ(p.receiver.readDatagram(buffer, sizeof buffer, &sender, &port), 4);
  EXPECT_EQ(std::string(buffer, 4), payload);
  EXPECT_EQ(sender, kLocalHost);
  EXPECT_EQ(port, p.sender.localPort());
  EXPECT_FALSE(p.receiver.hasPendingDatagrams());
}

TEST(UdpSocket, AnUnboundSocketBindsItselfOnItsFirstDatagram) {
  test::DescriptorLeakCheck leaks;
  UdpSocket server;
  ASSERT_TRUE(server.bind(kLocalHost, 0));
  UdpSocket client;
  Recorder rec(client);
  ASSERT_EQ(client.writeDatagram("hello", kLocalHost, server.localPort()), 5);
  EXPECT_EQ(client.state(), S::BoundState);
  EXPECT_EQ(client.localAddress(), kAny);
  EXPECT_NE(client.localPort(), 0);
  EXPECT_TRUE(rec.events.empty()) << "no signal from inside writeDatagram()";
  ASSERT_TRUE(arrives(server));
  std::uint16_t from = 0;
  EXPECT_EQ(take(server, nullptr, &from), "hello");
  EXPECT_EQ(from, client.localPort());
  EXPECT_EQ(rec.events, Events{st(S::BoundState)});
  // It receives the answer on the port it bound.
  ASSERT_EQ(server.writeDatagram("world", kLocalHost, from), 5);
  ASSERT_TRUE(arrives(client));
  EXPECT_EQ(take(client), "world");
}

TEST(UdpSocket, BytesWrittenFollowsOncePerDatagramFromTheLoop) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  Recorder rec(p.sender);
  EXPECT_EQ(p.send("hello"), 5);
  EXPECT_EQ(p.send(""), 0);
  EXPECT_EQ(p.send("goodbye"), 7);
  EXPECT_TRUE(rec.written.empty()) << "no signal from inside writeDatagram()";
  ASSERT_TRUE(test::runUntil([&] { return rec.written.size() == 3; }));
  test::runFor(10);
  EXPECT_EQ(rec.written, (std::vector<std::int64_t>{5, 0, 7}));
}

TEST(UdpSocket, SendingOnBytesWrittenDoesNotStallTheLoop) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  int sent = 0;
  p.sender.bytesWritten.connect([&](std::int64_t) {
    if (sent < 20) sent += p.send("next") == 4 ? 1 : 0;
  });
  ASSERT_EQ(p.send("first"), 5);
  int received = 0;
  p.receiver.readyRead.connect([&] {
    while (p.receiver.hasPendingDatagrams()) {
      take(p.receiver);
      ++received;
    }
  });
  ASSERT_TRUE(test::runUntil([&] { return received == 21; }));
  EXPECT_EQ(sent, 20);
}

TEST(UdpSocket, ATooLargeDatagramFailsWithDatagramTooLargeErrorAndNoSignal) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  test::runFor(10);  // the bind's stateChanged
  Recorder rec(p.sender);
  const std::string big(70000, 'x');
  EXPECT_EQ(p.sender.writeDatagram(big, kLocalHost, p.receiver.localPort()), -1);
  EXPECT_EQ(p.sender.error(), SocketError::DatagramTooLargeError);
  EXPECT_EQ(p.sender.errorString(), "Datagram was too large to send");
  EXPECT_EQ(p.sender.state(), S::BoundState);
  test::runFor(20);
  EXPECT_TRUE(rec.written.empty());
  EXPECT_TRUE(rec.events.empty()) << "a failed call emits nothing";
  EXPECT_FALSE(p.receiver.hasPendingDatagrams());
  // The socket still works.
  EXPECT_EQ(p.send("fine"), 4);
  ASSERT_TRUE(arrives(p.receiver));
  EXPECT_EQ(take(p.receiver), "fine");
}

TEST(UdpSocket, TheLargestIPv4DatagramArrivesWhole) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  const std::string payload = pattern(65507, 1);
  ASSERT_EQ(p.send(payload), 65507);
  ASSERT_TRUE(arrives(p.receiver));
  EXPECT_EQ(p.receiver.pendingDatagramSize(), 65507);
  EXPECT_EQ(p.receiver.receiveDatagram().data(), payload);
}

TEST(UdpSocket, PendingDatagramSizeFollowsTheQueueAndIsMinusOneWhenEmpty) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  EXPECT_EQ(p.receiver.pendingDatagramSize(), -1);
  EXPECT_EQ(p.send("this is"), 7);
  EXPECT_EQ(p.sender.writeDatagram(nullptr, 0, kLocalHost, p.receiver.localPort()), 0);
  EXPECT_EQ(p.send("3 messages"), 10);
  ASSERT_TRUE(test::runUntil([&] { return p.receiver.pendingDatagramSize() == 7; }));
  char c = 0;
  EXPECT_EQ(p.receiver.readDatagram(&c, 1), 1);
  EXPECT_EQ(c, 't');
  ASSERT_TRUE(arrives(p.receiver));
  EXPECT_EQ(p.receiver.pendingDatagramSize(), 0);
  c = '\0';
  EXPECT_EQ(p.receiver.readDatagram(&c, 1), 0);
  EXPECT_EQ(c, '\0') << "untouched";
  ASSERT_TRUE(arrives(p.receiver));
  EXPECT_EQ(p.receiver.pendingDatagramSize(), 10);
  EXPECT_EQ(p.receiver.bytesAvailable(), 10);
  EXPECT_EQ(p.receiver.readDatagram(&c, 1), 1);
  EXPECT_EQ(c, '3');
  EXPECT_EQ(p.receiver.pendingDatagramSize(), -1);
  EXPECT_FALSE(p.receiver.hasPendingDatagrams());
  EXPECT_EQ(p.receiver.bytesAvailable(), 0);
}

TEST(UdpSocket, AShortBufferGetsTheStartAndTheRestOfThatDatagramIsDiscarded) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  ASSERT_EQ(p.send("hello"), 5);
  ASSERT_EQ(p.send("second!"), 7);
  ASSERT_TRUE(arrives(p.receiver));
  char buffer[3];
  HostAddress sender;
  EXPECT_EQ(p.receiver.readDatagram(buffer, 3, &sender), 3);
  EXPECT_EQ(std::string(buffer, 3), "hel");
  EXPECT_EQ(sender, kLocalHost);
  ASSERT_TRUE(arrives(p.receiver));
  EXPECT_EQ(p.receiver.pendingDatagramSize(), 7) << "the next datagram is whole; nothing of the first is left";
  EXPECT_EQ(take(p.receiver), "second!");
}

TEST(UdpSocket, MaxSizeZeroDiscardsTheDatagram) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  ASSERT_EQ(p.send("dropped"), 7);
  ASSERT_EQ(p.send("kept"), 4);
  ASSERT_TRUE(arrives(p.receiver));
  std::uint16_t port = 0;
  EXPECT_EQ(p.receiver.readDatagram(nullptr, 0, nullptr, &port), 0);
  EXPECT_EQ(port, p.sender.localPort()) << "the sender is still reported";
  ASSERT_TRUE(arrives(p.receiver));
  EXPECT_EQ(take(p.receiver), "kept");
}

TEST(UdpSocket, ReadingWithNothingWaitingFailsWithTemporaryError) {
  test::DescriptorLeakCheck leaks;
  UdpSocket socket;
  Recorder rec(socket);
  ASSERT_TRUE(socket.bind(kLocalHost, 0));
  char c = 'x';
  EXPECT_EQ(socket.readDatagram(&c, 1), -1);
  EXPECT_EQ(socket.error(), SocketError::TemporaryError);
  EXPECT_EQ(socket.errorString(), "No datagram available for reading");
  EXPECT_EQ(c, 'x');
  const NetworkDatagram none = socket.receiveDatagram();
  EXPECT_FALSE(none.isValid());
  EXPECT_EQ(none.data(), "");
  test::runFor(10);
  EXPECT_EQ(rec.events, Events{st(S::BoundState)}) << "no errorOccurred for a failed call";
}

TEST(UdpSocket, DatagramCallsOnAnUnboundSocketFail) {
  test::DescriptorLeakCheck leaks;
  UdpSocket socket;
  char c = 0;
  EXPECT_EQ(socket.readDatagram(&c, 1), -1);
  EXPECT_EQ(socket.error(), SocketError::OperationError);
  EXPECT_FALSE(socket.receiveDatagram().isValid());
  EXPECT_FALSE(socket.hasPendingDatagrams());
  EXPECT_EQ(socket.pendingDatagramSize(), -1);
  DatagramBuffer slot;
  EXPECT_EQ(socket.readDatagrams(std::span<DatagramBuffer>(&slot, 1)), -1);
  EXPECT_EQ(socket.writeDatagram("x", HostAddress(), 1), -1) << "a Null destination";
  EXPECT_EQ(socket.error(), SocketError::OperationError);
  EXPECT_EQ(socket.state(), S::UnconnectedState) << "refused before binding itself";
  EXPECT_EQ(socket.write("x"), -1) << "not open";
}

TEST(UdpSocket, AZeroLengthDatagramIsADatagram) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  Recorder rec(p.receiver);
  ASSERT_EQ(p.sender.writeDatagram(NetworkDatagram(std::string(), kLocalHost, p.receiver.localPort())), 0);
  ASSERT_TRUE(test::runUntil([&] { return rec.readyReads == 1; }));
  EXPECT_TRUE(p.receiver.hasPendingDatagrams());
  EXPECT_EQ(p.receiver.pendingDatagramSize(), 0);
  char c = 0;
  EXPECT_EQ(p.receiver.readDatagram(&c, 1), 0);
  EXPECT_FALSE(p.receiver.hasPendingDatagrams());
}

// ------------------------------------------------------------ readyRead

TEST(UdpSocket, ReadyReadIsNotRepeatedUntilADatagramIsRead) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  Recorder rec(p.receiver);
  ASSERT_EQ(p.send("one"), 3);
  ASSERT_TRUE(test::runUntil([&] { return rec.readyReads == 1; }));
  ASSERT_EQ(p.send("two"), 3);
  ASSERT_EQ(p.send("three"), 5);
  test::runFor(50);
  EXPECT_EQ(rec.readyReads, 1) << "more datagrams, but nothing was read";

  EXPECT_EQ(take(p.receiver), "one");
  EXPECT_EQ(rec.readyReads, 1) << "not from inside readDatagram()";
  ASSERT_TRUE(test::runUntil([&] { return rec.readyReads == 2; }));
  test::runFor(20);
  EXPECT_EQ(rec.readyReads, 2);
  EXPECT_EQ(take(p.receiver), "two");
  EXPECT_EQ(take(p.receiver), "three");
  test::runFor(20);
  EXPECT_EQ(rec.readyReads, 2) << "everything was read before the loop looked: nothing to announce";
  ASSERT_EQ(p.send("four"), 4);
  ASSERT_TRUE(test::runUntil([&] { return rec.readyReads == 3; }));
  EXPECT_EQ(take(p.receiver), "four");
}

TEST(UdpSocket, ReadingOneDatagramPerReadyReadGetsOneReadyReadPerDatagram) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  std::vector<std::string> got;
  p.receiver.readyRead.connect([&] { got.push_back(take(p.receiver)); });
  for (const char* word : {"a", "bb", "ccc", "dddd"}) ASSERT_GT(p.send(word), 0);
  ASSERT_TRUE(test::runUntil([&] { return got.size() == 4; }));
  test::runFor(20);
  EXPECT_EQ(got, (std::vector<std::string>{"a", "bb", "ccc", "dddd"}));
}

TEST(UdpSocket, ManyDatagramsArriveWholeAndInOrderAcrossBatches) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  constexpr int kCount = 200;
  std::vector<std::string> sent;
  for (int i = 0; i < kCount; ++i) sent.push_back(pattern(static_cast<std::size_t>((i * 37) % 1500), static_cast<unsigned>(i)));
  std::vector<std::string> got;
  int readyReads = 0;
  p.receiver.readyRead.connect([&] {
    ++readyReads;
    while (p.receiver.hasPendingDatagrams()) got.push_back(p.receiver.receiveDatagram().data());
  });
  // In rounds small enough for the socket's receive buffer.
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(p.send(sent[static_cast<std::size_t>(i)]), static_cast<std::int64_t>(sent[static_cast<std::size_t>(i)].size()));
    if (i % 50 == 49) {
      ASSERT_TRUE(test::runUntil([&] { return got.size() == static_cast<std::size_t>(i + 1); }));
    }
  }
  EXPECT_EQ(got, sent);
  EXPECT_LE(readyReads, kCount);
}

TEST(UdpSocket, DeletingTheSocketInsideReadyReadIsSafe) {
  test::DescriptorLeakCheck leaks;
  auto* receiver = new UdpSocket;
  ASSERT_TRUE(receiver->bind(kLocalHost, 0));
  UdpSocket sender;
  bool deleted = false;
  receiver->readyRead.connect([&] {
    delete receiver;
    deleted = true;
  });
  ASSERT_EQ(sender.writeDatagram("bye", kLocalHost, receiver->localPort()), 3);
  ASSERT_EQ(sender.writeDatagram("bye", kLocalHost, receiver->localPort()), 3);
  ASSERT_TRUE(test::runUntil([&] { return deleted; }));
  test::runFor(10);
}

// ------------------------------------------------------------ metadata

TEST(UdpSocket, ReceiveDatagramCarriesIPv4Metadata) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  ASSERT_EQ(p.send("meta"), 4);
  ASSERT_TRUE(arrives(p.receiver));
  const NetworkDatagram d = p.receiver.receiveDatagram();
  EXPECT_TRUE(d.isValid());
  EXPECT_EQ(d.data(), "meta");
  EXPECT_EQ(d.senderAddress(), kLocalHost);
  EXPECT_EQ(d.senderPort(), p.sender.localPort());
  EXPECT_EQ(d.destinationAddress(), kLocalHost);
  EXPECT_EQ(d.destinationPort(), p.receiver.localPort());
  EXPECT_EQ(d.hopLimit(), readIntFile("/proc/sys/net/ipv4/ip_default_ttl"));
  EXPECT_EQ(d.interfaceIndex(), static_cast<unsigned>(loopbackIndex()));
}

TEST(UdpSocket, ReceiveDatagramCarriesIPv6Metadata) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open(kLocalHostIPv6));
  NetworkDatagram out("six", kLocalHostIPv6, p.receiver.localPort());
  out.setHopLimit(7);
  ASSERT_EQ(p.sender.writeDatagram(out), 3);
  ASSERT_TRUE(arrives(p.receiver));
  const NetworkDatagram d = p.receiver.receiveDatagram();
  EXPECT_EQ(d.data(), "six");
  EXPECT_EQ(d.senderAddress(), kLocalHostIPv6);
  EXPECT_EQ(d.senderPort(), p.sender.localPort());
  EXPECT_EQ(d.destinationAddress(), kLocalHostIPv6);
  EXPECT_EQ(d.destinationAddress().scopeId(), "") << "::1 is not link-scoped";
  EXPECT_EQ(d.destinationPort(), p.receiver.localPort());
  EXPECT_EQ(d.hopLimit(), 7);
  EXPECT_EQ(d.interfaceIndex(), static_cast<unsigned>(loopbackIndex()));
}

TEST(UdpSocket, AnOutgoingHopLimitIsApplied) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  for (int hops : {1, 9, 255}) {
    NetworkDatagram out("ttl", kLocalHost, p.receiver.localPort());
    out.setHopLimit(hops);
    ASSERT_EQ(p.sender.writeDatagram(out), 3);
    ASSERT_TRUE(arrives(p.receiver));
    EXPECT_EQ(p.receiver.receiveDatagram().hopLimit(), hops);
  }
}

TEST(UdpSocket, AnOutgoingSenderAddressPicksTheSource) {
  test::DescriptorLeakCheck leaks;
  UdpSocket receiver;
  ASSERT_TRUE(receiver.bind(kAnyIPv4, 0));
  UdpSocket sender;
  ASSERT_TRUE(sender.bind(kAnyIPv4, 0));
  NetworkDatagram out("from .2", kLocalHost, receiver.localPort());
  out.setSender(HostAddress("127.0.0.2"));
  out.setInterfaceIndex(static_cast<unsigned>(loopbackIndex()));
  ASSERT_EQ(sender.writeDatagram(out), 7);
  ASSERT_TRUE(arrives(receiver));
  const NetworkDatagram in = receiver.receiveDatagram();
  EXPECT_EQ(in.senderAddress(), HostAddress("127.0.0.2"));
  EXPECT_EQ(in.senderPort(), sender.localPort());

  // The reply goes back to it.
  ASSERT_EQ(receiver.writeDatagram(in.makeReply("pong")), 4);
  ASSERT_TRUE(arrives(sender));
  const NetworkDatagram reply = sender.receiveDatagram();
  EXPECT_EQ(reply.data(), "pong");
  EXPECT_EQ(reply.destinationAddress(), HostAddress("127.0.0.2"));
}

TEST(UdpSocket, ReceiveDatagramMaxSizeTruncatesOrDiscards) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  for (const char* word : {"hello", "world", "again", "large"}) ASSERT_EQ(p.send(word), 5);
  ASSERT_TRUE(arrives(p.receiver));
  NetworkDatagram d = p.receiver.receiveDatagram(3);
  EXPECT_EQ(d.data(), "hel");
  EXPECT_EQ(d.senderPort(), p.sender.localPort());
  ASSERT_TRUE(arrives(p.receiver));
  d = p.receiver.receiveDatagram(0);
  EXPECT_TRUE(d.isValid()) << "discarded, but its metadata is there";
  EXPECT_EQ(d.data(), "");
  ASSERT_TRUE(arrives(p.receiver));
  EXPECT_EQ(p.receiver.receiveDatagram(-1).data(), "again");
  ASSERT_TRUE(arrives(p.receiver));
  EXPECT_EQ(p.receiver.receiveDatagram(std::int64_t{1} << 40).data(), "large") << "no terabyte buffer";
}

TEST(UdpSocket, MakeReplyAnswersTheSender) {
  test::DescriptorLeakCheck leaks;
  UdpSocket server;
  ASSERT_TRUE(server.bind(kLocalHostIPv6, 0));
  server.readyRead.connect([&] {
    while (server.hasPendingDatagrams()) server.writeDatagram(server.receiveDatagram().makeReply("pong"));
  });
  UdpSocket client;
  ASSERT_EQ(client.writeDatagram("ping", kLocalHostIPv6, server.localPort()), 4);
  ASSERT_TRUE(arrives(client));
  const NetworkDatagram reply = client.receiveDatagram();
  EXPECT_EQ(reply.data(), "pong");
  EXPECT_EQ(reply.senderAddress(), kLocalHostIPv6);
  EXPECT_EQ(reply.senderPort(), server.localPort());
}

// ------------------------------------------------------------ dual stack

TEST(UdpSocket, ADualStackSocketTalksToBothFamiliesAndReportsIPv4AsIPv4) {
  test::DescriptorLeakCheck leaks;
  UdpSocket dual;
  ASSERT_TRUE(dual.bind(kAny, 0));
  UdpSocket v4;
  ASSERT_TRUE(v4.bind(kAnyIPv4, 0));
  UdpSocket v6;
  ASSERT_TRUE(v6.bind(kAnyIPv6, 0));

  ASSERT_EQ(v4.writeDatagram("v4", kLocalHost, dual.localPort()), 2);
  ASSERT_TRUE(arrives(dual));
  NetworkDatagram d = dual.receiveDatagram();
  EXPECT_EQ(d.data(), "v4");
  EXPECT_EQ(d.senderAddress(), kLocalHost);
  EXPECT_EQ(d.senderAddress().protocol(), NetworkLayerProtocol::IPv4Protocol) << "not ::ffff:127.0.0.1";
  EXPECT_EQ(d.senderPort(), v4.localPort());
  EXPECT_EQ(d.destinationAddress(), kLocalHost);
  EXPECT_EQ(d.destinationPort(), dual.localPort());
  EXPECT_EQ(d.hopLimit(), readIntFile("/proc/sys/net/ipv4/ip_default_ttl"));

  ASSERT_EQ(v6.writeDatagram("v6", kLocalHostIPv6, dual.localPort()), 2);
  ASSERT_TRUE(arrives(dual));
  d = dual.receiveDatagram();
  EXPECT_EQ(d.data(), "v6");
  EXPECT_EQ(d.senderAddress(), kLocalHostIPv6);
  EXPECT_EQ(d.destinationAddress(), kLocalHostIPv6);

  ASSERT_EQ(dual.writeDatagram("to4", kLocalHost, v4.localPort()), 3);
  ASSERT_TRUE(arrives(v4));
  d = v4.receiveDatagram();
  EXPECT_EQ(d.data(), "to4");
  EXPECT_EQ(d.senderPort(), dual.localPort());
  EXPECT_EQ(d.senderAddress(), kLocalHost);

  // A reply made from the IPv4 datagram goes back over IPv4.
  ASSERT_EQ(v4.writeDatagram(d.makeReply("back")), 4);
  ASSERT_TRUE(arrives(dual));
  EXPECT_EQ(dual.receiveDatagram().data(), "back");

  ASSERT_EQ(dual.writeDatagram("to6", kLocalHostIPv6, v6.localPort()), 3);
  ASSERT_TRUE(arrives(v6));
  d = v6.receiveDatagram();
  EXPECT_EQ(d.senderAddress(), kLocalHostIPv6);
}

TEST(UdpSocket, AnIPv6OnlySocketDoesNotReceiveIPv4) {
  test::DescriptorLeakCheck leaks;
  UdpSocket v6;
  ASSERT_TRUE(v6.bind(kAnyIPv6, 0));
  Recorder rec(v6);
  UdpSocket v4;
  ASSERT_EQ(v4.writeDatagram("v4", kLocalHost, v6.localPort()), 2);
  test::runFor(50);
  EXPECT_EQ(rec.readyReads, 0);
  EXPECT_FALSE(v6.hasPendingDatagrams());
}

TEST(UdpSocket, AnAutomaticallyBoundSocketSendsToBothFamilies) {
  test::DescriptorLeakCheck leaks;
  UdpSocket v4;
  ASSERT_TRUE(v4.bind(kAnyIPv4, 0));
  UdpSocket v6;
  ASSERT_TRUE(v6.bind(kAnyIPv6, 0));
  for (bool v4First : {true, false}) {
    UdpSocket client;
    for (int round = 0; round < 2; ++round) {
      const bool toV4 = (round == 0) == v4First;
      UdpSocket& target = toV4 ? v4 : v6;
      ASSERT_EQ(client.writeDatagram("dual", toV4 ? kLocalHost : kLocalHostIPv6, target.localPort()), 4);
      ASSERT_TRUE(arrives(target));
      std::uint16_t port = 0;
      EXPECT_EQ(take(target, nullptr, &port), "dual");
      EXPECT_EQ(port, client.localPort());
    }
  }
}

// ------------------------------------------------------------ connected use

TEST(UdpSocket, ConnectToHostGivesQtsSequenceThenOneDatagramPerReadAndWrite) {
  test::DescriptorLeakCheck leaks;
  UdpSocket server;
  ASSERT_TRUE(server.bind(kLocalHost, 0));
  UdpSocket client;
  Recorder rec(client);
  client.connectToHost(kLocalHost, server.localPort());
  EXPECT_EQ(client.state(), S::HostLookupState);
  EXPECT_TRUE(rec.events.empty());
  ASSERT_TRUE(client.waitForConnected(5000));
  EXPECT_EQ(rec.events, (Events{st(S::HostLookupState), st(S::ConnectingState), "hostFound",
                                st(S::ConnectedState), "connected"}));
  EXPECT_EQ(client.peerAddress(), kLocalHost);
  EXPECT_EQ(client.peerPort(), server.localPort());
  EXPECT_TRUE(client.isOpen());

  EXPECT_EQ(client.write("abcdef"), 6);
  EXPECT_EQ(client.write("gh"), 2) << "a second datagram, not appended to the first";
  EXPECT_TRUE(rec.written.empty());
  ASSERT_TRUE(arrives(server));
  NetworkDatagram first = server.receiveDatagram();
  EXPECT_EQ(first.data(), "abcdef");
  EXPECT_EQ(first.senderPort(), client.localPort());
  ASSERT_TRUE(arrives(server));
  EXPECT_EQ(server.receiveDatagram().data(), "gh");
  ASSERT_TRUE(test::runUntil([&] { return rec.written.size() == 2; }));
  EXPECT_EQ(rec.written, (std::vector<std::int64_t>{6, 2}));

  ASSERT_EQ(server.writeDatagram(first.makeReply("reply-1")), 7);
  ASSERT_EQ(server.writeDatagram(first.makeReply("reply-22")), 8);
  ASSERT_TRUE(test::runUntil([&] { return client.bytesAvailable() == 7; }));
  char buffer[4];
  EXPECT_EQ(client.read(buffer, 4), 4) << "the start of the datagram; the rest is discarded";
  EXPECT_EQ(std::string(buffer, 4), "repl");
  ASSERT_TRUE(test::runUntil([&] { return client.bytesAvailable() == 8; }));
  EXPECT_EQ(client.read(64), "reply-22");
  EXPECT_EQ(client.read(64), "") << "nothing waiting";
}

TEST(UdpSocket, AConnectedSocketHearsOnlyItsPeer) {
  test::DescriptorLeakCheck leaks;
  UdpSocket peer;
  ASSERT_TRUE(peer.bind(kLocalHost, 0));
  UdpSocket stranger;
  ASSERT_TRUE(stranger.bind(kLocalHost, 0));
  UdpSocket client;
  client.connectToHost(kLocalHost, peer.localPort());
  ASSERT_TRUE(client.waitForConnected(5000));
  ASSERT_EQ(stranger.writeDatagram("not you", kLocalHost, client.localPort()), 7);
  ASSERT_EQ(peer.writeDatagram("you", kLocalHost, client.localPort()), 3);
  ASSERT_TRUE(arrives(client));
  HostAddress from;
  std::uint16_t port = 0;
  EXPECT_EQ(take(client, &from, &port), "you");
  EXPECT_EQ(port, peer.localPort());
  test::runFor(20);
  EXPECT_FALSE(client.hasPendingDatagrams());
}

TEST(UdpSocket, BindThenConnectKeepsThePortAndTheDescriptor) {
  test::DescriptorLeakCheck leaks;
  UdpSocket server;
  ASSERT_TRUE(server.bind(kLocalHost, 0));
  UdpSocket client;
  ASSERT_TRUE(client.bind(kLocalHost, 0));
  const std::uint16_t port = client.localPort();
  const int fd = client.socketDescriptor();
  client.connectToHost(kLocalHost, server.localPort());
  ASSERT_TRUE(client.waitForConnected(5000));
  EXPECT_EQ(client.localPort(), port);
  EXPECT_EQ(client.socketDescriptor(), fd);
  EXPECT_EQ(client.write("x"), 1);
  ASSERT_TRUE(arrives(server));
  std::uint16_t from = 0;
  EXPECT_EQ(take(server, nullptr, &from), "x");
  EXPECT_EQ(from, port);
}

TEST(UdpSocket, AConnectedSocketReportsPortUnreachableFromTheLoopAndStaysConnected) {
  test::DescriptorLeakCheck leaks;
  std::uint16_t closedPort = 0;
  {
    UdpSocket gone;
    ASSERT_TRUE(gone.bind(kLocalHost, 0));
    closedPort = gone.localPort();
  }
  UdpSocket client;
  client.connectToHost(kLocalHost, closedPort);
  ASSERT_TRUE(client.waitForConnected(5000));
  Recorder rec(client);
  ASSERT_EQ(client.write("anyone?"), 7);
  ASSERT_TRUE(test::runUntil([&] { return !rec.events.empty(); }));
  test::runFor(20);
  EXPECT_EQ(rec.events, Events{err(SocketError::ConnectionRefusedError)});
  EXPECT_EQ(client.error(), SocketError::ConnectionRefusedError);
  EXPECT_EQ(rec.readyReads, 0) << "an error is not a datagram";
  EXPECT_EQ(client.state(), S::ConnectedState);
  EXPECT_FALSE(client.hasPendingDatagrams());
  EXPECT_EQ(client.write("still here"), 10);
}

TEST(UdpSocket, WritingNeedsAConnection) {
  test::DescriptorLeakCheck leaks;
  UdpSocket socket;
  ASSERT_TRUE(socket.bind(kLocalHost, 0));
  EXPECT_EQ(socket.write("x"), -1) << "a bound socket is not an open device";
  NetworkDatagram nowhere("x");
  EXPECT_EQ(socket.writeDatagram(nowhere), -1);
  EXPECT_EQ(socket.error(), SocketError::OperationError);

  UdpSocket server;
  ASSERT_TRUE(server.bind(kLocalHost, 0));
  UdpSocket connected;
  connected.connectToHost(kLocalHost, server.localPort());
  ASSERT_TRUE(connected.waitForConnected(5000));
  EXPECT_EQ(connected.writeDatagram(nowhere), 1) << "no destination: the peer";
  ASSERT_TRUE(arrives(server));
  EXPECT_EQ(take(server), "x");
}

TEST(UdpSocket, WritingWhileLookingUpTheHostFails) {
  test::DescriptorLeakCheck leaks;
  UdpSocket socket;
  socket.connectToHost("localhost", 9);
  EXPECT_EQ(socket.state(), S::HostLookupState);
  EXPECT_FALSE(socket.putChar('0'));
  EXPECT_EQ(socket.writeDatagram("x", kLocalHost, 9), -1);
  EXPECT_EQ(socket.error(), SocketError::OperationError);
  socket.abort();
}

// ------------------------------------------------------------ closing

TEST(UdpSocket, CloseOfABoundSocketGivesQtsSequenceAndDropsWaitingDatagrams) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  ASSERT_EQ(p.send("left behind"), 11);
  ASSERT_TRUE(arrives(p.receiver));
  test::runFor(10);
  Recorder rec(p.receiver);
  p.receiver.close();
  EXPECT_EQ(p.receiver.state(), S::UnconnectedState);
  EXPECT_FALSE(p.receiver.hasPendingDatagrams());
  EXPECT_EQ(p.receiver.localPort(), 0);
  EXPECT_EQ(p.receiver.socketDescriptor(), -1);
  test::runFor(10);
  EXPECT_EQ(rec.events, (Events{st(S::ClosingState), st(S::UnconnectedState), "readChannelFinished", "disconnected"}));
  // It can bind again.
  ASSERT_TRUE(p.receiver.bind(kLocalHost, 0));
  EXPECT_FALSE(p.receiver.hasPendingDatagrams());
}

TEST(UdpSocket, AbortOfABoundSocketEmitsNoDisconnected) {
  test::DescriptorLeakCheck leaks;
  UdpSocket socket;
  ASSERT_TRUE(socket.bind(kLocalHost, 0));
  test::runFor(10);
  Recorder rec(socket);
  socket.abort();
  test::runFor(10);
  EXPECT_EQ(rec.events, (Events{st(S::UnconnectedState), "readChannelFinished"}));
}

// ------------------------------------------------------------ blocking use

TEST(UdpSocket, WaitForReadyReadWorksWithoutALoop) {
  test::DescriptorLeakCheck leaks;
  std::atomic<std::uint16_t> port{0};
  std::atomic<bool> done{false};
  bool timedOut = false;
  SocketError timeoutError = SocketError::UnknownSocketError;
  bool woke = false;
  bool immediate = false;
  int readyReads = -1;
  std::string got;
  std::thread worker([&] {
    UdpSocket socket;
    int count = 0;
    socket.readyRead.connect([&] { ++count; });
    if (socket.bind(kLocalHost, 0)) {
      timedOut = !socket.waitForReadyRead(30);
      timeoutError = socket.error();
      port = socket.localPort();
      woke = socket.waitForReadyRead(5000);
      // Still unread: true at once, without a second readyRead.
      immediate = socket.waitForReadyRead(0);
      readyReads = count;
      got = socket.receiveDatagram().data();
    }
    done = true;
  });
  ASSERT_TRUE(test::runUntil([&] { return port.load() != 0 || done.load(); }));
  UdpSocket sender;
  EXPECT_EQ(sender.writeDatagram("wake up", kLocalHost, port.load()), 7);
  EXPECT_TRUE(test::runUntil([&] { return done.load(); }, 10000));
  worker.join();
  EXPECT_TRUE(timedOut);
  EXPECT_EQ(timeoutError, SocketError::SocketTimeoutError);
  EXPECT_TRUE(woke);
  EXPECT_TRUE(immediate);
  EXPECT_EQ(readyReads, 1);
  EXPECT_EQ(got, "wake up");
}

TEST(UdpSocket, ABlockingClientAndServerExchangeDatagramsWithoutALoop) {
  test::DescriptorLeakCheck leaks;
  std::atomic<std::uint16_t> port{0};
  std::string answer;
  std::thread server([&] {
    UdpSocket socket;
    if (!socket.bind(kLocalHost, 0)) return;
    port = socket.localPort();
    for (int i = 0; i < 3; ++i) {
      if (!socket.waitForReadyRead(5000)) return;
      NetworkDatagram in = socket.receiveDatagram();
      socket.writeDatagram(in.makeReply(in.data() + "!"));
    }
  });
  const bool finished = test::runOnThreadWithoutALoop([&] {
    while (port.load() == 0) std::this_thread::yield();
    UdpSocket client;
    client.connectToHost(kLocalHost, port.load());
    if (!client.waitForConnected(5000)) return;
    for (const char* word : {"a", "b", "c"}) {
      client.write(word);
      if (!client.waitForReadyRead(5000)) return;
      answer += client.read(16);
    }
  });
  server.join();
  EXPECT_TRUE(finished);
  EXPECT_EQ(answer, "a!b!c!");
}

TEST(UdpSocket, AnAdoptedDescriptorReceivesWithMetadata) {
  test::DescriptorLeakCheck leaks;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_storage ss{};
  const socklen_t len = kLocalHost.toSockaddr(0, &ss);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
  UdpSocket socket;
  Recorder rec(socket);
  ASSERT_TRUE(socket.setSocketDescriptor(fd, S::BoundState));
  EXPECT_EQ(socket.state(), S::BoundState);
  EXPECT_EQ(socket.localAddress(), kLocalHost);
  UdpSocket sender;
  ASSERT_EQ(sender.writeDatagram("adopted", kLocalHost, socket.localPort()), 7);
  ASSERT_TRUE(test::runUntil([&] { return rec.readyReads == 1; }));
  const NetworkDatagram d = socket.receiveDatagram();
  EXPECT_EQ(d.data(), "adopted");
  EXPECT_EQ(d.destinationAddress(), kLocalHost);
  EXPECT_EQ(d.hopLimit(), readIntFile("/proc/sys/net/ipv4/ip_default_ttl"));
}

// ------------------------------------------------------------ options

TEST(UdpSocket, MulticastTtlOptionTakesValuesUpTo255) {
  test::DescriptorLeakCheck leaks;
  for (const HostAddress& address : {kAnyIPv4, kAnyIPv6, kAny}) {
    for (const auto& [ttl, expected] : std::vector<std::pair<int, int>>{{0, 0}, {1, 1}, {2, 2}, {128, 128},
                                                                        {255, 255}, {1024, 1}}) {
      SCOPED_TRACE(numbered((address.toString() + " ").c_str(), ttl));
      UdpSocket socket;
      ASSERT_TRUE(socket.bind(address, 0));
      socket.setSocketOption(SocketOption::MulticastTtlOption, ttl);
      EXPECT_EQ(socket.socketOption(SocketOption::MulticastTtlOption), expected);
    }
  }
}

TEST(UdpSocket, MulticastLoopbackOptionIsOnOrOff) {
  test::DescriptorLeakCheck leaks;
  for (const HostAddress& address : {kAnyIPv4, kAnyIPv6, kAny}) {
    SCOPED_TRACE(address.toString());
    UdpSocket socket;
    ASSERT_TRUE(socket.bind(address, 0));
    EXPECT_EQ(socket.socketOption(SocketOption::MulticastLoopbackOption), 1) << "the system's default";
    for (const auto& [value, expected] : std::vector<std::pair<int, int>>{{0, 0}, {1, 1}, {2, 1}, {0, 0}, {2, 1}}) {
      socket.setSocketOption(SocketOption::MulticastLoopbackOption, value);
      EXPECT_EQ(socket.socketOption(SocketOption::MulticastLoopbackOption), expected) << value;
    }
  }
}

TEST(UdpSocket, OptionsSetBeforeBindingApplyToTheBoundSocket) {
  test::DescriptorLeakCheck leaks;
  UdpSocket socket;
  socket.setSocketOption(SocketOption::MulticastTtlOption, 9);
  socket.setSocketOption(SocketOption::MulticastLoopbackOption, 0);
  EXPECT_EQ(socket.socketOption(SocketOption::MulticastTtlOption), -1) << "no socket yet";
  ASSERT_TRUE(socket.bind(kAnyIPv4, 0));
  EXPECT_EQ(socket.socketOption(SocketOption::MulticastTtlOption), 9);
  EXPECT_EQ(socket.socketOption(SocketOption::MulticastLoopbackOption), 0);
}

// ------------------------------------------------------------ multicast and broadcast on loopback

TEST(UdpSocket, JoiningAndLeavingNeedABoundSocket) {
  test::DescriptorLeakCheck leaks;
  const HostAddress group("239.255.42.1");
  UdpSocket socket;
  EXPECT_FALSE(socket.joinMulticastGroup(group));
  EXPECT_EQ(socket.error(), SocketError::OperationError);
  ASSERT_TRUE(socket.bind(kAnyIPv4, 0));
  ASSERT_TRUE(socket.joinMulticastGroup(group)) << socket.errorString();
  socket.close();
  EXPECT_FALSE(socket.leaveMulticastGroup(group));
  EXPECT_EQ(socket.error(), SocketError::OperationError);
}

TEST(UdpSocket, AnIPv4GroupNeedsASocketBoundToIPv4) {
  test::DescriptorLeakCheck leaks;
  const HostAddress group("239.255.42.2");
  for (const HostAddress& address : {kAny, kAnyIPv6}) {
    SCOPED_TRACE(address.toString());
    UdpSocket socket;
    ASSERT_TRUE(socket.bind(address, 0));
    EXPECT_FALSE(socket.joinMulticastGroup(group));
    EXPECT_EQ(socket.error(), SocketError::UnsupportedSocketOperationError);
  }
  UdpSocket v4;
  ASSERT_TRUE(v4.bind(kAnyIPv4, 0));
  EXPECT_FALSE(v4.joinMulticastGroup(HostAddress("ff12::42"))) << "nor an IPv6 group an IPv4 socket";
  EXPECT_EQ(v4.error(), SocketError::UnsupportedSocketOperationError);
  UdpSocket dual;
  ASSERT_TRUE(dual.bind(kAny, 0));
  const NetworkInterface lo = NetworkInterface::interfaceFromName("lo");
  EXPECT_TRUE(dual.joinMulticastGroup(HostAddress("ff12::42"), lo)) << dual.errorString();
  EXPECT_TRUE(dual.leaveMulticastGroup(HostAddress("ff12::42"), lo)) << dual.errorString();
}

TEST(UdpSocket, OnlyGroupsCanBeJoinedOnceAndLeftOnce) {
  test::DescriptorLeakCheck leaks;
  UdpSocket socket;
  ASSERT_TRUE(socket.bind(kAnyIPv4, 0));
  for (const char* notAGroup : {"0.0.0.0", "255.255.255.255", "127.0.0.1"}) {
    EXPECT_FALSE(socket.joinMulticastGroup(HostAddress(notAGroup))) << notAGroup;
    EXPECT_EQ(socket.error(), SocketError::SocketAddressNotAvailableError);
  }
  const HostAddress group("239.255.42.3");
  const NetworkInterface lo = NetworkInterface::interfaceFromName("lo");
  ASSERT_TRUE(socket.joinMulticastGroup(group, lo)) << socket.errorString();
  EXPECT_FALSE(socket.joinMulticastGroup(group, lo));
  EXPECT_EQ(socket.error(), SocketError::AddressInUseError);
  EXPECT_FALSE(socket.leaveMulticastGroup(HostAddress("239.255.42.4"), lo)) << "never joined";
  EXPECT_EQ(socket.error(), SocketError::SocketAddressNotAvailableError);
  EXPECT_TRUE(socket.leaveMulticastGroup(group, lo));
  EXPECT_FALSE(socket.leaveMulticastGroup(group, lo));
}

TEST(UdpSocket, TheMulticastInterfaceIsTheOneSet) {
  test::DescriptorLeakCheck leaks;
  const NetworkInterface lo = NetworkInterface::interfaceFromName("lo");
  ASSERT_TRUE(lo.isValid());
  for (const HostAddress& address : {kAnyIPv4, kAnyIPv6, kAny}) {
    SCOPED_TRACE(address.toString());
    UdpSocket socket;
    socket.setMulticastInterface(lo);
    EXPECT_FALSE(socket.multicastInterface().isValid()) << "not bound: nothing set";
    ASSERT_TRUE(socket.bind(address, 0));
    EXPECT_FALSE(socket.multicastInterface().isValid()) << "none set yet";
    socket.setMulticastInterface(lo);
    EXPECT_EQ(socket.multicastInterface().name(), "lo");
    EXPECT_EQ(socket.multicastInterface().index(), lo.index());
    socket.setMulticastInterface(NetworkInterface());
    EXPECT_FALSE(socket.multicastInterface().isValid()) << "back to the system's choice";
  }
}

TEST(UdpSocket, MulticastOnTheLoopbackInterfaceReachesAMemberUntilItLeaves) {
  test::DescriptorLeakCheck leaks;
  const NetworkInterface lo = NetworkInterface::interfaceFromName("lo");
  const HostAddress group("239.255.42.5");
  UdpSocket member;
  ASSERT_TRUE(member.bind(kAnyIPv4, 0));
  ASSERT_TRUE(member.joinMulticastGroup(group, lo)) << member.errorString();

  UdpSocket sender;
  ASSERT_TRUE(sender.bind(kLocalHost, 0));
  sender.setSocketOption(SocketOption::MulticastTtlOption, 0);  // never beyond this host
  sender.setMulticastInterface(lo);
  ASSERT_EQ(sender.multicastInterface().name(), "lo");
  ASSERT_EQ(sender.writeDatagram("to the group", group, member.localPort()), 12);
  ASSERT_TRUE(arrives(member));
  const NetworkDatagram d = member.receiveDatagram();
  EXPECT_EQ(d.data(), "to the group");
  EXPECT_EQ(d.senderAddress(), kLocalHost);
  EXPECT_EQ(d.senderPort(), sender.localPort());
  EXPECT_EQ(d.destinationAddress(), group);
  EXPECT_EQ(d.destinationPort(), member.localPort());
  EXPECT_EQ(d.interfaceIndex(), static_cast<unsigned>(lo.index()));

  ASSERT_TRUE(member.leaveMulticastGroup(group, lo));
  ASSERT_EQ(sender.writeDatagram("gone", group, member.localPort()), 4);
  test::runFor(50);
  EXPECT_FALSE(member.hasPendingDatagrams());
}

TEST(UdpSocket, BroadcastOnLoopbackReachesEveryReceiverOfThePort) {
  test::DescriptorLeakCheck leaks;
  UdpSocket a;
  ASSERT_TRUE(a.bind(kAnyIPv4, 0, ShareAddress));
  UdpSocket b;
  ASSERT_TRUE(b.bind(kAnyIPv4, a.localPort(), ShareAddress));
  UdpSocket sender;
  ASSERT_TRUE(sender.bind(kLocalHost, 0));
  ASSERT_EQ(sender.writeDatagram("everyone", kLoopbackBroadcast, a.localPort()), 8);
  for (UdpSocket* s : {&a, &b}) {
    ASSERT_TRUE(arrives(*s));
    const NetworkDatagram d = s->receiveDatagram();
    EXPECT_EQ(d.data(), "everyone");
    EXPECT_EQ(d.senderAddress(), kLocalHost);
    EXPECT_EQ(d.destinationAddress(), kLoopbackBroadcast);
  }
}

// ------------------------------------------------------------ batches

TEST(UdpSocket, ReadDatagramsFillsTheCallersBuffersInOrder) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  Recorder rec(p.receiver);
  constexpr std::size_t kCount = 100;
  std::vector<std::string> sent;
  for (std::size_t i = 0; i < kCount; ++i) {
    sent.push_back(pattern(i * 13 % 900, static_cast<unsigned>(i)));
    ASSERT_EQ(p.send(sent.back()), static_cast<std::int64_t>(sent.back().size()));
  }
  std::vector<std::array<char, 1024>> storage(kCount);
  std::vector<DatagramBuffer> slots(kCount);
  for (std::size_t i = 0; i < kCount; ++i) {
    slots[i].data = storage[i].data();
    slots[i].capacity = 1024;
  }
  std::size_t got = 0;
  ASSERT_TRUE(test::runUntil([&] {
    const std::int64_t n = p.receiver.readDatagrams(std::span<DatagramBuffer>(slots).subspan(got));
    if (n > 0) got += static_cast<std::size_t>(n);
    return got == kCount;
  }));
  for (std::size_t i = 0; i < kCount; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(std::string(slots[i].data, static_cast<std::size_t>(slots[i].size)), sent[i]);
    EXPECT_FALSE(slots[i].truncated);
    EXPECT_EQ(slots[i].senderAddress, kLocalHost);
    EXPECT_EQ(slots[i].senderPort, p.sender.localPort());
    EXPECT_EQ(slots[i].destinationAddress, kLocalHost);
    EXPECT_EQ(slots[i].interfaceIndex, static_cast<unsigned>(loopbackIndex()));
    EXPECT_GT(slots[i].hopLimit, 0);
  }
  EXPECT_EQ(p.receiver.readDatagrams(std::span<DatagramBuffer>(slots)), 0) << "none left";
}

// Payload and Sender leave the other fields at their defaults, for datagrams
// already fetched by a pending-size query and for those read straight from
// the system alike.
TEST(UdpSocket, ReadDatagramsFillsOnlyTheDetailsAskedFor) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  constexpr std::size_t kCount = 40;
  for (const DatagramDetails details : {DatagramDetails::Payload, DatagramDetails::Sender, DatagramDetails::All}) {
    SCOPED_TRACE(static_cast<int>(details));
    std::vector<std::string> sent;
    for (std::size_t i = 0; i < kCount; ++i) {
      sent.push_back(numbered("datagram ", static_cast<int>(i)));
      ASSERT_EQ(p.send(sent.back()), static_cast<std::int64_t>(sent.back().size()));
    }
    // The first few now wait inside the socket, the rest in the system.
    ASSERT_TRUE(test::runUntil([&] { return p.receiver.pendingDatagramSize() == static_cast<std::int64_t>(sent[0].size()); }));
    std::vector<std::array<char, 64>> storage(kCount);
    std::vector<DatagramBuffer> slots(kCount);
    for (std::size_t i = 0; i < kCount; ++i) {
      slots[i].data = storage[i].data();
      slots[i].capacity = 64;
      slots[i].senderAddress = kLocalHostIPv6;  // stale values from an earlier use
      slots[i].senderPort = 1;
      slots[i].destinationAddress = kLocalHostIPv6;
      slots[i].hopLimit = 7;
      slots[i].interfaceIndex = 99;
    }
    std::size_t got = 0;
    ASSERT_TRUE(test::runUntil([&] {
      const std::int64_t n = p.receiver.readDatagrams(std::span<DatagramBuffer>(slots).subspan(got), details);
      if (n > 0) got += static_cast<std::size_t>(n);
      return got == kCount;
    }));
    for (std::size_t i = 0; i < kCount; ++i) {
      SCOPED_TRACE(i);
      EXPECT_EQ(std::string(slots[i].data, static_cast<std::size_t>(slots[i].size)), sent[i]);
      if (details == DatagramDetails::Payload) {
        EXPECT_TRUE(slots[i].senderAddress.isNull());
        EXPECT_EQ(slots[i].senderPort, 0);
      } else {
        EXPECT_EQ(slots[i].senderAddress, kLocalHost);
        EXPECT_EQ(slots[i].senderPort, p.sender.localPort());
      }
      if (details == DatagramDetails::All) {
        EXPECT_EQ(slots[i].destinationAddress, kLocalHost);
        EXPECT_EQ(slots[i].interfaceIndex, static_cast<unsigned>(loopbackIndex()));
        EXPECT_GT(slots[i].hopLimit, 0);
      } else {
        EXPECT_TRUE(slots[i].destinationAddress.isNull());
        EXPECT_EQ(slots[i].hopLimit, -1);
        EXPECT_EQ(slots[i].interfaceIndex, 0u);
      }
    }
    EXPECT_EQ(p.receiver.readDatagrams(std::span<DatagramBuffer>(slots), details), 0) << "none left";
  }
}

TEST(UdpSocket, ReadDatagramsReportsTruncationAndServesEarlierBatchesFirst) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  for (const char* word : {"first", "second datagram", "third"}) ASSERT_GT(p.send(word), 0);
  ASSERT_TRUE(test::runUntil([&] { return p.receiver.pendingDatagramSize() == 5; }));
  EXPECT_EQ(take(p.receiver), "first");
  std::array<char, 6> small{};
  std::array<char, 64> large{};
  std::array<DatagramBuffer, 2> slots;
  slots[0].data = small.data();
  slots[0].capacity = 6;
  slots[1].data = large.data();
  slots[1].capacity = 64;
  std::int64_t n = 0;
  ASSERT_TRUE(test::runUntil([&] {
    n = p.receiver.readDatagrams(slots);
    return n != 0;
  }));
  ASSERT_EQ(n, 2);
  EXPECT_EQ(std::string(small.data(), static_cast<std::size_t>(slots[0].size)), "second");
  EXPECT_TRUE(slots[0].truncated);
  EXPECT_EQ(std::string(large.data(), static_cast<std::size_t>(slots[1].size)), "third");
  EXPECT_FALSE(slots[1].truncated);
}

TEST(UdpSocket, WriteDatagramsSendsEachToItsDestinationWithOneBytesWritten) {
  test::DescriptorLeakCheck leaks;
  UdpSocket a;
  ASSERT_TRUE(a.bind(kLocalHost, 0));
  UdpSocket b;
  ASSERT_TRUE(b.bind(kLocalHostIPv6, 0));
  UdpSocket sender;
  Recorder rec(sender);
  std::vector<std::string> payloads;
  std::vector<OutgoingDatagram> batch;
  for (int i = 0; i < 150; ++i) payloads.push_back(numbered("datagram ", i));
  for (int i = 0; i < 150; ++i) {
    const bool toA = i % 3 != 0;
    batch.push_back({payloads[static_cast<std::size_t>(i)], toA ? kLocalHost : kLocalHostIPv6,
                     toA ? a.localPort() : b.localPort()});
  }
  ASSERT_EQ(sender.writeDatagrams(batch), 150);
  EXPECT_EQ(sender.state(), S::BoundState) << "bound itself, dual stack";
  std::vector<std::string> atA;
  std::vector<std::string> atB;
  ASSERT_TRUE(test::runUntil([&] {
    while (a.hasPendingDatagrams()) atA.push_back(take(a));
    while (b.hasPendingDatagrams()) atB.push_back(take(b));
    return atA.size() + atB.size() == 150;
  }));
  std::vector<std::string> wantA;
  std::vector<std::string> wantB;
  std::int64_t total = 0;
  for (int i = 0; i < 150; ++i) {
    (i % 3 != 0 ? wantA : wantB).push_back(payloads[static_cast<std::size_t>(i)]);
    total += static_cast<std::int64_t>(payloads[static_cast<std::size_t>(i)].size());
  }
  EXPECT_EQ(atA, wantA);
  EXPECT_EQ(atB, wantB);
  test::runFor(10);
  EXPECT_EQ(rec.written, std::vector<std::int64_t>{total});
}

TEST(UdpSocket, WriteSegmentedCutsTheDataIntoDatagrams) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  Recorder rec(p.sender);
  const std::string data = pattern(60 * 1000 + 500, 7);
  EXPECT_EQ(p.sender.writeSegmented(data, 1000, kLocalHost, p.receiver.localPort()),
            static_cast<std::int64_t>(data.size()));
  std::vector<std::string> got;
  ASSERT_TRUE(test::runUntil([&] {
    while (p.receiver.hasPendingDatagrams()) got.push_back(take(p.receiver));
    return got.size() == 61;
  }));
  for (std::size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(got[i], data.substr(i * 1000, 1000));
  }
  EXPECT_EQ(got.back().size(), 500u);
  test::runFor(10);
  EXPECT_EQ(rec.written, std::vector<std::int64_t>{static_cast<std::int64_t>(data.size())});
  EXPECT_EQ(p.sender.writeSegmented(data, 0, kLocalHost, p.receiver.localPort()), -1);
  EXPECT_EQ(p.sender.writeSegmented("", 100, kLocalHost, p.receiver.localPort()), 0);
  std::cout << "[          ] UDP segmentation offload: " << (p.sender.hasSegmentationOffload() ? "yes" : "no")
            << '\n';
}

TEST(UdpSocket, ReceiveMemoryIsBoundedAndGivenBackWhenIdle) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  auto& engine = *detail::SocketPrivate::of(p.receiver).engine;
  EXPECT_EQ(engine.datagramMemory(), 0u) << "nothing received, nothing held";
  // Three of the largest datagrams at a time: what the receive buffer holds.
  const std::string big = pattern(60000, 3);
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 3; ++i) ASSERT_EQ(p.send(big), 60000);
    int got = 0;
    ASSERT_TRUE(test::runUntil([&] {
      while (p.receiver.hasPendingDatagrams()) got += p.receiver.receiveDatagram().data() == big ? 1 : 0;
      EXPECT_LE(engine.datagramMemory(), detail::DatagramChannel::kSlots * detail::DatagramChannel::kSlotBytes + 8192);
      return got == 3;
    }));
  }
  EXPECT_GT(engine.datagramMemory(), 0u);
  ASSERT_TRUE(test::runUntil([&] { return engine.datagramMemory() == 0; }, 5000)) << "released after a second idle";
  // And taken again when needed.
  ASSERT_EQ(p.send("again"), 5);
  ASSERT_TRUE(arrives(p.receiver));
  EXPECT_EQ(take(p.receiver), "again");
}

// readyRead asks the kernel whether a datagram waits, without receiving
// ahead: a reader that takes payloads in batches gets every datagram
// straight into its own buffers, and the socket maps no receive memory.
TEST(UdpSocket, ABatchReaderOfPayloadsGetsEveryDatagramWithNoReadAhead) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  auto& engine = *detail::SocketPrivate::of(p.receiver).engine;
  std::vector<std::string> got;
  std::vector<char> storage(8 * 100);
  std::vector<DatagramBuffer> buffers(8);
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    buffers[i].data = storage.data() + i * 100;
    buffers[i].capacity = 100;
  }
  std::size_t heldInReadyRead = 0;
  int readyReads = 0;
  p.receiver.readyRead.connect([&] {
    ++readyReads;
    heldInReadyRead = std::max(heldInReadyRead, engine.datagramMemory());
    for (;;) {
      const std::int64_t n = p.receiver.readDatagrams(buffers, DatagramDetails::Payload);
      for (std::int64_t i = 0; i < n; ++i) {
        const auto& b = buffers[static_cast<std::size_t>(i)];
        got.emplace_back(b.data, static_cast<std::size_t>(b.size));
      }
      if (n < static_cast<std::int64_t>(buffers.size())) break;
    }
  });
  for (int i = 0; i < 20; ++i) ASSERT_EQ(p.send("d" + std::to_string(i)), i < 10 ? 2 : 3);
  ASSERT_TRUE(test::runUntil([&] { return got.size() == 20; }));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], "d" + std::to_string(i));
  EXPECT_GE(readyReads, 1);
  EXPECT_EQ(heldInReadyRead, 0u) << "nothing received ahead of the reader";
  EXPECT_EQ(engine.datagramMemory(), 0u);
  EXPECT_FALSE(p.receiver.hasPendingDatagrams());
}

// An empty datagram says nothing to the length query; it is still announced,
// read and followed by the next one.
TEST(UdpSocket, AnEmptyDatagramBetweenOthersIsAnnouncedAndKeptInOrder) {
  test::DescriptorLeakCheck leaks;
  Pair p;
  ASSERT_TRUE(p.open());
  Recorder rec(p.receiver);
  ASSERT_EQ(p.sender.writeDatagram(NetworkDatagram(std::string(), kLocalHost, p.receiver.localPort())), 0);
  ASSERT_EQ(p.send("after"), 5);
  ASSERT_TRUE(test::runUntil([&] { return rec.readyReads == 1; }));
  NetworkDatagram first = p.receiver.receiveDatagram();
  EXPECT_TRUE(first.isValid());
  EXPECT_EQ(first.data(), "");
  EXPECT_EQ(first.destinationAddress(), kLocalHost);
  ASSERT_TRUE(p.receiver.hasPendingDatagrams());
  EXPECT_EQ(p.receiver.pendingDatagramSize(), 5);
  EXPECT_EQ(take(p.receiver), "after");
  EXPECT_FALSE(p.receiver.hasPendingDatagrams());
}

// ------------------------------------------------------------ across hosts (network namespaces)

namespace {

// Hosts on one Ethernet segment: host i (0-based) is a namespace whose
// "eth0" is one end of a veth pair with 10.77.0.<i+1>/24 (broadcast
// 10.77.0.255) and fd00:77::<i+1>/64; the other ends are ports of a bridge in
// a switch namespace. Everything is removed with the namespaces.
class Lan {
 public:
  testing::AssertionResult build(int count) {
    if (!sw_.isValid()) return sw_.created();
    if (auto r = sw_.ipBatch({"link add br0 type bridge mcast_snooping 0", "link set br0 up"}); !r) return r;
    for (int i = 0; i < count; ++i) {
      hosts_.push_back(std::make_unique<Namespace>(numbered("h", i + 1)));
      Namespace& host = *hosts_.back();
      if (!host.isValid()) return host.created();
      // No duplicate address detection: addresses are usable at once.
      const test::CommandResult dad =
          host.exec({"sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"});
      if (!dad.ok()) return testing::AssertionFailure() << "sysctl: " << dad.output;
      const std::string port = numbered("p", i + 1);
      if (auto r = test::addVeth(host, "eth0", sw_, port); !r) return r;
      if (auto r = sw_.ipBatch({"link set " + port + " master br0", "link set " + port + " up"}); !r) return r;
      if (auto r = host.addAddress("eth0", address(i) + "/24", {"broadcast", "10.77.0.255"}); !r) return r;
      if (auto r = host.addAddress("eth0", address6(i) + "/64"); !r) return r;
      if (auto r = host.up("eth0"); !r) return r;
    }
    for (auto& host : hosts_)
      if (auto r = host->waitUntilOperational("eth0"); !r) return r;
    return testing::AssertionSuccess();
  }

  Namespace& host(int i) { return *hosts_[static_cast<std::size_t>(i)]; }
  static std::string address(int i) { return numbered("10.77.0.", i + 1); }
  static std::string address6(int i) { return numbered("fd00:77::", i + 1); }

  // eth0 of host i, as that host sees it.
  NetworkInterface eth0(int i) {
    NetworkInterface found;
    EXPECT_TRUE(host(i).runIn([&] { found = NetworkInterface::interfaceFromName("eth0"); }));
    return found;
  }

  // Binds `socket` inside host i.
  testing::AssertionResult bind(int i, UdpSocket& socket, const HostAddress& address, std::uint16_t port = 0,
                                BindMode mode = DefaultForPlatform) {
    const Namespace::Guard guard = host(i).enter();
    if (auto r = guard.entered(); !r) return r;
    if (!socket.bind(address, port, mode)) return testing::AssertionFailure() << socket.errorString();
    return testing::AssertionSuccess();
  }

 private:
  Namespace sw_{"sw"};
  std::vector<std::unique_ptr<Namespace>> hosts_;
};

#define SKIP_WITHOUT_NAMESPACES()                                   \
  do {                                                              \
    if (std::string why; !test::namespacesAvailable(&why)) GTEST_SKIP() << why; \
  } while (false)

}  // namespace

TEST(UdpSocketAcrossHosts, BroadcastReachesEveryOtherHostOnTheSubnet) {
  SKIP_WITHOUT_NAMESPACES();
  test::DescriptorLeakCheck leaks;
  Lan lan;
  ASSERT_TRUE(lan.build(3));
  UdpSocket sender;
  UdpSocket second;
  UdpSocket third;
  ASSERT_TRUE(lan.bind(1, second, kAnyIPv4));
  const std::uint16_t port = second.localPort();
  ASSERT_TRUE(lan.bind(2, third, kAnyIPv4, port));
  ASSERT_TRUE(lan.bind(0, sender, HostAddress(Lan::address(0))));

  // The subnet's broadcast address.
  ASSERT_EQ(sender.writeDatagram("hello lan", HostAddress("10.77.0.255"), port), 9);
  for (int i : {1, 2}) {
    UdpSocket& receiver = i == 1 ? second : third;
    ASSERT_TRUE(arrives(receiver)) << "host " << i;
    const NetworkDatagram d = receiver.receiveDatagram();
    EXPECT_EQ(d.data(), "hello lan");
    EXPECT_EQ(d.senderAddress(), HostAddress(Lan::address(0)));
    EXPECT_EQ(d.senderPort(), sender.localPort());
    EXPECT_EQ(d.destinationAddress(), HostAddress("10.77.0.255"));
    EXPECT_EQ(d.destinationPort(), port);
    EXPECT_EQ(d.hopLimit(), 64);
    EXPECT_EQ(d.interfaceIndex(), static_cast<unsigned>(lan.eth0(i).index()));
  }

  // The limited broadcast, sent out of eth0 by interface index.
  NetworkDatagram all("to all", HostAddress(HostAddress::Broadcast), port);
  all.setInterfaceIndex(static_cast<unsigned>(lan.eth0(0).index()));
  ASSERT_EQ(sender.writeDatagram(all), 6);
  for (UdpSocket* receiver : {&second, &third}) {
    ASSERT_TRUE(arrives(*receiver));
    const NetworkDatagram d = receiver->receiveDatagram();
    EXPECT_EQ(d.data(), "to all");
    EXPECT_EQ(d.destinationAddress(), HostAddress(HostAddress::Broadcast));
  }

  // A reply to a broadcast comes back as unicast from the replying host.
  ASSERT_EQ(sender.writeDatagram("who is there?", HostAddress("10.77.0.255"), port), 13);
  ASSERT_TRUE(arrives(third));
  NetworkDatagram question = third.receiveDatagram();
  ASSERT_EQ(third.writeDatagram(std::move(question).makeReply("host 3")), 6);
  ASSERT_TRUE(arrives(sender));
  const NetworkDatagram answer = sender.receiveDatagram();
  EXPECT_EQ(answer.data(), "host 3");
  EXPECT_EQ(answer.senderAddress(), HostAddress(Lan::address(2)));
  EXPECT_EQ(answer.destinationAddress(), HostAddress(Lan::address(0)));
  ASSERT_TRUE(arrives(second));
  EXPECT_EQ(second.receiveDatagram().data(), "who is there?");
}

TEST(UdpSocketAcrossHosts, MulticastReachesMembersOnTheInterfaceWithTheTtlAndLoopbackChosen) {
  SKIP_WITHOUT_NAMESPACES();
  test::DescriptorLeakCheck leaks;
  Lan lan;
  ASSERT_TRUE(lan.build(3));
  const HostAddress group("239.255.77.1");
  UdpSocket member;      // host 2, joined
  UdpSocket nonMember;   // host 3, same port, not joined
  UdpSocket sender;      // host 1
  UdpSocket ownMember;   // host 1, joined: hears the sender only with loopback on
  ASSERT_TRUE(lan.bind(1, member, kAnyIPv4));
  const std::uint16_t port = member.localPort();
  ASSERT_TRUE(lan.bind(2, nonMember, kAnyIPv4, port));
  ASSERT_TRUE(lan.bind(0, ownMember, kAnyIPv4, port, ShareAddress));
  ASSERT_TRUE(lan.bind(0, sender, kAnyIPv4));
  ASSERT_TRUE(member.joinMulticastGroup(group, lan.eth0(1))) << member.errorString();
  ASSERT_TRUE(ownMember.joinMulticastGroup(group, lan.eth0(0))) << ownMember.errorString();
  Recorder nonMemberRec(nonMember);
  Recorder ownRec(ownMember);

  // No route in these namespaces: without an interface there is nowhere to send.
  EXPECT_EQ(sender.writeDatagram("lost", group, port), -1);
  EXPECT_EQ(sender.error(), SocketError::NetworkError);

  sender.setMulticastInterface(lan.eth0(0));
  EXPECT_EQ(sender.multicastInterface().index(), lan.eth0(0).index());
  sender.setSocketOption(SocketOption::MulticastTtlOption, 5);
  sender.setSocketOption(SocketOption::MulticastLoopbackOption, 0);
  ASSERT_EQ(sender.writeDatagram("to the group", group, port), 12);
  ASSERT_TRUE(arrives(member));
  NetworkDatagram d = member.receiveDatagram();
  EXPECT_EQ(d.data(), "to the group");
  EXPECT_EQ(d.senderAddress(), HostAddress(Lan::address(0)));
  EXPECT_EQ(d.senderPort(), sender.localPort());
  EXPECT_EQ(d.destinationAddress(), group);
  EXPECT_EQ(d.hopLimit(), 5);
  EXPECT_EQ(d.interfaceIndex(), static_cast<unsigned>(lan.eth0(1).index()));
  test::runFor(50);
  EXPECT_EQ(nonMemberRec.readyReads, 0) << "not a member";
  EXPECT_EQ(ownRec.readyReads, 0) << "loopback off";

  sender.setSocketOption(SocketOption::MulticastLoopbackOption, 1);
  ASSERT_EQ(sender.writeDatagram("again", group, port), 5);
  ASSERT_TRUE(arrives(member));
  EXPECT_EQ(member.receiveDatagram().data(), "again");
  ASSERT_TRUE(arrives(ownMember)) << "loopback on: this host hears itself";
  EXPECT_EQ(ownMember.receiveDatagram().data(), "again");

  // After leaving, the member hears nothing more.
  ASSERT_TRUE(member.leaveMulticastGroup(group, lan.eth0(1)));
  ASSERT_EQ(sender.writeDatagram("after", group, port), 5);
  ASSERT_TRUE(arrives(ownMember));
  test::runFor(50);
  EXPECT_FALSE(member.hasPendingDatagrams());
}

TEST(UdpSocketAcrossHosts, IPv6MulticastReachesMembersWithTheHopLimit) {
  SKIP_WITHOUT_NAMESPACES();
  test::DescriptorLeakCheck leaks;
  Lan lan;
  ASSERT_TRUE(lan.build(2));
  const HostAddress group("ff15::77:1");  // site-local scope: sent from the fd00:77:: address
  UdpSocket member;
  UdpSocket sender;
  ASSERT_TRUE(lan.bind(1, member, kAny));
  ASSERT_TRUE(lan.bind(0, sender, kAnyIPv6));
  ASSERT_TRUE(member.joinMulticastGroup(group, lan.eth0(1))) << member.errorString();
  sender.setMulticastInterface(lan.eth0(0));
  sender.setSocketOption(SocketOption::MulticastTtlOption, 3);
  ASSERT_EQ(sender.writeDatagram("six", group, member.localPort()), 3);
  ASSERT_TRUE(arrives(member));
  const NetworkDatagram d = member.receiveDatagram();
  EXPECT_EQ(d.data(), "six");
  EXPECT_EQ(d.senderAddress(), HostAddress(Lan::address6(0)));
  EXPECT_EQ(d.destinationAddress(), group);
  EXPECT_EQ(d.hopLimit(), 3);
  EXPECT_EQ(d.interfaceIndex(), static_cast<unsigned>(lan.eth0(1).index()));
  EXPECT_TRUE(member.leaveMulticastGroup(group, lan.eth0(1)));
}

TEST(UdpSocketAcrossHosts, SegmentedWritesCrossTheLinkWithOrWithoutOffload) {
  SKIP_WITHOUT_NAMESPACES();
  test::DescriptorLeakCheck leaks;
  Lan lan;
  ASSERT_TRUE(lan.build(2));
  UdpSocket receiver;
  UdpSocket sender;
  ASSERT_TRUE(lan.bind(1, receiver, kAnyIPv4));
  ASSERT_TRUE(lan.bind(0, sender, kAnyIPv4));
  // 1000-byte segments fit the 1500-byte MTU (offload where available);
  // 2000-byte ones do not, so they go one by one, fragmented by IP.
  for (const std::int64_t segment : {1000, 2000}) {
    SCOPED_TRACE(segment);
    const std::string data = pattern(static_cast<std::size_t>(segment) * 20 + 10, static_cast<unsigned>(segment));
    ASSERT_EQ(sender.writeSegmented(data, segment, HostAddress(Lan::address(1)), receiver.localPort()),
              static_cast<std::int64_t>(data.size()));
    std::vector<std::string> got;
    ASSERT_TRUE(test::runUntil([&] {
      while (receiver.hasPendingDatagrams()) got.push_back(take(receiver));
      return got.size() == 21;
    }));
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(got[i], data.substr(i * static_cast<std::size_t>(segment), static_cast<std::size_t>(segment))) << i;
  }
}
