// TcpServer against Qt's QTcpServer documentation: listening, the pending
// queue and its limit, pausing, blocking waits, adopted descriptors, the
// incomingConnection() hook, errors, and running out of descriptors.
#include "tether/tcp_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "reactor/dispatcher.h"
#include "support/test_support.h"
#include "system/unique_fd.h"
#include "tether/event_loop.h"
#include "tether/tcp_socket.h"

using namespace tether;
using detail::UniqueFd;

namespace {

const HostAddress kLocalHost(HostAddress::LocalHost);

// A stream socket of the address's family, with no tether class involved.
UniqueFd rawSocket(const HostAddress& address) {
  const int family = address.protocol() == NetworkLayerProtocol::IPv6Protocol ? AF_INET6 : AF_INET;
  return UniqueFd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
}

// Connects an existing raw socket, blocking. On loopback the handshake
// completes in the kernel's backlog whether or not the server accepts.
bool rawConnect(const UniqueFd& fd, std::uint16_t port, const HostAddress& to = kLocalHost) {
  sockaddr_storage ss{};
  const socklen_t len = to.toSockaddr(port, &ss);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0;
}

UniqueFd rawClient(std::uint16_t port, const HostAddress& to = kLocalHost) {
  UniqueFd fd = rawSocket(to);
  if (!rawConnect(fd, port, to)) fd.reset();
  return fd;
}

std::uint16_t portOf(const sockaddr_storage& ss) {
  std::uint16_t port = 0;
  [[maybe_unused]] const HostAddress address = HostAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&ss), &port);
  return port;
}

std::uint16_t localPortOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  return ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 ? portOf(ss) : 0;
}

std::uint16_t peerPortOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  return ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 ? portOf(ss) : 0;
}

// Waits up to ms for the peer to close: true when a read returns 0 (FIN) or
// ECONNRESET.
bool peerClosed(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) != 1) return false;
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

// Reads exactly `size` bytes from a blocking socket (less if it closes or
// nothing comes for two seconds).
std::string rawReceive(int fd, std::size_t size) {
  std::string out;
  char buf[256];
  while (out.size() < size) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) break;
    const ssize_t n = ::recv(fd, buf, std::min(sizeof buf, size - out.size()), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

bool becameWritable(int fd, int ms) {
  pollfd p{fd, POLLOUT, 0};
  return ::poll(&p, 1, ms) == 1 && (p.revents & POLLOUT);
}

// Counts a server's signals, in order.
struct ServerSignals {
  int newConnection = 0;
  int pendingConnectionAvailable = 0;
  std::vector<SocketError> acceptErrors;
  std::vector<std::string> order;
  explicit ServerSignals(TcpServer& s) {
    s.newConnection.connect([this] {
      ++newConnection;
      order.emplace_back("newConnection");
    });
    s.pendingConnectionAvailable.connect([this] {
      ++pendingConnectionAvailable;
      order.emplace_back("pendingConnectionAvailable");
    });
    s.acceptError.connect([this](SocketError e) {
      acceptErrors.push_back(e);
      order.emplace_back("acceptError");
    });
  }
  ServerSignals(const ServerSignals&) = delete;
  ServerSignals& operator=(const ServerSignals&) = delete;
  void reset() {
    newConnection = pendingConnectionAvailable = 0;
    acceptErrors.clear();
    order.clear();
  }
};


// The lowest descriptor number not in use: with the limit set to it, every
// allocation fails with EMFILE.

}  // namespace

// ------------------------------------------------------------ defaults and listening

TEST(TcpServer, DefaultsBeforeListenAreQts) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  EXPECT_FALSE(server.isListening());
  EXPECT_EQ(server.maxPendingConnections(), 30);
  EXPECT_EQ(server.listenBacklogSize(), 50);
  EXPECT_TRUE(server.serverAddress().isNull());
  EXPECT_EQ(server.serverPort(), 0);
  EXPECT_EQ(server.socketDescriptor(), -1);
  EXPECT_EQ(server.serverError(), SocketError::UnknownSocketError);
  EXPECT_EQ(server.errorString(), "");
  EXPECT_FALSE(server.hasPendingConnections());
  EXPECT_EQ(server.nextPendingConnection(), nullptr);
}

TEST(TcpServer, SettersRoundTrip) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  server.setMaxPendingConnections(5);
  EXPECT_EQ(server.maxPendingConnections(), 5);
  server.setListenBacklogSize(7);
  EXPECT_EQ(server.listenBacklogSize(), 7);
}

TEST(TcpServer, ListenOnPortZeroPicksAFreePortAndEmitsNothing) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ServerSignals sig(server);
  ASSERT_TRUE(server.listen(kLocalHost));
  EXPECT_TRUE(server.isListening());
  EXPECT_NE(server.serverPort(), 0);
  EXPECT_EQ(server.serverAddress(), kLocalHost);
  ASSERT_GE(server.socketDescriptor(), 0);
  EXPECT_EQ(localPortOf(server.socketDescriptor()), server.serverPort());
  test::runFor(20);
  EXPECT_TRUE(sig.order.empty());
  EXPECT_EQ(server.errorString(), "") << "a successful listen sets no error";
}

TEST(TcpServer, ListenOnAGivenPortUsesIt) {
  test::DescriptorLeakCheck leaks;
  std::uint16_t port = 0;
  {
    TcpServer probe;
    ASSERT_TRUE(probe.listen(kLocalHost));
    port = probe.serverPort();
  }
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost, port)) << server.errorString();
  EXPECT_EQ(server.serverPort(), port);
}

