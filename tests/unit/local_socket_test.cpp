// LocalSocket against Qt's QLocalSocket (Qt 6 on Linux, observed with real
// Qt programs): the signal sequences of connecting, failing, closing and
// aborting; every error with Qt's text; names and the abstract namespace;
// a full server backlog; adopted descriptors; blocking use without a loop;
// deletion from inside every signal.
//
// Every signal is delivered by the event loop (or, in blocking use, by the
// waitFor*() call), never from inside the call that started the operation;
// the tests check that too. Each test runs in its own $TMPDIR.
#include "tether/local_socket.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/local_support.h"
#include "support/test_support.h"
#include "system/unique_fd.h"
#include "tether/event_loop.h"
#include "tether/local_server.h"

using namespace tether;
using S = LocalSocket::LocalSocketState;
using E = LocalSocket::LocalSocketError;
using detail::UniqueFd;

namespace {

std::string st(S s) { return "state:" + std::to_string(static_cast<int>(s)); }
std::string err(E e) { return "error:" + std::to_string(static_cast<int>(e)); }

using Events = std::vector<std::string>;

const Events kConnectSequence = {st(S::ConnectingState), st(S::ConnectedState), "connected"};

Events concat(Events a, const Events& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Records every signal of a socket in order, as text; error entries carry
// errorString() as it was when the signal came. With data signals on,
// readyRead and bytesWritten are recorded too (a run of one as one entry).
struct Recorder {
  Events events;
  std::vector<std::string> errorTexts;
  std::int64_t bytesWritten = 0;

  explicit Recorder(LocalSocket& s, bool dataSignals = false) {
    s.stateChanged.connect([this](S state) { events.push_back(st(state)); });
    s.connected.connect([this] { events.emplace_back("connected"); });
    s.disconnected.connect([this] { events.emplace_back("disconnected"); });
    s.readChannelFinished.connect([this] { events.emplace_back("readChannelFinished"); });
    s.aboutToClose.connect([this] { events.emplace_back("aboutToClose"); });
    s.errorOccurred.connect([this, &s](E e) {
      events.push_back(err(e));
      errorTexts.push_back(s.errorString());
    });
    s.bytesWritten.connect([this, dataSignals](std::int64_t n) {
      bytesWritten += n;
      if (dataSignals) once("bytesWritten");
    });
    s.readyRead.connect([this, dataSignals] {
      if (dataSignals) once("readyRead");
    });
  }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  bool ended() const { return !events.empty() && events.back() == "disconnected"; }

 private:
  void once(const char* name) {
    if (events.empty() || events.back() != name) events.emplace_back(name);
  }
};


// A server in a private $TMPDIR and a client connected to it, with the
// server's socket for that client taken.
struct Link {
  test::ScopedTmpdir tmp;
  std::string name = test::uniqueName("link");
  LocalServer server;
  LocalSocket client;
  LocalSocket* peer = nullptr;

  bool open() {
    if (!server.listen(name)) return false;
    client.connectToServer(name);
    if (!test::runUntil([&] { return client.state() == S::ConnectedState && server.hasPendingConnections(); }))
      return false;
    peer = server.nextPendingConnection();
    EventLoop().processEvents();  // the client's connect signals pass first
    return peer != nullptr;
  }
};

// Collects everything a socket receives.
struct Sink {
  std::string data;
  explicit Sink(LocalSocket& s) {
    s.readyRead.connect([this, &s] { data += s.readAll(); });
  }
};


}  // namespace

// ------------------------------------------------------------ defaults

TEST(LocalSocket, InitialStateIsQts) {
  LocalSocket socket;
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.error(), E::UnknownSocketError);
  EXPECT_EQ(socket.errorString(), "Unknown error");
  EXPECT_FALSE(socket.isValid());
  EXPECT_FALSE(socket.isOpen());
  EXPECT_TRUE(socket.isSequential());
  EXPECT_EQ(socket.socketDescriptor(), -1);
  EXPECT_EQ(socket.readBufferSize(), 0);
  EXPECT_EQ(socket.serverName(), "");
  EXPECT_EQ(socket.fullServerName(), "");
  EXPECT_EQ(socket.socketOptions(), LocalSocket::NoOptions);
  EXPECT_EQ(socket.bytesAvailable(), 0);
  EXPECT_EQ(socket.bytesToWrite(), 0);
}

TEST(LocalSocket, EnumValuesAreQts) {
  EXPECT_EQ(static_cast<int>(E::ConnectionRefusedError), 0);
  EXPECT_EQ(static_cast<int>(E::PeerClosedError), 1);
  EXPECT_EQ(static_cast<int>(E::ServerNotFoundError), 2);
  EXPECT_EQ(static_cast<int>(E::SocketAccessError), 3);
  EXPECT_EQ(static_cast<int>(E::SocketResourceError), 4);
  EXPECT_EQ(static_cast<int>(E::SocketTimeoutError), 5);
  EXPECT_EQ(static_cast<int>(E::DatagramTooLargeError), 6);
  EXPECT_EQ(static_cast<int>(E::ConnectionError), 7);
  EXPECT_EQ(static_cast<int>(E::UnsupportedSocketOperationError), 10);
  EXPECT_EQ(static_cast<int>(E::OperationError), 19);
  EXPECT_EQ(static_cast<int>(E::UnknownSocketError), -1);
  EXPECT_EQ(static_cast<int>(S::UnconnectedState), 0);
  EXPECT_EQ(static_cast<int>(S::ConnectingState), 2);
  EXPECT_EQ(static_cast<int>(S::ConnectedState), 3);
  EXPECT_EQ(static_cast<int>(S::ClosingState), 6);
  EXPECT_EQ(LocalSocket::AbstractNamespaceOption, 0x1u);
  // Qt's nested names work too.
  EXPECT_EQ(LocalSocket::PeerClosedError, E::PeerClosedError);
  EXPECT_EQ(LocalSocket::ClosingState, S::ClosingState);
}

