// `tether broadcast` and `tether multicast`: round trips on loopback (the
// loopback broadcast address and the "lo" interface, the tool's defaults) and
// between two network namespaces joined by a veth pair. Nothing here sends
// out of the machine's real interfaces.
#include <signal.h>

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "cli_test_support.h"

using namespace tether::clitest;
namespace test = tether::test;

namespace {

std::vector<nlohmann::json> eventsNamed(const std::string& out, const std::string& name) {
  std::vector<nlohmann::json> found;
  for (nlohmann::json& e : jsonLines(out))
    if (e.value("event", "") == name) found.push_back(std::move(e));
  return found;
}

TEST(Broadcast, RoundTripOnTheLoopbackBroadcastAddressByDefault) {
  Process receiver(tetherCmd({"broadcast", "receive", "--port", "0", "--count", "3", "--json"}));
  const std::uint16_t port = readPort(receiver);
  ASSERT_NE(port, 0) << receiver.err();
  // No --address: the default must stay on this machine.
  const RunResult sender = tooltest::run(
      tetherCmd({"broadcast", "send", "--port", std::to_string(port), "--count", "3", "--interval", "20", "--json"}));
  ASSERT_EQ(sender.status, 0) << sender.err;
  EXPECT_EQ(sender.event("sending").value("address", ""), "127.255.255.255");
  EXPECT_EQ(eventsNamed(sender.out, "sent").size(), 3u);

  ASSERT_EQ(receiver.wait(10000), 0) << receiver.err();
  const auto datagrams = eventsNamed(receiver.out(), "datagram");
  ASSERT_EQ(datagrams.size(), 3u) << receiver.out();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(datagrams[i]["data"], "Broadcast message " + std::to_string(i + 1));
    EXPECT_EQ(datagrams[i]["sender"], "127.0.0.1");
    EXPECT_EQ(datagrams[i]["destination"], "127.255.255.255");
  }
}

TEST(Broadcast, PlainOutputFollowsQtsReceiver) {
  Process receiver(tetherCmd({"broadcast", "receive", "--port", "0", "--count", "1"}));
  const std::uint16_t port = readPort(receiver);
  ASSERT_NE(port, 0) << receiver.err();
  const RunResult sender = tooltest::run(tetherCmd({"broadcast", "send", "--port", std::to_string(port), "--count", "1"}));
  ASSERT_EQ(sender.status, 0) << sender.err;
  EXPECT_EQ(sender.out, "broadcasting to 127.255.255.255 port " + std::to_string(port) +
                            "\nsent \"Broadcast message 1\"\n");
  const auto line = receiver.readLine();
  ASSERT_TRUE(line);
  EXPECT_EQ(line->rfind("Received datagram: \"Broadcast message 1\" from 127.0.0.1:", 0), 0u) << *line;
  EXPECT_EQ(receiver.wait(10000), 0);
}

TEST(Multicast, RoundTripOnTheLoopbackInterfaceByDefault) {
  Process receiver(tetherCmd({"multicast", "receive", "--port", "0", "--count", "2", "--json"}));
  const std::uint16_t port = readPort(receiver);
  ASSERT_NE(port, 0) << receiver.err();
  const RunResult sender = tooltest::run(
      tetherCmd({"multicast", "send", "--port", std::to_string(port), "--count", "2", "--interval", "20", "--json"}));
  ASSERT_EQ(sender.status, 0) << sender.err;
  const nlohmann::json sending = sender.event("sending");
  EXPECT_EQ(sending["interface"], "lo");
  EXPECT_EQ(sending["groups"], nlohmann::json::array({"239.255.43.21"}));
  EXPECT_EQ(sending["ttl"], 1);

  ASSERT_EQ(receiver.wait(10000), 0) << receiver.err();
  const auto datagrams = eventsNamed(receiver.out(), "datagram");
  ASSERT_EQ(datagrams.size(), 2u) << receiver.out();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(datagrams[i]["data"], "Multicast message " + std::to_string(i + 1));
    EXPECT_EQ(datagrams[i]["destination"], "239.255.43.21");
    EXPECT_EQ(datagrams[i]["interface"], "lo");
    EXPECT_EQ(datagrams[i]["hopLimit"], 1);
  }
}

