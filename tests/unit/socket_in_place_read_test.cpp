// Reading a bulk stream in place: when the stream brings large reads and the
// application reads in large pieces, the socket announces what the kernel
// holds (readyRead, bytesAvailable()) and read() takes it straight into the
// caller's memory, with no copy through the read buffer. Every other way of
// reading (peek, transactions, lines, small reads, waiting, closing) must see
// exactly the bytes and signals it sees when everything is buffered.
//
// The receiving socket is a TcpSocket whose read buffer the test can measure:
// bytesAvailable() above buffered() shows bytes announced in place.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tether/host_address.h"
#include "tether/tcp_server.h"
#include "tether/tcp_socket.h"
#include "support/test_support.h"

using namespace tether;

namespace {

class InspectableSocket : public TcpSocket {
 public:
  using TcpSocket::TcpSocket;
  std::int64_t buffered() const { return static_cast<std::int64_t>(readBuffer().size()); }
};

class InspectingServer : public TcpServer {
 public:
  InspectableSocket* last = nullptr;

 protected:
  void incomingConnection(int descriptor) override {
    auto* socket = new InspectableSocket(this);
    socket->setSocketDescriptor(descriptor);
    last = socket;
    addPendingConnection(socket);
  }
};

constexpr std::int64_t kLarge = 64 * 1024;

// A sender and a receiver on loopback, in this thread. prime() streams 64 KiB
// that the receiver reads in large pieces, which is what lets the next
// bytes be read in place.
struct Link {
  InspectingServer server;
  TcpSocket sender;
  InspectableSocket* receiver = nullptr;
  std::vector<char> scratch = std::vector<char>(static_cast<std::size_t>(kLarge));

  bool open() {
    if (!server.listen(HostAddress(HostAddress::LocalHost))) return false;
    sender.connectToHost(HostAddress(HostAddress::LocalHost), server.serverPort());
    if (!test::runUntil([&] { return server.last != nullptr && sender.state() == SocketState::ConnectedState; })) return false;
    receiver = static_cast<InspectableSocket*>(server.nextPendingConnection());
    return receiver == server.last;
  }

  // Reads everything available in kLarge pieces; the bytes go to `into`.
  void readLarge(std::string& into) {
    for (;;) {
      const std::int64_t n = receiver->read(scratch.data(), kLarge);
      if (n <= 0) break;
      into.append(scratch.data(), static_cast<std::size_t>(n));
    }
  }

  bool prime() {
    const std::string first = test::randomBytes(static_cast<std::size_t>(kLarge), 7);
    std::string got;
    auto c = receiver->readyRead.connect([&] { readLarge(got); });
    sender.write(first);
    const bool ok = test::runUntil([&] { return got.size() == first.size(); });
    c.disconnect();
    return ok && got == first;
  }
};

}  // namespace

// 32 MiB from a thread-less peer in this loop: a reader of 64 KiB pieces gets
// every byte in order, and almost none of them pass through the read buffer.
TEST(SocketInPlaceRead, ALargeReaderTakesABulkStreamStraightFromTheSystem) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  const std::string data = test::randomBytes(32 << 20, 11);
  std::string got;
  std::int64_t throughBuffer = 0;
  int inPlace = 0;
  link.receiver->readyRead.connect([&] {
    throughBuffer += link.receiver->buffered();
    if (link.receiver->bytesAvailable() > link.receiver->buffered()) ++inPlace;
    link.readLarge(got);
  });
  link.sender.write(data);
  ASSERT_TRUE(test::runUntil([&] { return got.size() >= data.size(); }, 30000));
  EXPECT_TRUE(got == data);
  EXPECT_GT(inPlace, 0);
  // Buffered, every byte goes through the buffer; in place only the reads
  // before the reader showed its piece size, and edges with little data.
  EXPECT_LT(throughBuffer, static_cast<std::int64_t>(data.size() / 4)) << throughBuffer << " bytes buffered";
}

