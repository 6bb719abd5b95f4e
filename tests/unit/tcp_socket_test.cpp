#include "tether/tcp_socket.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"
#include "tether/event_loop.h"
#include "tether/tcp_server.h"

using namespace tether;
using S = SocketState;

namespace {

// Records every signal of a socket in order, as text.
struct Recorder {
  std::vector<std::string> events;
  explicit Recorder(AbstractSocket& s) {
    s.stateChanged.connect([this](SocketState st) { events.push_back("state:" + std::to_string(static_cast<int>(st))); });
    s.hostFound.connect([this] { events.push_back("hostFound"); });
    s.connected.connect([this] { events.push_back("connected"); });
    s.disconnected.connect([this] { events.push_back("disconnected"); });
    s.readChannelFinished.connect([this] { events.push_back("readChannelFinished"); });
    s.errorOccurred.connect([this](SocketError e) { events.push_back("error:" + std::to_string(static_cast<int>(e))); });
  }
};

std::string st(S s) { return "state:" + std::to_string(static_cast<int>(s)); }
std::string err(SocketError e) { return "error:" + std::to_string(static_cast<int>(e)); }

// A port on loopback with nothing listening: bind a listener, read its port,
// close it.
std::uint16_t closedPort() {
  TcpServer server;
  EXPECT_TRUE(server.listen(HostAddress(HostAddress::LocalHost)));
  return server.serverPort();
}

}  // namespace

TEST(TcpSocket, ConnectsToLoopbackWithQtsSignalSequence) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(HostAddress(HostAddress::LocalHost)));
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost(HostAddress(HostAddress::LocalHost), server.serverPort());
  EXPECT_EQ(socket.state(), S::HostLookupState);
  EXPECT_TRUE(rec.events.empty()) << "no signal from inside connectToHost";
  ASSERT_TRUE(test::runUntil([&] { return socket.state() == S::ConnectedState && rec.events.size() >= 5; }));
  EXPECT_EQ(rec.events, (std::vector<std::string>{st(S::HostLookupState), st(S::ConnectingState), "hostFound",
                                                  st(S::ConnectedState), "connected"}));
  EXPECT_EQ(socket.peerPort(), server.serverPort());
  EXPECT_EQ(socket.peerAddress(), HostAddress(HostAddress::LocalHost));
  EXPECT_NE(socket.localPort(), 0);
  EXPECT_NE(socket.socketDescriptor(), -1);
}

TEST(TcpSocket, EchoRoundTripDeliversExactBytes) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(HostAddress(HostAddress::LocalHost)));
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([peer] { peer->write(peer->readAll()); });
    peer->disconnected.connect(peer, [peer] { peer->deleteLater(); });
  });
  TcpSocket socket;
  std::string got;
  socket.readyRead.connect([&] { got += socket.readAll(); });
  socket.connectToHost("127.0.0.1", server.serverPort());
  socket.write("hello, tether");
  ASSERT_TRUE(test::runUntil([&] { return got.size() == 13; }));
  EXPECT_EQ(got, "hello, tether");
  socket.disconnectFromHost();
  ASSERT_TRUE(test::runUntil([&] { return socket.state() == S::UnconnectedState; }));
}

TEST(TcpSocket, ConnectionRefusedEndsUnconnectedThenError) {
  test::DescriptorLeakCheck leaks;
  const std::uint16_t port = closedPort();
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost(HostAddress(HostAddress::LocalHost), port);
  ASSERT_TRUE(test::runUntil([&] { return !rec.events.empty() && rec.events.back().starts_with("error"); }));
  EXPECT_EQ(rec.events, (std::vector<std::string>{st(S::HostLookupState), st(S::ConnectingState), "hostFound",
                                                  st(S::UnconnectedState), err(SocketError::ConnectionRefusedError)}));
  EXPECT_EQ(socket.error(), SocketError::ConnectionRefusedError);
  EXPECT_EQ(socket.errorString(), "Connection refused");
  EXPECT_EQ(socket.state(), S::UnconnectedState);
}

TEST(TcpSocket, PeerCloseEmitsRemoteHostClosedThenDisconnectSequence) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(HostAddress(HostAddress::LocalHost)));
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->write("bye");
    peer->disconnectFromHost();
  });
  TcpSocket socket;
  Recorder rec(socket);
  socket.connectToHost(HostAddress(HostAddress::LocalHost), server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return !rec.events.empty() && rec.events.back() == "disconnected"; }));
  EXPECT_EQ(rec.events, (std::vector<std::string>{st(S::HostLookupState), st(S::ConnectingState), "hostFound",
                                                  st(S::ConnectedState), "connected",
                                                  err(SocketError::RemoteHostClosedError), st(S::ClosingState),
                                                  st(S::UnconnectedState), "readChannelFinished", "disconnected"}));
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.readAll(), "bye") << "data received before the close stays readable";
}

TEST(TcpSocket, DeletingTheSocketFromItsDisconnectedSlotIsSafe) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(HostAddress(HostAddress::LocalHost)));
  server.newConnection.connect([&] { server.nextPendingConnection()->disconnectFromHost(); });
  auto* socket = new TcpSocket;
  bool deleted = false;
  socket->destroyed.connect([&] { deleted = true; });
  socket->disconnected.connect([&] { delete socket; });
  socket->connectToHost(HostAddress(HostAddress::LocalHost), server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return deleted; }));
}

TEST(TcpSocket, BlockingClientWorksOnAThreadWithoutALoop) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(HostAddress(HostAddress::LocalHost)));
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([peer] { peer->write(peer->readAll()); });
  });
  const std::uint16_t port = server.serverPort();
  std::string got;
  bool ok = false;
  std::thread client([&] {
    TcpSocket socket;
    socket.connectToHost("127.0.0.1", port);
    if (!socket.waitForConnected(5000)) return;
    socket.write("ping");
    if (!socket.waitForBytesWritten(5000)) return;
    while (got.size() < 4 && socket.waitForReadyRead(5000)) got += socket.readAll();
    socket.disconnectFromHost();
    ok = socket.state() == S::UnconnectedState || socket.waitForDisconnected(5000);
  });
  std::atomic<bool> done{false};
  std::thread joiner([&] { client.join(); done = true; });
  ASSERT_TRUE(test::runUntil([&] { return done.load(); }, 10000));
  joiner.join();
  EXPECT_EQ(got, "ping");
  EXPECT_TRUE(ok);
}