// ------------------------------------------------------------ connecting

TEST(LocalSocket, ConnectsByPlainNameAtOnceWithSignalsFromTheLoop) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("connect");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  int newConnections = 0;
  server.newConnection.connect([&] { ++newConnections; });
  LocalSocket socket;
  Recorder rec(socket);
  socket.connectToServer(name);
  // Connected before the call returns; not one signal yet.
  EXPECT_EQ(socket.state(), S::ConnectedState);
  EXPECT_TRUE(rec.events.empty());
  EXPECT_TRUE(socket.isOpen());
  EXPECT_EQ(socket.openMode(), IODevice::ReadWrite);
  EXPECT_TRUE(socket.isValid());
  EXPECT_GE(socket.socketDescriptor(), 0);
  EXPECT_EQ(socket.serverName(), name);
  EXPECT_EQ(socket.fullServerName(), tmp.file(name));
  EXPECT_EQ(socket.errorString(), "Unknown error");
  EXPECT_EQ(socket.error(), E::UnknownSocketError);
  ASSERT_TRUE(test::runUntil([&] { return newConnections == 1; }));
  EXPECT_EQ(rec.events, kConnectSequence);
}

TEST(LocalSocket, ConnectsToAnAbsolutePathAsGiven) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  ::mkdir(tmp.file("sub").c_str(), 0755);
  const std::string path = tmp.path() + "//sub/./" + test::uniqueName("abs");
  LocalServer server;
  ASSERT_TRUE(server.listen(path));
  EXPECT_EQ(server.fullServerName(), path);
  LocalSocket socket;
  socket.connectToServer(path);
  EXPECT_EQ(socket.state(), S::ConnectedState);
  EXPECT_EQ(socket.serverName(), path);
  EXPECT_EQ(socket.fullServerName(), path);
}

TEST(LocalSocket, OpenConnectsToTheServerName) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("open");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  LocalSocket socket;
  socket.setServerName(name);
  EXPECT_EQ(socket.serverName(), name);
  EXPECT_EQ(socket.fullServerName(), "");
  EXPECT_TRUE(socket.open(IODevice::ReadOnly));
  EXPECT_EQ(socket.openMode(), IODevice::ReadOnly);
  EXPECT_EQ(socket.state(), S::ConnectedState);
  LocalSocket unnamed;
  EXPECT_FALSE(unnamed.open());
  EXPECT_EQ(unnamed.error(), E::ServerNotFoundError);
}

TEST(LocalSocket, MissingServerIsServerNotFoundWithQtsText) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  LocalSocket socket;
  Recorder rec(socket);
  socket.connectToServer("no-such-server");
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.error(), E::ServerNotFoundError);
  EXPECT_EQ(socket.errorString(), "QLocalSocket::connectToServer: Invalid name");
  EXPECT_EQ(socket.serverName(), "") << "Qt clears the names of a failed connection";
  EXPECT_EQ(socket.fullServerName(), "");
  EXPECT_FALSE(socket.isOpen());
  EXPECT_TRUE(rec.events.empty());
  test::runFor(5);
  EXPECT_EQ(rec.events, (Events{st(S::ConnectingState), err(E::ServerNotFoundError), st(S::UnconnectedState)}));
  EXPECT_EQ(rec.errorTexts, (std::vector<std::string>{"QLocalSocket::connectToServer: Invalid name"}));
}

TEST(LocalSocket, EmptyOrTooLongNamesAreServerNotFound) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  for (const std::string& name : {std::string(), std::string(200, 'n')}) {
    LocalSocket socket;
    Recorder rec(socket);
    socket.connectToServer(name);
    EXPECT_EQ(socket.state(), S::UnconnectedState);
    EXPECT_EQ(socket.error(), E::ServerNotFoundError);
    EXPECT_EQ(socket.errorString(), "QLocalSocket::connectToServer: Invalid name");
    test::runFor(5);
    EXPECT_EQ(rec.events, (Events{st(S::ConnectingState), err(E::ServerNotFoundError), st(S::UnconnectedState)}));
  }
}

TEST(LocalSocket, StaleSocketFileOrDirectoryIsConnectionRefused) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string stale = test::uniqueName("stale");
  ASSERT_TRUE(test::makeStaleSocketFile(tmp.file(stale)));
  for (const std::string& target : {stale, tmp.path()}) {
    LocalSocket socket;
    Recorder rec(socket);
    socket.connectToServer(target);
    EXPECT_EQ(socket.state(), S::UnconnectedState);
    EXPECT_EQ(socket.error(), E::ConnectionRefusedError);
    EXPECT_EQ(socket.errorString(), "QLocalSocket::connectToServer: Connection refused");
    test::runFor(5);
    EXPECT_EQ(rec.events,
              (Events{st(S::ConnectingState), err(E::ConnectionRefusedError), st(S::UnconnectedState)}));
  }
}

