// TcpSocket against Qt's QTcpSocket/QAbstractSocket behaviour: the exact
// signal sequences of connecting, failing, closing and aborting; data in
// bulk and under a read limit; blocking use without a loop; options,
// adopted descriptors, addresses; deletion from inside every signal.
//
// Every signal is delivered by the event loop (or, in blocking use, by the
// waitFor*() call), never from inside the call that started the operation;
// the tests check that too.
#include "tether/tcp_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/dns_server.h"
#include "support/test_support.h"
#include "system/unique_fd.h"
#include "tether/event_loop.h"
#include "tether/host_info.h"
#include "tether/tcp_server.h"

using namespace tether;
using S = SocketState;
using detail::UniqueFd;

namespace {

const HostAddress kLocalHost(HostAddress::LocalHost);
const HostAddress kLocalHostIPv6(HostAddress::LocalHostIPv6);

std::string st(S s) { return "state:" + std::to_string(static_cast<int>(s)); }
std::string err(SocketError e) { return "error:" + std::to_string(static_cast<int>(e)); }

// Records every signal of a socket in order, as text. With data signals on,
// readyRead and bytesWritten are recorded too, a run of the same one as one
// entry (how often they fire depends on the system's segmenting).
struct Recorder {
  std::vector<std::string> events;
  std::int64_t bytesWritten = 0;
  int readyReads = 0;

  explicit Recorder(AbstractSocket& s, bool dataSignals = false) {
    s.stateChanged.connect([this](SocketState state) { events.push_back(st(state)); });
    s.hostFound.connect([this] { events.emplace_back("hostFound"); });
    s.connected.connect([this] { events.emplace_back("connected"); });
    s.disconnected.connect([this] { events.emplace_back("disconnected"); });
    s.readChannelFinished.connect([this] { events.emplace_back("readChannelFinished"); });
    s.errorOccurred.connect([this](SocketError e) { events.push_back(err(e)); });
    s.bytesWritten.connect([this, dataSignals](std::int64_t n) {
      bytesWritten += n;
      if (dataSignals) once("bytesWritten");
    });
    s.readyRead.connect([this, dataSignals] {
      ++readyReads;
      if (dataSignals) once("readyRead");
    });
  }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  bool ended() const { return !events.empty() && events.back() == "disconnected"; }
  bool failed() const { return !events.empty() && events.back().starts_with("error"); }

 private:
  void once(const char* name) {
    if (events.empty() || events.back() != name) events.emplace_back(name);
  }
};

using Events = std::vector<std::string>;

const Events kConnectSequence = {st(S::HostLookupState), st(S::ConnectingState), "hostFound", st(S::ConnectedState),
                                 "connected"};

Events concat(Events a, const Events& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A port on loopback with nothing listening: bind a listener, read its port,
// close it.
std::uint16_t closedPort(const HostAddress& address = kLocalHost) {
  TcpServer server;
  EXPECT_TRUE(server.listen(address));
  return server.serverPort();
}


// A listening server and a client connected to it, with the server's socket
// for that client taken.
struct Link {
  TcpServer server;
  TcpSocket client;
  TcpSocket* peer = nullptr;

  bool open(const HostAddress& address = kLocalHost) {
    if (!server.listen(address)) return false;
    client.connectToHost(address, server.serverPort());
    if (!test::runUntil([&] { return client.state() == S::ConnectedState && server.hasPendingConnections(); }))
      return false;
    peer = server.nextPendingConnection();
    // Let the adopted socket's own notifications pass before a test
    // records anything on it.
    EventLoop().processEvents();
    return peer != nullptr;
  }
};

// Collects everything a socket receives.
struct Sink {
  std::string data;
  explicit Sink(AbstractSocket& s) {
    s.readyRead.connect([this, &s] { data += s.readAll(); });
  }
};


}  // namespace

// ------------------------------------------------------------ connecting

TEST(TcpSocket, InitialStateIsQts) {
  test::DescriptorLeakCheck leaks;
  TcpSocket socket;
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.error(), SocketError::UnknownSocketError);
  EXPECT_EQ(socket.errorString(), "Unknown error");
  EXPECT_EQ(socket.socketType(), SocketType::TcpSocket);
  EXPECT_EQ(socket.socketDescriptor(), -1);
  EXPECT_FALSE(socket.isValid());
  EXPECT_FALSE(socket.isOpen());
  EXPECT_EQ(socket.localPort(), 0);
  EXPECT_EQ(socket.peerPort(), 0);
  EXPECT_TRUE(socket.localAddress().isNull());
  EXPECT_TRUE(socket.peerAddress().isNull());
  EXPECT_EQ(socket.peerName(), "");
  EXPECT_EQ(socket.readBufferSize(), 0);
  EXPECT_EQ(socket.bytesAvailable(), 0);
  EXPECT_EQ(socket.bytesToWrite(), 0);
  EXPECT_TRUE(socket.isSequential());
}

TEST(TcpSocket, ConnectsToLoopbackWithQtsSignalSequence) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost(kLocalHost, server.serverPort());
  EXPECT_EQ(socket.state(), S::HostLookupState);
  EXPECT_TRUE(socket.isOpen());
  EXPECT_TRUE(rec.events.empty()) << "no signal from inside connectToHost";
  ASSERT_TRUE(test::runUntil([&] { return rec.events.size() >= 5; }));
  test::runFor(10);
  EXPECT_EQ(rec.events, kConnectSequence);
  EXPECT_EQ(socket.state(), S::ConnectedState);
  EXPECT_TRUE(socket.isValid());
  EXPECT_NE(socket.socketDescriptor(), -1);
  EXPECT_EQ(socket.openMode(), IODevice::ReadWrite);
}

TEST(TcpSocket, EchoRoundTripDeliversExactBytes) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([peer] { peer->write(peer->readAll()); });
    peer->disconnected.connect(peer, [peer] { peer->deleteLater(); });
  });
  TcpSocket socket;
  Sink sink(socket);
  socket.connectToHost("127.0.0.1", server.serverPort());
  EXPECT_EQ(socket.write("hello, tether"), 13) << "writing while looking up is buffered";
  EXPECT_EQ(socket.bytesToWrite(), 13);
  ASSERT_TRUE(test::runUntil([&] { return sink.data.size() == 13; }));
  EXPECT_EQ(sink.data, "hello, tether");
  socket.disconnectFromHost();
  ASSERT_TRUE(test::runUntil([&] { return socket.state() == S::UnconnectedState; }));
}

TEST(TcpSocket, ConnectionRefusedEndsUnconnectedThenError) {
  test::DescriptorLeakCheck leaks;
  const std::uint16_t port = closedPort();
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost(kLocalHost, port);
  ASSERT_TRUE(test::runUntil([&] { return rec.failed(); }));
  test::runFor(10);
  EXPECT_EQ(rec.events, (Events{st(S::HostLookupState), st(S::ConnectingState), "hostFound", st(S::UnconnectedState),
                                err(SocketError::ConnectionRefusedError)}));
  EXPECT_EQ(socket.error(), SocketError::ConnectionRefusedError);
  EXPECT_EQ(socket.errorString(), "Connection refused");
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.socketDescriptor(), -1);
}