// The in-place readyRead: bytesAvailable() counts bytes the buffer does not
// hold. Each test below runs one kind of read there.
namespace {

// Sends `data` after priming and calls `inPlace` on the first readyRead whose
// bytes are (partly) still in the system. Returns false if none came.
bool onInPlaceReadyRead(Link& link, const std::string& data, const std::function<void()>& inPlace) {
  bool seen = false;
  auto c = link.receiver->readyRead.connect([&] {
    if (seen || link.receiver->bytesAvailable() <= link.receiver->buffered()) return;
    seen = true;
    inPlace();
  });
  link.sender.write(data);
  const bool ok = test::runUntil([&] { return seen; });
  c.disconnect();
  return ok;
}

// Reads the rest of `data` (everything after `have`) in large pieces.
bool readRest(Link& link, std::string& have, std::size_t total) {
  link.readLarge(have);
  auto c = link.receiver->readyRead.connect([&] { link.readLarge(have); });
  const bool ok = test::runUntil([&] { return have.size() >= total; });
  c.disconnect();
  return ok;
}

}  // namespace

TEST(SocketInPlaceRead, PeekSeesAnnouncedBytesAndLeavesThemToRead) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  ASSERT_TRUE(link.prime());
  const std::string data = test::randomBytes(256 * 1024, 13);
  std::string peeked;
  std::int64_t availableBefore = -1;
  std::int64_t availableAfter = -1;
  ASSERT_TRUE(onInPlaceReadyRead(link, data, [&] {
    availableBefore = link.receiver->bytesAvailable();
    peeked = link.receiver->peek(100);
    availableAfter = link.receiver->bytesAvailable();
  }));
  EXPECT_EQ(peeked, data.substr(0, 100));
  EXPECT_GE(availableBefore, 16 * 1024);
  EXPECT_EQ(availableAfter, availableBefore);  // peeking takes nothing
  std::string got;
  ASSERT_TRUE(readRest(link, got, data.size()));
  EXPECT_TRUE(got == data);
}

TEST(SocketInPlaceRead, ARolledBackTransactionReadsTheSameAnnouncedBytesAgain) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  ASSERT_TRUE(link.prime());
  const std::string data = test::randomBytes(256 * 1024, 14);
  std::string inTransaction;
  std::string afterRollback;
  ASSERT_TRUE(onInPlaceReadyRead(link, data, [&] {
    link.receiver->startTransaction();
    inTransaction = link.receiver->read(40000);  // a large read, kept for the rollback
    link.receiver->rollbackTransaction();
    afterRollback = link.receiver->read(40000);
  }));
  ASSERT_EQ(inTransaction.size(), 40000u);
  EXPECT_TRUE(inTransaction == data.substr(0, 40000));
  EXPECT_TRUE(afterRollback == inTransaction);
  std::string got = afterRollback;
  ASSERT_TRUE(readRest(link, got, data.size()));
  EXPECT_TRUE(got == data);
}

TEST(SocketInPlaceRead, LinesInAnnouncedBytesCanBeReadAsLines) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  ASSERT_TRUE(link.prime());
  std::string data = test::randomBytes(256 * 1024, 15);
  std::replace(data.begin(), data.end(), '\n', ' ');
  data[999] = '\n';
  bool canReadLine = false;
  std::string line;
  ASSERT_TRUE(onInPlaceReadyRead(link, data, [&] {
    canReadLine = link.receiver->canReadLine();
    line = link.receiver->readLine();
  }));
  EXPECT_TRUE(canReadLine);
  EXPECT_TRUE(line == data.substr(0, 1000));
  std::string got = line;
  ASSERT_TRUE(readRest(link, got, data.size()));
  EXPECT_TRUE(got == data);
}

TEST(SocketInPlaceRead, SmallAndLargeReadsMixedGetEveryByteInOrder) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  ASSERT_TRUE(link.prime());
  const std::string data = test::randomBytes(4 << 20, 16);
  std::string got;
  int round = 0;
  link.receiver->readyRead.connect([&] {
    // getChar, a 4-byte read, a large read, ungetChar: in turn, per readyRead.
    for (;;) {
      const int kind = round++ % 4;
      if (kind == 0) {
        char c = 0;
        if (!link.receiver->getChar(&c)) break;
        got.push_back(c);
      } else if (kind == 1) {
        const std::string s = link.receiver->read(4);
        if (s.empty()) break;
        got += s;
      } else if (kind == 2) {
        const std::int64_t n = link.receiver->read(link.scratch.data(), kLarge);
        if (n <= 0) break;
        got.append(link.scratch.data(), static_cast<std::size_t>(n));
      } else {
        char c = 0;
        if (!link.receiver->getChar(&c)) break;
        link.receiver->ungetChar(c);
      }
    }
  });
  link.sender.write(data);
  ASSERT_TRUE(test::runUntil([&] { return got.size() >= data.size(); }, 30000));
  EXPECT_TRUE(got == data);
}