TEST(LocalSocket, OtherConnectFailuresAreUnknownSocketErrorWithTheSystemErrorNumber) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string file = tmp.file("regular");
  { UniqueFd created(::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)); }
  LocalSocket socket;
  Recorder rec(socket);
  socket.connectToServer(file + "/x");  // ENOTDIR
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.error(), E::UnknownSocketError);
  EXPECT_EQ(socket.errorString(), "QLocalSocket::connectToServer: Unknown error 20");
  test::runFor(5);
  EXPECT_EQ(rec.events, (Events{st(S::ConnectingState), err(E::UnknownSocketError), st(S::UnconnectedState)}));
}

TEST(LocalSocket, SocketFileWithoutPermissionIsSocketAccessError) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("access");
  LocalServer server;
  server.setSocketOptions(LocalServer::UserAccessOption);
  ASSERT_TRUE(server.listen(name));
  ASSERT_EQ(test::fileMode(tmp.file(name)), 0700);
  LocalSocket socket;
  Recorder rec(socket);
  if (::geteuid() == 0) {
    // Root passes every permission check: connect as nobody.
    ASSERT_EQ(::seteuid(65534), 0);
    socket.connectToServer(name);
    ASSERT_EQ(::seteuid(0), 0);
  } else {
    ASSERT_EQ(::chmod(tmp.file(name).c_str(), 0), 0);
    socket.connectToServer(name);
  }
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.error(), E::SocketAccessError);
  EXPECT_EQ(socket.errorString(), "QLocalSocket::connectToServer: Socket access error");
  test::runFor(5);
  EXPECT_EQ(rec.events, (Events{st(S::ConnectingState), err(E::SocketAccessError), st(S::UnconnectedState)}));
}

TEST(LocalSocket, NoDescriptorForTheSocketIsUnsupportedSocketOperation) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("emfile");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  {
    // The sanitizers' type checks need a descriptor the first time they meet
    // a type: let them meet every type of the connect path first.
    LocalSocket warmUp;
    warmUp.connectToServer(name);
    warmUp.abort();
    warmUp.connectToServer("missing");
    test::runFor(5);
  }
  LocalSocket socket;
  Recorder rec(socket);
  {
    rlimit saved{};
    ::getrlimit(RLIMIT_NOFILE, &saved);
    const int lowest = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(lowest);
    rlimit lowered = saved;
    lowered.rlim_cur = static_cast<rlim_t>(lowest);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
    socket.connectToServer(name);
    ::setrlimit(RLIMIT_NOFILE, &saved);
  }
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.error(), E::UnsupportedSocketOperationError);
  EXPECT_EQ(socket.errorString(), "QLocalSocket::connectToServer: The socket operation is not supported");
  test::runFor(5);
  EXPECT_EQ(rec.events, (Events{st(S::ConnectingState), err(E::UnsupportedSocketOperationError),
                                st(S::UnconnectedState)}));
}

TEST(LocalSocket, ConnectWhileConnectedReportsOperationErrorAndKeepsTheConnection) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(c.client);
  c.client.connectToServer("another-name");
  EXPECT_EQ(c.client.state(), S::ConnectedState);
  EXPECT_EQ(c.client.serverName(), c.name) << "the name cannot change while connected";
  EXPECT_EQ(c.client.errorString(),
            "QLocalSocket::connectToserver: Operation not permitted when socket is in this state");
  EXPECT_EQ(c.client.error(), E::UnknownSocketError) << "as in Qt, error() is not changed";
  EXPECT_TRUE(rec.events.empty());
  test::runFor(5);
  EXPECT_EQ(rec.events, (Events{err(E::OperationError)}));
  EXPECT_EQ(c.client.state(), S::ConnectedState);
}

TEST(LocalSocket, ReconnectingAfterADisconnectRepeatsTheSequence) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(c.client);
  c.client.disconnectFromServer();
  c.client.connectToServer(c.name);
  EXPECT_EQ(c.client.state(), S::ConnectedState);
  EXPECT_EQ(c.client.serverName(), c.name);
  ASSERT_TRUE(test::runUntil([&] { return rec.events.size() == 7; }));
  EXPECT_EQ(rec.events, concat({st(S::ClosingState), st(S::UnconnectedState), "readChannelFinished", "disconnected"},
                               kConnectSequence));
  EXPECT_EQ(c.client.serverName(), c.name) << "the old connection's end does not clear the new names";
  EXPECT_EQ(c.client.fullServerName(), c.tmp.file(c.name));
}

// ------------------------------------------------------------ data

TEST(LocalSocket, LargeTransfersInBothDirectionsArriveIntact) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  const std::string up = test::randomBytes(3 << 20, 1);
  const std::string down = test::randomBytes(5 << 20, 2);
  Sink atServer(*c.peer);
  Sink atClient(c.client);
  c.client.write(up);
  c.peer->write(down);
  ASSERT_TRUE(test::runUntil([&] { return atServer.data.size() == up.size() && atClient.data.size() == down.size(); },
                             20000));
  EXPECT_TRUE(atServer.data == up);
  EXPECT_TRUE(atClient.data == down);
}

TEST(LocalSocket, LinesAndPeeksAreServedFromTheConnection) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  c.peer->write("first line\nsecond");
  ASSERT_TRUE(test::runUntil([&] { return c.client.bytesAvailable() == 17; }));
  EXPECT_TRUE(c.client.canReadLine());
  EXPECT_EQ(c.client.peek(5), "first");
  EXPECT_EQ(c.client.readLine(), "first line\n");
  EXPECT_FALSE(c.client.canReadLine());
  char buffer[4] = {};
  EXPECT_EQ(c.client.readLine(buffer, sizeof buffer), 3);
  EXPECT_STREQ(buffer, "sec");
  EXPECT_EQ(c.client.skip(1), 1);
  EXPECT_EQ(c.client.readAll(), "nd");
  EXPECT_TRUE(c.client.atEnd());
}

