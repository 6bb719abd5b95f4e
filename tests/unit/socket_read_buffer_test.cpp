// The read buffer of a stream socket across bursts: a reader that takes
// everything on every readyRead must not make the socket free and
// reallocate its buffer per read (each reallocation touches fresh pages: a
// page fault per 4 KiB received, doubling the cost of a bulk transfer).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"
#include "tether/event_loop.h"
#include "tether/tcp_server.h"
#include "tether/tcp_socket.h"

using namespace tether;

namespace {

long minorFaultsOfThisThread() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

// Sends `total` bytes to 127.0.0.1:port from a plain socket, then closes.
void sendBulk(std::uint16_t port, std::size_t total) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string block(1 << 20, 'x');
    for (std::size_t sent = 0; sent < total;) {
      const ssize_t n = ::send(fd, block.data(), std::min(block.size(), total - sent), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
  }
  ::close(fd);
}

}  // namespace

TEST(SocketReadBuffer, BulkReadsKeepTheBufferInsteadOfFaultingInFreshPages) {
  test::DescriptorLeakCheck leaks;
  constexpr std::size_t kTotal = 128 << 20;
  TcpServer server;
  ASSERT_TRUE(server.listen(HostAddress(HostAddress::LocalHost)));
  std::vector<char> sink(1 << 20);  // the application's own buffer, touched before measuring
  std::fill(sink.begin(), sink.end(), '\0');
  std::size_t received = 0;
  bool closed = false;
  long faultsAtStart = 0;
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    // A bounded buffer, as bulk receivers set it (it also bounds how far
    // the buffer grows, so the count below does not depend on timing).
    peer->setReadBufferSize(1 << 20);
    peer->readyRead.connect([&, peer] {
      if (received == 0) faultsAtStart = minorFaultsOfThisThread();
      for (;;) {
        const std::int64_t n = peer->read(sink.data(), static_cast<std::int64_t>(sink.size()));
        if (n <= 0) break;
        received += static_cast<std::size_t>(n);
      }
    });
    peer->disconnected.connect([&] { closed = true; });
  });
  std::thread sender(sendBulk, server.serverPort(), kTotal);
  const bool done = test::runUntil([&] { return closed; }, 30000);
  const long faults = minorFaultsOfThisThread() - faultsAtStart;
  sender.join();
  ASSERT_TRUE(done);
  EXPECT_EQ(received, kTotal);
  // Reallocating per read takes more than one fault per 4 KiB received
  // (32768 pages here); a kept buffer takes its pages once, as it grows.
  EXPECT_LT(faults, static_cast<long>(kTotal / 4096 / 4)) << faults << " minor faults";
}

// A fast sender fills the kernel's receive queue with megabytes; the socket
// reads them 64 KiB at a time and emits readyRead after each read, so a
// reader that takes everything in small pieces finds at most 64 KiB (one
// chunk, still in cache) on every readyRead, and every byte arrives in
// order. (A reader of large pieces reads in place instead: see
// socket_in_place_read_test.cpp.)
TEST(SocketReadBuffer, ABulkStreamIsDeliveredAChunkOfAtMost64KiBAtATime) {
  test::DescriptorLeakCheck leaks;
  constexpr std::size_t kTotal = 32 << 20;
  TcpServer server;
  ASSERT_TRUE(server.listen(HostAddress(HostAddress::LocalHost)));
  std::vector<char> sink(1 << 20);
  std::size_t received = 0;
  std::int64_t largest = 0;
  int readyReads = 0;
  bool inOrder = true;
  bool closed = false;
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([&, peer] {
      ++readyReads;
      largest = std::max(largest, peer->bytesAvailable());
      for (;;) {
        const std::int64_t n = peer->read(sink.data(), 4096);
        if (n <= 0) break;
        for (std::int64_t i = 0; i < n; ++i) inOrder = inOrder && sink[static_cast<std::size_t>(i)] == 'x';
        received += static_cast<std::size_t>(n);
      }
    });
    peer->disconnected.connect([&] { closed = true; });
  });
  std::thread sender(sendBulk, server.serverPort(), kTotal);
  const bool done = test::runUntil([&] { return closed; }, 30000);
  sender.join();
  ASSERT_TRUE(done);
  EXPECT_EQ(received, kTotal);
  EXPECT_TRUE(inOrder);
  EXPECT_GT(largest, 0);
  EXPECT_LE(largest, 64 * 1024);
  EXPECT_GE(readyReads, static_cast<int>(kTotal / (64 * 1024)));
}

// A reader that leaves the bytes in the buffer still gets all of them: the
// socket reads on after each readyRead whether or not the slot read.
TEST(SocketReadBuffer, AReaderThatWaitsForTheWholeStreamGetsAllOfIt) {
  test::DescriptorLeakCheck leaks;
  constexpr std::size_t kTotal = 8 << 20;
  TcpServer server;
  ASSERT_TRUE(server.listen(HostAddress(HostAddress::LocalHost)));
  std::int64_t atClose = -1;
  std::int64_t grew = 0;
  bool shrank = false;
  server.newConnection.connect([&] {
    TcpSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([&, peer] {
      shrank = shrank || peer->bytesAvailable() < grew;
      grew = peer->bytesAvailable();
    });
    peer->disconnected.connect([&, peer] { atClose = peer->bytesAvailable(); });
  });
  std::thread sender(sendBulk, server.serverPort(), kTotal);
  const bool done = test::runUntil([&] { return atClose >= 0; }, 30000);
  sender.join();
  ASSERT_TRUE(done);
  EXPECT_FALSE(shrank);
  EXPECT_EQ(atClose, static_cast<std::int64_t>(kTotal));
}
