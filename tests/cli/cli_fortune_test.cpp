// `tether fortune-server` and `tether fortune`: tether to tether, and tether
// against a Qt 5 server and client (qt_fortune_peer.cpp) in both directions,
// over TCP and local sockets, in both framings; then the servers' lifetime
// (--count, SIGTERM, stale socket files) and the client's failures.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "cli_test_support.h"
#include "fortune_protocol.h"

using namespace tether::clitest;

namespace {

// The fortune the interop cases send: non-ASCII, an astral character (a
// surrogate pair in UTF-16) and a backslash.
const std::string kFortune = "Grüße aus tether \U0001F642 \\o/";

struct Case {
  bool local;
  const char* framing;
};

void PrintTo(const Case& c, std::ostream* out) { *out << (c.local ? "local " : "tcp ") << c.framing; }

std::string caseName(const testing::TestParamInfo<Case>& info) {
  return std::string(info.param.local ? "Local" : "Tcp") + "_" + info.param.framing;
}

const Case kCases[] = {{false, "qt4"}, {false, "qt5"}, {true, "qt4"}, {true, "qt5"}};

// A fortune server (tether's or Qt's) that has printed its first line.
struct Server {
  std::unique_ptr<Process> process;
  std::string local;        // the local name, or ""
  std::uint16_t port = 0;  // the TCP port, or 0

  // The client arguments that reach this server.
  std::vector<std::string> destination() const {
    if (!local.empty()) return {"--local", local};
    return {"127.0.0.1:" + std::to_string(port)};
  }
  bool started() const { return !local.empty() || port != 0; }
};

Server startTetherServer(const Case& c, const std::vector<std::string>& extra = {}) {
  Server server;
  std::vector<std::string> args{"fortune-server", "--framing", c.framing, "--address", "127.0.0.1"};
  if (c.local) {
    server.local = uniqueLocalName("srv");
    args = {"fortune-server", "--framing", c.framing, "--local", server.local};
  }
  args.insert(args.end(), extra.begin(), extra.end());
  server.process = std::make_unique<Process>(tetherCmd(args));
  if (c.local) {
    const auto line = server.process->readLine();
    if (line != "name " + server.local) server.local.clear();
  } else {
    server.port = readPort(*server.process);
  }
  return server;
}

Server startQtServer(const Case& c, const std::string& fortune) {
  Server server;
  if (c.local) {
    server.local = uniqueLocalName("qt");
    server.process = std::make_unique<Process>(
        std::vector<std::string>{qtFortunePeer(), "server", "local", c.framing, server.local, fortune});
    if (server.process->readLine() != "name " + server.local) server.local.clear();
  } else {
    server.process =
        std::make_unique<Process>(std::vector<std::string>{qtFortunePeer(), "server", "tcp", c.framing, fortune});
    server.port = readPort(*server.process);
  }
  return server;
}

class FortuneTether : public testing::TestWithParam<Case> {};

class FortuneQt : public testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (qtFortunePeer().empty()) GTEST_SKIP() << "Qt 5 not found at configure time";
  }
};

TEST_P(FortuneTether, ServerToClient) {
  const Case c = GetParam();
  Server server = startTetherServer(c, {"--count", "1", "--fortune", kFortune});
  ASSERT_TRUE(server.started()) << server.process->err();
  std::vector<std::string> args{"fortune", "--framing", c.framing};
  const auto destination = server.destination();
  args.insert(args.end(), destination.begin(), destination.end());
  const RunResult result = tooltest::run(tetherCmd(args), 15000);
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, kFortune + "\n");
  EXPECT_EQ(server.process->wait(10000), 0) << "--count 1: exits once the client was served";
}

TEST_P(FortuneQt, TetherServerToQtClient) {
  const Case c = GetParam();
  Server server = startTetherServer(c, {"--count", "1", "--fortune", kFortune});
  ASSERT_TRUE(server.started()) << server.process->err();
  std::vector<std::string> argv{qtFortunePeer(), "client", c.local ? "local" : "tcp", c.framing};
  if (c.local) argv.push_back(server.local);
  else argv.insert(argv.end(), {"127.0.0.1", std::to_string(server.port)});
  const RunResult result = tooltest::run(argv, 15000);
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, kFortune + "\n");
  EXPECT_EQ(server.process->wait(10000), 0);
}

TEST_P(FortuneQt, QtServerToTetherClient) {
  const Case c = GetParam();
  Server server = startQtServer(c, kFortune);
  ASSERT_TRUE(server.started()) << server.process->err();
  std::vector<std::string> args{"fortune", "--json", "--framing", c.framing};
  const auto destination = server.destination();
  args.insert(args.end(), destination.begin(), destination.end());
  const RunResult result = tooltest::run(tetherCmd(args), 15000);
  EXPECT_EQ(result.status, 0) << result.out << result.err;
  const nlohmann::json event = result.event("fortune");
  EXPECT_EQ(event.value("text", ""), kFortune);
  EXPECT_EQ(event.value("framing", ""), c.framing);
  EXPECT_EQ(server.process->wait(10000), 0) << server.process->err();
}

