// LocalServer against Qt's QLocalServer (Qt 6 on Linux, observed with real
// Qt programs): where a name lives, listen()'s errors and texts, stale
// files and removeServer(), access options as file modes, the abstract
// namespace, adopted descriptors, the pending queue, blocking use, running
// out of descriptors, and deleting the server from its own slot.
//
// Each test runs in its own $TMPDIR, except those about the default one.
#include "tether/local_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "reactor/dispatcher.h"
#include "support/local_support.h"
#include "support/test_support.h"
#include "system/unique_fd.h"
#include "tether/event_loop.h"
#include "tether/local_socket.h"

using namespace tether;
using S = LocalSocket::LocalSocketState;
using detail::UniqueFd;

namespace {

std::vector<std::string> directoryEntries(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* dir = ::opendir(path.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(dir);
  }
  return names;
}



// A blocking client socket, made before descriptors run out, connected later.
UniqueFd rawSocket() { return UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)); }

bool rawConnect(const UniqueFd& fd, const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

// Whether the peer of fd closed (read returns 0) within timeoutMs.
bool peerClosed(int fd, int timeoutMs) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeoutMs) != 1) return false;
  char c = 0;
  return ::read(fd, &c, 1) == 0;
}

}  // namespace

// ------------------------------------------------------------ defaults and names

TEST(LocalServer, DefaultsBeforeListenAreQts) {
  LocalServer server;
  EXPECT_FALSE(server.isListening());
  EXPECT_EQ(server.serverName(), "");
  EXPECT_EQ(server.fullServerName(), "");
  EXPECT_EQ(server.serverError(), SocketError::UnknownSocketError);
  EXPECT_EQ(server.errorString(), "");
  EXPECT_EQ(server.maxPendingConnections(), 30);
  EXPECT_EQ(server.listenBacklogSize(), 50);
  EXPECT_EQ(server.socketOptions(), LocalServer::NoOptions);
  EXPECT_EQ(server.socketDescriptor(), -1);
  EXPECT_FALSE(server.hasPendingConnections());
  EXPECT_EQ(server.nextPendingConnection(), nullptr);
  EXPECT_EQ(LocalServer::UserAccessOption, 0x1u);
  EXPECT_EQ(LocalServer::GroupAccessOption, 0x2u);
  EXPECT_EQ(LocalServer::OtherAccessOption, 0x4u);
  EXPECT_EQ(LocalServer::WorldAccessOption, 0x7u);
  EXPECT_EQ(LocalServer::AbstractNamespaceOption, 0x8u);
}

TEST(LocalServer, SettersRoundTrip) {
  LocalServer server;
  server.setMaxPendingConnections(7);
  server.setListenBacklogSize(9);
  server.setSocketOptions(LocalServer::UserAccessOption | LocalServer::GroupAccessOption);
  EXPECT_EQ(server.maxPendingConnections(), 7);
  EXPECT_EQ(server.listenBacklogSize(), 9);
  EXPECT_EQ(server.socketOptions(), 0x3u);
}

TEST(LocalServer, PlainNameIsASocketFileInTmpdirAndListeningEmitsNothing) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("plain");
  LocalServer server;
  int signals = 0;
  server.newConnection.connect([&] { ++signals; });
  ASSERT_TRUE(server.listen(name));
  EXPECT_TRUE(server.isListening());
  EXPECT_EQ(server.serverName(), name);
  EXPECT_EQ(server.fullServerName(), tmp.file(name));
  EXPECT_TRUE(test::isSocketFile(tmp.file(name)));
  EXPECT_GE(server.socketDescriptor(), 0);
  EXPECT_EQ(server.serverError(), SocketError::UnknownSocketError);
  test::runFor(5);
  EXPECT_EQ(signals, 0);
}

