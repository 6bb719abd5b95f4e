// AbstractSocket::sendFile: bytes of a file queued like write() and sent
// with sendfile(2), in order with the buffered writes around them, counted
// by bytesToWrite() and bytesWritten, flushed by disconnectFromHost(), in
// event-driven and blocking use.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"
#include "system/unique_fd.h"
#include "tether/event_loop.h"
#include "tether/tcp_server.h"
#include "tether/tcp_socket.h"

using namespace tether;
using detail::UniqueFd;

namespace {

const HostAddress kLocalHost(HostAddress::LocalHost);

std::string patternBytes(std::size_t size, std::uint64_t seed) {
  std::string out(size, '\0');
  std::uint64_t x = seed | 1;
  for (std::size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x);
  }
  return out;
}

// An unlinked temporary file holding `content`.
UniqueFd fileWith(const std::string& content) {
  char name[] = "/tmp/tether-sendfile-XXXXXX";
  UniqueFd fd(::mkstemp(name));
  ::unlink(name);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n <= 0) return {};
    done += static_cast<std::size_t>(n);
  }
  return fd;
}

struct Link {
  TcpServer server;
  TcpSocket client;
  TcpSocket* peer = nullptr;
  std::string received;

  bool open() {
    if (!server.listen(kLocalHost)) return false;
    client.connectToHost(kLocalHost, server.serverPort());
    if (!test::runUntil([&] { return client.state() == SocketState::ConnectedState && server.hasPendingConnections(); }))
      return false;
    peer = server.nextPendingConnection();
    if (!peer) return false;
    peer->readyRead.connect([this] { received += peer->readAll(); });
    return true;
  }
};

}  // namespace

TEST(TcpSocketSendFile, FileBytesGoOutInOrderBetweenBufferedWrites) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  const std::string content = patternBytes(100000, 1);
  UniqueFd file = fileWith(content);
  ASSERT_TRUE(file);
  std::int64_t written = 0;
  link.client.bytesWritten.connect([&](std::int64_t n) { written += n; });

  link.client.write("head:");
  EXPECT_EQ(link.client.sendFile(file.get(), 10, 50000), 50000);
  link.client.write(":middle:");
  EXPECT_EQ(link.client.sendFile(file.get(), 0, 10), 10);
  link.client.write(":tail");
  EXPECT_EQ(link.client.bytesToWrite(), 5 + 50000 + 8 + 10 + 5);

  const std::string expected = "head:" + content.substr(10, 50000) + ":middle:" + content.substr(0, 10) + ":tail";
  ASSERT_TRUE(test::runUntil([&] { return link.received.size() >= expected.size(); }));
  EXPECT_TRUE(link.received == expected);
  EXPECT_EQ(written, static_cast<std::int64_t>(expected.size()));
  EXPECT_EQ(link.client.bytesToWrite(), 0);
  EXPECT_EQ(::lseek(file.get(), 0, SEEK_CUR), static_cast<off_t>(content.size())) << "the file offset is untouched";
}

TEST(TcpSocketSendFile, AFileLargerThanTheSocketBuffersArrivesWhole) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  const std::string content = patternBytes(24 << 20, 2);
  UniqueFd file = fileWith(content);
  ASSERT_TRUE(file);
  std::int64_t written = 0;
  int signals = 0;
  link.client.bytesWritten.connect([&](std::int64_t n) {
    written += n;
    ++signals;
  });
  ASSERT_EQ(link.client.sendFile(file.get(), 0, static_cast<std::int64_t>(content.size())),
            static_cast<std::int64_t>(content.size()));
  file.reset();  // the socket keeps its own descriptor
  ASSERT_TRUE(test::runUntil([&] { return link.received.size() >= content.size(); }, 30000));
  EXPECT_TRUE(link.received == content);
  EXPECT_EQ(written, static_cast<std::int64_t>(content.size()));
  EXPECT_GE(signals, 1);
}