// Two hosts, "a" (veth0: 10.77.0.1/24, fd00:77::1/64) and "b" (veth1:
// 10.77.0.2/24, fd00:77::2/64), joined by a veth pair.
class NamespacePair : public testing::Test {
 protected:
  void SetUp() override {
    if (std::string why; !test::namespacesAvailable(&why)) GTEST_SKIP() << why;
    for (test::Namespace* ns : {&a_, &b_}) {
      ASSERT_TRUE(ns->created());
      // No duplicate address detection: link-local addresses usable at once.
      ASSERT_TRUE(ns->exec({"sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"})
                      .ok());
    }
    ASSERT_TRUE(test::addVeth(a_, "veth0", b_, "veth1"));
    ASSERT_TRUE(a_.addAddress("veth0", "10.77.0.1/24", {"broadcast", "10.77.0.255"}));
    ASSERT_TRUE(b_.addAddress("veth1", "10.77.0.2/24", {"broadcast", "10.77.0.255"}));
    ASSERT_TRUE(a_.addAddress("veth0", "fd00:77::1/64"));
    ASSERT_TRUE(b_.addAddress("veth1", "fd00:77::2/64"));
    ASSERT_TRUE(a_.up("veth0"));
    ASSERT_TRUE(b_.up("veth1"));
    ASSERT_TRUE(a_.waitUntilOperational("veth0"));
    ASSERT_TRUE(b_.waitUntilOperational("veth1"));
  }

  test::Namespace a_{"a"};
  test::Namespace b_{"b"};
};

TEST_F(NamespacePair, MulticastBothGroupsOnTheNamedInterface) {
  Process receiver(inNamespace(b_, tetherCmd({"multicast", "receive", "--interface", "veth1", "--group", "239.255.43.21",
                                           "--group", "ff12::2115", "--port", "0", "--count", "2", "--json"})));
  const std::uint16_t port = readPort(receiver);
  ASSERT_NE(port, 0) << receiver.err();
  const RunResult sender =
      tooltest::run(inNamespace(a_, tetherCmd({"multicast", "send", "--interface", "veth0", "--group", "239.255.43.21",
                                            "--group", "ff12::2115", "--port", std::to_string(port), "--count", "1"})));
  ASSERT_EQ(sender.status, 0) << sender.err;
  ASSERT_EQ(receiver.wait(10000), 0) << receiver.err();
  const auto datagrams = eventsNamed(receiver.out(), "datagram");
  ASSERT_EQ(datagrams.size(), 2u) << receiver.out();
  std::set<std::string> destinations;  // without the scope of the link-local group
  for (const nlohmann::json& d : datagrams) {
    EXPECT_EQ(d["data"], "Multicast message 1");
    EXPECT_EQ(d["interface"], "veth1");
    const std::string destination = d["destination"];
    destinations.insert(destination.substr(0, destination.find('%')));
    if (d["destination"] == "239.255.43.21") {
      EXPECT_EQ(d["sender"], "10.77.0.1");
    }
  }
  EXPECT_EQ(destinations, (std::set<std::string>{"239.255.43.21", "ff12::2115"}));
}

TEST_F(NamespacePair, BroadcastToTheSubnet) {
  Process receiver(inNamespace(b_, tetherCmd({"broadcast", "receive", "--port", "0", "--count", "1", "--json"})));
  const std::uint16_t port = readPort(receiver);
  ASSERT_NE(port, 0) << receiver.err();
  const RunResult sender = tooltest::run(inNamespace(
      a_, tetherCmd({"broadcast", "send", "--address", "10.77.0.255", "--port", std::to_string(port), "--count", "1"})));
  ASSERT_EQ(sender.status, 0) << sender.err;
  ASSERT_EQ(receiver.wait(10000), 0) << receiver.err();
  const auto datagrams = eventsNamed(receiver.out(), "datagram");
  ASSERT_EQ(datagrams.size(), 1u) << receiver.out();
  EXPECT_EQ(datagrams[0]["data"], "Broadcast message 1");
  EXPECT_EQ(datagrams[0]["sender"], "10.77.0.1");
  EXPECT_EQ(datagrams[0]["destination"], "10.77.0.255");
}

TEST(Datagrams, AReceiverStoppedBeforeItsCountFails) {
  Process receiver(tetherCmd({"multicast", "receive", "--port", "0", "--count", "5"}));
  ASSERT_NE(readPort(receiver), 0) << receiver.err();
  receiver.signal(SIGTERM);
  EXPECT_EQ(receiver.wait(10000), 1);
  EXPECT_NE(receiver.err().find("tether multicast receive: interrupted after 0 of 5 datagrams received"),
            std::string::npos)
      << receiver.err();

  // Without --count, a signal is the normal end.
  Process sender(tetherCmd({"broadcast", "send", "--port", "9", "--interval", "10000"}));
  ASSERT_TRUE(sender.readLine());  // "broadcasting to ..."
  ASSERT_TRUE(sender.readLine());  // the first datagram went out at once
  sender.signal(SIGINT);
  EXPECT_EQ(sender.wait(10000), 0) << sender.err();
}

}  // namespace