TEST(TcpSocket, ConnectToHostWhileConnectingReportsOperationErrorAndGoesOn) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost(kLocalHost, server.serverPort());
  socket.connectToHost(kLocalHost, closedPort());
  EXPECT_TRUE(rec.events.empty()) << "the error too comes from the loop";
  EXPECT_EQ(socket.error(), SocketError::OperationError);
  EXPECT_EQ(socket.errorString(), "Trying to connect while connection is in progress");
  ASSERT_TRUE(test::runUntil([&] { return socket.state() == S::ConnectedState && rec.events.size() >= 6; }));
  EXPECT_EQ(rec.events, (Events{st(S::HostLookupState), err(SocketError::OperationError), st(S::ConnectingState),
                                "hostFound", st(S::ConnectedState), "connected"}));
  EXPECT_EQ(socket.peerPort(), server.serverPort()) << "the first connection is not disturbed";

  socket.connectToHost(kLocalHost, server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return rec.events.size() == 7; }));
  EXPECT_EQ(rec.events.back(), err(SocketError::OperationError)) << "and while connected";
  EXPECT_EQ(socket.state(), S::ConnectedState);
}

TEST(TcpSocket, WaitForConnectedTimesOutOnAFullBacklogWithoutErrorOccurred) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  server.setListenBacklogSize(0);
  ASSERT_TRUE(server.listen(kLocalHost));
  server.pauseAccepting();
  // Linux queues one connection for a backlog of 0; the next handshake
  // waits.
  TcpSocket filler;
  filler.connectToHost(kLocalHost, server.serverPort());
  ASSERT_TRUE(filler.waitForConnected(5000));

  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost(kLocalHost, server.serverPort());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(socket.waitForConnected(100));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
  EXPECT_EQ(rec.events, (Events{st(S::HostLookupState), st(S::ConnectingState), "hostFound",
                                st(S::UnconnectedState)}))
      << "delivered before waitForConnected returns; Qt emits no errorOccurred here";
  EXPECT_EQ(socket.error(), SocketError::SocketTimeoutError);
  EXPECT_EQ(socket.errorString(), "Socket operation timed out");
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.socketDescriptor(), -1);
  test::runFor(20);
  EXPECT_EQ(rec.events.size(), 4u) << "nothing follows from the loop";
}

TEST(TcpSocket, ReconnectingAfterADisconnectRepeatsTheSequence) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  Recorder rec(socket);
  for (int round = 0; round < 2; ++round) {
    rec.events.clear();
    socket.connectToHost(kLocalHost, server.serverPort());
    ASSERT_TRUE(test::runUntil([&] { return rec.events.size() == 5; }));
    EXPECT_EQ(rec.events, kConnectSequence) << round;
    socket.disconnectFromHost();
    ASSERT_TRUE(test::runUntil([&] { return rec.ended(); }));
    EXPECT_EQ(rec.events, concat(kConnectSequence, {st(S::ClosingState), st(S::UnconnectedState),
                                                    "readChannelFinished", "disconnected"}))
        << round;
  }
}

// ------------------------------------------------------------ name lookups

namespace {

// Lookups go to a dnsmasq that knows one name (every other query is
// NXDOMAIN); the machine's resolver is never asked.
constexpr const char* kPeerName = "peer.tether.test";

class TcpSocketLookup : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dns_ = new test::DnsServer({.arguments = {std::string("--host-record=") + kPeerName + ",127.0.0.1"},
                                .silentDomains = {},
                                .unknownNamesAreNxdomain = true});
  }
  static void TearDownTestSuite() {
    delete dns_;
    dns_ = nullptr;
    HostInfo::setNameServers({});
    HostInfo::setResolverTimeout(0, 0);
  }
  void SetUp() override {
    std::uint16_t port = dns_->port();
    if (!dns_->isRunning()) {
      // No dnsmasq: a loopback port where nothing listens fails lookups
      // just as well (with UnknownError instead of NXDOMAIN).
      UniqueFd probe(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      sockaddr_storage ss{};
      const socklen_t len = kLocalHost.toSockaddr(0, &ss);
      ::bind(probe.get(), reinterpret_cast<sockaddr*>(&ss), len);
      socklen_t got = sizeof ss;
      ::getsockname(probe.get(), reinterpret_cast<sockaddr*>(&ss), &got);
      port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    }
    HostInfo::setNameServers({{kLocalHost, port}});
    HostInfo::setResolverTimeout(200, 2);
  }

  // A name for 127.0.0.1 that needs a DNS answer (the hosts file's
  // "localhost" without dnsmasq).
  static const char* loopbackName() { return dns_->isRunning() ? kPeerName : "localhost"; }

  static inline test::DnsServer* dns_ = nullptr;
  test::DescriptorLeakCheck leaks_;
};

}  // namespace

TEST_F(TcpSocketLookup, ConnectingByNameLooksUpThenConnects) {
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost("localhost", server.serverPort());
  EXPECT_EQ(socket.peerName(), "localhost");
  ASSERT_TRUE(test::runUntil([&] { return rec.events.size() >= 5; }));
  test::runFor(10);
  EXPECT_EQ(rec.events, kConnectSequence);
  EXPECT_EQ(socket.peerName(), "localhost");
  EXPECT_EQ(socket.peerAddress(), kLocalHost);
}

TEST_F(TcpSocketLookup, ConnectingByANameFromDnsLooksUpThenConnects) {
  if (!dns_->isRunning()) GTEST_SKIP() << "needs dnsmasq: " << dns_->errorString();
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost(kPeerName, server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return rec.events.size() >= 5; }));
  test::runFor(10);
  EXPECT_EQ(rec.events, kConnectSequence);
  EXPECT_EQ(socket.peerName(), kPeerName);
  EXPECT_EQ(socket.peerAddress(), kLocalHost);
}

TEST_F(TcpSocketLookup, ConnectionRefusedByNameFoundTheHostFirst) {
  const std::uint16_t port = closedPort();
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost("localhost", port);
  ASSERT_TRUE(test::runUntil([&] { return rec.failed(); }));
  test::runFor(10);
  EXPECT_EQ(rec.events, (Events{st(S::HostLookupState), st(S::ConnectingState), "hostFound", st(S::UnconnectedState),
                                err(SocketError::ConnectionRefusedError)}));
  EXPECT_EQ(socket.errorString(), "Connection refused");
}

TEST_F(TcpSocketLookup, HostNotFoundEndsUnconnectedThenErrorWithoutHostFound) {
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost("no-such-host.invalid", 80);
  EXPECT_EQ(socket.state(), S::HostLookupState);
  ASSERT_TRUE(test::runUntil([&] { return rec.failed(); }));
  test::runFor(10);
  EXPECT_EQ(rec.events, (Events{st(S::HostLookupState), st(S::UnconnectedState), err(SocketError::HostNotFoundError)}));
  EXPECT_EQ(socket.error(), SocketError::HostNotFoundError);
  EXPECT_EQ(socket.errorString(), "Host not found");
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.socketDescriptor(), -1);
}