TEST(LocalServer, PlainNameWithoutTmpdirIsInSlashTmp) {
  test::DescriptorLeakCheck leaks;
  test::ScopedEnv noTmpdir("TMPDIR", nullptr);
  const std::string name = test::uniqueName("slashtmp");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  EXPECT_EQ(server.fullServerName(), "/tmp/" + name);
  EXPECT_TRUE(test::isSocketFile("/tmp/" + name));
  LocalSocket client;
  client.connectToServer(name);
  EXPECT_EQ(client.state(), S::ConnectedState);
  EXPECT_EQ(client.fullServerName(), "/tmp/" + name);
  server.close();
  EXPECT_FALSE(test::fileExists("/tmp/" + name));
}

TEST(LocalServer, EmptyTmpdirCountsAsUnset) {
  test::DescriptorLeakCheck leaks;
  test::ScopedEnv emptyTmpdir("TMPDIR", "");
  LocalServer server;
  const std::string name = test::uniqueName("emptytmp");
  ASSERT_TRUE(server.listen(name));
  EXPECT_EQ(server.fullServerName(), "/tmp/" + name);
}

TEST(LocalServer, TmpdirIsCleanedAndItsLinksResolvedAsQtDoes) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  // link -> a/b; "link/.." is "a" for the file system but "." for Qt.
  ASSERT_EQ(::mkdir(tmp.file("real").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(tmp.file("a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(tmp.file("a/b").c_str(), 0755), 0);
  ASSERT_EQ(::symlink(tmp.file("real").c_str(), tmp.file("toreal").c_str()), 0);
  ASSERT_EQ(::symlink(tmp.file("a/b").c_str(), tmp.file("link").c_str()), 0);
  const std::string name = test::uniqueName("canonical");
  {
    test::ScopedEnv env("TMPDIR", (tmp.path() + "//toreal/./").c_str());
    LocalServer server;
    ASSERT_TRUE(server.listen(name));
    EXPECT_EQ(server.fullServerName(), tmp.file("real") + "/" + name);
  }
  {
    // Relative: against the working directory.
    char cwd[4096];
    ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
    ASSERT_EQ(::chdir(tmp.path().c_str()), 0);
    test::ScopedEnv env("TMPDIR", "link/../real");
    LocalServer server;
    const bool ok = server.listen(name);
    const std::string full = server.fullServerName();
    ASSERT_EQ(::chdir(cwd), 0);
    ASSERT_TRUE(ok);
    EXPECT_EQ(full, tmp.file("real") + "/" + name) << "'..' is taken back before links are resolved";
  }
}

TEST(LocalServer, NameWithSlashesStaysUnderTmpdir) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  ASSERT_EQ(::mkdir(tmp.file("sub").c_str(), 0755), 0);
  const std::string name = "sub/" + test::uniqueName("nested");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  EXPECT_EQ(server.serverName(), name);
  EXPECT_EQ(server.fullServerName(), tmp.file(name));
  EXPECT_TRUE(test::isSocketFile(tmp.file(name)));
}

TEST(LocalServer, AbsolutePathIsUsedAsGiven) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string path = tmp.path() + "/./" + test::uniqueName("absolute");
  {
    test::ScopedEnv elsewhere("TMPDIR", "/nonexistent");
    LocalServer server;
    ASSERT_TRUE(server.listen(path));
    EXPECT_EQ(server.serverName(), path);
    EXPECT_EQ(server.fullServerName(), path);
    EXPECT_TRUE(test::isSocketFile(path));
  }
  EXPECT_FALSE(test::fileExists(path));
}

// ------------------------------------------------------------ listen errors

TEST(LocalServer, EmptyNameFailsWithNameError) {
  LocalServer server;
  EXPECT_FALSE(server.listen(""));
  EXPECT_FALSE(server.isListening());
  EXPECT_EQ(server.serverError(), SocketError::HostNotFoundError);
  EXPECT_EQ(server.errorString(), "QLocalServer::listen: Name error");
  EXPECT_EQ(server.serverName(), "");
}

TEST(LocalServer, MissingDirectoryOrTooLongNameFailsWithNameError) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  for (const std::string& name : {tmp.file("missing/x"), std::string(200, 'n')}) {
    LocalServer server;
    EXPECT_FALSE(server.listen(name));
    EXPECT_EQ(server.serverError(), SocketError::HostNotFoundError);
    EXPECT_EQ(server.errorString(), "QLocalServer::listen: Name error");
    EXPECT_EQ(server.serverName(), "");
    EXPECT_EQ(server.fullServerName(), "");
  }
}

