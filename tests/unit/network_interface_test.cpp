// NetworkInterface and NetworkAddressEntry against Qt's QNetworkInterface
// behaviour on Linux, checked on interfaces the test builds itself: veth pairs
// inside private network namespaces (tests/support/netns.h), with test-only
// addresses, enumerated from a thread that joined the namespace. Also checks
// the namespace harness itself.
#include "tether/network_interface.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/netns.h"
#include "support/test_support.h"

using namespace tether;
using test::Namespace;

namespace {

using Clock = NetworkAddressEntry::Clock;

constexpr NetworkInterface::InterfaceFlags kVethOperational =
    NetworkInterface::IsUp | NetworkInterface::IsRunning | NetworkInterface::CanBroadcast |
    NetworkInterface::CanMulticast;
constexpr NetworkInterface::InterfaceFlags kVethDown =
    NetworkInterface::CanBroadcast | NetworkInterface::CanMulticast;
constexpr NetworkInterface::InterfaceFlags kVethWithoutCarrier = kVethDown | NetworkInterface::IsUp;

// Runs f() on a thread inside `ns` and returns what it returned.
template <typename F>
auto within(const Namespace& ns, F&& f) {
  decltype(f()) result{};
  EXPECT_TRUE(ns.runIn([&] { result = f(); }));
  return result;
}

NetworkInterface interfaceIn(const Namespace& ns, const std::string& name) {
  return within(ns, [&] { return NetworkInterface::interfaceFromName(name); });
}

std::vector<std::string> namesOf(const std::vector<NetworkInterface>& interfaces) {
  std::vector<std::string> names;
  for (const NetworkInterface& i : interfaces) names.push_back(i.name());
  return names;
}

std::vector<std::string> textsOf(const std::vector<HostAddress>& addresses) {
  std::vector<std::string> texts;
  for (const HostAddress& a : addresses) texts.push_back(a.toString());
  return texts;
}

// The entry whose address is `ip`, or an empty one.
NetworkAddressEntry entryFor(const NetworkInterface& i, const HostAddress& ip) {
  for (const NetworkAddressEntry& e : i.addressEntries())
    if (e.ip() == ip) return e;
  ADD_FAILURE() << "no entry for " << ip << " in " << i;
  return NetworkAddressEntry();
}

// The interface's link-local IPv6 address once the kernel has generated it
// (after carrier comes up), or an empty entry after five seconds.
NetworkAddressEntry waitForLinkLocal(const Namespace& ns, const std::string& name) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  do {
    const NetworkInterface i = interfaceIn(ns, name);
    for (const NetworkAddressEntry& e : i.addressEntries())
      if (e.ip().protocol() == NetworkLayerProtocol::IPv6Protocol && e.ip().isLinkLocal()) return e;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (Clock::now() < deadline);
  return NetworkAddressEntry();
}

// Namespaces of this process that `ip netns list` still shows.
std::vector<std::string> namespacesOfThisProcess() {
  const std::string prefix = "tether-" + std::to_string(::getpid()) + "-";
  std::vector<std::string> ours;
  for (const std::string& name : test::listNamespaces())
    if (name.rfind(prefix, 0) == 0) ours.push_back(name);
  return ours;
}

// Tests that need network namespaces: skipped without root or iproute2, and
// checked at the end for descriptors left open and namespaces left behind.
class NetworkInterfaceTest : public testing::Test {
 protected:
  void SetUp() override {
    if (std::string why; !test::namespacesAvailable(&why)) {
      GTEST_SKIP() << why;
    }
  }
  void TearDown() override {
    if (!IsSkipped()) {
      EXPECT_EQ(namespacesOfThisProcess(), std::vector<std::string>()) << "namespaces left behind";
    }
  }

  // Namespace `a` with veth end tv0, its peer tv1 in namespace `b`; both
  // down, no addresses.
  struct VethPair {
    Namespace a{"a"};
    Namespace b{"b"};
  };
  static testing::AssertionResult create(const VethPair& pair) {
    if (!pair.a.isValid()) return pair.a.created();
    return test::addVeth(pair.a, "tv0", pair.b, "tv1");
  }
  // Both ends up and carrier on.
  static testing::AssertionResult bringUp(const VethPair& pair) {
    if (auto r = pair.a.up("tv0"); !r) return r;
    if (auto r = pair.b.up("tv1"); !r) return r;
    if (auto r = pair.a.waitUntilOperational("tv0"); !r) return r;
    return pair.b.waitUntilOperational("tv1");
  }

  test::DescriptorLeakCheck leaks_;
};

using NetnsHarnessTest = NetworkInterfaceTest;

}  // namespace

// ------------------------------------------------------------ loopback