TEST(TcpServer, ListenWhileListeningFailsAndKeepsTheFirstSocket) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  const std::uint16_t port = server.serverPort();
  const int fd = server.socketDescriptor();
  EXPECT_FALSE(server.listen(kLocalHost));
  EXPECT_FALSE(server.listen(HostAddress(HostAddress::Any), 0));
  EXPECT_TRUE(server.isListening());
  EXPECT_EQ(server.serverPort(), port);
  EXPECT_EQ(server.socketDescriptor(), fd);
  EXPECT_EQ(server.serverError(), SocketError::OperationError);
  EXPECT_EQ(server.errorString(), "Already listening");
}

TEST(TcpServer, ListenOnAPortInUseFailsWithAddressInUseError) {
  test::DescriptorLeakCheck leaks;
  TcpServer first;
  ASSERT_TRUE(first.listen(kLocalHost));
  TcpServer second;
  EXPECT_FALSE(second.listen(kLocalHost, first.serverPort()));
  EXPECT_EQ(second.serverError(), SocketError::AddressInUseError);
  // bind(2) is the call that fails (EADDRINUSE): Qt's text for it.
  EXPECT_EQ(second.errorString(), "The bound address is already in use");
  EXPECT_FALSE(second.isListening());
  EXPECT_EQ(second.serverPort(), 0);
  EXPECT_TRUE(second.serverAddress().isNull());
  EXPECT_EQ(second.socketDescriptor(), -1);
  EXPECT_TRUE(first.isListening());
}

TEST(TcpServer, ListenOnAnyConflictsWithAServerOnLoopbackSamePort) {
  test::DescriptorLeakCheck leaks;
  TcpServer first;
  ASSERT_TRUE(first.listen(kLocalHost));
  TcpServer second;
  EXPECT_FALSE(second.listen(HostAddress(HostAddress::Any), first.serverPort()));
  EXPECT_EQ(second.serverError(), SocketError::AddressInUseError);
}

TEST(TcpServer, ListenOnAnAddressOfNoLocalInterfaceFails) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  EXPECT_FALSE(server.listen(HostAddress("192.0.2.1")));  // TEST-NET-1, never local
  EXPECT_EQ(server.serverError(), SocketError::SocketAddressNotAvailableError);
  EXPECT_EQ(server.errorString(), "The address is not available");
  EXPECT_FALSE(server.isListening());
}

TEST(TcpServer, ListenOnANullAddressFails) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  EXPECT_FALSE(server.listen(HostAddress()));
  EXPECT_EQ(server.serverError(), SocketError::UnsupportedSocketOperationError);
  EXPECT_FALSE(server.isListening());
  EXPECT_EQ(server.socketDescriptor(), -1);
}

TEST(TcpServer, ListenAgainAfterAFailureSucceeds) {
  test::DescriptorLeakCheck leaks;
  TcpServer first;
  ASSERT_TRUE(first.listen(kLocalHost));
  TcpServer second;
  ASSERT_FALSE(second.listen(kLocalHost, first.serverPort()));
  ASSERT_TRUE(second.listen(kLocalHost));
  EXPECT_TRUE(second.isListening());
  EXPECT_NE(second.serverPort(), first.serverPort());
}

TEST(TcpServer, CloseStopsListeningAndTheSamePortCanBeListenedOnAgain) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  const std::uint16_t port = server.serverPort();
  server.close();
  EXPECT_FALSE(server.isListening());
  EXPECT_EQ(server.serverPort(), 0);
  EXPECT_TRUE(server.serverAddress().isNull());
  EXPECT_EQ(server.socketDescriptor(), -1);
  EXPECT_FALSE(rawClient(port)) << "nothing listens any more";
  server.close();  // a second close is harmless
  ASSERT_TRUE(server.listen(kLocalHost, port)) << server.errorString();
  EXPECT_EQ(server.serverPort(), port);
}

TEST(TcpServer, DestroyingAListeningServerClosesItsSocket) {
  test::DescriptorLeakCheck leaks;
  std::uint16_t port = 0;
  {
    TcpServer server;
    ASSERT_TRUE(server.listen(kLocalHost));
    port = server.serverPort();
  }
  EXPECT_FALSE(rawClient(port));
}

TEST(TcpServer, ServerAddressIsTheAddressListenedOn) {
  test::DescriptorLeakCheck leaks;
  const HostAddress addresses[] = {HostAddress(HostAddress::Any), HostAddress(HostAddress::AnyIPv4),
                                   HostAddress(HostAddress::AnyIPv6), kLocalHost,
                                   HostAddress(HostAddress::LocalHostIPv6)};
  for (const HostAddress& address : addresses) {
    TcpServer server;
    ASSERT_TRUE(server.listen(address)) << address.toString() << ": " << server.errorString();
    EXPECT_EQ(server.serverAddress(), address) << address.toString();
    EXPECT_NE(server.serverPort(), 0);
  }
}

// ------------------------------------------------------------ accepting

TEST(TcpServer, EachClientGivesOneNewConnectionWithAConnectedChildSocket) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ServerSignals sig(server);
  ASSERT_TRUE(server.listen(kLocalHost));
  TcpSocket client;
  client.connectToHost(kLocalHost, server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 1 && client.state() == SocketState::ConnectedState; }));
  EXPECT_EQ(sig.order, (std::vector<std::string>{"pendingConnectionAvailable", "newConnection"}));
  ASSERT_TRUE(server.hasPendingConnections());
  TcpSocket* peer = server.nextPendingConnection();
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(peer->parent(), &server);
  EXPECT_EQ(peer->state(), SocketState::ConnectedState);
  EXPECT_EQ(peer->openMode(), IODevice::ReadWrite);
  EXPECT_EQ(peer->socketType(), SocketType::TcpSocket);
  EXPECT_EQ(peer->localPort(), server.serverPort());
  EXPECT_EQ(peer->localAddress(), kLocalHost);
  EXPECT_EQ(peer->peerPort(), client.localPort());
  EXPECT_EQ(peer->peerAddress(), kLocalHost);
  EXPECT_FALSE(server.hasPendingConnections());
  EXPECT_EQ(server.nextPendingConnection(), nullptr);
  test::runFor(20);
  EXPECT_EQ(sig.newConnection, 1);
}