TEST(LocalSocket, ReadBufferSizeBoundsBufferedBytesAndEverythingArrives) {
  test::DescriptorLeakCheck leaks;
  constexpr std::int64_t kLimit = 4096;
  Link c;
  ASSERT_TRUE(c.open());
  c.client.setReadBufferSize(kLimit);
  EXPECT_EQ(c.client.readBufferSize(), kLimit);
  const std::string payload = test::randomBytes(1 << 20, 3);
  std::int64_t most = 0;
  bool reading = false;
  std::string got;
  c.client.readyRead.connect([&] {
    most = std::max(most, c.client.bytesAvailable());
    if (reading) got += c.client.readAll();
  });
  c.peer->write(payload);
  // Not reading: the socket fills up to the limit and stops.
  ASSERT_TRUE(test::runUntil([&] { return c.client.bytesAvailable() == kLimit; }));
  test::runFor(50);
  EXPECT_EQ(c.client.bytesAvailable(), kLimit) << "stopped reading at the limit";
  // Reading lets the rest in, never more than the limit at once.
  reading = true;
  got = c.client.readAll();
  ASSERT_TRUE(test::runUntil([&] { return got.size() == payload.size(); })) << got.size();
  EXPECT_TRUE(got == payload);
  EXPECT_EQ(most, kLimit);
}

// The stream reads 64 KiB at a time and announces each read before the
// next, into the LocalSocket's own buffer: a reader that takes everything
// never finds more than 64 KiB, and every byte arrives in order.
TEST(LocalSocket, ABulkStreamArrivesInReadyReadsOfAtMost64KiB) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  const std::string payload = test::randomBytes(4 << 20, 11);
  std::int64_t most = 0;
  int readyReads = 0;
  std::string got;
  c.client.readyRead.connect([&] {
    ++readyReads;
    most = std::max(most, c.client.bytesAvailable());
    got += c.client.readAll();
  });
  ASSERT_EQ(c.peer->write(payload), static_cast<std::int64_t>(payload.size()));
  ASSERT_TRUE(test::runUntil([&] { return got.size() == payload.size(); }, 20000)) << got.size();
  EXPECT_TRUE(got == payload);
  EXPECT_GT(most, 0);
  EXPECT_LE(most, 64 * 1024);
  EXPECT_GE(readyReads, static_cast<int>(payload.size() / (64 * 1024)));
}

// Transactions run on the LocalSocket's buffer, where the stream's bytes
// land: a rollback keeps them, later bytes join them, a commit consumes.
TEST(LocalSocket, TransactionsSpanBytesThatArriveLater) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  c.peer->write("abc");
  ASSERT_TRUE(test::runUntil([&] { return c.client.bytesAvailable() == 3; }));
  c.client.startTransaction();
  EXPECT_EQ(c.client.read(2), "ab");
  c.client.rollbackTransaction();
  EXPECT_EQ(c.client.bytesAvailable(), 3);
  c.client.startTransaction();
  EXPECT_EQ(c.client.read(3), "abc");
  EXPECT_EQ(c.client.read(3), "") << "nothing more yet";
  c.peer->write("def");
  ASSERT_TRUE(test::runUntil([&] { return c.client.bytesAvailable() == 3; }));
  EXPECT_EQ(c.client.read(3), "def");
  c.client.commitTransaction();
  EXPECT_EQ(c.client.bytesAvailable(), 0);
  EXPECT_TRUE(c.client.atEnd());
}

TEST(LocalSocket, WriteOnAnUnconnectedSocketFails) {
  LocalSocket socket;
  EXPECT_EQ(socket.write("x"), -1);
  EXPECT_EQ(socket.bytesToWrite(), 0);
}

// ------------------------------------------------------------ closing

TEST(LocalSocket, PeerCloseEmitsPeerClosedAndTheDataSentBeforeStaysReadable) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(c.client, true);
  c.peer->write("hello");
  c.peer->write(" world");
  c.peer->disconnectFromServer();
  ASSERT_TRUE(test::runUntil([&] { return rec.ended(); }));
  EXPECT_EQ(rec.events, (Events{"readyRead", err(E::PeerClosedError), st(S::ClosingState), st(S::UnconnectedState),
                                "readChannelFinished", "disconnected"}));
  EXPECT_EQ(rec.errorTexts, (std::vector<std::string>{"QLocalSocket: Remote closed"}));
  EXPECT_EQ(c.client.error(), E::PeerClosedError);
  EXPECT_EQ(c.client.errorString(), "QLocalSocket: Remote closed");
  EXPECT_EQ(c.client.state(), S::UnconnectedState);
  EXPECT_EQ(c.client.serverName(), "");
  EXPECT_EQ(c.client.fullServerName(), "");
  EXPECT_TRUE(c.client.isOpen()) << "the device stays open for the unread data";
  EXPECT_EQ(c.client.bytesAvailable(), 11);
  EXPECT_EQ(c.client.readAll(), "hello world");
  EXPECT_EQ(c.client.read(1), "");
}

