// How a socket delivers its signals when slots do unusual things: run a
// nested event loop, or see the end of stream arrive with the last data.
#include <gtest/gtest.h>

#include <string>

#include "support/test_support.h"
#include "tether/event_loop.h"
#include "tether/tcp_server.h"
#include "tether/tcp_socket.h"
#include "tether/timer.h"

using namespace tether;

namespace {

// A server that answers every message with "re:" + message, and can close
// right after writing.
struct ReplyServer {
  TcpServer server;
  bool closeAfterReply = false;
  explicit ReplyServer(bool closeAfter = false) : closeAfterReply(closeAfter) {
    EXPECT_TRUE(server.listen(HostAddress(HostAddress::LocalHost)));
    server.newConnection.connect([this] {
      TcpSocket* peer = server.nextPendingConnection();
      peer->readyRead.connect([this, peer] {
        peer->write("re:" + peer->readAll());
        if (closeAfterReply) peer->disconnectFromHost();
      });
    });
  }
};

}  // namespace

TEST(SocketDelivery, ConnectedSlotWaitingInANestedLoopGetsReadyRead) {
  test::DescriptorLeakCheck leaks;
  ReplyServer replies;
  TcpSocket socket;
  std::string inNested;
  socket.connected.connect([&] {
    socket.write("ping");
    EventLoop nested;
    socket.readyRead.connect([&] {
      inNested += socket.readAll();
      nested.quit();
    });
    Timer::singleShot(5000, &socket, [&] { nested.quit(); });
    nested.exec();
  });
  socket.connectToHost(HostAddress(HostAddress::LocalHost), replies.server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return !inNested.empty(); }, 8000));
  EXPECT_EQ(inNested, "re:ping");
}

TEST(SocketDelivery, ReadyReadSlotWritingThenWaitingInANestedLoopSendsTheWrite) {
  test::DescriptorLeakCheck leaks;
  ReplyServer replies;
  TcpSocket socket;
  std::string first;
  std::string second;
  bool once = false;
  socket.readyRead.connect([&] {
    if (once) {
      second += socket.readAll();
      return;
    }
    once = true;
    first = socket.readAll();
    socket.write("again");  // must leave even though this slot has not returned
    EventLoop nested;
    Timer::singleShot(5000, &socket, [&] { nested.quit(); });
    // readyRead is not delivered recursively (Qt's rule), so wait for bytes.
    Timer poll;
    poll.timeout.connect([&] {
      if (socket.bytesAvailable() > 0) nested.quit();
    });
    poll.start(1);
    nested.exec();
    second = socket.readAll();
  });
  socket.connected.connect([&] { socket.write("one"); });
  socket.connectToHost(HostAddress(HostAddress::LocalHost), replies.server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return second == "re:again"; }, 8000)) << second;
  EXPECT_EQ(first, "re:one");
}

TEST(SocketDelivery, DataArrivingWithTheFinIsDeliveredWhileTheSocketIsStillConnected) {
  test::DescriptorLeakCheck leaks;
  ReplyServer replies(/*closeAfter=*/true);
  TcpSocket socket;
  SocketState stateInSlot = SocketState::UnconnectedState;
  std::int64_t writeInSlot = -2;
  std::string got;
  socket.readyRead.connect([&] {
    if (!got.empty()) return;
    stateInSlot = socket.state();
    got = socket.readAll();
    writeInSlot = socket.write("late");
  });
  bool disconnected = false;
  socket.disconnected.connect([&] { disconnected = true; });
  socket.connected.connect([&] { socket.write("x"); });
  socket.connectToHost(HostAddress(HostAddress::LocalHost), replies.server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return disconnected; }, 8000));
  EXPECT_EQ(got, "re:x");
  EXPECT_EQ(stateInSlot, SocketState::ConnectedState);
  EXPECT_EQ(writeInSlot, 4);
  EXPECT_EQ(socket.error(), SocketError::RemoteHostClosedError);
}

TEST(SocketDelivery, BindWithASpecialAddressBindsThatAddressNotAPort) {
  test::DescriptorLeakCheck leaks;
  TcpSocket socket;
  ASSERT_TRUE(socket.bind(HostAddress::LocalHost));
  EXPECT_EQ(socket.localAddress(), HostAddress(HostAddress::LocalHost));
  EXPECT_NE(socket.localPort(), 0);
  EXPECT_EQ(socket.state(), SocketState::BoundState);
}