TEST(SocketInPlaceRead, ReadAllTakesTheAnnouncedBytes) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  ASSERT_TRUE(link.prime());
  const std::string data = test::randomBytes(256 * 1024, 17);
  std::int64_t announced = 0;
  std::int64_t left = -1;
  std::string got;
  ASSERT_TRUE(onInPlaceReadyRead(link, data, [&] {
    announced = link.receiver->bytesAvailable();
    got = link.receiver->readAll();
    left = link.receiver->bytesAvailable();
  }));
  EXPECT_GE(static_cast<std::int64_t>(got.size()), announced);
  EXPECT_EQ(left, 0);
  ASSERT_TRUE(readRest(link, got, data.size()));
  EXPECT_TRUE(got == data);
}

// A slot that leaves announced bytes unread gets them buffered, as any
// reader does: the peer is never held back by a full window, its close
// comes through, and every byte is readable after disconnected, announced
// once.
TEST(SocketInPlaceRead, AnnouncedBytesLeftUnreadAreBufferedAndSurviveThePeersClose) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  ASSERT_TRUE(link.prime());
  const std::string data = test::randomBytes(8 << 20, 18);  // more than the kernel's window
  std::int64_t announced = 0;
  std::int64_t lastAnnounced = 0;
  bool disconnected = false;
  link.receiver->disconnected.connect([&] { disconnected = true; });
  ASSERT_TRUE(onInPlaceReadyRead(link, data, [&] { announced = link.receiver->bytesAvailable(); }));
  EXPECT_EQ(link.receiver->buffered(), link.receiver->bytesAvailable());
  bool grewEachTime = true;
  link.receiver->readyRead.connect([&] {
    grewEachTime = grewEachTime && link.receiver->bytesAvailable() > lastAnnounced;
    lastAnnounced = link.receiver->bytesAvailable();
  });
  lastAnnounced = link.receiver->bytesAvailable();
  link.sender.disconnectFromHost();
  ASSERT_TRUE(test::runUntil([&] { return disconnected; }, 30000));
  EXPECT_GT(announced, 0);
  EXPECT_TRUE(grewEachTime);  // every later readyRead brought new bytes
  EXPECT_EQ(link.receiver->bytesAvailable(), static_cast<std::int64_t>(data.size()));
  EXPECT_TRUE(link.receiver->readAll() == data);
}

// disconnectFromHost() inside the in-place readyRead keeps the announced
// bytes readable.
TEST(SocketInPlaceRead, AnnouncedBytesStayReadableAfterDisconnectFromHost) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  ASSERT_TRUE(link.prime());
  const std::string data = test::randomBytes(48 * 1024, 19);
  std::int64_t announced = 0;
  std::int64_t afterwards = 0;
  SocketState state = SocketState::ConnectedState;
  ASSERT_TRUE(onInPlaceReadyRead(link, data, [&] {
    announced = link.receiver->bytesAvailable();
    link.receiver->disconnectFromHost();
    state = link.receiver->state();
    afterwards = link.receiver->bytesAvailable();
  }));
  EXPECT_EQ(state, SocketState::UnconnectedState);
  EXPECT_GT(announced, 0);
  EXPECT_EQ(afterwards, announced);
  EXPECT_EQ(link.receiver->buffered(), announced);
  EXPECT_TRUE(link.receiver->readAll() == data.substr(0, static_cast<std::size_t>(announced)));
}