TEST(LocalSocket, ServerSideSeesTheClientCloseWithTheSameSequence) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(*c.peer);
  c.client.write("bye");
  c.client.disconnectFromServer();
  ASSERT_TRUE(test::runUntil([&] { return rec.ended(); }));
  EXPECT_EQ(rec.events, (Events{err(E::PeerClosedError), st(S::ClosingState), st(S::UnconnectedState),
                                "readChannelFinished", "disconnected"}));
  EXPECT_EQ(c.peer->readAll(), "bye");
}

TEST(LocalSocket, DisconnectWithoutPendingDataClosesAtOnceButSignalsLater) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(c.client);
  c.client.disconnectFromServer();
  EXPECT_EQ(c.client.state(), S::UnconnectedState);
  EXPECT_EQ(c.client.serverName(), "");
  EXPECT_EQ(c.client.fullServerName(), "");
  EXPECT_FALSE(c.client.isValid());
  EXPECT_TRUE(rec.events.empty());
  test::runFor(5);
  EXPECT_EQ(rec.events, (Events{st(S::ClosingState), st(S::UnconnectedState), "readChannelFinished", "disconnected"}));
  // Once unconnected, nothing more happens.
  c.client.disconnectFromServer();
  test::runFor(5);
  EXPECT_EQ(rec.events.size(), 4u);
}

TEST(LocalSocket, DisconnectFlushesPendingWritesThenCloses) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Sink atServer(*c.peer);
  Recorder rec(c.client, true);
  c.client.write("abc");
  EXPECT_EQ(c.client.bytesToWrite(), 3);
  c.client.disconnectFromServer();
  EXPECT_EQ(c.client.state(), S::ClosingState);
  EXPECT_EQ(c.client.serverName(), c.name) << "named until the last byte is out";
  ASSERT_TRUE(test::runUntil([&] { return rec.ended(); }));
  EXPECT_EQ(rec.events, (Events{st(S::ClosingState), "bytesWritten", st(S::UnconnectedState), "readChannelFinished",
                                "disconnected"}));
  EXPECT_EQ(rec.bytesWritten, 3);
  EXPECT_EQ(c.client.serverName(), "");
  ASSERT_TRUE(test::runUntil([&] { return atServer.data == "abc"; }));
}

TEST(LocalSocket, AbortDropsUnwrittenDataAndClosesTheDevice) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(c.client);
  Recorder peerRec(*c.peer);
  c.client.write("dropped");
  c.client.abort();
  EXPECT_EQ(c.client.state(), S::UnconnectedState);
  EXPECT_FALSE(c.client.isOpen());
  EXPECT_EQ(c.client.serverName(), "");
  EXPECT_EQ(c.client.bytesToWrite(), 0);
  EXPECT_EQ(rec.events, (Events{"aboutToClose"})) << "aboutToClose comes from inside close()";
  ASSERT_TRUE(test::runUntil([&] { return peerRec.ended(); }));
  EXPECT_EQ(rec.events, (Events{"aboutToClose", st(S::UnconnectedState), "readChannelFinished", "disconnected"}));
  EXPECT_EQ(c.peer->bytesAvailable(), 0);
}

TEST(LocalSocket, CloseEmitsAboutToCloseThenTheDisconnectSequence) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  c.peer->write("unread");
  ASSERT_TRUE(test::runUntil([&] { return c.client.bytesAvailable() == 6; }));
  Recorder rec(c.client);
  c.client.close();
  EXPECT_FALSE(c.client.isOpen());
  EXPECT_EQ(c.client.bytesAvailable(), 0) << "close drops unread data";
  EXPECT_EQ(c.client.serverName(), "");
  test::runFor(5);
  EXPECT_EQ(rec.events, (Events{"aboutToClose", st(S::ClosingState), st(S::UnconnectedState), "readChannelFinished",
                                "disconnected"}));
  // Closing a closed socket emits nothing.
  c.client.close();
  test::runFor(5);
  EXPECT_EQ(rec.events.size(), 5u);
}

// ------------------------------------------------------------ abstract namespace and a full backlog

TEST(LocalSocket, AbstractNamespaceConnectsByNameWithoutAFile) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("abstract");
  LocalServer server;
  server.setSocketOptions(LocalServer::AbstractNamespaceOption);
  ASSERT_TRUE(server.listen(name));
  EXPECT_FALSE(test::fileExists(tmp.file(name)));
  LocalSocket plain;
  plain.connectToServer(name);
  EXPECT_EQ(plain.error(), E::ServerNotFoundError) << "a plain name is a file, and there is none";
  LocalSocket socket;
  socket.setSocketOptions(LocalSocket::AbstractNamespaceOption);
  socket.connectToServer(name);
  EXPECT_EQ(socket.state(), S::ConnectedState);
  EXPECT_EQ(socket.serverName(), name);
  EXPECT_EQ(socket.fullServerName(), name);
  ASSERT_TRUE(server.waitForNewConnection(5000));
  LocalSocket* peer = server.nextPendingConnection();
  EXPECT_EQ(peer->serverName(), name);
  EXPECT_EQ(peer->fullServerName(), name);
  EXPECT_EQ(peer->socketOptions(), LocalSocket::AbstractNamespaceOption);
  peer->write("over the abstract namespace");
  peer->flush();
  ASSERT_TRUE(socket.waitForReadyRead(5000));
  EXPECT_EQ(socket.readAll(), "over the abstract namespace");
}