TEST_F(TcpSocketLookup, WaitForConnectedReportsHostNotFound) {
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost("no-such-host.invalid", 80);
  EXPECT_FALSE(socket.waitForConnected(5000));
  EXPECT_EQ(rec.events, (Events{st(S::HostLookupState), st(S::UnconnectedState), err(SocketError::HostNotFoundError)}));
  EXPECT_EQ(socket.errorString(), "Host not found");
  test::runFor(10);
  EXPECT_EQ(rec.events.size(), 3u) << "no late duplicate from an abandoned asynchronous lookup";
}

TEST_F(TcpSocketLookup, WaitForConnectedTakesOverALookupAlreadyStarted) {
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  Recorder rec(socket);
  if (!dns_->isRunning()) GTEST_SKIP() << "needs dnsmasq: " << dns_->errorString();
  socket.connectToHost(kPeerName, server.serverPort());
  EventLoop().processEvents();  // the asynchronous lookup starts
  ASSERT_EQ(socket.state(), S::HostLookupState);
  EXPECT_TRUE(socket.waitForConnected(5000));
  EXPECT_EQ(rec.events, kConnectSequence);
  test::runFor(50);
  EXPECT_EQ(rec.events, kConnectSequence) << "the abandoned lookup's answer changes nothing";
}

TEST_F(TcpSocketLookup, DisconnectWhileLookingUpDeliversAllWrittenBytes) {
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket* peer = nullptr;
  std::string received;
  bool peerDisconnected = false;
  server.newConnection.connect([&] {
    peer = server.nextPendingConnection();
    peer->readyRead.connect([&] { received += peer->readAll(); });
    peer->disconnected.connect([&] { peerDisconnected = true; });
  });
  const std::string first = test::randomBytes(256 * 1024, 1);
  const std::string second = test::randomBytes(256 * 1024, 2);
  TcpSocket socket;
  Recorder rec(socket);
  socket.stateChanged.connect([&](SocketState s) {
    if (s == S::ConnectingState) {
      EXPECT_EQ(socket.write(second), static_cast<std::int64_t>(second.size()));
    }
  });
  socket.connectToHost(loopbackName(), server.serverPort());
  ASSERT_EQ(socket.write(first), static_cast<std::int64_t>(first.size()));
  socket.disconnectFromHost();
  EXPECT_EQ(socket.state(), S::HostLookupState) << "the close waits for the connection";
  ASSERT_TRUE(test::runUntil([&] { return peerDisconnected && rec.ended(); }));
  EXPECT_TRUE(received == first + second) << received.size() << " of " << first.size() + second.size();
  EXPECT_EQ(rec.bytesWritten, static_cast<std::int64_t>(first.size() + second.size()));
  EXPECT_EQ(rec.events, concat(kConnectSequence, {st(S::ClosingState), st(S::UnconnectedState), "readChannelFinished",
                                                  "disconnected"}));
}

// ------------------------------------------------------------ closing

TEST(TcpSocket, PeerCloseEmitsRemoteHostClosedThenDisconnectSequence) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->write("bye");
    peer->disconnectFromHost();
  });
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost(kLocalHost, server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return rec.ended(); }));
  test::runFor(10);
  EXPECT_EQ(rec.events, concat(kConnectSequence, {err(SocketError::RemoteHostClosedError), st(S::ClosingState),
                                                  st(S::UnconnectedState), "readChannelFinished", "disconnected"}));
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.errorString(), "The remote host closed the connection");
  EXPECT_EQ(socket.bytesAvailable(), 3);
  EXPECT_EQ(socket.readAll(), "bye") << "data received before the close stays readable";
  EXPECT_TRUE(socket.atEnd());
  EXPECT_EQ(socket.socketDescriptor(), -1);
}

TEST(TcpSocket, PeerResetIsReportedAsRemoteHostClosed) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  socket.connectToHost(kLocalHost, server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return server.hasPendingConnections(); }));
  std::unique_ptr<TcpSocket> peer(server.nextPendingConnection());
  peer->setParent(nullptr);
  ASSERT_TRUE(test::runUntil([&] { return socket.state() == S::ConnectedState; }));
  EventLoop().processEvents();  // the connect signals pass
  Recorder rec(socket);
  // SO_LINGER 0: close() sends a reset instead of a FIN.
  const linger hard{1, 0};
  ASSERT_EQ(::setsockopt(peer->socketDescriptor(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard), 0);
  peer.reset();
  ASSERT_TRUE(test::runUntil([&] { return rec.ended(); }));
  EXPECT_EQ(rec.events, (Events{err(SocketError::RemoteHostClosedError), st(S::ClosingState), st(S::UnconnectedState),
                                "readChannelFinished", "disconnected"}));
  EXPECT_EQ(socket.errorString(), "The remote host closed the connection");
}

TEST(TcpSocket, ServerSideSeesTheClientCloseWithTheSameSequence) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(*c.peer);
  c.client.write("last words");
  c.client.disconnectFromHost();
  ASSERT_TRUE(test::runUntil([&] { return rec.ended(); }));
  EXPECT_EQ(rec.events, (Events{err(SocketError::RemoteHostClosedError), st(S::ClosingState), st(S::UnconnectedState),
                                "readChannelFinished", "disconnected"}));
  EXPECT_EQ(c.peer->readAll(), "last words");
}

TEST(TcpSocket, DisconnectFromHostWithoutPendingDataClosesAtOnceButSignalsLater) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(c.client);
  const std::uint16_t localPort = c.client.localPort();
  c.client.disconnectFromHost();
  EXPECT_EQ(c.client.state(), S::UnconnectedState);
  EXPECT_TRUE(rec.events.empty()) << "no signal from inside disconnectFromHost";
  ASSERT_TRUE(test::runUntil([&] { return rec.ended(); }));
  EXPECT_EQ(rec.events, (Events{st(S::ClosingState), st(S::UnconnectedState), "readChannelFinished", "disconnected"}));
  EXPECT_NE(localPort, 0);
  EXPECT_EQ(c.client.localPort(), 0);
  EXPECT_EQ(c.client.peerPort(), 0);
  EXPECT_TRUE(c.client.localAddress().isNull());
  EXPECT_TRUE(c.client.peerAddress().isNull());
  EXPECT_EQ(c.client.peerName(), "");
  c.client.disconnectFromHost();  // unconnected: nothing happens
  test::runFor(10);
  EXPECT_EQ(rec.events.size(), 4u);
}