TEST_F(NetworkInterfaceTest, FreshNamespaceListsOnlyItsLoopbackDownWithoutAddresses) {
  Namespace ns;
  ASSERT_TRUE(ns.created());
  const auto all = within(ns, [] { return NetworkInterface::allInterfaces(); });
  ASSERT_EQ(all.size(), 1u);
  const NetworkInterface& lo = all[0];
  EXPECT_TRUE(lo.isValid());
  EXPECT_EQ(lo.name(), "lo");
  EXPECT_EQ(lo.index(), 1);
  EXPECT_EQ(lo.type(), NetworkInterface::Loopback);
  EXPECT_EQ(lo.flags(), NetworkInterface::IsLoopBack) << lo;
  EXPECT_EQ(lo.maximumTransmissionUnit(), 65536);
  EXPECT_EQ(lo.hardwareAddress(), "00:00:00:00:00:00");
  EXPECT_TRUE(lo.addressEntries().empty());
  EXPECT_TRUE(within(ns, [] { return NetworkInterface::allAddresses(); }).empty());
  std::ostringstream text;
  text << lo;
  EXPECT_EQ(text.str(),
            "NetworkInterface(name = lo, index = 1, hardware address = 00:00:00:00:00:00, "
            "flags = IsLoopBack, type = Loopback, mtu = 65536, entries = [])");
}

TEST_F(NetworkInterfaceTest, LoopbackUpIsUpRunningWithLocalhostAddresses) {
  Namespace ns;
  ASSERT_TRUE(ns.up("lo"));
  const NetworkInterface lo = interfaceIn(ns, "lo");
  // The loopback has no IFF_BROADCAST or IFF_MULTICAST and an "unknown"
  // operational state, so IFF_UP stands.
  EXPECT_EQ(lo.flags(),
            NetworkInterface::IsUp | NetworkInterface::IsRunning | NetworkInterface::IsLoopBack);
  const std::vector<NetworkAddressEntry> entries = lo.addressEntries();
  ASSERT_EQ(entries.size(), 2u) << lo;

  const NetworkAddressEntry v4 = entryFor(lo, HostAddress(HostAddress::LocalHost));
  EXPECT_EQ(v4.prefixLength(), 8);
  EXPECT_EQ(v4.netmask(), HostAddress("255.0.0.0"));
  EXPECT_EQ(v4.broadcast(), HostAddress("127.255.255.255"));
  EXPECT_EQ(v4.dnsEligibility(), NetworkAddressEntry::DnsIneligible);

  const NetworkAddressEntry v6 = entryFor(lo, HostAddress(HostAddress::LocalHostIPv6));
  EXPECT_EQ(v6.prefixLength(), 128);
  EXPECT_EQ(v6.netmask(), HostAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_TRUE(v6.broadcast().isNull());
  EXPECT_EQ(v6.ip().scopeId(), "");
  EXPECT_EQ(v6.dnsEligibility(), NetworkAddressEntry::DnsIneligible);

  EXPECT_EQ(textsOf(within(ns, [] { return NetworkInterface::allAddresses(); })),
            (std::vector<std::string>{"127.0.0.1", "::1"}));
}

// ------------------------------------------------------------ identity, flags, type

TEST_F(NetworkInterfaceTest, VethHasTheKernelsNameIndexAndEthernetType) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  int kernelIndex = 0;
  NetworkInterface veth;
  ASSERT_TRUE(pair.a.runIn([&] {
    kernelIndex = static_cast<int>(::if_nametoindex("tv0"));
    veth = NetworkInterface::interfaceFromName("tv0");
  }));
  ASSERT_TRUE(veth.isValid());
  EXPECT_EQ(veth.name(), "tv0");
  EXPECT_EQ(veth.humanReadableName(), "tv0");
  EXPECT_GT(kernelIndex, 1);
  EXPECT_EQ(veth.index(), kernelIndex);
  // veth is ARPHRD_ETHER and not wireless; Qt reports Ethernet too.
  EXPECT_EQ(veth.type(), NetworkInterface::Ethernet);
  EXPECT_EQ(namesOf(within(pair.a, [] { return NetworkInterface::allInterfaces(); })),
            (std::vector<std::string>{"lo", "tv0"}));
}

TEST_F(NetworkInterfaceTest, VethThatIsDownCanBroadcastAndMulticastOnly) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  const NetworkInterface veth = interfaceIn(pair.a, "tv0");
  EXPECT_EQ(veth.flags(), kVethDown) << veth;
}

TEST_F(NetworkInterfaceTest, VethUpWhosePeerIsDownIsUpButNotRunning) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(pair.a.up("tv0"));
  // The kernel may take a moment to move a new link's state from UNKNOWN
  // (which it reports as running) to DOWN.
  ASSERT_TRUE(pair.a.waitForOperationalState("tv0", "DOWN"));
  const NetworkInterface veth = interfaceIn(pair.a, "tv0");
  // No carrier without the peer: operational state DOWN (Qt 5.15 would also
  // drop IsUp here; Qt 6 does not).
  EXPECT_EQ(veth.flags(), kVethWithoutCarrier) << veth;
}

TEST_F(NetworkInterfaceTest, VethUpWhosePeerIsUpIsUpAndRunning) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(bringUp(pair));
  EXPECT_EQ(interfaceIn(pair.a, "tv0").flags(), kVethOperational);
  EXPECT_EQ(interfaceIn(pair.b, "tv1").flags(), kVethOperational);
}

TEST_F(NetworkInterfaceTest, VethGoesBackDownWhenThePeerGoesDown) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(bringUp(pair));
  ASSERT_TRUE(pair.b.down("tv1"));
  ASSERT_TRUE(pair.a.waitForOperationalState("tv0", "DOWN"));
  EXPECT_EQ(interfaceIn(pair.a, "tv0").flags(), kVethWithoutCarrier);
  EXPECT_EQ(interfaceIn(pair.b, "tv1").flags(), kVethDown);
}

