// LocalSocket and LocalServer against real Qt programs (Qt 5 and Qt 6 from
// Debian's packages, built by tests/local_interop): a Qt server and a tether
// client, and the other way round, meet by the same plain name — in $TMPDIR
// and in /tmp — by an absolute path, and (Qt 6) in the abstract namespace.
// That is the proof that tether maps names to paths as Qt does.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "support/local_support.h"
#include "support/test_support.h"
#include "system/unique_fd.h"
#include "tether/local_server.h"
#include "tether/local_socket.h"

extern char** environ;

using namespace tether;
using S = LocalSocket::LocalSocketState;
using detail::UniqueFd;

namespace {

const char* peerProgram(int major) {
#ifdef TETHER_QT5_LOCAL_PEER
  if (major == 5) return TETHER_QT5_LOCAL_PEER;
#endif
#ifdef TETHER_QT6_LOCAL_PEER
  if (major == 6) return TETHER_QT6_LOCAL_PEER;
#endif
  (void)major;
  return nullptr;
}

// A Qt peer process; its standard output is read line by line while this
// thread's event loop keeps running.
class QtPeer {
 public:
  QtPeer() = default;
  QtPeer(const QtPeer&) = delete;
  QtPeer& operator=(const QtPeer&) = delete;
  ~QtPeer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  bool start(const char* program, const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    UniqueFd readEnd(fds[0]), writeEnd(fds[1]);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, writeEnd.get(), STDOUT_FILENO);
    std::vector<char*> argv{const_cast<char*>(program)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, program, &actions, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      return false;
    }
    ::fcntl(readEnd.get(), F_SETFL, O_NONBLOCK);
    out_ = std::move(readEnd);
    return true;
  }

  // The next line of output (without '\n'), or nothing after timeoutMs.
  std::optional<std::string> line(int timeoutMs = 10000) {
    std::size_t newline = std::string::npos;
    test::runUntil(
        [&] {
          readAvailable();
          newline = buffered_.find('\n');
          return newline != std::string::npos;
        },
        timeoutMs);
    if (newline == std::string::npos) return std::nullopt;
    std::string result = buffered_.substr(0, newline);
    buffered_.erase(0, newline + 1);
    return result;
  }

  // The exit status, or -1 if it did not end within timeoutMs.
  int wait(int timeoutMs = 10000) {
    int status = 0;
    const bool ended = test::runUntil([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, timeoutMs);
    if (!ended) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  void readAvailable() {
    char chunk[4096];
    ssize_t n = 0;
    while ((n = ::read(out_.get(), chunk, sizeof chunk)) > 0) buffered_.append(chunk, static_cast<std::size_t>(n));
  }

  pid_t pid_ = -1;
  UniqueFd out_;
  std::string buffered_;
};

// Connects a tether client to `name`, says hello and collects the answer
// until the Qt server hangs up.
struct TetherClient {
  LocalSocket socket;
  std::string received;
  bool ended = false;

  explicit TetherClient(LocalSocket::SocketOptions options = LocalSocket::NoOptions) {
    socket.setSocketOptions(options);
    socket.readyRead.connect([this] { received += socket.readAll(); });
    socket.disconnected.connect([this] { ended = true; });
  }
  bool talkTo(const std::string& name) {
    socket.connectToServer(name);
    if (socket.state() != S::ConnectedState) return false;
    socket.write("hello from tether\n");
    return test::runUntil([&] { return ended; });
  }
};

// A tether server that answers one line and hangs up.
struct TetherServer {
  LocalServer server;
  std::string heard;

  TetherServer() {
    server.newConnection.connect([this] {
      LocalSocket* peer = server.nextPendingConnection();
      peer->readyRead.connect([this, peer] {
        heard += peer->readAll();
        if (!heard.ends_with('\n')) return;
        peer->write("tether heard: " + heard);
        peer->disconnectFromServer();
      });
      peer->disconnected.connect([peer] { peer->deleteLater(); });
    });
  }
};

class LocalQtInterop : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    program_ = peerProgram(GetParam());
    if (program_ == nullptr) GTEST_SKIP() << "Qt " << GetParam() << " is not installed (scripts/setup.sh installs it)";
  }
  const char* program_ = nullptr;
};

std::string qtName(const ::testing::TestParamInfo<int>& param) { return "Qt" + std::to_string(param.param); }

}  // namespace