TEST(TcpServer, AcceptedSocketCarriesDataBothWays) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  UniqueFd client = rawClient(server.serverPort());
  ASSERT_TRUE(client);
  ASSERT_TRUE(test::runUntil([&] { return server.hasPendingConnections(); }));
  TcpSocket* peer = server.nextPendingConnection();
  std::string got;
  peer->readyRead.connect([&] { got += peer->readAll(); });
  ASSERT_EQ(::send(client.get(), "ping", 4, MSG_NOSIGNAL), 4);
  ASSERT_TRUE(test::runUntil([&] { return got.size() == 4; }));
  EXPECT_EQ(got, "ping");
  peer->write("pong");
  ASSERT_TRUE(test::runUntil([&] { return peer->bytesToWrite() == 0; }));
  EXPECT_EQ(rawReceive(client.get(), 4), "pong");
}

TEST(TcpServer, ConnectionsAreQueuedInTheOrderTheyArrived) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ServerSignals sig(server);
  ASSERT_TRUE(server.listen(kLocalHost));
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(rawClient(server.serverPort()));
    ASSERT_TRUE(clients.back());
  }
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 5; }));
  EXPECT_EQ(sig.pendingConnectionAvailable, 5);
  for (const UniqueFd& c : clients) {
    TcpSocket* peer = server.nextPendingConnection();
    ASSERT_NE(peer, nullptr);
    EXPECT_EQ(peer->peerPort(), localPortOf(c.get()));
  }
  EXPECT_EQ(server.nextPendingConnection(), nullptr);
}

TEST(TcpServer, TakenSocketsAreDeletedWithTheServer) {
  test::DescriptorLeakCheck leaks;
  auto server = std::make_unique<TcpServer>();
  ASSERT_TRUE(server->listen(kLocalHost));
  UniqueFd a = rawClient(server->serverPort());
  UniqueFd b = rawClient(server->serverPort());
  ASSERT_TRUE(test::runUntil([&] { return server->children().size() == 2; }));
  ObjectPtr<TcpSocket> taken = server->nextPendingConnection();
  ObjectPtr<TcpSocket> untaken = static_cast<TcpSocket*>(server->children().front() == taken.get()
                                                             ? server->children().back()
                                                             : server->children().front());
  ASSERT_TRUE(taken);
  ASSERT_TRUE(untaken);
  server.reset();
  EXPECT_FALSE(taken);
  EXPECT_FALSE(untaken);
  EXPECT_TRUE(peerClosed(a.get(), 2000));
  EXPECT_TRUE(peerClosed(b.get(), 2000));
}

TEST(TcpServer, ReparentedSocketOutlivesTheServer) {
  test::DescriptorLeakCheck leaks;
  auto server = std::make_unique<TcpServer>();
  ASSERT_TRUE(server->listen(kLocalHost));
  UniqueFd client = rawClient(server->serverPort());
  ASSERT_TRUE(test::runUntil([&] { return server->hasPendingConnections(); }));
  std::unique_ptr<TcpSocket> peer(server->nextPendingConnection());
  peer->setParent(nullptr);
  server.reset();
  EXPECT_EQ(peer->state(), SocketState::ConnectedState);
  peer->write("still here");
  ASSERT_TRUE(test::runUntil([&] { return peer->bytesToWrite() == 0; }));
  EXPECT_EQ(rawReceive(client.get(), 10), "still here");
}

TEST(TcpServer, CloseDeletesConnectionsNotYetTaken) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  UniqueFd client = rawClient(server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return server.hasPendingConnections(); }));
  ObjectPtr<TcpSocket> pending = static_cast<TcpSocket*>(server.children().front());
  server.close();
  EXPECT_FALSE(pending);
  EXPECT_FALSE(server.hasPendingConnections());
  EXPECT_EQ(server.nextPendingConnection(), nullptr);
  EXPECT_TRUE(peerClosed(client.get(), 2000));
}

// ------------------------------------------------------------ the pending queue and pausing

TEST(TcpServer, FullPendingQueueStopsAcceptingUntilAConnectionIsTaken) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ServerSignals sig(server);
  server.setMaxPendingConnections(2);
  ASSERT_TRUE(server.listen(kLocalHost));
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 4; ++i) {
    // As Qt documents: clients still connect (the system's backlog holds them).
    clients.push_back(rawClient(server.serverPort()));
    ASSERT_TRUE(clients.back()) << i;
  }
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 2; }));
  test::runFor(50);
  EXPECT_EQ(sig.newConnection, 2) << "no accept while the queue is full";

  TcpSocket* first = server.nextPendingConnection();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->peerPort(), localPortOf(clients[0].get()));
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 3; }));
  test::runFor(50);
  EXPECT_EQ(sig.newConnection, 3);

  delete server.nextPendingConnection();
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 4; }));
  int taken = 0;
  while (TcpSocket* s = server.nextPendingConnection()) {
    EXPECT_EQ(s->peerPort(), localPortOf(clients[2 + taken].get()));
    ++taken;
  }
  EXPECT_EQ(taken, 2);
  EXPECT_TRUE(sig.acceptErrors.empty());
}