TEST_F(NetworkInterfaceTest, MaximumTransmissionUnitIsReadBack) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  EXPECT_EQ(interfaceIn(pair.a, "tv0").maximumTransmissionUnit(), 1500);
  ASSERT_TRUE(pair.a.setMtu("tv0", 1400));
  EXPECT_EQ(interfaceIn(pair.a, "tv0").maximumTransmissionUnit(), 1400);
}

TEST_F(NetworkInterfaceTest, HardwareAddressIsUpperCaseHexPairsJoinedByColons) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(pair.a.setHardwareAddress("tv0", "02:00:5e:a1:b2:0c"));
  EXPECT_EQ(interfaceIn(pair.a, "tv0").hardwareAddress(), "02:00:5E:A1:B2:0C");
}

TEST_F(NetworkInterfaceTest, SnapshotKeepsTheValuesItWasTakenWith) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  const NetworkInterface before = interfaceIn(pair.a, "tv0");
  const NetworkInterface copy = before;
  ASSERT_TRUE(pair.a.setMtu("tv0", 1280));
  ASSERT_TRUE(pair.a.addAddress("tv0", "10.231.0.1/24"));
  EXPECT_EQ(copy.maximumTransmissionUnit(), 1500);
  EXPECT_TRUE(copy.addressEntries().empty());
  EXPECT_EQ(interfaceIn(pair.a, "tv0").maximumTransmissionUnit(), 1280);
}

// ------------------------------------------------------------ address entries

TEST_F(NetworkInterfaceTest, IPv4EntryHasNetmaskPrefixLengthAndComputedBroadcast) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(pair.a.addAddress("tv0", "10.231.7.1/24"));  // no broadcast given to the kernel
  const NetworkInterface veth = interfaceIn(pair.a, "tv0");
  ASSERT_EQ(veth.addressEntries().size(), 1u) << veth;
  const NetworkAddressEntry e = veth.addressEntries()[0];
  EXPECT_EQ(e.ip(), HostAddress("10.231.7.1"));
  EXPECT_EQ(e.prefixLength(), 24);
  EXPECT_EQ(e.netmask(), HostAddress("255.255.255.0"));
  EXPECT_EQ(e.broadcast(), HostAddress("10.231.7.255"));
}

TEST_F(NetworkInterfaceTest, IPv4BroadcastKnownToTheKernelIsReportedAsIs) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(pair.a.addAddress("tv0", "10.232.0.1/16", {"broadcast", "10.232.0.77"}));
  ASSERT_TRUE(pair.a.addAddress("tv0", "10.233.1.1/20", {"broadcast", "+"}));
  const NetworkInterface veth = interfaceIn(pair.a, "tv0");
  EXPECT_EQ(entryFor(veth, HostAddress("10.232.0.1")).broadcast(), HostAddress("10.232.0.77"));
  const NetworkAddressEntry slash20 = entryFor(veth, HostAddress("10.233.1.1"));
  EXPECT_EQ(slash20.prefixLength(), 20);
  EXPECT_EQ(slash20.netmask(), HostAddress("255.255.240.0"));
  EXPECT_EQ(slash20.broadcast(), HostAddress("10.233.15.255"));
}

TEST_F(NetworkInterfaceTest, PointToPointAddressReportsTheLocalAddress) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(pair.a.addAddress("tv0", "10.234.0.1", {"peer", "10.234.0.2/32"}));
  const NetworkInterface veth = interfaceIn(pair.a, "tv0");
  ASSERT_EQ(veth.addressEntries().size(), 1u) << veth;
  const NetworkAddressEntry e = veth.addressEntries()[0];
  EXPECT_EQ(e.ip(), HostAddress("10.234.0.1"));
  EXPECT_EQ(e.prefixLength(), 32);
  // As in Qt: a /32 without a broadcast address gets ip | ~netmask, itself.
  EXPECT_EQ(e.broadcast(), HostAddress("10.234.0.1"));
}

TEST_F(NetworkInterfaceTest, IPv6EntryHasPrefixLengthNetmaskAndNoBroadcast) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(pair.a.addAddress("tv0", "fd00:7e7e:1::1/64"));
  ASSERT_TRUE(pair.a.addAddress("tv0", "fd00:7e7e:2::1/56"));
  const NetworkInterface veth = interfaceIn(pair.a, "tv0");
  const NetworkAddressEntry e64 = entryFor(veth, HostAddress("fd00:7e7e:1::1"));
  EXPECT_EQ(e64.prefixLength(), 64);
  EXPECT_EQ(e64.netmask(), HostAddress("ffff:ffff:ffff:ffff::"));
  EXPECT_TRUE(e64.broadcast().isNull());
  EXPECT_EQ(e64.ip().scopeId(), "") << "only link-local addresses get a scope id";
  const NetworkAddressEntry e56 = entryFor(veth, HostAddress("fd00:7e7e:2::1"));
  EXPECT_EQ(e56.prefixLength(), 56);
  EXPECT_EQ(e56.netmask(), HostAddress("ffff:ffff:ffff:ff00::"));
}