TEST_P(LocalQtInterop, TetherClientFindsAQtServerByPlainNameInTmpdir) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("qt-server");
  QtPeer qt;
  ASSERT_TRUE(qt.start(program_, {"server", name}));
  EXPECT_EQ(qt.line(), "listening " + tmp.file(name));
  TetherClient client;
  ASSERT_TRUE(client.talkTo(name)) << client.socket.errorString();
  EXPECT_EQ(client.received, "qt heard: hello from tether\n");
  EXPECT_EQ(qt.line(), "served");
  EXPECT_EQ(qt.wait(), 0);
}

TEST_P(LocalQtInterop, QtClientFindsATetherServerByPlainNameInTmpdir) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string name = test::uniqueName("tether-server");
  TetherServer tether;
  ASSERT_TRUE(tether.server.listen(name));
  QtPeer qt;
  ASSERT_TRUE(qt.start(program_, {"client", name}));
  EXPECT_EQ(qt.line(), "connected " + tmp.file(name));
  EXPECT_EQ(qt.line(), "received tether heard: hello from qt");
  EXPECT_EQ(qt.wait(), 0);
  EXPECT_EQ(tether.heard, "hello from qt\n");
}

TEST_P(LocalQtInterop, WithoutTmpdirBothUseSlashTmp) {
  test::DescriptorLeakCheck leaks;
  test::ScopedEnv noTmpdir("TMPDIR", nullptr);
  const std::string name = test::uniqueName("qt-slashtmp");
  {
    QtPeer qt;
    ASSERT_TRUE(qt.start(program_, {"server", name}));
    EXPECT_EQ(qt.line(), "listening /tmp/" + name);
    TetherClient client;
    ASSERT_TRUE(client.talkTo(name)) << client.socket.errorString();
    EXPECT_EQ(client.received, "qt heard: hello from tether\n");
    EXPECT_EQ(qt.wait(), 0);
  }
  EXPECT_FALSE(test::fileExists("/tmp/" + name)) << "Qt removed its socket file";
  TetherServer tether;
  ASSERT_TRUE(tether.server.listen(name));
  QtPeer qt;
  ASSERT_TRUE(qt.start(program_, {"client", name}));
  EXPECT_EQ(qt.line(), "connected /tmp/" + name);
  EXPECT_EQ(qt.line(), "received tether heard: hello from qt");
  EXPECT_EQ(qt.wait(), 0);
}

TEST_P(LocalQtInterop, AbsolutePathsMeetAsGiven) {
  test::DescriptorLeakCheck leaks;
  test::ScopedTmpdir tmp;
  const std::string path = tmp.file(test::uniqueName("qt-absolute"));
  test::ScopedEnv elsewhere("TMPDIR", "/nonexistent");
  TetherServer tether;
  ASSERT_TRUE(tether.server.listen(path));
  QtPeer qt;
  ASSERT_TRUE(qt.start(program_, {"client", path}));
  EXPECT_EQ(qt.line(), "connected " + path);
  EXPECT_EQ(qt.line(), "received tether heard: hello from qt");
  EXPECT_EQ(qt.wait(), 0);
}

INSTANTIATE_TEST_SUITE_P(RealQt, LocalQtInterop, ::testing::Values(5, 6), qtName);

// Qt 6.2 and later only: Qt 5 has no abstract namespace.
TEST(LocalQt6Interop, AbstractNamespaceNamesMeetBothWays) {
  const char* program = peerProgram(6);
  if (program == nullptr) GTEST_SKIP() << "Qt 6 is not installed (scripts/setup.sh installs it)";
  test::DescriptorLeakCheck leaks;
  const std::string name = test::uniqueName("qt-abstract");
  {
    QtPeer qt;
    ASSERT_TRUE(qt.start(program, {"server", name, "abstract"}));
    EXPECT_EQ(qt.line(), "listening " + name);
    TetherClient client(LocalSocket::AbstractNamespaceOption);
    ASSERT_TRUE(client.talkTo(name)) << client.socket.errorString();
    EXPECT_EQ(client.received, "qt heard: hello from tether\n");
    EXPECT_EQ(qt.wait(), 0);
  }
  TetherServer tether;
  tether.server.setSocketOptions(LocalServer::AbstractNamespaceOption);
  ASSERT_TRUE(tether.server.listen(name));
  QtPeer qt;
  ASSERT_TRUE(qt.start(program, {"client", name, "abstract"}));
  EXPECT_EQ(qt.line(), "connected " + name);
  EXPECT_EQ(qt.line(), "received tether heard: hello from qt");
  EXPECT_EQ(qt.wait(), 0);
}