TEST(TcpSocket, DisconnectFromHostFlushesPendingWritesThenCloses) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Sink sink(*c.peer);
  bool peerDisconnected = false;
  c.peer->disconnected.connect([&] { peerDisconnected = true; });
  Recorder rec(c.client, true);
  const std::string payload = test::randomBytes(4 << 20, 3);
  ASSERT_EQ(c.client.write(payload), static_cast<std::int64_t>(payload.size()));
  c.client.disconnectFromHost();
  EXPECT_EQ(c.client.state(), S::ClosingState);
  EXPECT_EQ(c.client.bytesToWrite(), static_cast<std::int64_t>(payload.size()));
  EXPECT_TRUE(rec.events.empty());
  ASSERT_TRUE(test::runUntil([&] { return rec.ended() && peerDisconnected; }));
  EXPECT_EQ(rec.events, (Events{st(S::ClosingState), "bytesWritten", st(S::UnconnectedState), "readChannelFinished",
                                "disconnected"}));
  EXPECT_EQ(rec.bytesWritten, static_cast<std::int64_t>(payload.size()));
  EXPECT_EQ(c.client.bytesToWrite(), 0);
  EXPECT_TRUE(sink.data == payload) << sink.data.size() << " of " << payload.size();
}

TEST(TcpSocket, DisconnectWhileConnectingDeliversAllWrittenBytes) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket* peer = nullptr;
  std::string received;
  bool peerDisconnected = false;
  server.newConnection.connect([&] {
    peer = server.nextPendingConnection();
    peer->readyRead.connect([&] { received += peer->readAll(); });
    peer->disconnected.connect([&] { peerDisconnected = true; });
  });
  const std::string first = test::randomBytes(1 << 20, 4);
  const std::string second = test::randomBytes(1 << 20, 5);
  TcpSocket socket;
  Recorder rec(socket, true);
  socket.stateChanged.connect([&](SocketState s) {
    if (s == S::ConnectingState) {
      EXPECT_EQ(socket.write(second), static_cast<std::int64_t>(second.size()));
      socket.disconnectFromHost();  // again, while connecting
    }
  });
  socket.connectToHost(kLocalHost, server.serverPort());
  ASSERT_EQ(socket.write(first), static_cast<std::int64_t>(first.size()));
  socket.disconnectFromHost();
  EXPECT_EQ(socket.state(), S::HostLookupState);
  ASSERT_TRUE(test::runUntil([&] { return peerDisconnected && rec.ended(); }));
  EXPECT_TRUE(received == first + second) << received.size() << " of " << first.size() + second.size();
  EXPECT_EQ(rec.events, concat(kConnectSequence, {st(S::ClosingState), "bytesWritten", st(S::UnconnectedState),
                                                  "readChannelFinished", "disconnected"}));
  EXPECT_EQ(rec.bytesWritten, static_cast<std::int64_t>(first.size() + second.size()));
}

TEST(TcpSocket, AbortDropsUnwrittenDataWithoutClosingState) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Sink sink(*c.peer);
  Recorder peerRec(*c.peer);
  Recorder rec(c.client, true);
  int aboutToClose = 0;
  c.client.aboutToClose.connect([&] { ++aboutToClose; });
  ASSERT_EQ(c.client.write(test::randomBytes(1 << 20, 6)), 1 << 20);
  c.client.abort();
  EXPECT_EQ(aboutToClose, 1) << "aboutToClose is emitted by close(), inside the call, as in Qt";
  EXPECT_EQ(c.client.state(), S::UnconnectedState);
  EXPECT_EQ(c.client.bytesToWrite(), 0);
  EXPECT_FALSE(c.client.isOpen());
  EXPECT_EQ(c.client.socketDescriptor(), -1);
  EXPECT_TRUE(rec.events.empty()) << "the state signals come from the loop";
  ASSERT_TRUE(test::runUntil([&] { return rec.ended() && peerRec.ended(); }));
  EXPECT_EQ(rec.events, (Events{st(S::UnconnectedState), "readChannelFinished", "disconnected"}));
  EXPECT_EQ(rec.bytesWritten, 0);
  EXPECT_EQ(sink.data.size(), 0u) << "nothing of the unwritten data was sent";
  EXPECT_EQ(peerRec.events.front(), err(SocketError::RemoteHostClosedError));
}

TEST(TcpSocket, AbortWhileLookingUpCancelsTheConnection) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  int newConnections = 0;
  server.newConnection.connect([&] { ++newConnections; });
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost(kLocalHost, server.serverPort());
  socket.abort();
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  ASSERT_TRUE(test::runUntil([&] { return rec.events.size() == 3; }));
  test::runFor(30);
  EXPECT_EQ(rec.events, (Events{st(S::HostLookupState), st(S::UnconnectedState), "readChannelFinished"}))
      << "never connected: no disconnected";
  EXPECT_EQ(newConnections, 0);
}

TEST(TcpSocket, AbortWhileConnectingEmitsNoDisconnected) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  Recorder rec(socket);
  socket.stateChanged.connect([&](SocketState s) {
    if (s == S::ConnectingState) socket.abort();
  });
  socket.connectToHost(kLocalHost, server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return rec.events.size() >= 5; }));
  test::runFor(30);
  EXPECT_EQ(rec.events, (Events{st(S::HostLookupState), st(S::ConnectingState), "hostFound", st(S::UnconnectedState),
                                "readChannelFinished"}));
}

TEST(TcpSocket, CloseDropsUnreadDataAndEmitsAboutToClose) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  c.peer->write("unread");
  ASSERT_TRUE(test::runUntil([&] { return c.client.bytesAvailable() == 6; }));
  int aboutToClose = 0;
  c.client.aboutToClose.connect([&] { ++aboutToClose; });
  Recorder rec(c.client);
  c.client.close();
  EXPECT_EQ(aboutToClose, 1);
  EXPECT_EQ(c.client.bytesAvailable(), 0);
  EXPECT_FALSE(c.client.isOpen());
  ASSERT_TRUE(test::runUntil([&] { return rec.ended(); }));
  EXPECT_EQ(rec.events, (Events{st(S::ClosingState), st(S::UnconnectedState), "readChannelFinished", "disconnected"}));
}

TEST(TcpSocket, WriteOnAnUnconnectedSocketFails) {
  test::DescriptorLeakCheck leaks;
  TcpSocket socket;
  EXPECT_EQ(socket.write("x"), -1);
  EXPECT_EQ(socket.bytesToWrite(), 0);
}

// ------------------------------------------------------------ data