TEST_F(NetworkInterfaceTest, LinkLocalIPv6AddressHasTheInterfaceNameAsScopeId) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(pair.a.setHardwareAddress("tv0", "02:00:00:aa:bb:cc"));
  ASSERT_TRUE(pair.a.ip({"link", "set", "dev", "tv0", "addrgenmode", "eui64"}));
  ASSERT_TRUE(bringUp(pair));
  const NetworkAddressEntry e = waitForLinkLocal(pair.a, "tv0");
  // EUI-64 from the MAC address.
  EXPECT_EQ(e.ip(), HostAddress("fe80::ff:feaa:bbcc"));
  EXPECT_EQ(e.ip().scopeId(), "tv0");
  EXPECT_EQ(e.ip().toString(), "fe80::ff:feaa:bbcc%tv0");
  EXPECT_EQ(e.prefixLength(), 64);
  EXPECT_EQ(e.dnsEligibility(), NetworkAddressEntry::DnsIneligible);
}

TEST_F(NetworkInterfaceTest, AddressesOfTheSystemHaveKnownPermanentLifetimes) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(pair.a.addAddress("tv0", "10.235.0.1/24"));
  ASSERT_TRUE(pair.a.addAddress("tv0", "fd00:7e7e:3::1/64"));
  for (const NetworkAddressEntry& e : interfaceIn(pair.a, "tv0").addressEntries()) {
    EXPECT_TRUE(e.isLifetimeKnown()) << e;
    EXPECT_TRUE(e.isPermanent()) << e;
    EXPECT_FALSE(e.isTemporary()) << e;
    EXPECT_EQ(e.preferredLifetime(), NetworkAddressEntry::kForever) << e;
    EXPECT_EQ(e.validityLifetime(), NetworkAddressEntry::kForever) << e;
  }
}

TEST_F(NetworkInterfaceTest, AddressWithFiniteLifetimesIsTemporaryWithThoseDeadlines) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  const auto before = Clock::now();
  ASSERT_TRUE(
      pair.a.addAddress("tv0", "fd00:7e7e:4::1/64", {"valid_lft", "100", "preferred_lft", "50"}));
  const NetworkAddressEntry e = entryFor(interfaceIn(pair.a, "tv0"), HostAddress("fd00:7e7e:4::1"));
  const auto after = Clock::now();
  EXPECT_TRUE(e.isLifetimeKnown());
  EXPECT_TRUE(e.isTemporary());
  EXPECT_FALSE(e.isPermanent());
  // The kernel counts in whole seconds, rounding the time already spent down.
  EXPECT_GE(e.preferredLifetime(), before + std::chrono::seconds(49));
  EXPECT_LE(e.preferredLifetime(), after + std::chrono::seconds(50));
  EXPECT_GE(e.validityLifetime(), before + std::chrono::seconds(99));
  EXPECT_LE(e.validityLifetime(), after + std::chrono::seconds(100));
}

// ------------------------------------------------------------ DNS eligibility

TEST_F(NetworkInterfaceTest, AddressesOfAnOperationalInterfaceAreDnsEligible) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(pair.a.addAddress("tv0", "10.236.0.1/24"));
  ASSERT_TRUE(pair.a.addAddress("tv0", "10.236.0.2/24"));  // an IPv4 "secondary" address
  ASSERT_TRUE(pair.a.addAddress("tv0", "fd00:7e7e:5::1/64"));
  ASSERT_TRUE(bringUp(pair));
  const NetworkInterface veth = interfaceIn(pair.a, "tv0");
  EXPECT_EQ(entryFor(veth, HostAddress("10.236.0.1")).dnsEligibility(),
            NetworkAddressEntry::DnsEligible);
  // Qt 6 says DnsIneligible here (it reads IFA_F_SECONDARY as "temporary").
  EXPECT_EQ(entryFor(veth, HostAddress("10.236.0.2")).dnsEligibility(),
            NetworkAddressEntry::DnsEligible);
  EXPECT_EQ(entryFor(veth, HostAddress("fd00:7e7e:5::1")).dnsEligibility(),
            NetworkAddressEntry::DnsEligible);
}

TEST_F(NetworkInterfaceTest, DeprecatedAddressIsDnsIneligible) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(
      pair.a.addAddress("tv0", "fd00:7e7e:6::1/64", {"valid_lft", "100", "preferred_lft", "0"}));
  ASSERT_TRUE(bringUp(pair));
  const NetworkAddressEntry e = entryFor(interfaceIn(pair.a, "tv0"), HostAddress("fd00:7e7e:6::1"));
  EXPECT_EQ(e.dnsEligibility(), NetworkAddressEntry::DnsIneligible);
  EXPECT_LE(e.preferredLifetime(), Clock::now());
}

TEST_F(NetworkInterfaceTest, AddressesOfAnInterfaceThatIsNotUpAreDnsIneligible) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(pair.a.addAddress("tv0", "10.237.0.1/24"));
  ASSERT_TRUE(pair.a.addAddress("tv0", "fd00:7e7e:7::1/64"));
  for (const NetworkAddressEntry& e : interfaceIn(pair.a, "tv0").addressEntries())
    EXPECT_EQ(e.dnsEligibility(), NetworkAddressEntry::DnsIneligible) << e;
  // Up without carrier is enough, as IsUp is the administrative state.
  ASSERT_TRUE(pair.a.up("tv0"));
  for (const NetworkAddressEntry& e : interfaceIn(pair.a, "tv0").addressEntries())
    EXPECT_EQ(e.dnsEligibility(), NetworkAddressEntry::DnsEligible) << e;
}