TEST(LocalServer, PathsOfUpTo107BytesAreTaken) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  std::string path = tmp.path() + "/";
  path += std::string(107 - path.size(), 'p');
  LocalServer server;
  ASSERT_TRUE(server.listen(path)) << server.errorString();
  LocalSocket client;
  client.connectToServer(path);
  EXPECT_EQ(client.state(), S::ConnectedState);
  LocalServer longer;
  EXPECT_FALSE(longer.listen(path + "q"));
  EXPECT_EQ(longer.errorString(), "QLocalServer::listen: Name error");
  LocalSocket tooLong;
  tooLong.connectToServer(path + "q");
  EXPECT_EQ(tooLong.error(), LocalSocket::ServerNotFoundError);
}

TEST(LocalServer, DirectoryWithoutWritePermissionFailsWithPermissionDenied) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  ASSERT_EQ(::mkdir(tmp.file("locked").c_str(), 0555), 0);
  LocalServer server;
  bool ok = false;
  if (::geteuid() == 0) {
    ASSERT_EQ(::seteuid(65534), 0);
    ok = server.listen(tmp.file("locked/x"));
    ASSERT_EQ(::seteuid(0), 0);
  } else {
    ok = server.listen(tmp.file("locked/x"));
  }
  EXPECT_FALSE(ok);
  EXPECT_EQ(server.serverError(), SocketError::SocketAccessError);
  EXPECT_EQ(server.errorString(), "QLocalServer::listen: Permission denied");
}

TEST(LocalServer, StaleSocketFileFailsWithAddressInUseUntilRemoveServer) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("stale");
  ASSERT_TRUE(test::makeStaleSocketFile(tmp.file(name)));
  LocalServer server;
  EXPECT_FALSE(server.listen(name));
  EXPECT_EQ(server.serverError(), SocketError::AddressInUseError);
  EXPECT_EQ(server.errorString(), "QLocalServer::listen: Address in use");
  EXPECT_TRUE(test::isSocketFile(tmp.file(name))) << "a failed listen leaves the file alone";
  EXPECT_TRUE(LocalServer::removeServer(name));
  EXPECT_FALSE(test::fileExists(tmp.file(name)));
  EXPECT_TRUE(LocalServer::removeServer(name)) << "nothing left to remove is success";
  ASSERT_TRUE(server.listen(name));
  EXPECT_EQ(server.serverError(), SocketError::AddressInUseError) << "as in Qt, success keeps the last error";
}

TEST(LocalServer, SecondServerOnTheSameNameFailsAndTheFirstKeepsServing) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("twice");
  LocalServer first;
  ASSERT_TRUE(first.listen(name));
  LocalServer second;
  EXPECT_FALSE(second.listen(name));
  EXPECT_EQ(second.serverError(), SocketError::AddressInUseError);
  EXPECT_EQ(second.serverName(), "");
  LocalSocket client;
  client.connectToServer(name);
  EXPECT_EQ(client.state(), S::ConnectedState);
  EXPECT_TRUE(first.waitForNewConnection(5000));
}

TEST(LocalServer, ListenWhileListeningFailsAndChangesNothing) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("again");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  const int fd = server.socketDescriptor();
  EXPECT_FALSE(server.listen(test::uniqueName("other")));
  const int copy = ::dup(fd);
  EXPECT_FALSE(server.listen(copy));
  ::close(copy);
  EXPECT_EQ(server.serverError(), SocketError::UnknownSocketError);
  EXPECT_EQ(server.errorString(), "");
  EXPECT_EQ(server.serverName(), name);
  EXPECT_EQ(server.socketDescriptor(), fd);
}