TEST(TcpSocket, LargeTransfersInBothDirectionsArriveIntact) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  const std::string up = test::randomBytes(32 << 20, 7);
  const std::string down = test::randomBytes(32 << 20, 8);
  Sink atServer(*c.peer);
  Sink atClient(c.client);
  std::int64_t upWritten = 0;
  std::int64_t downWritten = 0;
  c.client.bytesWritten.connect([&](std::int64_t n) { upWritten += n; });
  c.peer->bytesWritten.connect([&](std::int64_t n) { downWritten += n; });
  ASSERT_EQ(c.client.write(up), static_cast<std::int64_t>(up.size()));
  ASSERT_EQ(c.peer->write(down), static_cast<std::int64_t>(down.size()));
  ASSERT_TRUE(test::runUntil([&] { return atServer.data.size() >= up.size() && atClient.data.size() >= down.size(); },
                             30000))
      << atServer.data.size() << " / " << atClient.data.size();
  EXPECT_TRUE(atServer.data == up);
  EXPECT_TRUE(atClient.data == down);
  EXPECT_EQ(upWritten, static_cast<std::int64_t>(up.size()));
  EXPECT_EQ(downWritten, static_cast<std::int64_t>(down.size()));
  EXPECT_EQ(c.client.bytesToWrite(), 0);
  EXPECT_EQ(c.peer->bytesToWrite(), 0);
}

TEST(TcpSocket, ReadBufferSizeBoundsBufferedBytesAndEverythingArrives) {
  test::DescriptorLeakCheck leaks;
  constexpr std::int64_t kLimit = 4096;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  const std::string payload = test::randomBytes(1 << 20, 9);
  server.newConnection.connect([&] { server.nextPendingConnection()->write(payload); });
  TcpSocket socket;
  socket.setReadBufferSize(kLimit);
  EXPECT_EQ(socket.readBufferSize(), kLimit);
  std::int64_t most = 0;
  int readyReads = 0;
  bool reading = false;
  std::string got;
  socket.readyRead.connect([&] {
    ++readyReads;
    most = std::max(most, socket.bytesAvailable());
    if (reading) got += socket.readAll();
  });
  socket.connectToHost(kLocalHost, server.serverPort());
  // Not reading: the socket fills up to the limit and stops.
  ASSERT_TRUE(test::runUntil([&] { return socket.bytesAvailable() == kLimit; }));
  test::runFor(50);
  EXPECT_EQ(socket.bytesAvailable(), kLimit) << "stopped reading at the limit";
  // Reading lets the rest in, never more than the limit at once.
  reading = true;
  got = socket.readAll();
  ASSERT_TRUE(test::runUntil([&] { return got.size() == payload.size(); })) << got.size();
  EXPECT_TRUE(got == payload);
  EXPECT_EQ(most, kLimit);
  EXPECT_GE(readyReads, static_cast<int>(payload.size() / kLimit));
}

TEST(TcpSocket, RemovingTheReadBufferLimitResumesReading) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  const std::string payload = test::randomBytes(256 * 1024, 10);
  server.newConnection.connect([&] { server.nextPendingConnection()->write(payload); });
  TcpSocket socket;
  socket.setReadBufferSize(1024);
  socket.connectToHost(kLocalHost, server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return socket.bytesAvailable() == 1024; }));
  socket.setReadBufferSize(0);
  ASSERT_TRUE(test::runUntil([&] { return socket.bytesAvailable() == static_cast<std::int64_t>(payload.size()); }));
  EXPECT_TRUE(socket.readAll() == payload);
}

// ------------------------------------------------------------ blocking use

TEST(TcpSocket, BlockingClientWithoutTimeLimitsOnAThreadWithoutALoop) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  // Echoes, and hangs up after echoing "bye".
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([peer] {
      const std::string data = peer->readAll();
      peer->write(data);
      if (data.ends_with("bye")) peer->disconnectFromHost();
    });
  });
  const std::uint16_t port = server.serverPort();
  Events afterConnect;
  Events events;
  std::string echoed;
  bool connected = false, written = false, disconnected = false;
  S finalState = S::ConnectedState;
  ASSERT_TRUE(test::runOnThreadWithoutALoop([&] {
    TcpSocket socket;
    Recorder rec(socket, true);
    socket.connectToHost("127.0.0.1", port);
    connected = socket.waitForConnected(-1);
    afterConnect = rec.events;
    socket.write("ping");
    written = socket.waitForBytesWritten(-1);
    while (echoed.size() < 4 && socket.waitForReadyRead(-1)) echoed += socket.readAll();
    socket.write("bye");
    disconnected = socket.waitForDisconnected(-1);
    echoed += socket.readAll();
    finalState = socket.state();
    events = rec.events;
  }));
  EXPECT_TRUE(connected);
  EXPECT_EQ(afterConnect, kConnectSequence) << "waitForConnected delivers the signals before it returns";
  EXPECT_TRUE(written);
  EXPECT_TRUE(disconnected);
  EXPECT_EQ(finalState, S::UnconnectedState);
  EXPECT_EQ(echoed, "pingbye");
  EXPECT_EQ(events, concat(kConnectSequence, {"bytesWritten", "readyRead", "bytesWritten", "readyRead",
                                              err(SocketError::RemoteHostClosedError), st(S::ClosingState),
                                              st(S::UnconnectedState), "readChannelFinished", "disconnected"}));
}

TEST(TcpSocket, WaitForDisconnectedFlushesPendingWritesOfADisconnect) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  std::string received;
  bool peerDisconnected = false;
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([&received, peer] { received += peer->readAll(); });
    peer->disconnected.connect([&] { peerDisconnected = true; });
  });
  const std::uint16_t port = server.serverPort();
  const std::string payload = test::randomBytes(2 << 20, 11);
  bool ok = false;
  Events events;
  ASSERT_TRUE(test::runOnThreadWithoutALoop([&] {
    TcpSocket socket;
    socket.connectToHost(kLocalHost, port);
    if (!socket.waitForConnected(5000)) return;
    Recorder rec(socket, true);
    socket.write(payload);
    socket.disconnectFromHost();
    ok = socket.waitForDisconnected(-1);
    events = rec.events;
  }));
  EXPECT_TRUE(ok);
  EXPECT_EQ(events, (Events{st(S::ClosingState), "bytesWritten", st(S::UnconnectedState), "readChannelFinished",
                            "disconnected"}));
  ASSERT_TRUE(test::runUntil([&] { return peerDisconnected; }));
  EXPECT_TRUE(received == payload) << received.size();
}

TEST(TcpSocket, WaitForReadyReadTimesOutWithErrorOccurredAndKeepsTheConnection) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(c.client);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.client.waitForReadyRead(50));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  EXPECT_EQ(rec.events, (Events{err(SocketError::SocketTimeoutError)})) << "emitted inside the wait";
  EXPECT_EQ(c.client.error(), SocketError::SocketTimeoutError);
  EXPECT_EQ(c.client.errorString(), "Network operation timed out");
  EXPECT_EQ(c.client.state(), S::ConnectedState);
  c.peer->write("late");
  ASSERT_TRUE(test::runUntil([&] { return c.client.bytesAvailable() == 4; }));
  EXPECT_EQ(c.client.readAll(), "late");
}

TEST(TcpSocket, WaitForDisconnectedTimesOutWithErrorOccurred) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(c.client);
  EXPECT_FALSE(c.client.waitForDisconnected(30));
  EXPECT_EQ(rec.events, (Events{err(SocketError::SocketTimeoutError)}));
  EXPECT_EQ(c.client.errorString(), "Network operation timed out");
  EXPECT_EQ(c.client.state(), S::ConnectedState);
}