// ------------------------------------------------------------ allAddresses

TEST_F(NetworkInterfaceTest, AllAddressesLeavesOutInterfacesThatAreNotUp) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(pair.a.up("lo"));
  ASSERT_TRUE(pair.a.addAddress("tv0", "10.238.0.1/24"));
  ASSERT_TRUE(pair.a.addAddress("tv0", "fd00:7e7e:8::1/64"));
  EXPECT_EQ(textsOf(within(pair.a, [] { return NetworkInterface::allAddresses(); })),
            (std::vector<std::string>{"127.0.0.1", "::1"}));

  ASSERT_TRUE(bringUp(pair));
  std::vector<std::string> all =
      textsOf(within(pair.a, [] { return NetworkInterface::allAddresses(); }));
  // The link-local address may or may not have been generated yet.
  std::erase_if(all, [](const std::string& text) { return text.rfind("fe80:", 0) == 0; });
  EXPECT_EQ(all, (std::vector<std::string>{"127.0.0.1", "::1", "10.238.0.1", "fd00:7e7e:8::1"}));
}

// ------------------------------------------------------------ look-ups by name and index

TEST_F(NetworkInterfaceTest, InterfaceFromNameAndFromIndexRoundTrip) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  ASSERT_TRUE(pair.a.runIn([] {
    const NetworkInterface byName = NetworkInterface::interfaceFromName("tv0");
    ASSERT_TRUE(byName.isValid());
    const int index = byName.index();
    EXPECT_EQ(NetworkInterface::interfaceFromIndex(index).name(), "tv0");
    EXPECT_EQ(NetworkInterface::interfaceFromName(std::to_string(index)).name(), "tv0");
    EXPECT_EQ(NetworkInterface::interfaceNameFromIndex(index), "tv0");
    EXPECT_EQ(NetworkInterface::interfaceIndexFromName("tv0"), index);
    EXPECT_EQ(NetworkInterface::interfaceIndexFromName("tv0"),
              static_cast<int>(::if_nametoindex("tv0")));
    EXPECT_EQ(NetworkInterface::interfaceNameFromIndex(1), "lo");
    EXPECT_EQ(NetworkInterface::interfaceFromIndex(1).name(), "lo");
  }));
}

TEST_F(NetworkInterfaceTest, NumericNamesAreTakenAsIndexes) {
  Namespace ns;
  ASSERT_TRUE(ns.runIn([] {
    // As in Qt, a number is returned without asking whether it exists.
    EXPECT_EQ(NetworkInterface::interfaceIndexFromName("7"), 7);
    EXPECT_EQ(NetworkInterface::interfaceIndexFromName("1"), 1);
    EXPECT_EQ(NetworkInterface::interfaceFromName("1").name(), "lo");
    EXPECT_FALSE(NetworkInterface::interfaceFromName("7").isValid());
  }));
}

TEST_F(NetworkInterfaceTest, UnknownNamesAndIndexesGiveInvalidResults) {
  Namespace ns;
  ASSERT_TRUE(ns.runIn([] {
    EXPECT_FALSE(NetworkInterface::interfaceFromName("tv-none").isValid());
    EXPECT_FALSE(NetworkInterface::interfaceFromName("").isValid());
    EXPECT_FALSE(NetworkInterface::interfaceFromIndex(0).isValid());
    EXPECT_FALSE(NetworkInterface::interfaceFromIndex(-1).isValid());
    EXPECT_FALSE(NetworkInterface::interfaceFromIndex(4242).isValid());
    EXPECT_EQ(NetworkInterface::interfaceIndexFromName("tv-none"), 0);
    EXPECT_EQ(NetworkInterface::interfaceIndexFromName(""), 0);
    EXPECT_EQ(NetworkInterface::interfaceIndexFromName("a-name-longer-than-ifnamsiz"), 0);
    EXPECT_EQ(NetworkInterface::interfaceIndexFromName(std::string("lo\0x", 4)), 0);
    EXPECT_EQ(NetworkInterface::interfaceNameFromIndex(0), "");
    EXPECT_EQ(NetworkInterface::interfaceNameFromIndex(-3), "");
    EXPECT_EQ(NetworkInterface::interfaceNameFromIndex(4242), "");
  }));
}

TEST(NetworkInterface, DefaultConstructedInterfaceIsInvalid) {
  const NetworkInterface none;
  EXPECT_FALSE(none.isValid());
  EXPECT_EQ(none.index(), 0);
  EXPECT_EQ(none.name(), "");
  EXPECT_EQ(none.humanReadableName(), "");
  EXPECT_EQ(none.flags(), 0u);
  EXPECT_EQ(none.type(), NetworkInterface::Unknown);
  EXPECT_EQ(none.maximumTransmissionUnit(), 0);
  EXPECT_EQ(none.hardwareAddress(), "");
  EXPECT_TRUE(none.addressEntries().empty());
  std::ostringstream text;
  text << none;
  EXPECT_EQ(text.str(), "NetworkInterface()");
}