TEST(LocalServer, RemoveServerTakesAbsolutePathsAsGiven) {
  test::ScopedTmpdir tmp;
  const std::string path = tmp.file(test::uniqueName("remove"));
  ASSERT_TRUE(test::makeStaleSocketFile(path));
  test::ScopedEnv elsewhere("TMPDIR", "/nonexistent");
  EXPECT_TRUE(LocalServer::removeServer(path));
  EXPECT_FALSE(test::fileExists(path));
  EXPECT_FALSE(LocalServer::removeServer(tmp.path())) << "a directory is not removed";
}

TEST(LocalServer, CloseRemovesTheFileAndClearsNamesAndError) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("close");
  LocalServer server;
  EXPECT_FALSE(server.listen(""));
  ASSERT_TRUE(server.listen(name));
  server.close();
  EXPECT_FALSE(server.isListening());
  EXPECT_FALSE(test::fileExists(tmp.file(name)));
  EXPECT_EQ(server.serverName(), "");
  EXPECT_EQ(server.fullServerName(), "");
  EXPECT_EQ(server.serverError(), SocketError::UnknownSocketError);
  EXPECT_EQ(server.errorString(), "");
  EXPECT_EQ(server.socketDescriptor(), -1);
  ASSERT_TRUE(server.listen(name)) << "the name is free again";
}

// ------------------------------------------------------------ access options

struct ModeCase {
  const char* name;
  LocalServer::SocketOptions options;
  int mode;
};

class LocalServerAccess : public ::testing::TestWithParam<ModeCase> {};

std::string modeCaseName(const ::testing::TestParamInfo<ModeCase>& param) { return param.param.name; }

TEST_P(LocalServerAccess, AccessOptionsAreTheSocketFilesMode) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("mode");
  LocalServer server;
  server.setSocketOptions(GetParam().options);
  ASSERT_TRUE(server.listen(name)) << server.errorString();
  EXPECT_TRUE(test::isSocketFile(tmp.file(name)));
  EXPECT_EQ(test::fileMode(tmp.file(name)), GetParam().mode);
  EXPECT_EQ(directoryEntries(tmp.path()), std::vector<std::string>{name}) << "no temporary left behind";
  // Clients get in, and accepted sockets carry the server's names.
  LocalSocket client;
  client.connectToServer(name);
  ASSERT_EQ(client.state(), S::ConnectedState);
  ASSERT_TRUE(server.waitForNewConnection(5000));
  LocalSocket* peer = server.nextPendingConnection();
  EXPECT_EQ(peer->serverName(), name);
  EXPECT_EQ(peer->fullServerName(), tmp.file(name));
}

INSTANTIATE_TEST_SUITE_P(
    EveryCombination, LocalServerAccess,
    ::testing::Values(ModeCase{"NoOptions", LocalServer::NoOptions, 0755 /* umask 022 of the tests */},
                      ModeCase{"User", LocalServer::UserAccessOption, 0700},
                      ModeCase{"Group", LocalServer::GroupAccessOption, 0070},
                      ModeCase{"Other", LocalServer::OtherAccessOption, 0007},
                      ModeCase{"UserGroup", LocalServer::UserAccessOption | LocalServer::GroupAccessOption, 0770},
                      ModeCase{"World", LocalServer::WorldAccessOption, 0777}),
    modeCaseName);

TEST(LocalServer, AccessOptionsNeverReplaceAnExistingFile) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("noreplace");
  LocalServer first;
  ASSERT_TRUE(first.listen(name));
  LocalServer second;
  second.setSocketOptions(LocalServer::WorldAccessOption);
  EXPECT_FALSE(second.listen(name));
  EXPECT_EQ(second.serverError(), SocketError::AddressInUseError);
  EXPECT_EQ(second.errorString(), "QLocalServer::listen: Address in use");
  EXPECT_EQ(directoryEntries(tmp.path()), std::vector<std::string>{name});
  LocalSocket client;
  client.connectToServer(name);
  EXPECT_EQ(client.state(), S::ConnectedState);
  EXPECT_TRUE(first.waitForNewConnection(5000)) << "the first server still owns the name";
}