TEST(TcpServer, RaisingMaxPendingConnectionsResumesAccepting) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ServerSignals sig(server);
  server.setMaxPendingConnections(1);
  ASSERT_TRUE(server.listen(kLocalHost));
  UniqueFd a = rawClient(server.serverPort());
  UniqueFd b = rawClient(server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 1; }));
  test::runFor(30);
  EXPECT_EQ(sig.newConnection, 1);
  server.setMaxPendingConnections(2);
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 2; }));
}

TEST(TcpServer, PauseAcceptingLeavesClientsInTheBacklogUntilResumed) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ServerSignals sig(server);
  ASSERT_TRUE(server.listen(kLocalHost));
  server.pauseAccepting();
  UniqueFd a = rawClient(server.serverPort());
  UniqueFd b = rawClient(server.serverPort());
  ASSERT_TRUE(a && b);
  test::runFor(50);
  EXPECT_EQ(sig.newConnection, 0);
  EXPECT_TRUE(server.isListening()) << "paused is still listening";
  server.resumeAccepting();
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 2; }));
  // Pausing again affects only later clients.
  server.pauseAccepting();
  UniqueFd c = rawClient(server.serverPort());
  test::runFor(50);
  EXPECT_EQ(sig.newConnection, 2);
  server.resumeAccepting();
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 3; }));
}

TEST(TcpServer, ResumeAcceptingWithoutPauseIsHarmless) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ServerSignals sig(server);
  server.resumeAccepting();  // not listening: nothing to do
  ASSERT_TRUE(server.listen(kLocalHost));
  server.resumeAccepting();
  test::runFor(20);
  EXPECT_TRUE(sig.order.empty());
  UniqueFd a = rawClient(server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 1; }));
}

TEST(TcpServer, ListenBacklogSizeIsTheSystemsQueueLength) {
  // With a backlog of 0 Linux queues one completed connection; the next
  // handshake does not complete while nobody accepts.
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  server.setListenBacklogSize(0);
  ASSERT_TRUE(server.listen(kLocalHost));
  server.pauseAccepting();
  UniqueFd first = rawClient(server.serverPort());
  ASSERT_TRUE(first);
  UniqueFd second = rawSocket(kLocalHost);
  ASSERT_EQ(::fcntl(second.get(), F_SETFL, O_NONBLOCK), 0);
  EXPECT_FALSE(rawConnect(second, server.serverPort()));
  EXPECT_EQ(errno, EINPROGRESS);
  EXPECT_FALSE(becameWritable(second.get(), 100)) << "the second handshake waits for room in the backlog";
}

// ------------------------------------------------------------ blocking use

TEST(TcpServer, WaitForNewConnectionTimesOutWithTimedOutSet) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ServerSignals sig(server);
  ASSERT_TRUE(server.listen(kLocalHost));
  bool timedOut = false;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(server.waitForNewConnection(50, &timedOut));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  EXPECT_TRUE(timedOut);
  EXPECT_EQ(server.serverError(), SocketError::SocketTimeoutError);
  EXPECT_EQ(server.errorString(), "Network operation timed out");
  EXPECT_EQ(sig.newConnection, 0);
  EXPECT_TRUE(server.isListening());
  EXPECT_FALSE(server.waitForNewConnection(50)) << "timedOut may be null";
}

TEST(TcpServer, WaitForNewConnectionDefaultsToNotWaiting) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  bool timedOut = false;
  EXPECT_FALSE(server.waitForNewConnection(0, &timedOut));
  EXPECT_TRUE(timedOut);
  EXPECT_FALSE(server.waitForNewConnection());
}

TEST(TcpServer, WaitForNewConnectionAcceptsAWaitingClientAndEmitsNewConnection) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ServerSignals sig(server);
  ASSERT_TRUE(server.listen(kLocalHost));
  UniqueFd client = rawClient(server.serverPort());
  ASSERT_TRUE(client);
  bool timedOut = true;
  EXPECT_TRUE(server.waitForNewConnection(5000, &timedOut));
  EXPECT_FALSE(timedOut);
  EXPECT_EQ(sig.newConnection, 1) << "emitted from inside the wait";
  ASSERT_TRUE(server.hasPendingConnections());
  TcpSocket* peer = server.nextPendingConnection();
  EXPECT_EQ(peer->peerPort(), localPortOf(client.get()));
}

TEST(TcpServer, WaitForNewConnectionReturnsAtOnceWhenOneIsPending) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  UniqueFd client = rawClient(server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return server.hasPendingConnections(); }));
  bool timedOut = true;
  EXPECT_TRUE(server.waitForNewConnection(0, &timedOut));
  EXPECT_FALSE(timedOut);
}

TEST(TcpServer, WaitForNewConnectionWhenNotListeningFailsWithoutTimingOut) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  bool timedOut = true;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(server.waitForNewConnection(1000, &timedOut));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_FALSE(timedOut);
  EXPECT_FALSE(server.waitForNewConnection(-1, &timedOut));
  EXPECT_FALSE(timedOut);
}

TEST(TcpServer, WaitForNewConnectionWithoutLimitOnAThreadWithoutALoop) {
  test::DescriptorLeakCheck leaks;
  std::atomic<int> port{0};
  std::atomic<bool> done{false};
  bool accepted = false;
  bool timedOut = true;
  std::string received;
  std::thread serverThread([&] {
    TcpServer server;
    if (!server.listen(kLocalHost)) {
      done = true;
      return;
    }
    port = server.serverPort();
    accepted = server.waitForNewConnection(-1, &timedOut);
    if (TcpSocket* peer = server.nextPendingConnection()) {
      while (received.size() < 5 && peer->waitForReadyRead(5000)) received += peer->readAll();
    }
    done = true;
  });
  ASSERT_TRUE(test::runUntil([&] { return port.load() != 0 || done.load(); }));
  UniqueFd client = rawClient(static_cast<std::uint16_t>(port.load()));
  ASSERT_TRUE(client);
  ASSERT_EQ(::send(client.get(), "hello", 5, MSG_NOSIGNAL), 5);
  ASSERT_TRUE(test::runUntil([&] { return done.load(); }));
  serverThread.join();
  EXPECT_TRUE(accepted);
  EXPECT_FALSE(timedOut);
  EXPECT_EQ(received, "hello");
}