TEST(NetworkInterface, EnumValuesAreQts) {
  EXPECT_EQ(NetworkInterface::IsUp, 0x1u);
  EXPECT_EQ(NetworkInterface::IsRunning, 0x2u);
  EXPECT_EQ(NetworkInterface::CanBroadcast, 0x4u);
  EXPECT_EQ(NetworkInterface::IsLoopBack, 0x8u);
  EXPECT_EQ(NetworkInterface::IsPointToPoint, 0x10u);
  EXPECT_EQ(NetworkInterface::CanMulticast, 0x20u);
  EXPECT_EQ(static_cast<int>(NetworkInterface::Unknown), 0);
  EXPECT_EQ(static_cast<int>(NetworkInterface::Loopback), 1);
  EXPECT_EQ(static_cast<int>(NetworkInterface::Virtual), 2);
  EXPECT_EQ(static_cast<int>(NetworkInterface::Ethernet), 3);
  EXPECT_EQ(static_cast<int>(NetworkInterface::Wifi), 8);
  EXPECT_EQ(NetworkInterface::Ieee80211, NetworkInterface::Wifi);
  EXPECT_EQ(static_cast<int>(NetworkInterface::Ieee1394), 13);
  EXPECT_EQ(static_cast<int>(NetworkAddressEntry::DnsEligibilityUnknown), -1);
  EXPECT_EQ(static_cast<int>(NetworkAddressEntry::DnsEligible), 1);
}

// ------------------------------------------------------------ namespaces and scale

TEST_F(NetworkInterfaceTest, EnumerationFollowsTheCallingThreadsNamespace) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  EXPECT_EQ(namesOf(within(pair.a, [] { return NetworkInterface::allInterfaces(); })),
            (std::vector<std::string>{"lo", "tv0"}));
  EXPECT_EQ(namesOf(within(pair.b, [] { return NetworkInterface::allInterfaces(); })),
            (std::vector<std::string>{"lo", "tv1"}));
  const std::vector<std::string> host = namesOf(NetworkInterface::allInterfaces());
  EXPECT_FALSE(host.empty());
  EXPECT_EQ(std::count(host.begin(), host.end(), "tv0"), 0);
  EXPECT_EQ(std::count(host.begin(), host.end(), "tv1"), 0);
}

TEST_F(NetworkInterfaceTest, ManyInterfacesAndAddressesAreAllListed) {
  // Enough links and addresses that each dump spans several datagrams.
  constexpr int kPairs = 40;
  constexpr int kAddressesPerInterface = 10;
  Namespace ns;
  std::vector<std::string> commands;
  for (int i = 0; i < kPairs; ++i)
    commands.push_back("link add x" + std::to_string(i) + " type veth peer name y" +
                       std::to_string(i));
  for (int j = 0; j < kAddressesPerInterface; ++j)
    commands.push_back("addr add 10.239.0." + std::to_string(j + 1) + "/24 dev x0");
  for (int j = 0; j < kAddressesPerInterface; ++j)
    commands.push_back("addr add fd00:7e7e:9::" + std::to_string(j + 1) + "/64 dev x0 nodad");
  ASSERT_TRUE(ns.ipBatch(commands));

  const auto all = within(ns, [] { return NetworkInterface::allInterfaces(); });
  EXPECT_EQ(all.size(), 1u + 2u * kPairs);
  int distinctIndexes = 0;
  for (const NetworkInterface& i : all) {
    EXPECT_TRUE(i.isValid());
    distinctIndexes += std::count_if(all.begin(), all.end(), [&](const NetworkInterface& j) {
                         return j.index() == i.index();
                       }) == 1;
  }
  EXPECT_EQ(distinctIndexes, static_cast<int>(all.size()));
  EXPECT_EQ(interfaceIn(ns, "x0").addressEntries().size(), 2u * kAddressesPerInterface);
  EXPECT_EQ(interfaceIn(ns, "y39").type(), NetworkInterface::Ethernet);
}

// ------------------------------------------------------------ NetworkAddressEntry values

TEST(NetworkAddressEntry, DefaultEntryIsEmpty) {
  const NetworkAddressEntry e;
  EXPECT_TRUE(e.ip().isNull());
  EXPECT_TRUE(e.netmask().isNull());
  EXPECT_TRUE(e.broadcast().isNull());
  EXPECT_EQ(e.prefixLength(), -1);
  EXPECT_EQ(e.dnsEligibility(), NetworkAddressEntry::DnsEligibilityUnknown);
  EXPECT_FALSE(e.isLifetimeKnown());
  EXPECT_TRUE(e.isPermanent());
  EXPECT_FALSE(e.isTemporary());
  EXPECT_EQ(e.preferredLifetime(), NetworkAddressEntry::kForever);
  EXPECT_EQ(e.validityLifetime(), NetworkAddressEntry::kForever);
}