TEST(LocalSocket, FullBacklogKeepsConnectingUntilTheServerMakesRoom) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string path = tmp.file(test::uniqueName("backlog"));
  // Backlog 0 holds one connection; nobody accepts.
  UniqueFd listener = test::rawUnixListener(path, 0);
  ASSERT_TRUE(listener.valid());
  LocalSocket first;
  first.connectToServer(path);
  ASSERT_EQ(first.state(), S::ConnectedState);
  LocalSocket second;
  Recorder rec(second);
  second.connectToServer(path);
  EXPECT_EQ(second.state(), S::ConnectingState);
  EXPECT_FALSE(second.isOpen());
  EXPECT_EQ(second.socketDescriptor(), -1);
  EXPECT_FALSE(second.waitForConnected(50)) << "still no room";
  EXPECT_EQ(second.state(), S::ConnectingState);
  EXPECT_EQ(rec.events, (Events{st(S::ConnectingState)})) << "no error: waitForConnected just returns false";
  test::runFor(30);
  EXPECT_EQ(second.state(), S::ConnectingState);
  // The server takes the first connection: the second gets in.
  UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid());
  ASSERT_TRUE(test::runUntil([&] { return second.state() == S::ConnectedState; }));
  EXPECT_TRUE(second.isOpen());
  EXPECT_EQ(second.fullServerName(), path);
  test::runFor(5);
  EXPECT_EQ(rec.events, kConnectSequence);
}

TEST(LocalSocket, WaitForConnectedWaitsForRoomInAFullBacklog) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string path = tmp.file(test::uniqueName("backlog"));
  UniqueFd listener = test::rawUnixListener(path, 0);
  ASSERT_TRUE(listener.valid());
  UniqueFd first = test::rawUnixClient(path);
  ASSERT_TRUE(first.valid());
  // 1: waiting for room, 2: anything else.
  std::atomic<int> phase{0};
  bool connected = false;
  Events events;
  std::thread client([&] {
    LocalSocket socket;
    Recorder rec(socket);
    socket.connectToServer(path);
    phase = socket.state() == S::ConnectingState ? 1 : 2;
    connected = socket.waitForConnected(10000);
    events = rec.events;
  });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (phase == 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  EXPECT_EQ(phase, 1);
  UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  client.join();
  EXPECT_TRUE(connected);
  EXPECT_EQ(events, kConnectSequence);
}

TEST(LocalSocket, AbortWhileWaitingForRoomGivesUp) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string path = tmp.file(test::uniqueName("backlog"));
  UniqueFd listener = test::rawUnixListener(path, 0);
  UniqueFd first = test::rawUnixClient(path);
  ASSERT_TRUE(first.valid());
  LocalSocket socket;
  Recorder rec(socket);
  socket.connectToServer(path);
  ASSERT_EQ(socket.state(), S::ConnectingState);
  socket.abort();
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(socket.serverName(), "");
  UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  test::runFor(30);
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_EQ(rec.events, (Events{st(S::ConnectingState), st(S::UnconnectedState), "readChannelFinished"}));
}

// ------------------------------------------------------------ blocking use

TEST(LocalSocket, BlockingClientWithoutTimeLimitsOnAThreadWithoutALoop) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("blocking");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  // Echoes, and hangs up after echoing "bye".
  server.newConnection.connect([&] {
    LocalSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([peer] {
      const std::string data = peer->readAll();
      peer->write(data);
      if (data.ends_with("bye")) peer->disconnectFromServer();
    });
  });
  Events afterConnect;
  Events events;
  std::string echoed;
  bool connected = false, written = false, disconnected = false;
  S finalState = S::ConnectedState;
  ASSERT_TRUE(test::runOnThreadWithoutALoop([&] {
    LocalSocket socket;
    Recorder rec(socket, true);
    socket.connectToServer(name);
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
                                              err(E::PeerClosedError), st(S::ClosingState), st(S::UnconnectedState),
                                              "readChannelFinished", "disconnected"}));
}

TEST(LocalSocket, WaitForConnectedDeliversTheSignalsOfAFailure) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  LocalSocket socket;
  Recorder rec(socket);
  socket.connectToServer("missing");
  EXPECT_FALSE(socket.waitForConnected(1000));
  EXPECT_EQ(rec.events, (Events{st(S::ConnectingState), err(E::ServerNotFoundError), st(S::UnconnectedState)}));
}

TEST(LocalSocket, WaitForReadyReadTimesOutWithSocketTimeoutErrorAndKeepsTheConnection) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(c.client);
  EXPECT_FALSE(c.client.waitForReadyRead(30));
  EXPECT_EQ(c.client.error(), E::SocketTimeoutError);
  EXPECT_EQ(c.client.errorString(), "QLocalSocket: Socket operation timed out");
  EXPECT_EQ(c.client.state(), S::ConnectedState);
  EXPECT_EQ(rec.events, (Events{err(E::SocketTimeoutError)}));
  EXPECT_EQ(rec.errorTexts, (std::vector<std::string>{"QLocalSocket: Socket operation timed out"}));
  c.peer->write("late");
  ASSERT_TRUE(test::runUntil([&] { return c.client.bytesAvailable() == 4; }));
}

TEST(LocalSocket, WaitForDisconnectedTimesOutWithSocketTimeoutError) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(c.client);
  EXPECT_FALSE(c.client.waitForDisconnected(30));
  EXPECT_EQ(c.client.error(), E::SocketTimeoutError);
  EXPECT_EQ(c.client.state(), S::ConnectedState);
  EXPECT_EQ(rec.events, (Events{err(E::SocketTimeoutError)}));
}