// ------------------------------------------------------------ abstract namespace and descriptors

TEST(LocalServer, AbstractNamespaceMakesNoFileAndTakesTheNameAsIs) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("abstract");
  LocalServer server;
  server.setSocketOptions(LocalServer::AbstractNamespaceOption | LocalServer::UserAccessOption);
  ASSERT_TRUE(server.listen(name));
  EXPECT_EQ(server.serverName(), name);
  EXPECT_EQ(server.fullServerName(), name);
  EXPECT_TRUE(directoryEntries(tmp.path()).empty());
  LocalServer twin;
  twin.setSocketOptions(LocalServer::AbstractNamespaceOption);
  EXPECT_FALSE(twin.listen(name));
  EXPECT_EQ(twin.serverError(), SocketError::AddressInUseError);
  // A raw client on the same abstract name reaches it.
  UniqueFd raw(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  name.copy(address.sun_path + 1, name.size());
  ASSERT_EQ(::connect(raw.get(), reinterpret_cast<sockaddr*>(&address),
                      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())),
            0);
  EXPECT_TRUE(server.waitForNewConnection(5000));
  server.close();
  EXPECT_TRUE(directoryEntries(tmp.path()).empty());
}

TEST(LocalServer, ListenOnADescriptorTakesItOverWithItsName) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string path = tmp.file(test::uniqueName("inherited"));
  UniqueFd listener = test::rawUnixListener(path, 5);
  ASSERT_TRUE(listener.valid());
  const int fd = listener.get();
  LocalServer server;
  ASSERT_TRUE(server.listen(listener.release()));
  EXPECT_TRUE(server.isListening());
  EXPECT_EQ(server.socketDescriptor(), fd);
  EXPECT_EQ(server.fullServerName(), path);
  EXPECT_EQ(server.serverName(), path.substr(path.rfind('/') + 1));
  EXPECT_EQ(::fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  LocalSocket client;
  client.connectToServer(path);
  ASSERT_EQ(client.state(), S::ConnectedState);
  ASSERT_TRUE(server.waitForNewConnection(5000));
  server.close();
  EXPECT_FALSE(test::fileExists(path)) << "Qt removes the file of an adopted socket too";
}

TEST(LocalServer, ListenOnAnAbstractDescriptorSetsTheAbstractOption) {
  test::DescriptorLeakCheck leaks;
  const std::string name = test::uniqueName("inherited-abstract");
  UniqueFd listener = test::rawUnixListener(name, 5, true);
  ASSERT_TRUE(listener.valid());
  LocalServer server;
  ASSERT_TRUE(server.listen(listener.release()));
  EXPECT_EQ(server.serverName(), name);
  EXPECT_EQ(server.fullServerName(), name);
  EXPECT_EQ(server.socketOptions(), LocalServer::AbstractNamespaceOption);
  LocalSocket client;
  client.setSocketOptions(LocalSocket::AbstractNamespaceOption);
  client.connectToServer(name);
  EXPECT_EQ(client.state(), S::ConnectedState);
}

TEST(LocalServer, ListenOnANonSocketFailsAndLeavesTheDescriptorOpen) {
  test::DescriptorLeakCheck leaks;
  int pipeFds[2];
  ASSERT_EQ(::pipe2(pipeFds, O_CLOEXEC), 0);
  UniqueFd readEnd(pipeFds[0]), writeEnd(pipeFds[1]);
  LocalServer server;
  EXPECT_FALSE(server.listen(readEnd.get()));
  EXPECT_FALSE(server.isListening());
  EXPECT_EQ(server.serverError(), SocketError::UnsupportedSocketOperationError);
  EXPECT_EQ(server.errorString(), "QLocalServer::listen: Invalid socket descriptor");
  EXPECT_EQ(::fcntl(readEnd.get(), F_GETFD), FD_CLOEXEC);
}