TEST(NetworkAddressEntry, PrefixLengthIsCheckedAgainstTheCurrentAddress) {
  NetworkAddressEntry e;
  e.setPrefixLength(24);
  EXPECT_EQ(e.prefixLength(), -1) << "no address, no protocol to check against";
  e.setIp(HostAddress("10.1.2.3"));
  e.setPrefixLength(24);
  EXPECT_EQ(e.prefixLength(), 24);
  EXPECT_EQ(e.netmask(), HostAddress("255.255.255.0"));
  e.setPrefixLength(33);
  EXPECT_EQ(e.prefixLength(), -1);
  e.setPrefixLength(0);
  EXPECT_EQ(e.netmask(), HostAddress("0.0.0.0"));
  e.setPrefixLength(32);
  EXPECT_EQ(e.netmask(), HostAddress("255.255.255.255"));
  e.setPrefixLength(-5);
  EXPECT_EQ(e.prefixLength(), -1);
  EXPECT_TRUE(e.netmask().isNull());

  e.setIp(HostAddress("fd00::1"));
  e.setPrefixLength(128);
  EXPECT_EQ(e.netmask(), HostAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  e.setPrefixLength(129);
  EXPECT_EQ(e.prefixLength(), -1);
  e.setPrefixLength(0);
  EXPECT_EQ(e.netmask(), HostAddress("::"));
}

TEST(NetworkAddressEntry, NetmaskFollowsTheProtocolOfTheAddress) {
  NetworkAddressEntry e;
  e.setIp(HostAddress("10.1.2.3"));
  e.setPrefixLength(24);
  e.setIp(HostAddress("fe80::1"));
  EXPECT_EQ(e.prefixLength(), 24);
  EXPECT_EQ(e.netmask(), HostAddress("ffff:ff00::"));  // as in Qt
  e.setPrefixLength(64);
  e.setIp(HostAddress("10.1.2.3"));
  EXPECT_EQ(e.prefixLength(), 64);
  EXPECT_TRUE(e.netmask().isNull()) << "64 bits do not fit IPv4";
}

TEST(NetworkAddressEntry, SetNetmaskComputesThePrefixLength) {
  NetworkAddressEntry e;
  e.setIp(HostAddress("10.1.2.3"));
  e.setNetmask(HostAddress("255.255.240.0"));
  EXPECT_EQ(e.prefixLength(), 20);
  e.setNetmask(HostAddress("255.255.255.255"));
  EXPECT_EQ(e.prefixLength(), 32);
  e.setNetmask(HostAddress("0.0.0.0"));
  EXPECT_EQ(e.prefixLength(), 0);
  e.setNetmask(HostAddress("255.0.255.0"));
  EXPECT_EQ(e.prefixLength(), -1) << "not contiguous";
  e.setNetmask(HostAddress("255.255.254.1"));
  EXPECT_EQ(e.prefixLength(), -1) << "not contiguous";
  e.setNetmask(HostAddress("ffff:ffff::"));
  EXPECT_EQ(e.prefixLength(), -1) << "the other protocol";
  EXPECT_TRUE(e.netmask().isNull());

  e.setIp(HostAddress("fd00::1"));
  e.setNetmask(HostAddress("ffff:ffff:ffff:fff8::"));
  EXPECT_EQ(e.prefixLength(), 61);
  e.setNetmask(HostAddress("ffff:ff0f::"));
  EXPECT_EQ(e.prefixLength(), -1);
  e.setNetmask(HostAddress());
  EXPECT_EQ(e.prefixLength(), -1);
}

TEST(NetworkAddressEntry, EqualityComparesAddressPrefixAndBroadcastOnly) {
  NetworkAddressEntry a;
  a.setIp(HostAddress("10.1.2.3"));
  a.setPrefixLength(24);
  a.setBroadcast(HostAddress("10.1.2.255"));
  NetworkAddressEntry b = a;
  EXPECT_EQ(a, b);
  b.setDnsEligibility(NetworkAddressEntry::DnsEligible);
  b.setAddressLifetime(Clock::now(), Clock::now() + std::chrono::seconds(5));
  EXPECT_EQ(a, b) << "eligibility and lifetimes are not compared";
  b.setPrefixLength(25);
  EXPECT_NE(a, b);
  b = a;
  b.setBroadcast(HostAddress());
  EXPECT_NE(a, b);
  b = a;
  b.setIp(HostAddress("10.1.2.4"));
  EXPECT_NE(a, b);

  NetworkAddressEntry s1;
  NetworkAddressEntry s2;
  s1.setIp(HostAddress("fe80::1%tv0"));
  s2.setIp(HostAddress("fe80::1%tv1"));
  EXPECT_EQ(s1, s2) << "scope ids are not compared, as in Qt";
}

TEST(NetworkAddressEntry, LifetimesCanBeSetAndCleared) {
  NetworkAddressEntry e;
  const auto preferred = Clock::now() + std::chrono::seconds(10);
  const auto validity = Clock::now() + std::chrono::seconds(20);
  e.setAddressLifetime(preferred, validity);
  EXPECT_TRUE(e.isLifetimeKnown());
  EXPECT_TRUE(e.isTemporary());
  EXPECT_EQ(e.preferredLifetime(), preferred);
  EXPECT_EQ(e.validityLifetime(), validity);
  e.setAddressLifetime(NetworkAddressEntry::kForever, NetworkAddressEntry::kForever);
  EXPECT_TRUE(e.isLifetimeKnown());
  EXPECT_TRUE(e.isPermanent());
  e.setAddressLifetime(preferred, validity);
  e.clearAddressLifetime();
  EXPECT_FALSE(e.isLifetimeKnown());
  EXPECT_TRUE(e.isPermanent());
  EXPECT_EQ(e.preferredLifetime(), NetworkAddressEntry::kForever);
}

TEST(NetworkAddressEntry, SwapExchangesEverything) {
  NetworkAddressEntry a;
  a.setIp(HostAddress("10.1.2.3"));
  a.setPrefixLength(8);
  a.setDnsEligibility(NetworkAddressEntry::DnsEligible);
  NetworkAddressEntry b;
  swap(a, b);
  EXPECT_TRUE(a.ip().isNull());
  EXPECT_EQ(a.prefixLength(), -1);
  EXPECT_EQ(b.ip(), HostAddress("10.1.2.3"));
  EXPECT_EQ(b.prefixLength(), 8);
  EXPECT_EQ(b.dnsEligibility(), NetworkAddressEntry::DnsEligible);
}

TEST(NetworkAddressEntry, PrintsWhatIsSet) {
  NetworkAddressEntry e;
  e.setIp(HostAddress("10.1.2.3"));
  std::ostringstream bare;
  bare << e;
  EXPECT_EQ(bare.str(), "(address = 10.1.2.3)");
  e.setPrefixLength(24);
  e.setBroadcast(HostAddress("10.1.2.255"));
  std::ostringstream full;
  full << e;
  EXPECT_EQ(full.str(), "(address = 10.1.2.3, netmask = 255.255.255.0, broadcast = 10.1.2.255)");
}

// ------------------------------------------------------------ the namespace harness

TEST_F(NetnsHarnessTest, NamespaceIsListedWhileAliveAndRemovedWithItsInterfaces) {
  std::string name;
  {
    VethPair pair;
    ASSERT_TRUE(create(pair));
    name = pair.a.name();
    EXPECT_EQ(name.rfind("tether-" + std::to_string(::getpid()) + "-", 0), 0u) << name;
    const std::vector<std::string> listed = test::listNamespaces();
    EXPECT_EQ(std::count(listed.begin(), listed.end(), pair.a.name()), 1);
    EXPECT_EQ(std::count(listed.begin(), listed.end(), pair.b.name()), 1);
  }
  const std::vector<std::string> listed = test::listNamespaces();
  EXPECT_EQ(std::count(listed.begin(), listed.end(), name), 0);
  struct stat st {};
  EXPECT_NE(::stat(("/run/netns/" + name).c_str(), &st), 0);
}

TEST_F(NetnsHarnessTest, VethPeerDisappearsWithTheOtherNamespace) {
  Namespace b("b");
  {
    Namespace a("a");
    ASSERT_TRUE(test::addVeth(a, "tv0", b, "tv1"));
    ASSERT_TRUE(interfaceIn(b, "tv1").isValid());
  }
  // The kernel dismantles a namespace asynchronously.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (interfaceIn(b, "tv1").isValid() && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(interfaceIn(b, "tv1").isValid());
}

TEST_F(NetnsHarnessTest, HostInterfacesAreLeftAlone) {
  const std::vector<std::string> before = namesOf(NetworkInterface::allInterfaces());
  {
    VethPair pair;
    ASSERT_TRUE(create(pair));
    ASSERT_TRUE(bringUp(pair));
    EXPECT_EQ(namesOf(NetworkInterface::allInterfaces()), before);
  }
  EXPECT_EQ(namesOf(NetworkInterface::allInterfaces()), before);
}

TEST_F(NetnsHarnessTest, EnterMovesTheCallingThreadAndTheGuardMovesItBack) {
  Namespace ns;
  auto inode = [] {
    struct stat st {};
    return ::stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : 0;
  };
  const auto outside = inode();
  {
    const Namespace::Guard guard = ns.enter();
    ASSERT_TRUE(guard.entered());
    EXPECT_NE(inode(), outside);
    EXPECT_EQ(namesOf(NetworkInterface::allInterfaces()), (std::vector<std::string>{"lo"}));
  }
  EXPECT_EQ(inode(), outside);
}

TEST_F(NetnsHarnessTest, RunInRethrowsAndReportsFailures) {
  Namespace ns;
  EXPECT_THROW(static_cast<void>(ns.runIn([] { throw std::runtime_error("inside"); })),
               std::runtime_error);
  Namespace moved(std::move(ns));
  EXPECT_FALSE(
      ns.runIn([] { ADD_FAILURE() << "must not run"; }));  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(moved.runIn([] {}));
}

TEST_F(NetnsHarnessTest, FailingCommandsExplainThemselves) {
  Namespace ns;
  const testing::AssertionResult result = ns.addAddress("tv-none", "10.240.0.1/24");
  EXPECT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("tv-none"), std::string::npos) << result.message();
}

TEST_F(NetnsHarnessTest, ExecAndSpawnRunProgramsInsideTheNamespace) {
  VethPair pair;
  ASSERT_TRUE(create(pair));
  const test::CommandResult links = pair.a.exec({"ip", "-o", "link", "show"});
  ASSERT_TRUE(links.ok()) << links.output;
  EXPECT_NE(links.output.find("tv0"), std::string::npos) << links.output;
  EXPECT_EQ(links.output.find("tv1"), std::string::npos) << links.output;

  const auto started = Clock::now();
  test::ChildProcess sleeper = pair.b.spawn({"sleep", "30"});
  ASSERT_TRUE(sleeper.isRunning());
  EXPECT_FALSE(sleeper.wait(20).has_value());
  sleeper.stop();
  EXPECT_FALSE(sleeper.isRunning());
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(5));
}