// ------------------------------------------------------------ adopted descriptors

TEST(TcpServer, SetSocketDescriptorAdoptsAListeningSocket) {
  test::DescriptorLeakCheck leaks;
  UniqueFd listener = rawSocket(kLocalHost);
  sockaddr_storage ss{};
  const socklen_t len = kLocalHost.toSockaddr(0, &ss);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
  ASSERT_EQ(::listen(listener.get(), 8), 0);
  const std::uint16_t port = localPortOf(listener.get());
  // A client already waiting in the backlog is accepted too.
  UniqueFd early = rawClient(port);
  ASSERT_TRUE(early);

  TcpServer server;
  ServerSignals sig(server);
  const int fd = listener.release();
  ASSERT_TRUE(server.setSocketDescriptor(fd));
  EXPECT_TRUE(server.isListening());
  EXPECT_EQ(server.socketDescriptor(), fd);
  EXPECT_EQ(server.serverPort(), port);
  EXPECT_EQ(server.serverAddress(), kLocalHost);
  EXPECT_EQ(sig.newConnection, 0) << "nothing from inside setSocketDescriptor";
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 1; }));
  UniqueFd late = rawClient(port);
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 2; }));
  EXPECT_EQ(server.nextPendingConnection()->peerPort(), localPortOf(early.get()));
  EXPECT_EQ(server.nextPendingConnection()->peerPort(), localPortOf(late.get()));
  server.close();  // the server owns the descriptor: the leak check sees it closed
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
}

TEST(TcpServer, SetSocketDescriptorWhileListeningFails) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  const int own = server.socketDescriptor();
  UniqueFd other = rawSocket(kLocalHost);
  EXPECT_FALSE(server.setSocketDescriptor(other.get()));
  EXPECT_EQ(server.socketDescriptor(), own);
  EXPECT_EQ(server.serverError(), SocketError::OperationError);
  EXPECT_EQ(::fcntl(other.get(), F_GETFD), FD_CLOEXEC) << "a refused descriptor stays the caller's";
}

TEST(TcpServer, SetSocketDescriptorRejectsANonSocket) {
  test::DescriptorLeakCheck leaks;
  int pipeFds[2];
  ASSERT_EQ(::pipe2(pipeFds, O_CLOEXEC), 0);
  UniqueFd readEnd(pipeFds[0]);
  UniqueFd writeEnd(pipeFds[1]);
  TcpServer server;
  EXPECT_FALSE(server.setSocketDescriptor(readEnd.get()));
  EXPECT_FALSE(server.isListening());
  EXPECT_EQ(server.socketDescriptor(), -1);
  EXPECT_EQ(server.serverError(), SocketError::UnsupportedSocketOperationError);
  EXPECT_EQ(server.errorString(), "Invalid socket descriptor");
  EXPECT_NE(::fcntl(readEnd.get(), F_GETFD), -1) << "a refused descriptor stays open";
  EXPECT_EQ(::fcntl(readEnd.get(), F_GETFL) & O_NONBLOCK, 0) << "and unchanged";
  EXPECT_FALSE(server.setSocketDescriptor(-1));
  EXPECT_EQ(server.serverError(), SocketError::UnsupportedSocketOperationError);
}

// ------------------------------------------------------------ incomingConnection / addPendingConnection

namespace {

// Takes every descriptor itself: nothing reaches the pending queue.
class DescriptorTakingServer : public TcpServer {
 public:
  std::vector<UniqueFd> descriptors;

 protected:
  void incomingConnection(int socketDescriptor) override { descriptors.emplace_back(socketDescriptor); }
};

// Wraps each descriptor in its own socket and queues it itself, the way an
// application that needs a socket subclass does.
class QueueingServer : public TcpServer {
 public:
  std::vector<TcpSocket*> made;

 protected:
  void incomingConnection(int socketDescriptor) override {
    auto* socket = new TcpSocket(this);
    EXPECT_TRUE(socket->setSocketDescriptor(socketDescriptor));
    made.push_back(socket);
    addPendingConnection(socket);
  }
};

}  // namespace

TEST(TcpServer, IncomingConnectionOverrideReceivesTheAcceptedDescriptor) {
  test::DescriptorLeakCheck leaks;
  DescriptorTakingServer server;
  ServerSignals sig(server);
  ASSERT_TRUE(server.listen(kLocalHost));
  UniqueFd client = rawClient(server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 1; }));
  ASSERT_EQ(server.descriptors.size(), 1u);
  const int fd = server.descriptors.front().get();
  EXPECT_EQ(peerPortOf(fd), localPortOf(client.get()));
  EXPECT_EQ(localPortOf(fd), server.serverPort());
  EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0) << "accepted non-blocking";
  EXPECT_EQ(::fcntl(fd, F_GETFD), FD_CLOEXEC) << "accepted close-on-exec";
  EXPECT_EQ(sig.pendingConnectionAvailable, 0);
  EXPECT_FALSE(server.hasPendingConnections());
  EXPECT_EQ(server.nextPendingConnection(), nullptr);
  EXPECT_TRUE(server.children().empty());
}