TEST(LocalSocket, WaitFunctionsReturnFalseOnAnUnconnectedSocket) {
  LocalSocket socket;
  Recorder rec(socket);
  EXPECT_FALSE(socket.waitForConnected(10));
  EXPECT_FALSE(socket.waitForReadyRead(10));
  EXPECT_FALSE(socket.waitForBytesWritten(10));
  EXPECT_FALSE(socket.waitForDisconnected(10));
  EXPECT_TRUE(rec.events.empty());
  EXPECT_EQ(socket.error(), E::UnknownSocketError);
}

TEST(LocalSocket, WaitForBytesWrittenWithNothingToWriteReturnsFalse) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder rec(c.client);
  EXPECT_FALSE(c.client.waitForBytesWritten(10));
  EXPECT_TRUE(rec.events.empty());
  c.client.write("xyz");
  EXPECT_TRUE(c.client.waitForBytesWritten(1000));
  EXPECT_EQ(rec.bytesWritten, 3);
}

// ------------------------------------------------------------ adopted descriptors

TEST(LocalSocket, SetSocketDescriptorAdoptsOneEndOfASocketpairSilently) {
  test::DescriptorLeakCheck leaks;
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd other(pair[1]);
  LocalSocket socket;
  Recorder rec(socket, true);
  ASSERT_TRUE(socket.setSocketDescriptor(pair[0]));
  EXPECT_EQ(socket.state(), S::ConnectedState);
  EXPECT_EQ(socket.socketDescriptor(), pair[0]);
  EXPECT_TRUE(socket.isOpen());
  EXPECT_EQ(socket.openMode(), IODevice::ReadWrite);
  EXPECT_EQ(socket.serverName(), "") << "a socketpair has no name";
  EXPECT_EQ(socket.fullServerName(), "");
  ASSERT_EQ(::write(other.get(), "hi", 2), 2);
  ASSERT_TRUE(test::runUntil([&] { return socket.bytesAvailable() == 2; }));
  EXPECT_EQ(socket.readAll(), "hi");
  socket.write("back");
  ASSERT_TRUE(socket.waitForBytesWritten(1000));
  char buffer[8] = {};
  EXPECT_EQ(::read(other.get(), buffer, sizeof buffer), 4);
  other.reset();
  ASSERT_TRUE(test::runUntil([&] { return rec.ended(); }));
  EXPECT_EQ(rec.events, (Events{"readyRead", "bytesWritten", err(E::PeerClosedError), st(S::ClosingState),
                                st(S::UnconnectedState), "readChannelFinished", "disconnected"}));
}

TEST(LocalSocket, SetSocketDescriptorNamesTheSocketAfterItsPeer) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string path = tmp.file(test::uniqueName("named"));
  UniqueFd listener = test::rawUnixListener(path, 5);
  ASSERT_TRUE(listener.valid());
  UniqueFd client = test::rawUnixClient(path);
  ASSERT_TRUE(client.valid());
  UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  LocalSocket clientSide;
  ASSERT_TRUE(clientSide.setSocketDescriptor(client.release()));
  EXPECT_EQ(clientSide.fullServerName(), path);
  EXPECT_EQ(clientSide.serverName(), path.substr(path.rfind('/') + 1));
  LocalSocket serverSide;
  ASSERT_TRUE(serverSide.setSocketDescriptor(accepted.release(), S::ConnectedState, IODevice::ReadOnly));
  EXPECT_EQ(serverSide.fullServerName(), path) << "an unnamed peer: the socket's own name";
  EXPECT_EQ(serverSide.openMode(), IODevice::ReadOnly);
}

TEST(LocalSocket, SetSocketDescriptorRejectsANonSocketAndLeavesItOpen) {
  test::DescriptorLeakCheck leaks;
  int pipeFds[2];
  ASSERT_EQ(::pipe2(pipeFds, O_CLOEXEC), 0);
  UniqueFd readEnd(pipeFds[0]), writeEnd(pipeFds[1]);
  LocalSocket socket;
  Recorder rec(socket);
  EXPECT_FALSE(socket.setSocketDescriptor(readEnd.get()));
  EXPECT_EQ(socket.error(), E::UnsupportedSocketOperationError);
  EXPECT_EQ(socket.errorString(), "QLocalSocket::setSocketDescriptor: The socket operation is not supported");
  EXPECT_EQ(socket.state(), S::UnconnectedState);
  EXPECT_FALSE(socket.isOpen());
  EXPECT_EQ(socket.socketDescriptor(), -1);
  EXPECT_EQ(::fcntl(readEnd.get(), F_GETFD), FD_CLOEXEC) << "still the caller's";
  test::runFor(5);
  EXPECT_TRUE(rec.events.empty());
}

// ------------------------------------------------------------ deleting the socket from its own slots

namespace {

enum class Kill { Delete, DeleteLater };

struct SelfDeletionCase {
  const char* name;
  std::string event;
  Kill kill;
  bool missing = false;  // connect to a name nobody listens on
};

std::string caseName(const ::testing::TestParamInfo<SelfDeletionCase>& info) { return info.param.name; }

class LocalSocketSelfDeletion : public ::testing::TestWithParam<SelfDeletionCase> {};

}  // namespace