INSTANTIATE_TEST_SUITE_P(Cases, FortuneTether, testing::ValuesIn(kCases), caseName);
INSTANTIATE_TEST_SUITE_P(Cases, FortuneQt, testing::ValuesIn(kCases), caseName);

TEST(FortuneServer, ServesQtsFortunesByDefaultAndReportsInJson) {
  Server server = startTetherServer({false, "qt4"}, {"--count", "2", "--json"});
  ASSERT_TRUE(server.started()) << server.process->err();
  for (int i = 0; i < 2; ++i) {
    const RunResult result = tooltest::run(tetherCmd({"fortune", "127.0.0.1:" + std::to_string(server.port)}), 15000);
    ASSERT_EQ(result.status, 0) << result.err;
    const std::string text = result.out.substr(0, result.out.size() - 1);
    EXPECT_NE(std::find(std::begin(tether::cli::kQtFortunes), std::end(tether::cli::kQtFortunes), text),
              std::end(tether::cli::kQtFortunes))
        << text;
  }
  ASSERT_EQ(server.process->wait(10000), 0);
  const auto events = jsonLines(server.process->out());
  ASSERT_EQ(events.size(), 4u) << server.process->out();
  EXPECT_EQ(events[0]["event"], "listening");
  EXPECT_EQ(events[0]["framing"], "qt4");
  EXPECT_EQ(events[1]["event"], "served");
  EXPECT_EQ(events[2]["event"], "served");
  EXPECT_EQ(events[3]["event"], "stopped");
  EXPECT_EQ(events[3]["served"], 2);
}

TEST(FortuneServer, SigtermStopsItAndRemovesTheSocketFile) {
  const std::string name = uniqueLocalName("term");
  Process server(tetherCmd({"fortune-server", "--local", name, "--json"}));
  const auto line = server.readLine();
  ASSERT_TRUE(line) << server.err();
  const nlohmann::json listening = nlohmann::json::parse(*line);
  ASSERT_EQ(listening["name"], name);
  const std::string path = listening["path"];
  EXPECT_TRUE(std::filesystem::exists(path));
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(10000), 0) << server.err();
  EXPECT_FALSE(std::filesystem::exists(path)) << "the socket file goes with the server";
}

TEST(FortuneServer, ReplacesAStaleSocketFileButNotALiveServer) {
  const std::string name = uniqueLocalName("stale");
  const std::string path = std::filesystem::temp_directory_path().string() + "/" + name;
  {
    // What a server that crashed leaves behind: a socket file nobody listens on.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
    ::close(fd);
  }
  ASSERT_TRUE(std::filesystem::exists(path));
  Process live(tetherCmd({"fortune-server", "--local", name}));
  ASSERT_EQ(live.readLine(), "name " + name) << live.err();

  const RunResult second = tooltest::run(tetherCmd({"fortune-server", "--local", name}), 15000);
  EXPECT_EQ(second.status, 3);
  EXPECT_NE(second.err.find("tether fortune-server: cannot listen on local name " + name), std::string::npos)
      << second.err;
  // The live server still serves.
  EXPECT_EQ(tooltest::run(tetherCmd({"fortune", "--local", name}), 15000).status, 0);
  live.signal(SIGINT);
  EXPECT_EQ(live.wait(10000), 0);
}

TEST(FortuneClient, ReportsWhatWentWrong) {
  // Nobody listens: exit 3.
  Process closed(tetherCmd({"echo-server", "--address", "127.0.0.1", "--count", "1"}));
  const std::uint16_t echoPort = readPort(closed);
  ASSERT_NE(echoPort, 0) << closed.err();
  // A server that sends nothing: the client gives up at its timeout (exit 1).
  RunResult result = tooltest::run(tetherCmd({"fortune", "127.0.0.1:" + std::to_string(echoPort), "--timeout", "300"}));
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("no fortune from 127.0.0.1:" + std::to_string(echoPort) + " within 300 ms"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(closed.wait(10000), 0);
  result = tooltest::run(tetherCmd({"fortune", "127.0.0.1:" + std::to_string(echoPort)}));
  EXPECT_EQ(result.status, 3);
  EXPECT_NE(result.err.find("cannot connect to 127.0.0.1:"), std::string::npos) << result.err;
  result = tooltest::run(tetherCmd({"fortune", "--local", uniqueLocalName("none")}));
  EXPECT_EQ(result.status, 3);
  EXPECT_NE(result.err.find("no server is listening on it"), std::string::npos) << result.err;

  // The wrong framing: a qt4 block read as qt5 claims 512 KiB and ends early.
  Server server = startTetherServer({false, "qt4"}, {"--count", "1", "--fortune", "Hi"});
  ASSERT_TRUE(server.started());
  result = tooltest::run(tetherCmd({"fortune", "--framing", "qt5", "127.0.0.1:" + std::to_string(server.port)}));
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("closed the connection before a whole qt5 fortune arrived"), std::string::npos)
      << result.err;
}

}  // namespace