TEST(TcpServer, AddPendingConnectionQueuesTheSocketAndEmitsPendingConnectionAvailable) {
  test::DescriptorLeakCheck leaks;
  QueueingServer server;
  ServerSignals sig(server);
  ASSERT_TRUE(server.listen(kLocalHost));
  UniqueFd client = rawClient(server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 1; }));
  EXPECT_EQ(sig.order, (std::vector<std::string>{"pendingConnectionAvailable", "newConnection"}));
  ASSERT_EQ(server.made.size(), 1u);
  EXPECT_EQ(server.nextPendingConnection(), server.made.front());
  EXPECT_EQ(server.nextPendingConnection(), nullptr);
}

// ------------------------------------------------------------ IPv4 and IPv6

TEST(TcpServer, ListeningOnAnyAcceptsIPv4AndIPv6Clients) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ServerSignals sig(server);
  ASSERT_TRUE(server.listen(HostAddress(HostAddress::Any)));
  EXPECT_EQ(server.serverAddress(), HostAddress(HostAddress::Any));
  TcpSocket v4;
  TcpSocket v6;
  v4.connectToHost(kLocalHost, server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 1; }));
  v6.connectToHost(HostAddress(HostAddress::LocalHostIPv6), server.serverPort());
  ASSERT_TRUE(test::runUntil([&] {
    return sig.newConnection == 2 && v4.state() == SocketState::ConnectedState &&
           v6.state() == SocketState::ConnectedState;
  }));
  TcpSocket* fromV4 = server.nextPendingConnection();
  TcpSocket* fromV6 = server.nextPendingConnection();
  // The dual-stack socket reports an IPv4 peer as IPv4, as Qt does.
  EXPECT_EQ(fromV4->peerAddress(), kLocalHost);
  EXPECT_EQ(fromV4->peerAddress().protocol(), NetworkLayerProtocol::IPv4Protocol);
  EXPECT_EQ(fromV4->peerPort(), v4.localPort());
  EXPECT_EQ(fromV6->peerAddress(), HostAddress(HostAddress::LocalHostIPv6));
  EXPECT_EQ(fromV6->peerPort(), v6.localPort());
  EXPECT_EQ(v4.peerAddress(), kLocalHost);
  EXPECT_EQ(v6.peerAddress(), HostAddress(HostAddress::LocalHostIPv6));
}

// The default incomingConnection() builds its socket from what accept4()
// reported (and from the listening address when it is not a wildcard); an
// override that calls setSocketDescriptor() asks the system. Both must give
// the same socket, and it must agree with the client's view of the
// connection.
TEST(TcpServer, AcceptedSocketsReportTheSameEndsWhetherAdoptedByDefaultOrBySetSocketDescriptor) {
  struct Case {
    HostAddress listen;
    HostAddress connectTo;
    HostAddress expectedLocal;
  };
  const HostAddress v6Loopback(HostAddress::LocalHostIPv6);
  const std::vector<Case> cases = {
      {kLocalHost, kLocalHost, kLocalHost},
      {HostAddress(HostAddress::AnyIPv4), kLocalHost, kLocalHost},
      {HostAddress(HostAddress::Any), kLocalHost, kLocalHost},  // dual-stack: v4-mapped, reported as IPv4
      {HostAddress(HostAddress::Any), v6Loopback, v6Loopback},
      {HostAddress(HostAddress::AnyIPv6), v6Loopback, v6Loopback},
      {v6Loopback, v6Loopback, v6Loopback},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("listening on " + c.listen.toString() + ", client to " + c.connectTo.toString());
    test::DescriptorLeakCheck leaks;
    TcpServer byDefault;
    QueueingServer bySetDescriptor;
    ASSERT_TRUE(byDefault.listen(c.listen));
    ASSERT_TRUE(bySetDescriptor.listen(c.listen));
    std::vector<SocketState> changes;
    TcpSocket clientA;
    TcpSocket clientB;
    clientA.connectToHost(c.connectTo, byDefault.serverPort());
    clientB.connectToHost(c.connectTo, bySetDescriptor.serverPort());
    ASSERT_TRUE(test::runUntil([&] {
      return byDefault.hasPendingConnections() && bySetDescriptor.hasPendingConnections() &&
             clientA.state() == SocketState::ConnectedState && clientB.state() == SocketState::ConnectedState;
    }));
    TcpSocket* a = byDefault.nextPendingConnection();
    TcpSocket* b = bySetDescriptor.nextPendingConnection();
    a->stateChanged.connect([&](SocketState st) { changes.push_back(st); });
    for (auto [accepted, client] : {std::pair{a, &clientA}, std::pair{b, &clientB}}) {
      EXPECT_EQ(accepted->state(), SocketState::ConnectedState);
      EXPECT_EQ(accepted->openMode(), IODevice::ReadWrite);
      EXPECT_EQ(accepted->localAddress(), c.expectedLocal);
      EXPECT_EQ(accepted->localAddress().protocol(), c.expectedLocal.protocol());
      EXPECT_EQ(accepted->localAddress(), client->peerAddress());
      EXPECT_EQ(accepted->localPort(), client->peerPort());
      EXPECT_EQ(accepted->peerAddress(), client->localAddress());
      EXPECT_EQ(accepted->peerAddress().protocol(), c.expectedLocal.protocol());
      EXPECT_EQ(accepted->peerPort(), client->localPort());
      EXPECT_GE(accepted->socketDescriptor(), 0);
    }
    EXPECT_EQ(a->localPort(), byDefault.serverPort());
    EXPECT_EQ(b->localPort(), bySetDescriptor.serverPort());
    // Both carry bytes both ways, and only a real change of state is seen.
    clientA.write("ping", 4);
    ASSERT_TRUE(test::runUntil([&] { return a->bytesAvailable() == 4; }));
    EXPECT_EQ(a->readAll(), "ping");
    a->write("pong", 4);
    ASSERT_TRUE(test::runUntil([&] { return clientA.bytesAvailable() == 4; }));
    EXPECT_EQ(clientA.readAll(), "pong");
    clientA.disconnectFromHost();
    ASSERT_TRUE(test::runUntil([&] { return a->state() == SocketState::UnconnectedState; }));
    EXPECT_EQ(changes, (std::vector<SocketState>{SocketState::ClosingState, SocketState::UnconnectedState}));
    clientB.abort();
    byDefault.close();
    bySetDescriptor.close();
    delete a;
    delete b;
  }
}