// close() inside the in-place readyRead drops announced bytes with the
// buffer.
TEST(SocketInPlaceRead, CloseDropsAnnouncedBytes) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  ASSERT_TRUE(link.prime());
  const std::string data = test::randomBytes(48 * 1024, 20);
  std::int64_t before = 0;
  std::int64_t after = -1;
  ASSERT_TRUE(onInPlaceReadyRead(link, data, [&] {
    before = link.receiver->bytesAvailable();
    link.receiver->close();
    after = link.receiver->bytesAvailable();
  }));
  EXPECT_GT(before, 0);
  EXPECT_EQ(after, 0);
  EXPECT_EQ(link.receiver->buffered(), 0);
}

// waitForReadyRead() inside the in-place readyRead waits for bytes that were
// not announced yet: the announced ones do not make it return.
TEST(SocketInPlaceRead, WaitForReadyReadWaitsForNewBytesNotAnnouncedOnes) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  ASSERT_TRUE(link.prime());
  const std::string data = test::randomBytes(48 * 1024, 21);
  bool waited = true;
  std::int64_t announced = 0;
  std::int64_t afterWait = 0;
  ASSERT_TRUE(onInPlaceReadyRead(link, data, [&] {
    announced = link.receiver->bytesAvailable();
    waited = link.receiver->waitForReadyRead(100);
    afterWait = link.receiver->bytesAvailable();
  }));
  EXPECT_FALSE(waited);
  EXPECT_EQ(afterWait, announced);
  int readyReads = 0;
  link.receiver->readyRead.connect([&] { ++readyReads; });
  std::string got = link.receiver->readAll();
  ASSERT_TRUE(readRest(link, got, data.size()));
  // New bytes do.
  link.sender.write("more");
  link.sender.flush();
  EXPECT_TRUE(link.receiver->waitForReadyRead(5000));
  EXPECT_EQ(readyReads, 1);
  got += link.receiver->readAll();
  EXPECT_TRUE(got == data + "more");
}

// A read buffer limit set in the in-place readyRead holds for the bytes the
// slot leaves: no more than the limit is buffered, and the rest follows, in
// order, as the reader makes room.
TEST(SocketInPlaceRead, AReadBufferLimitSetInTheSlotHoldsForAnnouncedBytes) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  ASSERT_TRUE(link.prime());
  const std::string data = test::randomBytes(256 * 1024, 22);
  std::int64_t announced = 0;
  ASSERT_TRUE(onInPlaceReadyRead(link, data, [&] {
    announced = link.receiver->bytesAvailable();
    link.receiver->setReadBufferSize(4096);
  }));
  EXPECT_GT(announced, 4096);
  EXPECT_EQ(link.receiver->buffered(), 4096);
  EXPECT_EQ(link.receiver->bytesAvailable(), 4096);
  std::string got;
  auto c = link.receiver->readyRead.connect([&] { got += link.receiver->readAll(); });
  got += link.receiver->readAll();
  ASSERT_TRUE(test::runUntil([&] {
    EXPECT_LE(link.receiver->buffered(), 4096);
    return got.size() >= data.size();
  }));
  c.disconnect();
  EXPECT_TRUE(got == data);
}

// close() in the in-place readyRead ends the connection with a FIN: the
// reply written before it reaches the peer, whose socket sees the remote
// close, not a reset.
TEST(SocketInPlaceRead, CloseWithAnnouncedBytesEndsWithAFinNotAReset) {
  test::DescriptorLeakCheck leaks;
  Link link;
  ASSERT_TRUE(link.open());
  ASSERT_TRUE(link.prime());
  const std::string data = test::randomBytes(48 * 1024, 23);
  std::string reply;
  std::vector<SocketError> errors;
  link.sender.readyRead.connect([&] { reply += link.sender.readAll(); });
  link.sender.errorOccurred.connect([&](SocketError e) { errors.push_back(e); });
  ASSERT_TRUE(onInPlaceReadyRead(link, data, [&] {
    link.receiver->write("bye");
    link.receiver->close();
  }));
  ASSERT_TRUE(test::runUntil([&] { return link.sender.state() == SocketState::UnconnectedState; }));
  EXPECT_EQ(reply, "bye");
  EXPECT_EQ(errors, std::vector<SocketError>{SocketError::RemoteHostClosedError});
}