// ------------------------------------------------------------ connections

TEST(LocalServer, EachClientGivesOneNewConnectionWithAConnectedChildSocket) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("accept");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  std::vector<LocalSocket*> accepted;
  std::vector<S> states;
  server.newConnection.connect([&] {
    LocalSocket* s = server.nextPendingConnection();
    accepted.push_back(s);
    s->stateChanged.connect([&](S state) { states.push_back(state); });
  });
  LocalSocket a, b;
  a.connectToServer(name);
  b.connectToServer(name);
  ASSERT_TRUE(test::runUntil([&] { return accepted.size() == 2; }));
  test::runFor(5);
  for (LocalSocket* s : accepted) {
    EXPECT_EQ(s->parent(), &server);
    EXPECT_EQ(s->state(), S::ConnectedState);
    EXPECT_EQ(s->openMode(), IODevice::ReadWrite);
    EXPECT_EQ(s->serverName(), name);
    EXPECT_EQ(s->fullServerName(), tmp.file(name));
    EXPECT_EQ(s->error(), LocalSocket::UnknownSocketError);
  }
  EXPECT_TRUE(states.empty()) << "adoption reports no state change";
  EXPECT_FALSE(server.hasPendingConnections());
  EXPECT_EQ(server.nextPendingConnection(), nullptr);
}

TEST(LocalServer, CloseDeletesConnectionsNotYetTakenButNotTakenOnes) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("closepending");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  LocalSocket a, b;
  a.connectToServer(name);
  b.connectToServer(name);
  ASSERT_TRUE(test::runUntil([&] { return server.hasPendingConnections(); }));
  ObjectPtr<LocalSocket> taken = server.nextPendingConnection();
  ASSERT_TRUE(test::runUntil([&] { return server.hasPendingConnections(); }));
  server.close();
  EXPECT_FALSE(taken.isNull());
  ASSERT_TRUE(test::runUntil([&] { return b.state() == S::UnconnectedState; }));
  EXPECT_EQ(a.state(), S::ConnectedState);
}

TEST(LocalServer, FullPendingQueueStopsAcceptingUntilAConnectionIsTaken) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("maxpending");
  LocalServer server;
  server.setMaxPendingConnections(2);
  ASSERT_TRUE(server.listen(name));
  int newConnections = 0;
  server.newConnection.connect([&] { ++newConnections; });
  std::vector<std::unique_ptr<LocalSocket>> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<LocalSocket>());
    clients.back()->connectToServer(name);
    EXPECT_EQ(clients.back()->state(), S::ConnectedState) << "the system's backlog holds the rest";
  }
  ASSERT_TRUE(test::runUntil([&] { return newConnections == 2; }));
  test::runFor(30);
  EXPECT_EQ(newConnections, 2) << "exactly maxPendingConnections";
  delete server.nextPendingConnection();
  ASSERT_TRUE(test::runUntil([&] { return newConnections == 3; }));
  test::runFor(30);
  EXPECT_EQ(newConnections, 3);
  server.setMaxPendingConnections(10);
  ASSERT_TRUE(test::runUntil([&] { return newConnections == 5; }));
}

TEST(LocalServer, MaxPendingZeroAcceptsNothing) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("maxzero");
  LocalServer server;
  server.setMaxPendingConnections(0);
  ASSERT_TRUE(server.listen(name));
  LocalSocket client;
  client.connectToServer(name);
  EXPECT_EQ(client.state(), S::ConnectedState);
  test::runFor(30);
  EXPECT_FALSE(server.hasPendingConnections());
  server.setMaxPendingConnections(1);
  ASSERT_TRUE(test::runUntil([&] { return server.hasPendingConnections(); }));
}