// The descriptors registered in any epoll set of this process, from the
// kernel's own listing (/proc/self/fdinfo/<epoll fd>: one "tfd:" line each).
static std::vector<int> epollRegisteredDescriptors() {
  std::vector<int> found;
  DIR* dir = ::opendir("/proc/self/fdinfo");
  if (!dir) return found;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream info(std::string("/proc/self/fdinfo/") + entry->d_name);
    std::string line;
    while (std::getline(info, line))
      if (line.rfind("tfd:", 0) == 0) found.push_back(std::atoi(line.c_str() + 4));
  }
  ::closedir(dir);
  return found;
}

// An accepted socket joins the epoll set when control is back in the loop,
// not inside newConnection: one the application closes there costs no
// epoll_ctl() pair. Bytes the client sent before that are still reported.
TEST(TcpServer, AnAcceptedSocketJoinsTheEpollSetWhenTheLoopRunsAgainAndMissesNoEarlyBytes) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  UniqueFd client = rawClient(server.serverPort());
  ASSERT_TRUE(client);
  ASSERT_EQ(::send(client.get(), "early", 5, MSG_NOSIGNAL), 5);
  TcpSocket* accepted = nullptr;
  int descriptor = -1;
  bool registeredInHandler = true;
  std::string received;
  server.newConnection.connect([&] {
    accepted = server.nextPendingConnection();
    descriptor = accepted->socketDescriptor();
    const auto watched = epollRegisteredDescriptors();
    registeredInHandler = std::find(watched.begin(), watched.end(), descriptor) != watched.end();
    accepted->readyRead.connect([&] { received += accepted->readAll(); });
  });
  ASSERT_TRUE(test::runUntil([&] { return received == "early"; }));
  EXPECT_FALSE(registeredInHandler);
  const auto watched = epollRegisteredDescriptors();
  EXPECT_NE(std::find(watched.begin(), watched.end(), descriptor), watched.end());
  // A socket closed inside newConnection is simply closed.
  TcpSocket* closedAtOnce = nullptr;
  server.newConnection.disconnectAll();
  server.newConnection.connect([&] {
    closedAtOnce = server.nextPendingConnection();
    closedAtOnce->close();
  });
  UniqueFd second = rawClient(server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return closedAtOnce != nullptr; }));
  char byte;
  ASSERT_TRUE(test::runUntil([&] { return ::recv(second.get(), &byte, 1, MSG_DONTWAIT) == 0; }));
  EXPECT_EQ(closedAtOnce->state(), SocketState::UnconnectedState);
  delete closedAtOnce;
  delete accepted;
}

TEST(TcpServer, ListeningOnIPv4LoopbackRefusesIPv6Clients) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  EXPECT_FALSE(rawClient(server.serverPort(), HostAddress(HostAddress::LocalHostIPv6)));
  EXPECT_TRUE(rawClient(server.serverPort(), kLocalHost));
}

TEST(TcpServer, ListeningOnIPv6LoopbackAcceptsIPv6Clients) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(HostAddress(HostAddress::LocalHostIPv6)));
  UniqueFd client = rawClient(server.serverPort(), HostAddress(HostAddress::LocalHostIPv6));
  ASSERT_TRUE(client);
  ASSERT_TRUE(test::runUntil([&] { return server.hasPendingConnections(); }));
  TcpSocket* peer = server.nextPendingConnection();
  EXPECT_EQ(peer->peerAddress(), HostAddress(HostAddress::LocalHostIPv6));
  EXPECT_EQ(peer->localAddress(), HostAddress(HostAddress::LocalHostIPv6));
}

// ------------------------------------------------------------ self-deletion

TEST(TcpServer, DeletingTheServerInNewConnectionStopsAcceptingSafely) {
  test::DescriptorLeakCheck leaks;
  auto* server = new TcpServer;
  ASSERT_TRUE(server->listen(kLocalHost));
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(rawClient(server->serverPort()));
  int calls = 0;
  bool deleted = false;
  server->destroyed.connect([&] { deleted = true; });
  server->newConnection.connect([&] {
    ++calls;
    delete server;
  });
  ASSERT_TRUE(test::runUntil([&] { return deleted; }));
  test::runFor(20);
  EXPECT_EQ(calls, 1);
  for (const UniqueFd& c : clients) EXPECT_TRUE(peerClosed(c.get(), 2000));
}

TEST(TcpServer, DeletingTheServerInPendingConnectionAvailableIsSafe) {
  test::DescriptorLeakCheck leaks;
  auto* server = new TcpServer;
  ASSERT_TRUE(server->listen(kLocalHost));
  UniqueFd a = rawClient(server->serverPort());
  UniqueFd b = rawClient(server->serverPort());
  int newConnections = 0;
  bool deleted = false;
  server->destroyed.connect([&] { deleted = true; });
  server->newConnection.connect([&] { ++newConnections; });
  server->pendingConnectionAvailable.connect([&] { delete server; });
  ASSERT_TRUE(test::runUntil([&] { return deleted; }));
  test::runFor(20);
  EXPECT_EQ(newConnections, 0);
}

