// `tether lookup` against a real DNS server (dnsmasq on 127.0.0.1, asked
// with --server), and `tether interfaces` inside a network namespace whose
// interfaces the test made.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "cli_test_support.h"
#include "support/dns_server.h"

using namespace tether::clitest;
namespace test = tether::test;

namespace {

class Lookup : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dns_ = new test::DnsServer({.arguments = {
                                    "--host-record=host.test,192.0.2.10,2001:db8::10",
                                    "--cname=alias.test,host.test",
                                    "--mx-host=mail.test,mx1.mail.test,10",
                                    "--srv-host=_fortune._tcp.test,fortune.test,45454,1,5",
                                    "--txt-record=txt.test,hello world,second",
                                    "--ptr-record=10.2.0.192.in-addr.arpa,host.test",
                                },
                                .silentDomains = {},
                                .unknownNamesAreNxdomain = true});
  }
  static void TearDownTestSuite() {
    delete dns_;
    dns_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(dns_->isRunning()) << dns_->errorString(); }

  // `tether lookup ARGS... --server 127.0.0.1:PORT`
  static RunResult lookup(std::vector<std::string> args) {
    args.insert(args.begin(), "lookup");
    args.insert(args.end(), {"--server", std::string(test::DnsServer::kAddress) + ":" + std::to_string(dns_->port()),
                             "--timeout", "5000"});
    return tooltest::run(tetherCmd(args), 15000);
  }

  static test::DnsServer* dns_;
};

test::DnsServer* Lookup::dns_ = nullptr;

TEST_F(Lookup, HostAddressesOnePerLine) {
  const RunResult result = lookup({"host.test"});
  ASSERT_EQ(result.status, 0) << result.err;
  std::set<std::string> lines;
  std::size_t start = 0;
  while (start < result.out.size()) {
    const std::size_t end = result.out.find('\n', start);
    lines.insert(result.out.substr(start, end - start));
    start = end + 1;
  }
  EXPECT_EQ(lines, (std::set<std::string>{"192.0.2.10", "2001:db8::10"})) << result.out;
}

TEST_F(Lookup, HostAddressesAsJson) {
  const RunResult result = lookup({"host.test", "--json"});
  ASSERT_EQ(result.status, 0) << result.out;
  const nlohmann::json event = result.event("addresses");
  EXPECT_EQ(event["name"], "host.test");
  EXPECT_EQ(event["addresses"].size(), 2u);
}

