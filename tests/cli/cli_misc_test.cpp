// `tether echo-server`, and what every network subcommand shares: --help,
// exit status 2 with a message for a bad command line, 3 when it cannot
// listen.
#include <signal.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_test_support.h"

using namespace tether::clitest;

namespace {

TEST(EchoServer, EchoesEveryByteBack) {
  Process server(tetherCmd({"echo-server", "--address", "127.0.0.1", "--count", "2", "--json"}));
  const std::uint16_t port = readPort(server);
  ASSERT_NE(port, 0) << server.err();
  const std::string payload = tooltest::patternBytes(3 << 20, 7);  // more than the 1 MiB high-water mark
  {
    tooltest::RawClient client(port);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send("hello\n"));
    EXPECT_EQ(client.receive(6), "hello\n");
  }
  {
    // Everything sent before reading: the server slows the client down
    // instead of buffering, and nothing is lost.
    tooltest::RawClient client(port);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send(payload));
    const auto echoed = client.receive(payload.size(), 15000);
    ASSERT_TRUE(echoed);
    EXPECT_TRUE(*echoed == payload);
  }
  ASSERT_EQ(server.wait(10000), 0) << server.err();
  std::vector<std::int64_t> bytes;
  for (const nlohmann::json& e : jsonLines(server.out()))
    if (e["event"] == "disconnected") bytes.push_back(e["bytes"]);
  EXPECT_EQ(bytes, (std::vector<std::int64_t>{6, static_cast<std::int64_t>(payload.size())}));
}

TEST(EchoServer, StopsOnSigintAndCannotShareAPort) {
  Process server(tetherCmd({"echo-server", "--address", "127.0.0.1"}));
  const std::uint16_t port = readPort(server);
  ASSERT_NE(port, 0) << server.err();
  const RunResult second =
      tooltest::run(tetherCmd({"echo-server", "--address", "127.0.0.1", "--port", std::to_string(port)}));
  EXPECT_EQ(second.status, 3);
  EXPECT_NE(second.err.find("tether echo-server: cannot listen on 127.0.0.1 port " + std::to_string(port)),
            std::string::npos)
      << second.err;
  server.signal(SIGINT);
  EXPECT_EQ(server.wait(10000), 0) << server.err();
}

TEST(NetworkCommands, EveryOneHasHelp) {
  const std::vector<std::vector<std::string>> commands{
      {"fortune-server"}, {"fortune"},   {"broadcast"},  {"broadcast", "send"}, {"broadcast", "receive"},
      {"multicast"},      {"multicast", "send"}, {"multicast", "receive"}, {"lookup"}, {"interfaces"},
      {"echo-server"}};
  for (std::vector<std::string> command : commands) {
    std::string name = "tether";
    for (const std::string& word : command) name += " " + word;
    command.push_back("--help");
    const RunResult result = tooltest::run(tetherCmd(command));
    EXPECT_EQ(result.status, 0) << name << ": " << result.err;
    EXPECT_NE(result.out.find("Usage: " + name), std::string::npos) << result.out;
  }
  // The safety defaults are in the help text.
  EXPECT_NE(tooltest::run(tetherCmd({"broadcast", "send", "--help"})).out.find("127.255.255.255"), std::string::npos);
  EXPECT_NE(tooltest::run(tetherCmd({"multicast", "send", "--help"})).out.find("--interface TEXT=lo"), std::string::npos);
}

TEST(NetworkCommands, BadArgumentsExitWith2AndSayWhy) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"fortune-server", "--framing", "qt6"}, "qt6 not in {qt4,qt5}"},
      {{"fortune-server", "--port", "70000"}, "--port"},
      {{"fortune-server", "--port", "1", "--local", "x"}, "excludes"},
      {{"fortune-server", "--address", "localhost"}, "tether fortune-server: not an IP address: localhost"},
      {{"fortune-server", "--fortune", std::string(40000, 'x')}, "tether fortune-server: a qt4 fortune holds at most"},
      {{"fortune"}, "tether fortune: give the server as HOST:PORT or --local NAME"},
      {{"fortune", "localhost"}, "tether fortune: not a destination: localhost (expected HOST:PORT)"},
      {{"fortune", "a:1", "--timeout", "0"}, "--timeout"},
      {{"broadcast"}, "subcommand"},
      {{"broadcast", "send", "--address", "::1"}, "tether broadcast send: not an IPv4 address: ::1"},
      {{"broadcast", "send", "--interval", "0"}, "--interval"},
      {{"broadcast", "send", "--port", "0"}, "tether broadcast send: the port to send to cannot be 0"},
      {{"broadcast", "receive", "--address", "here"}, "tether broadcast receive: not an IPv4 address: here"},
      {{"multicast", "send", "--ttl", "256"}, "--ttl"},
      {{"multicast", "receive", "--group", "10.0.0.1"},
       "tether multicast receive: not a multicast group address: 10.0.0.1"},
      {{"multicast", "send", "--interface", "nosuchif0"}, "tether multicast send: no network interface named nosuchif0"},
      {{"lookup"}, "name is required"},
      {{"lookup", "x", "--type", "SOA"}, "SOA not in"},
      {{"lookup", "x", "--server", "dns.example"}, "tether lookup: not a DNS server address: dns.example"},
      {{"interfaces", "extra"}, "extra"},
      {{"echo-server", "--count", "-1"}, "--count"},
  };
  for (const auto& [args, message] : cases) {
    const RunResult result = tooltest::run(tetherCmd(args));
    std::string line = "tether";
    for (const std::string& a : args) line += " " + a.substr(0, 40);
    EXPECT_EQ(result.status, 2) << line << "\n" << result.out << result.err;
    EXPECT_NE(result.err.find(message), std::string::npos) << line << "\n" << result.err;
    EXPECT_EQ(result.err.rfind("tether", 0), 0u) << line << "\n" << result.err;
  }
}

}  // namespace