// The client connects, writes "x"; the server answers "hello" and hangs up.
// Every signal fires once on the way; the one named by the case deletes the
// socket from its slot.
TEST_P(LocalSocketSelfDeletion, DeletingTheSocketInsideTheSlotIsSafe) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const SelfDeletionCase& param = GetParam();
  const std::string name = test::uniqueName("selfdelete");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  server.newConnection.connect([&] {
    LocalSocket* peer = server.nextPendingConnection();
    peer->readyRead.connect([peer] {
      peer->readAll();
      peer->write("hello");
      peer->disconnectFromServer();
    });
  });
  auto* socket = new LocalSocket;
  bool destroyed = false;
  Events after;
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
  socket->connected.connect([&] { hit("connected"); });
  socket->bytesWritten.connect([&] { hit("bytesWritten"); });
  socket->readyRead.connect([&] { hit("readyRead"); });
  socket->stateChanged.connect([&](S s) { hit(st(s)); });
  socket->errorOccurred.connect([&](E e) { hit(err(e)); });
  socket->readChannelFinished.connect([&] { hit("readChannelFinished"); });
  socket->disconnected.connect([&] { hit("disconnected"); });
  socket->aboutToClose.connect([&] { hit("aboutToClose"); });
  socket->disconnected.connect([socket] { socket->close(); });
  socket->connectToServer(param.missing ? "missing" : name);
  ASSERT_TRUE(test::runUntil([&] { return destroyed; })) << "the socket never emitted " << param.event;
  EXPECT_TRUE(killed);
  test::runFor(10);
  if (param.kill == Kill::Delete) {
    EXPECT_TRUE(after.empty()) << "emitted after deletion: " << after.front();
  }
}

INSTANTIATE_TEST_SUITE_P(
    EverySignal, LocalSocketSelfDeletion,
    ::testing::Values(SelfDeletionCase{"ConnectingState", st(S::ConnectingState), Kill::Delete},
                      SelfDeletionCase{"ConnectedState", st(S::ConnectedState), Kill::Delete},
                      SelfDeletionCase{"Connected", "connected", Kill::Delete},
                      SelfDeletionCase{"BytesWritten", "bytesWritten", Kill::Delete},
                      SelfDeletionCase{"ReadyRead", "readyRead", Kill::Delete},
                      SelfDeletionCase{"PeerClosed", err(E::PeerClosedError), Kill::Delete},
                      SelfDeletionCase{"ClosingState", st(S::ClosingState), Kill::Delete},
                      SelfDeletionCase{"UnconnectedState", st(S::UnconnectedState), Kill::Delete},
                      SelfDeletionCase{"ReadChannelFinished", "readChannelFinished", Kill::Delete},
                      SelfDeletionCase{"Disconnected", "disconnected", Kill::Delete},
                      SelfDeletionCase{"AboutToClose", "aboutToClose", Kill::Delete},
                      SelfDeletionCase{"ServerNotFound", err(E::ServerNotFoundError), Kill::Delete, true},
                      SelfDeletionCase{"NotFoundUnconnectedState", st(S::UnconnectedState), Kill::Delete, true},
                      SelfDeletionCase{"ConnectedLater", "connected", Kill::DeleteLater},
                      SelfDeletionCase{"ReadyReadLater", "readyRead", Kill::DeleteLater},
                      SelfDeletionCase{"PeerClosedLater", err(E::PeerClosedError), Kill::DeleteLater},
                      SelfDeletionCase{"DisconnectedLater", "disconnected", Kill::DeleteLater},
                      SelfDeletionCase{"ServerNotFoundLater", err(E::ServerNotFoundError), Kill::DeleteLater,
                                       true}),
    caseName);

TEST(LocalSocket, DeletingTheSocketInsideABlockingWaitIsSafe) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("blockdelete");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  server.newConnection.connect([&] {
    LocalSocket* peer = server.nextPendingConnection();
    peer->write("data");
    peer->disconnectFromServer();
  });
  bool connectedResult = true, readResult = true, disconnectedResult = false;
  bool deleted[3] = {false, false, false};
  ASSERT_TRUE(test::runOnThreadWithoutALoop([&] {
    auto* a = new LocalSocket;
    a->destroyed.connect([&] { deleted[0] = true; });
    a->connected.connect([a] { delete a; });
    a->connectToServer(name);
    connectedResult = a->waitForConnected(5000);

    auto* b = new LocalSocket;
    b->destroyed.connect([&] { deleted[1] = true; });
    b->readyRead.connect([b] { delete b; });
    b->connectToServer(name);
    readResult = b->waitForReadyRead(5000);

    auto* c = new LocalSocket;
    c->destroyed.connect([&] { deleted[2] = true; });
    c->disconnected.connect([c] { delete c; });
    c->connectToServer(name);
    disconnectedResult = c->waitForDisconnected(5000);
  }));
  EXPECT_TRUE(deleted[0] && deleted[1] && deleted[2]);
  EXPECT_FALSE(connectedResult);
  EXPECT_FALSE(readResult);
  EXPECT_TRUE(disconnectedResult) << "the disconnect did happen";
}

TEST(LocalSocket, DestroyingAConnectedSocketClosesItsDescriptorSilently) {
  test::DescriptorLeakCheck leaks;
  Link c;
  ASSERT_TRUE(c.open());
  Recorder peerRec(*c.peer);
  {
    LocalSocket extra;
    extra.connectToServer(c.name);
    ASSERT_EQ(extra.state(), S::ConnectedState);
  }
  auto* doomed = new LocalSocket;
  bool anySignal = false;
  doomed->connectToServer(c.name);
  doomed->stateChanged.connect([&] { anySignal = true; });
  doomed->aboutToClose.connect([&] { anySignal = true; });
  delete doomed;
  test::runFor(10);
  EXPECT_FALSE(anySignal);
}