TEST(TcpSocketSendFile, DisconnectFromHostClosesAfterTheLastFileByte) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  const std::string content = patternBytes(4 << 20, 3);
  UniqueFd file = fileWith(content);
  bool peerDisconnected = false;
  link.peer->disconnected.connect([&] { peerDisconnected = true; });
  link.client.sendFile(file.get(), 0, static_cast<std::int64_t>(content.size()));
  link.client.write("end");
  link.client.disconnectFromHost();
  EXPECT_EQ(link.client.state(), SocketState::ClosingState);
  ASSERT_TRUE(test::runUntil([&] { return peerDisconnected; }, 20000));
  EXPECT_TRUE(link.received == content + "end");
  EXPECT_EQ(link.client.state(), SocketState::UnconnectedState);
}

TEST(TcpSocketSendFile, BlockingUseWithoutALoopSendsEverything) {
  test::DescriptorLeakCheck leaks;
  TcpServer server;
  ASSERT_TRUE(server.listen(kLocalHost));
  std::string received;
  bool peerGone = false;
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([&received, peer] { received += peer->readAll(); });
    peer->disconnected.connect([&peerGone] { peerGone = true; });
  });
  const std::string content = patternBytes(8 << 20, 4);
  UniqueFd file = fileWith(content);
  const std::uint16_t port = server.serverPort();
  std::atomic<bool> done{false};
  bool ok = true;
  std::int64_t written = 0;
  std::thread sender([&] {
    TcpSocket socket;
    socket.bytesWritten.connect([&](std::int64_t n) { written += n; });
    socket.connectToHost("127.0.0.1", port);
    ok = socket.waitForConnected(10000);
    ok = ok && socket.sendFile(file.get(), 0, static_cast<std::int64_t>(content.size())) ==
                   static_cast<std::int64_t>(content.size());
    while (ok && socket.bytesToWrite() > 0) ok = socket.waitForBytesWritten(10000);
    socket.disconnectFromHost();
    if (socket.state() != SocketState::UnconnectedState) socket.waitForDisconnected(10000);
    done = true;
  });
  const bool finished = test::runUntil([&] { return done.load() && peerGone; }, 20000);
  sender.join();
  ASSERT_TRUE(finished);
  EXPECT_TRUE(ok);
  EXPECT_EQ(written, static_cast<std::int64_t>(content.size()));
  EXPECT_TRUE(received == content);
}

TEST(TcpSocketSendFile, AFileShorterThanPromisedAbortsTheConnectionWithAnError) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  UniqueFd file = fileWith("only twenty bytes...");
  std::vector<SocketError> errors;
  bool disconnected = false;
  link.client.errorOccurred.connect([&](SocketError e) { errors.push_back(e); });
  link.client.disconnected.connect([&] { disconnected = true; });
  EXPECT_EQ(link.client.sendFile(file.get(), 0, 1000), 1000) << "the size is only known when sending";
  EXPECT_TRUE(errors.empty()) << "nothing is emitted from inside the call";
  ASSERT_TRUE(test::runUntil([&] { return disconnected; }));
  EXPECT_EQ(errors, std::vector<SocketError>{SocketError::UnknownSocketError});
  EXPECT_EQ(link.client.bytesToWrite(), 0);
}

TEST(TcpSocketSendFile, RefusedSynchronouslyWithoutSignals) {
  test::DescriptorLeakCheck leaks;
  UniqueFd file = fileWith("data");
  int errors = 0;
  TcpSocket unconnected;
  unconnected.errorOccurred.connect([&](SocketError) { ++errors; });
  EXPECT_EQ(unconnected.sendFile(file.get(), 0, 4), -1);
  EXPECT_EQ(unconnected.errorString(), "Socket is not connected");

  Link link;
  ASSERT_TRUE(link.open());
  link.client.errorOccurred.connect([&](SocketError) { ++errors; });
  EXPECT_EQ(link.client.sendFile(file.get(), -1, 4), -1);
  EXPECT_EQ(link.client.sendFile(file.get(), 0, -4), -1);
  EXPECT_EQ(link.client.sendFile(-1, 0, 4), -1);
  EXPECT_EQ(link.client.sendFile(file.get(), 0, 0), 0);
  EXPECT_EQ(link.client.bytesToWrite(), 0);
  test::runFor(20);
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(link.client.state(), SocketState::ConnectedState);
}