TEST(TcpSocket, WaitForBytesWrittenTimesOutWhenThePeerDoesNotRead) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  c.client.setSocketOption(SocketOption::SendBufferSizeSocketOption, 16 * 1024);
  c.peer->setSocketOption(SocketOption::ReceiveBufferSizeSocketOption, 16 * 1024);
  ASSERT_EQ(c.client.write(test::randomBytes(8 << 20, 12)), 8 << 20);
  // This thread does not run its loop, so the peer reads nothing: each wait
  // moves some bytes until the system's buffers are full.
  int rounds = 0;
  while (c.client.waitForBytesWritten(50) && rounds < 1000) ++rounds;
  EXPECT_LT(rounds, 1000);
  EXPECT_GT(c.client.bytesToWrite(), 0);
  EXPECT_EQ(c.client.error(), SocketError::SocketTimeoutError);
  EXPECT_EQ(c.client.errorString(), "Network operation timed out");
  EXPECT_EQ(c.client.state(), S::ConnectedState);
}

TEST(TcpSocket, WaitFunctionsReturnFalseOnAnUnconnectedSocket) {
  test::DescriptorLeakCheck leaks;
  TcpSocket socket;
  Recorder rec(socket);
  EXPECT_FALSE(socket.waitForConnected(10));
  EXPECT_FALSE(socket.waitForReadyRead(10));
  EXPECT_FALSE(socket.waitForBytesWritten(10));
  EXPECT_FALSE(socket.waitForDisconnected(10));
  EXPECT_EQ(socket.error(), SocketError::UnknownSocketError);
  EXPECT_TRUE(rec.events.empty());
}

TEST(TcpSocket, WaitForBytesWrittenWithNothingToWriteReturnsFalse) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  EXPECT_FALSE(c.client.waitForBytesWritten(10));
  EXPECT_TRUE(c.client.waitForConnected(10)) << "already connected";
}

// ------------------------------------------------------------ options

TEST(TcpSocket, SocketOptionsReadBackOnAnIPv4Socket) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  TcpSocket& s = c.client;
  s.setSocketOption(SocketOption::LowDelayOption, 1);
  EXPECT_EQ(s.socketOption(SocketOption::LowDelayOption), 1);
  s.setSocketOption(SocketOption::LowDelayOption, 0);
  EXPECT_EQ(s.socketOption(SocketOption::LowDelayOption), 0);
  s.setSocketOption(SocketOption::KeepAliveOption, 1);
  EXPECT_EQ(s.socketOption(SocketOption::KeepAliveOption), 1);
  s.setSocketOption(SocketOption::KeepAliveOption, 0);
  EXPECT_EQ(s.socketOption(SocketOption::KeepAliveOption), 0);
  s.setSocketOption(SocketOption::TypeOfServiceOption, 0x20);
  EXPECT_EQ(s.socketOption(SocketOption::TypeOfServiceOption), 0x20);
  // Linux doubles buffer sizes for its bookkeeping (socket(7)); Qt reports
  // the system's value too.
  s.setSocketOption(SocketOption::SendBufferSizeSocketOption, 32768);
  EXPECT_EQ(s.socketOption(SocketOption::SendBufferSizeSocketOption), 2 * 32768);
  s.setSocketOption(SocketOption::ReceiveBufferSizeSocketOption, 49152);
  EXPECT_EQ(s.socketOption(SocketOption::ReceiveBufferSizeSocketOption), 2 * 49152);
}

TEST(TcpSocket, TypeOfServiceReadsBackOnAnIPv6Socket) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open(kLocalHostIPv6));
  c.client.setSocketOption(SocketOption::TypeOfServiceOption, 0x28);
  EXPECT_EQ(c.client.socketOption(SocketOption::TypeOfServiceOption), 0x28);
}

TEST(TcpSocket, OptionsSetBeforeConnectingApplyToTheNewSocket) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  socket.setSocketOption(SocketOption::LowDelayOption, 1);
  socket.setSocketOption(SocketOption::KeepAliveOption, 1);
  EXPECT_EQ(socket.socketOption(SocketOption::LowDelayOption), -1) << "no descriptor yet";
  socket.connectToHost(kLocalHost, server.serverPort());
  ASSERT_TRUE(socket.waitForConnected(5000));
  EXPECT_EQ(socket.socketOption(SocketOption::LowDelayOption), 1);
  EXPECT_EQ(socket.socketOption(SocketOption::KeepAliveOption), 1);
}

// ------------------------------------------------------------ descriptors and addresses

TEST(TcpSocket, SetSocketDescriptorAdoptsOneEndOfASocketpair) {
  test::DescriptorLeakCheck leaks;
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd other(fds[1]);
  TcpSocket socket;
  Recorder rec(socket);
  ASSERT_TRUE(socket.setSocketDescriptor(fds[0]));
  EXPECT_EQ(socket.socketDescriptor(), fds[0]);
  EXPECT_EQ(socket.state(), S::ConnectedState);
  EXPECT_EQ(socket.openMode(), IODevice::ReadWrite);
  EXPECT_NE(::fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0) << "made non-blocking";
  EXPECT_TRUE(rec.events.empty()) << "stateChanged comes from the loop";
  ASSERT_EQ(::write(other.get(), "abc", 3), 3);
  ASSERT_TRUE(test::runUntil([&] { return socket.bytesAvailable() == 3; }));
  EXPECT_EQ(rec.events, (Events{st(S::ConnectedState)}));
  EXPECT_EQ(socket.readAll(), "abc");
  socket.write("xyz");
  ASSERT_TRUE(test::runUntil([&] { return socket.bytesToWrite() == 0; }));
  char buf[4] = {};
  EXPECT_EQ(::read(other.get(), buf, sizeof buf), 3);
  EXPECT_EQ(std::string(buf, 3), "xyz");
  other.reset();
  ASSERT_TRUE(test::runUntil([&] { return rec.ended(); }));
  EXPECT_EQ(rec.events, (Events{st(S::ConnectedState), err(SocketError::RemoteHostClosedError), st(S::ClosingState),
                                st(S::UnconnectedState), "readChannelFinished", "disconnected"}));
}

TEST(TcpSocket, SetSocketDescriptorAdoptsAnAcceptedDescriptorWithItsAddresses) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  server.pauseAccepting();  // the test accepts itself
  TcpSocket client;
  client.connectToHost(kLocalHost, server.serverPort());
  ASSERT_TRUE(client.waitForConnected(5000));
  const int accepted = ::accept4(server.socketDescriptor(), nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  TcpSocket adopted;
  ASSERT_TRUE(adopted.setSocketDescriptor(accepted));
  EXPECT_EQ(adopted.state(), S::ConnectedState);
  EXPECT_EQ(adopted.localPort(), server.serverPort());
  EXPECT_EQ(adopted.localAddress(), kLocalHost);
  EXPECT_EQ(adopted.peerPort(), client.localPort());
  EXPECT_EQ(adopted.peerAddress(), kLocalHost);
  EXPECT_EQ(adopted.peerName(), "");
  client.write("via adopted");
  ASSERT_TRUE(test::runUntil([&] { return adopted.bytesAvailable() == 11; }));
  EXPECT_EQ(adopted.readAll(), "via adopted");
}