TEST_F(Lookup, RecordsOfEachType) {
  RunResult result = lookup({"mail.test", "--type", "mx"});  // the type in any case
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("mail.test\t"), std::string::npos);
  EXPECT_NE(result.out.find("\tIN\tMX\t10 mx1.mail.test\n"), std::string::npos) << result.out;

  result = lookup({"_fortune._tcp.test", "--type", "SRV", "--json"});
  ASSERT_EQ(result.status, 0) << result.out;
  nlohmann::json records = result.event("records")["records"];
  ASSERT_EQ(records.size(), 1u) << result.out;
  EXPECT_EQ(records[0]["type"], "SRV");
  EXPECT_EQ(records[0]["target"], "fortune.test");
  EXPECT_EQ(records[0]["port"], 45454);
  EXPECT_EQ(records[0]["priority"], 1);
  EXPECT_EQ(records[0]["weight"], 5);

  result = lookup({"txt.test", "--type", "TXT", "--json"});
  ASSERT_EQ(result.status, 0) << result.out;
  records = result.event("records")["records"];
  ASSERT_EQ(records.size(), 1u) << result.out;
  EXPECT_EQ(records[0]["values"], nlohmann::json::array({"hello world", "second"}));
  result = lookup({"txt.test", "--type", "TXT"});
  EXPECT_NE(result.out.find("\tIN\tTXT\t\"hello world\" \"second\"\n"), std::string::npos) << result.out;

  // An alias: the CNAME record and the target's addresses.
  result = lookup({"alias.test", "--type", "A", "--json"});
  ASSERT_EQ(result.status, 0) << result.out;
  records = result.event("records")["records"];
  ASSERT_EQ(records.size(), 2u) << result.out;
  EXPECT_EQ(records[0]["type"], "CNAME");
  EXPECT_EQ(records[0]["value"], "host.test");
  EXPECT_EQ(records[1]["type"], "A");
  EXPECT_EQ(records[1]["value"], "192.0.2.10");

  // PTR takes an address and asks for its reverse name.
  result = lookup({"192.0.2.10", "--type", "PTR"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("10.2.0.192.in-addr.arpa\t"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\tIN\tPTR\thost.test\n"), std::string::npos) << result.out;
}

TEST_F(Lookup, UnknownNamesExitWith3AndNoRecordsIsNotAnError) {
  RunResult result = lookup({"missing.test"});
  EXPECT_EQ(result.status, 3);
  EXPECT_EQ(result.err, "tether lookup: cannot resolve missing.test: Host not found\n");
  result = lookup({"missing.test", "--type", "MX", "--json"});
  EXPECT_EQ(result.status, 3);
  EXPECT_EQ(result.event("error")["reason"], "cannot look up MX records of missing.test: Non existent domain");
  // NODATA: the name exists, without records of the type.
  result = lookup({"host.test", "--type", "MX"});
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "tether lookup: host.test has no MX records\n");
}

TEST(Interfaces, ListsANamespacesInterfacesAsJson) {
  if (std::string why; !test::namespacesAvailable(&why)) GTEST_SKIP() << why;
  test::Namespace ns("if");
  ASSERT_TRUE(ns.created());
  ASSERT_TRUE(test::addVeth(ns, "veth0", ns, "veth1"));
  ASSERT_TRUE(ns.setMtu("veth0", 1400));
  ASSERT_TRUE(ns.setHardwareAddress("veth0", "02:00:00:00:77:01"));
  ASSERT_TRUE(ns.addAddress("veth0", "10.77.1.1/24", {"broadcast", "10.77.1.255"}));
  ASSERT_TRUE(ns.up("veth0"));

  const test::CommandResult result = ns.exec({tetherBinary(), "interfaces", "--json"});
  ASSERT_TRUE(result.ok()) << result.output;
  std::map<std::string, nlohmann::json> byName;
  for (const nlohmann::json& e : jsonLines(result.output)) {
    EXPECT_EQ(e["event"], "interface");
    byName[e["name"].get<std::string>()] = e;
  }
  ASSERT_EQ(byName.size(), 3u) << result.output;  // lo, veth0, veth1

  const nlohmann::json& lo = byName["lo"];
  EXPECT_EQ(lo["type"], "Loopback");
  EXPECT_EQ(lo["flags"], nlohmann::json::array({"IsLoopBack"})) << "down in a new namespace";

  const nlohmann::json& veth0 = byName["veth0"];
  EXPECT_EQ(veth0["type"], "Ethernet");
  EXPECT_EQ(veth0["mtu"], 1400);
  EXPECT_EQ(veth0["hardwareAddress"], "02:00:00:00:77:01");
  // Up, but no carrier while its peer is down.
  EXPECT_EQ(veth0["flags"], nlohmann::json::array({"IsUp", "CanBroadcast", "CanMulticast"}));
  ASSERT_EQ(veth0["addresses"].size(), 1u) << veth0.dump();
  const nlohmann::json& entry = veth0["addresses"][0];
  EXPECT_EQ(entry["ip"], "10.77.1.1");
  EXPECT_EQ(entry["prefixLength"], 24);
  EXPECT_EQ(entry["netmask"], "255.255.255.0");
  EXPECT_EQ(entry["broadcast"], "10.77.1.255");
  EXPECT_EQ(byName["veth1"]["flags"], nlohmann::json::array({"CanBroadcast", "CanMulticast"}));

  const test::CommandResult plain = ns.exec({tetherBinary(), "interfaces"});
  ASSERT_TRUE(plain.ok()) << plain.output;
  EXPECT_NE(plain.output.find(": veth0 <IsUp,CanBroadcast,CanMulticast> Ethernet mtu 1400 hw 02:00:00:00:77:01\n"
                              "    inet 10.77.1.1/24 brd 10.77.1.255\n"),
            std::string::npos)
      << plain.output;
}

}  // namespace