TEST(TcpServer, DeleteLaterInNewConnectionDeletesTheServerAfterTheSlot) {
  test::DescriptorLeakCheck leaks;
  auto* server = new TcpServer;
  ASSERT_TRUE(server->listen(kLocalHost));
  UniqueFd client = rawClient(server->serverPort());
  bool deleted = false;
  bool aliveAfterDeleteLater = false;
  server->destroyed.connect([&] { deleted = true; });
  server->newConnection.connect([&] {
    server->deleteLater();
    aliveAfterDeleteLater = server->hasPendingConnections();
  });
  ASSERT_TRUE(test::runUntil([&] { return deleted; }));
  EXPECT_TRUE(aliveAfterDeleteLater);
  EXPECT_TRUE(peerClosed(client.get(), 2000));
}

TEST(TcpServer, ClosingTheServerInNewConnectionStopsAccepting) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ServerSignals sig(server);
  ASSERT_TRUE(server.listen(kLocalHost));
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(rawClient(server.serverPort()));
  server.newConnection.connect([&] { server.close(); });
  ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 1; }));
  test::runFor(20);
  EXPECT_EQ(sig.newConnection, 1);
  EXPECT_FALSE(server.isListening());
  EXPECT_FALSE(server.hasPendingConnections()) << "close() deleted the one accepted";
}

// ------------------------------------------------------------ running out of descriptors

TEST(TcpServer, RunningOutOfDescriptorsShedsConnectionsWithAcceptErrorAndRecovers) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ServerSignals sig(server);
  ASSERT_TRUE(server.listen(kLocalHost));
  {
    // One ordinary connection first: the sanitizers' type checks need a
    // spare descriptor the first time they meet a type, so let them meet
    // every type of the accept path while descriptors are still free.
    UniqueFd warmUp = rawClient(server.serverPort());
    ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 1; }));
    delete server.nextPendingConnection();
    server.acceptError.emit(SocketError::SocketResourceError);
    test::runFor(5);
    sig.reset();
  }
  // Client sockets are made before the limit is lowered; the last one
  // connects after the first ones are closed.
  std::vector<UniqueFd> shed;
  for (int i = 0; i < 3; ++i) shed.push_back(rawSocket(kLocalHost));
  UniqueFd later = rawSocket(kLocalHost);
  int eventsDuringShedding = 0;
  {
    test::DescriptorLimit limit(static_cast<rlim_t>(test::lowestFreeDescriptor()));
    ASSERT_TRUE(limit.applied());
    ASSERT_EQ(::open("/dev/null", O_RDONLY | O_CLOEXEC), -1);
    ASSERT_EQ(errno, EMFILE);

    // Two clients arrive together, the third on its own.
    ASSERT_TRUE(rawConnect(shed[0], server.serverPort()));
    ASSERT_TRUE(rawConnect(shed[1], server.serverPort()));
    ASSERT_TRUE(test::runUntil([&] { return sig.acceptErrors.size() == 2; }));
    ASSERT_TRUE(rawConnect(shed[2], server.serverPort()));
    ASSERT_TRUE(test::runUntil([&] { return sig.acceptErrors.size() == 3; }));
    // Bounded: one acceptError per connection, and the loop goes idle.
    const auto dispatcher = detail::Dispatcher::current();
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
    while (std::chrono::steady_clock::now() < until)
      if (dispatcher->runOnce(10)) ++eventsDuringShedding;
    EXPECT_EQ(sig.acceptErrors, std::vector<SocketError>(3, SocketError::SocketResourceError));
    EXPECT_EQ(sig.newConnection, 0);
    EXPECT_EQ(server.serverError(), SocketError::SocketResourceError);
    EXPECT_EQ(server.errorString(), "Out of resources");
    EXPECT_TRUE(server.isListening());
    for (const UniqueFd& fd : shed) EXPECT_TRUE(peerClosed(fd.get(), 2000)) << "the shed client is told";

    // Free descriptors, still under the lowered limit: accepting goes on by
    // itself.
    shed.clear();
    ASSERT_TRUE(rawConnect(later, server.serverPort()));
    ASSERT_TRUE(test::runUntil([&] { return sig.newConnection == 1; }));
  }
  EXPECT_LE(eventsDuringShedding, 1) << "the loop must not spin on the listening socket";
  EXPECT_EQ(sig.acceptErrors.size(), 3u);
  TcpSocket* peer = server.nextPendingConnection();
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(peer->state(), SocketState::ConnectedState);
  EXPECT_EQ(peer->peerPort(), localPortOf(later.get()));
}

TEST(TcpServerAdoption, AcceptedSocketReportsNoStateChangeThatHappenedBeforeItWasHandedOver) {
  test::DescriptorLeakCheck leaks;
  tether::TcpServer server;
  ASSERT_TRUE(server.listen(tether::HostAddress(tether::HostAddress::LocalHost)));
  std::vector<tether::SocketState> states;
  tether::TcpSocket* accepted = nullptr;
  server.newConnection.connect([&] {
    accepted = server.nextPendingConnection();
    EXPECT_EQ(accepted->state(), tether::SocketState::ConnectedState);
    accepted->stateChanged.connect([&](tether::SocketState s) { states.push_back(s); });
  });
  tether::TcpSocket client;
  client.connectToHost(tether::HostAddress(tether::HostAddress::LocalHost), server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return accepted != nullptr; }));
  client.write("x");
  ASSERT_TRUE(test::runUntil([&] { return accepted->bytesAvailable() == 1; }));
  EXPECT_TRUE(states.empty());
  client.disconnectFromHost();
  ASSERT_TRUE(test::runUntil([&] { return accepted->state() == tether::SocketState::UnconnectedState; }));
  ASSERT_TRUE(test::runUntil([&] { return states.size() == 2; }));
  EXPECT_EQ(states, (std::vector<tether::SocketState>{tether::SocketState::ClosingState,
                                                      tether::SocketState::UnconnectedState}));
}