TEST(TcpSocket, SetSocketDescriptorAfterAnIPv4ConnectionReportsAMappedPeerAsIPv4) {
  // The same socket object first connects over IPv4, then adopts a
  // descriptor accepted by a dual-stack listener for an IPv4 client.
  test::DescriptorLeakCheck leaks;
  Link first;
  ASSERT_TRUE(first.open());
  first.client.disconnectFromHost();
  ASSERT_EQ(first.client.state(), S::UnconnectedState);

  TcpServer dualStack;
  ASSERT_TRUE(dualStack.listen(HostAddress(HostAddress::Any)));
  dualStack.pauseAccepting();  // the test accepts itself
  TcpSocket v4client;
  v4client.connectToHost(kLocalHost, dualStack.serverPort());
  ASSERT_TRUE(v4client.waitForConnected(5000));
  const int accepted = ::accept4(dualStack.socketDescriptor(), nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  ASSERT_TRUE(first.client.setSocketDescriptor(accepted));
  EXPECT_EQ(first.client.peerAddress(), kLocalHost);
  EXPECT_EQ(first.client.localAddress(), kLocalHost);
  EXPECT_EQ(first.client.peerPort(), v4client.localPort());
}

TEST(TcpSocket, SetSocketDescriptorRejectsInvalidDescriptors) {
  test::DescriptorLeakCheck leaks;
  TcpSocket socket;
  Recorder rec(socket);
  EXPECT_FALSE(socket.setSocketDescriptor(-1));
  EXPECT_EQ(socket.error(), SocketError::UnsupportedSocketOperationError);
  EXPECT_EQ(socket.errorString(), "Invalid socket descriptor");
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.socketDescriptor(), -1);
  int pipeFds[2];
  ASSERT_EQ(::pipe2(pipeFds, O_CLOEXEC), 0);
  UniqueFd readEnd(pipeFds[0]);
  UniqueFd writeEnd(pipeFds[1]);
  EXPECT_FALSE(socket.setSocketDescriptor(readEnd.get()));
  EXPECT_EQ(socket.error(), SocketError::UnsupportedSocketOperationError);
  EXPECT_NE(::fcntl(readEnd.get(), F_GETFD), -1) << "a refused descriptor stays open, the caller's";
  EXPECT_EQ(::fcntl(readEnd.get(), F_GETFL) & O_NONBLOCK, 0) << "and unchanged";
  test::runFor(10);
  EXPECT_TRUE(rec.events.empty());
}

TEST(TcpSocket, LocalAndPeerAddressesPortsAndName) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  socket.connectToHost("127.0.0.1", server.serverPort());
  EXPECT_EQ(socket.peerName(), "127.0.0.1");
  EXPECT_EQ(socket.peerPort(), 0) << "not connected yet";
  ASSERT_TRUE(test::runUntil([&] { return socket.state() == S::ConnectedState && server.hasPendingConnections(); }));
  TcpSocket* peer = server.nextPendingConnection();
  EXPECT_EQ(socket.peerName(), "127.0.0.1");
  EXPECT_EQ(socket.peerAddress(), kLocalHost);
  EXPECT_EQ(socket.peerPort(), server.serverPort());
  EXPECT_EQ(socket.localAddress(), kLocalHost);
  EXPECT_NE(socket.localPort(), 0);
  EXPECT_EQ(peer->peerAddress(), socket.localAddress());
  EXPECT_EQ(peer->peerPort(), socket.localPort());
  EXPECT_EQ(peer->localPort(), socket.peerPort());
  EXPECT_EQ(peer->peerName(), "");
}

TEST(TcpSocket, BindThenConnectUsesTheBoundAddressAndPort) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  Recorder rec(socket);
  ASSERT_TRUE(socket.bind(kLocalHost, 0));
  EXPECT_EQ(socket.state(), S::BoundState);
  const std::uint16_t bound = socket.localPort();
  EXPECT_NE(bound, 0);
  EXPECT_EQ(socket.localAddress(), kLocalHost);
  EXPECT_FALSE(socket.bind(kLocalHost, 0)) << "only an unconnected socket binds";
  socket.connectToHost(kLocalHost, server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return socket.state() == S::ConnectedState && server.hasPendingConnections(); }));
  test::runFor(10);
  EXPECT_EQ(rec.events, concat({st(S::BoundState)}, kConnectSequence));
  EXPECT_EQ(socket.localPort(), bound);
  EXPECT_EQ(server.nextPendingConnection()->peerPort(), bound);
}

TEST(TcpSocket, BindToAnyThenConnectReachesIPv4AndIPv6) {
  test::DescriptorLeakCheck leaks;
  for (const HostAddress& target : {kLocalHost, kLocalHostIPv6}) {
    TcpServer server;
    ASSERT_TRUE(server.listen(target));
    TcpSocket socket;
    ASSERT_TRUE(socket.bind(0));
    const std::uint16_t bound = socket.localPort();
    socket.connectToHost(target, server.serverPort());
    ASSERT_TRUE(socket.waitForConnected(5000)) << target.toString() << ": " << socket.errorString();
    EXPECT_EQ(socket.localPort(), bound);
    EXPECT_EQ(socket.localAddress(), target);
    EXPECT_EQ(socket.peerAddress(), target);
  }
}

TEST(TcpSocket, BindToAPortInUseFailsWithAddressInUseError) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  EXPECT_FALSE(socket.bind(kLocalHost, server.serverPort(), BindFlag::DontShareAddress));
  EXPECT_EQ(socket.error(), SocketError::AddressInUseError);
  EXPECT_EQ(socket.errorString(), "The bound address is already in use");
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.socketDescriptor(), -1);
}

TEST(TcpSocket, ConnectsOverIPv6Loopback) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHostIPv6));
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([peer] { peer->write(peer->readAll()); });
  });
  TcpSocket socket;
  Recorder rec(socket);
  Sink sink(socket);
  socket.connectToHost("::1", server.serverPort());
  socket.write("six");
  ASSERT_TRUE(test::runUntil([&] { return sink.data == "six"; }));
  EXPECT_EQ(rec.events, kConnectSequence);
  EXPECT_EQ(socket.peerAddress(), kLocalHostIPv6);
  EXPECT_EQ(socket.localAddress(), kLocalHostIPv6);
  EXPECT_EQ(socket.peerAddress().protocol(), NetworkLayerProtocol::IPv6Protocol);
}

TEST(TcpSocket, ConnectToHostWithProtocolIPv6RefusesAnIPv4OnlyResult) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost("127.0.0.1", server.serverPort(), IODevice::ReadWrite, NetworkLayerProtocol::IPv6Protocol);
  ASSERT_TRUE(test::runUntil([&] { return rec.failed(); }));
  EXPECT_EQ(rec.events, (Events{st(S::HostLookupState), st(S::UnconnectedState), err(SocketError::HostNotFoundError)}));
}