TEST(LocalServer, ConnectionsAreQueuedInTheOrderTheyArrived) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("order");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  LocalSocket clients[3];
  for (int i = 0; i < 3; ++i) {
    clients[i].connectToServer(name);
    clients[i].write(std::string(1, static_cast<char>('a' + i)));
  }
  int count = 0;
  server.newConnection.connect([&] { ++count; });
  ASSERT_TRUE(test::runUntil([&] { return count == 3; }));
  std::string order;
  while (LocalSocket* s = server.nextPendingConnection()) {
    ASSERT_TRUE(s->bytesAvailable() > 0 || s->waitForReadyRead(5000));
    order += s->readAll();
  }
  EXPECT_EQ(order, "abc");
}

// ------------------------------------------------------------ blocking

TEST(LocalServer, WaitForNewConnectionTimesOutWithoutAnError) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  LocalServer server;
  ASSERT_TRUE(server.listen(test::uniqueName("waittimeout")));
  bool timedOut = false;
  EXPECT_FALSE(server.waitForNewConnection(20, &timedOut));
  EXPECT_TRUE(timedOut);
  EXPECT_EQ(server.serverError(), SocketError::UnknownSocketError) << "Qt sets no error on a timeout";
  EXPECT_EQ(server.errorString(), "");
  EXPECT_FALSE(server.waitForNewConnection());  // 0: do not wait
}

TEST(LocalServer, WaitForNewConnectionAcceptsAndEmitsNewConnectionInside) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("waitaccept");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  int newConnections = 0;
  server.newConnection.connect([&] { ++newConnections; });
  LocalSocket client;
  client.connectToServer(name);
  bool timedOut = true;
  EXPECT_TRUE(server.waitForNewConnection(5000, &timedOut));
  EXPECT_FALSE(timedOut);
  EXPECT_EQ(newConnections, 1);
  EXPECT_TRUE(server.waitForNewConnection(5000, &timedOut)) << "one is already waiting";
  EXPECT_EQ(newConnections, 1);
}

TEST(LocalServer, WaitForNewConnectionWhenNotListeningFailsWithoutTimingOut) {
  LocalServer server;
  bool timedOut = true;
  EXPECT_FALSE(server.waitForNewConnection(10, &timedOut));
  EXPECT_FALSE(timedOut);
}

TEST(LocalServer, BlockingServerWithoutALoopServesALoopClient) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("blockingserver");
  std::atomic<bool> listening{false};
  std::string received;
  bool served = false;
  std::thread worker([&] {
    LocalServer server;
    if (!server.listen(name)) return;
    listening = true;
    if (!server.waitForNewConnection(-1)) return;
    LocalSocket* peer = server.nextPendingConnection();
    while (received.size() < 4 && peer->waitForReadyRead(5000)) received += peer->readAll();
    peer->write("pong");
    served = peer->waitForBytesWritten(5000);
    peer->disconnectFromServer();
    served = served && peer->state() == S::UnconnectedState;
  });
  ASSERT_TRUE(test::runUntil([&] { return listening.load(); }));
  LocalSocket client;
  std::string reply;
  bool ended = false;
  client.readyRead.connect([&] { reply += client.readAll(); });
  client.disconnected.connect([&] { ended = true; });
  client.connectToServer(name);
  client.write("ping");
  ASSERT_TRUE(test::runUntil([&] { return ended; }));
  worker.join();
  EXPECT_TRUE(served);
  EXPECT_EQ(received, "ping");
  EXPECT_EQ(reply, "pong");
}

// ------------------------------------------------------------ overload, overriding, deletion

TEST(LocalServer, RunningOutOfDescriptorsShedsConnectionsAndKeepsListening) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("emfile");
  LocalServer server;
  ASSERT_TRUE(server.listen(name));
  int newConnections = 0;
  server.newConnection.connect([&] { ++newConnections; });
  {
    // Let the sanitizers meet every type of the accept path first.
    UniqueFd warmUp = test::rawUnixClient(server.fullServerName());
    ASSERT_TRUE(test::runUntil([&] { return newConnections == 1; }));
    delete server.nextPendingConnection();
    test::runFor(5);
  }
  std::vector<UniqueFd> shed;
  for (int i = 0; i < 2; ++i) shed.push_back(rawSocket());
  UniqueFd later = rawSocket();
  {
    test::DescriptorLimit limit(static_cast<rlim_t>(test::lowestFreeDescriptor()));
    ASSERT_TRUE(limit.applied());
    ASSERT_TRUE(rawConnect(shed[0], server.fullServerName()));
    ASSERT_TRUE(rawConnect(shed[1], server.fullServerName()));
    ASSERT_TRUE(test::runUntil([&] { return server.serverError() == SocketError::SocketResourceError; }));
    for (const UniqueFd& fd : shed)
      EXPECT_TRUE(test::runUntil([&] { return peerClosed(fd.get(), 0); })) << "the shed client is told";
    EXPECT_EQ(newConnections, 1);
    EXPECT_EQ(server.serverError(), SocketError::SocketResourceError);
    EXPECT_EQ(server.errorString(), "QLocalSocket::activated: Out of resources");
    EXPECT_TRUE(server.isListening());
    shed.clear();
    ASSERT_TRUE(rawConnect(later, server.fullServerName()));
    ASSERT_TRUE(test::runUntil([&] { return newConnections == 2; }));
  }
  LocalSocket* peer = server.nextPendingConnection();
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(peer->state(), S::ConnectedState);
}

namespace {

class HandOffServer : public LocalServer {
 public:
  std::vector<int> descriptors;

 protected:
  void incomingConnection(int socketDescriptor) override { descriptors.push_back(socketDescriptor); }
};

}  // namespace

TEST(LocalServer, IncomingConnectionOverrideReceivesTheDescriptorAndNothingIsEmitted) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("handoff");
  HandOffServer server;
  int newConnections = 0;
  server.newConnection.connect([&] { ++newConnections; });
  ASSERT_TRUE(server.listen(name));
  LocalSocket client;
  client.connectToServer(name);
  ASSERT_TRUE(test::runUntil([&] { return server.descriptors.size() == 1; }));
  EXPECT_EQ(newConnections, 0) << "the default incomingConnection emits newConnection, as in Qt";
  EXPECT_FALSE(server.hasPendingConnections());
  // The descriptor is the application's: adopt it elsewhere.
  LocalSocket adopted;
  ASSERT_TRUE(adopted.setSocketDescriptor(server.descriptors[0]));
  EXPECT_EQ(adopted.fullServerName(), tmp.file(name));
  client.write("handed over");
  client.flush();
  ASSERT_TRUE(adopted.waitForReadyRead(5000));
  EXPECT_EQ(adopted.readAll(), "handed over");
}

TEST(LocalServer, DeletingTheServerInNewConnectionIsSafe) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("deleteserver");
  auto* server = new LocalServer;
  ASSERT_TRUE(server->listen(name));
  bool destroyed = false;
  server->destroyed.connect([&] { destroyed = true; });
  server->newConnection.connect([&] { delete server; });
  LocalSocket a, b;
  a.connectToServer(name);
  b.connectToServer(name);
  ASSERT_TRUE(test::runUntil([&] { return destroyed; }));
  EXPECT_FALSE(test::fileExists(tmp.file(name)));
  ASSERT_TRUE(test::runUntil([&] { return a.state() == S::UnconnectedState && b.state() == S::UnconnectedState; }));
}

TEST(LocalServer, DeletingTheServerInsideWaitForNewConnectionIsSafe) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("deletewait");
  auto* server = new LocalServer;
  ASSERT_TRUE(server->listen(name));
  server->newConnection.connect([&] { delete server; });
  LocalSocket client;
  client.connectToServer(name);
  bool timedOut = true;
  EXPECT_FALSE(server->waitForNewConnection(5000, &timedOut));
  EXPECT_FALSE(timedOut);
}