// ------------------------------------------------------------ deletion from inside signals

namespace {

enum class Kill { Delete, DeleteLater };

struct SelfDeletionCase {
  const char* name;
  // Which emission kills the socket: signal name and, for stateChanged and
  // errorOccurred, the value.
  std::string event;
  Kill kill;
  bool refused = false;  // connect to a closed port instead
};

std::string caseName(const ::testing::TestParamInfo<SelfDeletionCase>& info) { return info.param.name; }

class TcpSocketSelfDeletion : public ::testing::TestWithParam<SelfDeletionCase> {};

}  // namespace

// The client connects, writes "x"; the server answers "hello" and hangs up.
// Every signal fires once on the way; the one named by the case deletes the
// socket from its slot.
TEST_P(TcpSocketSelfDeletion, DeletingTheSocketInsideTheSlotIsSafe) {
  test::DescriptorLeakCheck leaks;
  const SelfDeletionCase& param = GetParam();
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([peer] {
      peer->readAll();
      peer->write("hello");
      peer->disconnectFromHost();
    });
  });
  const std::uint16_t port = param.refused ? closedPort() : server.serverPort();

  auto* socket = new TcpSocket;
  bool destroyed = false;
  Events after;  // what the socket emitted after the deleting slot
  bool killed = false;
  socket->destroyed.connect([&] { destroyed = true; });
  auto hit = [&](const std::string& event) {
    if (killed) {
      after.push_back(event);
      return;
    }
    if (event != param.event) return;
    killed = true;
    if (param.kill == Kill::Delete) delete socket;
    else socket->deleteLater();
  };
  socket->connected.connect([socket] { socket->write("x"); });
  socket->hostFound.connect([&] { hit("hostFound"); });
  socket->connected.connect([&] { hit("connected"); });
  socket->bytesWritten.connect([&] { hit("bytesWritten"); });
  socket->readyRead.connect([&] { hit("readyRead"); });
  socket->stateChanged.connect([&](SocketState s) { hit(st(s)); });
  socket->errorOccurred.connect([&](SocketError e) { hit(err(e)); });
  socket->readChannelFinished.connect([&] { hit("readChannelFinished"); });
  socket->disconnected.connect([&] { hit("disconnected"); });
  socket->aboutToClose.connect([&] { hit("aboutToClose"); });
  socket->connectToHost(kLocalHost, port);
  ASSERT_TRUE(test::runUntil([&] { return destroyed; })) << "the socket never emitted " << param.event;
  EXPECT_TRUE(killed);
  test::runFor(10);
  if (param.kill == Kill::Delete) {
    EXPECT_TRUE(after.empty()) << "emitted after deletion: " << after.front();
  }
}

INSTANTIATE_TEST_SUITE_P(
    EverySignal, TcpSocketSelfDeletion,
    ::testing::Values(
        SelfDeletionCase{"HostLookupState", st(S::HostLookupState), Kill::Delete},
        SelfDeletionCase{"ConnectingState", st(S::ConnectingState), Kill::Delete},
        SelfDeletionCase{"HostFound", "hostFound", Kill::Delete},
        SelfDeletionCase{"ConnectedState", st(S::ConnectedState), Kill::Delete},
        SelfDeletionCase{"Connected", "connected", Kill::Delete},
        SelfDeletionCase{"BytesWritten", "bytesWritten", Kill::Delete},
        SelfDeletionCase{"ReadyRead", "readyRead", Kill::Delete},
        SelfDeletionCase{"RemoteHostClosed", err(SocketError::RemoteHostClosedError), Kill::Delete},
        SelfDeletionCase{"ClosingState", st(S::ClosingState), Kill::Delete},
        SelfDeletionCase{"UnconnectedState", st(S::UnconnectedState), Kill::Delete},
        SelfDeletionCase{"ReadChannelFinished", "readChannelFinished", Kill::Delete},
        SelfDeletionCase{"Disconnected", "disconnected", Kill::Delete},
        SelfDeletionCase{"ConnectionRefused", err(SocketError::ConnectionRefusedError), Kill::Delete, true},
        SelfDeletionCase{"RefusedUnconnectedState", st(S::UnconnectedState), Kill::Delete, true},
        SelfDeletionCase{"HostLookupStateLater", st(S::HostLookupState), Kill::DeleteLater},
        SelfDeletionCase{"ConnectedLater", "connected", Kill::DeleteLater},
        SelfDeletionCase{"ReadyReadLater", "readyRead", Kill::DeleteLater},
        SelfDeletionCase{"RemoteHostClosedLater", err(SocketError::RemoteHostClosedError), Kill::DeleteLater},
        SelfDeletionCase{"DisconnectedLater", "disconnected", Kill::DeleteLater},
        SelfDeletionCase{"ConnectionRefusedLater", err(SocketError::ConnectionRefusedError), Kill::DeleteLater,
                         true}),
    caseName);

TEST(TcpSocket, DeletingTheSocketInAboutToCloseDuringAbortIsSafe) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  auto* socket = new TcpSocket;
  socket->connectToHost(kLocalHost, c.server.serverPort());
  ASSERT_TRUE(socket->waitForConnected(5000));
  bool destroyed = false;
  socket->destroyed.connect([&] { destroyed = true; });
  socket->aboutToClose.connect([&] { delete socket; });
  socket->abort();
  EXPECT_TRUE(destroyed);
}

TEST(TcpSocket, DeletingTheSocketInsideABlockingWaitIsSafe) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->write("data");
    peer->disconnectFromHost();
  });
  const std::uint16_t port = server.serverPort();
  bool connectedResult = true, readResult = true, disconnectedResult = false;
  bool deleted[3] = {false, false, false};
  ASSERT_TRUE(test::runOnThreadWithoutALoop([&] {
    auto* a = new TcpSocket;
    a->destroyed.connect([&] { deleted[0] = true; });
    a->connected.connect([a] { delete a; });
    a->connectToHost(kLocalHost, port);
    connectedResult = a->waitForConnected(5000);

    auto* b = new TcpSocket;
    b->destroyed.connect([&] { deleted[1] = true; });
    b->readyRead.connect([b] { delete b; });
    b->connectToHost(kLocalHost, port);
    readResult = b->waitForReadyRead(5000);

    auto* c = new TcpSocket;
    c->destroyed.connect([&] { deleted[2] = true; });
    c->disconnected.connect([c] { delete c; });
    c->connectToHost(kLocalHost, port);
    disconnectedResult = c->waitForDisconnected(5000);
  }));
  EXPECT_TRUE(deleted[0] && deleted[1] && deleted[2]);
  EXPECT_FALSE(connectedResult);
  EXPECT_FALSE(readResult);
  EXPECT_TRUE(disconnectedResult) << "the disconnect did happen";
}
