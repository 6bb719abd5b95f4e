#include "tether/dns_lookup.h"

#include <ares.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "addressing/dns_lookup_reply.h"
#include "addressing/resolver.h"
#include "support/dns_server.h"
#include "support/test_support.h"
#include "tether/event_loop.h"
#include "tether/host_info.h"
#include "tether/timer.h"

using namespace tether;
using Clock = std::chrono::steady_clock;

namespace {

// A domain name in DNS wire form, as hex for dnsmasq's --dns-rr.
std::string wireHex(std::string_view name) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  auto put = [&hex](unsigned byte) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xf];
  };
  std::size_t start = 0;
  while (start < name.size()) {
    const std::size_t dot = std::min(name.find('.', start), name.size());
    put(static_cast<unsigned>(dot - start));
    for (std::size_t i = start; i < dot; ++i) put(static_cast<unsigned char>(name[i]));
    start = dot + 1;
  }
  put(0);
  return hex;
}

std::vector<std::string> addressTexts(const DnsLookup& lookup) {
  std::vector<std::string> texts;
  for (const DnsHostAddressRecord& r : lookup.hostAddressRecords()) texts.push_back(r.value().toString());
  std::sort(texts.begin(), texts.end());
  return texts;
}

std::vector<std::string> domainValues(const std::vector<DnsDomainNameRecord>& records) {
  std::vector<std::string> values;
  for (const DnsDomainNameRecord& r : records) values.push_back(r.value());
  std::sort(values.begin(), values.end());
  return values;
}

bool hasNoRecords(const DnsLookup& lookup) {
  return lookup.canonicalNameRecords().empty() && lookup.hostAddressRecords().empty() &&
         lookup.mailExchangeRecords().empty() && lookup.nameServerRecords().empty() &&
         lookup.pointerRecords().empty() && lookup.serviceRecords().empty() &&
         lookup.textRecords().empty();
}

// Counts finished() for as long as it exists.
struct FinishedCounter {
  int count = 0;
  ScopedConnection connection;
  explicit FinishedCounter(DnsLookup& lookup)
      : connection(lookup.finished.connect([this] { ++count; })) {}
};

const std::string kLongText(200, 'x');

class DnsLookupTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<std::string> arguments = {
        "--host-record=a.tether.test,192.0.2.1,2001:db8::1,300",
        "--txt-record=a.tether.test,alsotext",
        "--host-record=multi.tether.test,192.0.2.1",
        "--host-record=multi.tether.test,192.0.2.2",
        "--host-record=multi.tether.test,192.0.2.3",
        "--host-record=v6.tether.test,2001:db8::6",
        "--host-record=xn--alqualond-34a.tether.test,192.0.2.8",
        "--cname=alias.tether.test,a.tether.test,60",
        "--mx-host=mx.tether.test,a.tether.test,10",
        "--mx-host=mx.tether.test,b.tether.test,20",
        "--mx-host=mx.tether.test,c.tether.test,20",
        "--srv-host=_echo._tcp.tether.test,one.tether.test,7,1,0",
        "--srv-host=_echo._tcp.tether.test,two.tether.test,7,2,75",
        "--srv-host=_echo._tcp.tether.test,three.tether.test,7,2,25",
        "--srv-host=_echo._tcp.tether.test,four.tether.test,8,3,0",
        "--txt-record=txt.tether.test,Hello,World",
        "--txt-record=txt2.tether.test,Hello",
        "--txt-record=txt2.tether.test,World",
        // "Hello", "", and the bytes 0 1 2.
        "--dns-rr=bytes.tether.test,16,0548656c6c6f0003000102",
        "--txt-record=big.tether.test," + kLongText + ',' + kLongText + ',' + kLongText + ',' +
            kLongText + ',' + kLongText + ',' + kLongText,
        "--ptr-record=99.2.0.192.in-addr.arpa,host99.tether.test",
        "--dns-rr=zone.tether.test,2," + wireHex("ns1.tether.test"),
        "--dns-rr=zone.tether.test,2," + wireHex("ns2.tether.test"),
        "--dns-rr=bad.tether.test,1,0102",          // an A record of two bytes
        "--dns-rr=hinfo.tether.test,13,0161016200",  // HINFO "a" "b"
    };
    dns_ = new test::DnsServer({.arguments = std::move(arguments),
                                .silentDomains = {"slow.tether.test"}});
  }
  static void TearDownTestSuite() {
    delete dns_;
    dns_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(dns_->isRunning()) << dns_->errorString();
    // Bounded whatever happens: a lost answer is retried after 500 ms, and
    // a query gives up after 1.5 s.
    HostInfo::setResolverTimeout(500, 2);
  }
  void TearDown() override {
    HostInfo::setResolverTimeout(0, 0);
    HostInfo::setNameServers({});
  }

  static HostAddress server() { return HostAddress(test::DnsServer::kAddress); }
  static std::uint16_t port() { return dns_->port(); }

  // Runs `lookup` against the test server and waits (bounded) for its one
  // finished().
  static void run(DnsLookup& lookup) {
    FinishedCounter counter(lookup);
    lookup.lookup();
    EXPECT_EQ(counter.count, 0) << "finished() inside lookup()";
    EXPECT_FALSE(lookup.isFinished());
    ASSERT_TRUE(test::runUntil([&] { return counter.count > 0; }, 5000)) << lookup.name();
    EXPECT_EQ(counter.count, 1);
    EXPECT_TRUE(lookup.isFinished());
  }

  static std::unique_ptr<DnsLookup> lookup(DnsLookup::Type type, std::string_view name) {
    auto l = std::make_unique<DnsLookup>(type, name, server(), port());
    run(*l);
    return l;
  }

  static inline test::DnsServer* dns_ = nullptr;
  test::DescriptorLeakCheck leakCheck_;
};

}  // namespace

// ---------------------------------------------------------------- values

TEST(DnsRecordValue, ConstructorsAccessorsEqualityAndSwap) {
  DnsDomainNameRecord domain("alias.example", 60, "target.example");
  EXPECT_EQ(domain.name(), "alias.example");
  EXPECT_EQ(domain.timeToLive(), 60u);
  EXPECT_EQ(domain.value(), "target.example");
  DnsDomainNameRecord empty;
  EXPECT_TRUE(empty.name().empty());
  EXPECT_EQ(empty.timeToLive(), 0u);
  swap(domain, empty);
  EXPECT_EQ(empty.value(), "target.example");
  EXPECT_EQ(domain, DnsDomainNameRecord());

  const DnsHostAddressRecord host("h.example", 5, HostAddress("192.0.2.1"));
  EXPECT_EQ(host.value(), HostAddress("192.0.2.1"));
  EXPECT_EQ(host, DnsHostAddressRecord("h.example", 5, HostAddress("192.0.2.1")));
  EXPECT_NE(host, DnsHostAddressRecord("h.example", 6, HostAddress("192.0.2.1")));

  const DnsMailExchangeRecord mx("example", 1, 10, "mail.example");
  EXPECT_EQ(mx.preference(), 10);
  EXPECT_EQ(mx.exchange(), "mail.example");

  const DnsServiceRecord srv("_x._tcp.example", 2, 1, 50, 443, "s.example");
  EXPECT_EQ(srv.priority(), 1);
  EXPECT_EQ(srv.weight(), 50);
  EXPECT_EQ(srv.port(), 443);
  EXPECT_EQ(srv.target(), "s.example");
  EXPECT_EQ(srv.timeToLive(), 2u);

  const DnsTextRecord txt("t.example", 3, {"a", std::string("\0b", 2)});
  EXPECT_EQ(txt.values(), (std::vector<std::string>{"a", std::string("\0b", 2)}));
  EXPECT_EQ(DnsTextRecord().values().size(), 0u);
}

TEST(DnsLookupObject, DefaultsAreQts) {
  DnsLookup lookup;
  EXPECT_EQ(lookup.type(), DnsLookup::A);
  EXPECT_EQ(lookup.name(), "");
  EXPECT_TRUE(lookup.nameserver().isNull());
  EXPECT_EQ(lookup.nameserverPort(), 0);
  EXPECT_EQ(lookup.lookupTimeout(), 0);
  EXPECT_FALSE(lookup.isFinished());
  EXPECT_EQ(lookup.error(), DnsLookup::NoError);
  EXPECT_EQ(lookup.errorString(), "");
  EXPECT_TRUE(hasNoRecords(lookup));
  // Qt's values.
  EXPECT_EQ(DnsLookup::A, 1);
  EXPECT_EQ(DnsLookup::AAAA, 28);
  EXPECT_EQ(DnsLookup::ANY, 255);
  EXPECT_EQ(DnsLookup::CNAME, 5);
  EXPECT_EQ(DnsLookup::MX, 15);
  EXPECT_EQ(DnsLookup::NS, 2);
  EXPECT_EQ(DnsLookup::PTR, 12);
  EXPECT_EQ(DnsLookup::SRV, 33);
  EXPECT_EQ(DnsLookup::TXT, 16);
  EXPECT_EQ(DnsLookup::NotFoundError, 7);
  EXPECT_EQ(DnsLookup::TimeoutError, 8);
}

TEST(DnsLookupObject, ConstructorsSetTypeNameNameserverAndPort) {
  Object parent;
  auto* withParent = new DnsLookup(DnsLookup::MX, "example.org", &parent);
  EXPECT_EQ(withParent->parent(), &parent);
  EXPECT_EQ(withParent->type(), DnsLookup::MX);
  EXPECT_EQ(withParent->name(), "example.org");
  EXPECT_TRUE(withParent->nameserver().isNull());

  const DnsLookup withServer(DnsLookup::SRV, "_x._tcp.example.org", HostAddress("192.0.2.53"));
  EXPECT_EQ(withServer.nameserver(), HostAddress("192.0.2.53"));
  EXPECT_EQ(withServer.nameserverPort(), 0);

  const DnsLookup withPort(DnsLookup::TXT, "example.org", HostAddress("::1"), 5353);
  EXPECT_EQ(withPort.type(), DnsLookup::TXT);
  EXPECT_EQ(withPort.nameserver(), HostAddress("::1"));
  EXPECT_EQ(withPort.nameserverPort(), 5353);
}

TEST(DnsLookupObject, SettersEmitTheirSignalOnlyWhenTheValueChanges) {
  DnsLookup lookup;
  std::vector<std::string> names;
  std::vector<DnsLookup::Type> types;
  std::vector<HostAddress> servers;
  std::vector<std::uint16_t> ports;
  lookup.nameChanged.connect([&](const std::string& n) { names.push_back(n); });
  lookup.typeChanged.connect([&](DnsLookup::Type t) { types.push_back(t); });
  lookup.nameserverChanged.connect([&](const HostAddress& a) { servers.push_back(a); });
  lookup.nameserverPortChanged.connect([&](std::uint16_t p) { ports.push_back(p); });

  lookup.setName("a.example");
  lookup.setName("a.example");
  lookup.setType(DnsLookup::AAAA);
  lookup.setType(DnsLookup::AAAA);
  lookup.setNameserver(HostAddress(HostAddress::LocalHost));
  lookup.setNameserver(HostAddress(HostAddress::LocalHost));
  lookup.setNameserverPort(5353);
  lookup.setNameserverPort(5353);
  lookup.setNameserver(HostAddress(HostAddress::LocalHost), 53);  // only the port changes
  lookup.setNameserver(HostAddress(HostAddress::Any), 53);        // only the address

  EXPECT_EQ(names, (std::vector<std::string>{"a.example"}));
  EXPECT_EQ(types, (std::vector<DnsLookup::Type>{DnsLookup::AAAA}));
  EXPECT_EQ(servers, (std::vector<HostAddress>{HostAddress(HostAddress::LocalHost),
                                               HostAddress(HostAddress::Any)}));
  EXPECT_EQ(ports, (std::vector<std::uint16_t>{5353, 53}));
  EXPECT_EQ(lookup.name(), "a.example");
  EXPECT_EQ(lookup.type(), DnsLookup::AAAA);
  EXPECT_EQ(lookup.nameserverPort(), 53);

  lookup.setLookupTimeout(250);
  EXPECT_EQ(lookup.lookupTimeout(), 250);
  lookup.setLookupTimeout(-5);
  EXPECT_EQ(lookup.lookupTimeout(), 0);
}

TEST(DnsLookupObject, AbortWithoutALookupDoesNothing) {
  DnsLookup lookup(DnsLookup::A, "a.example");
  FinishedCounter counter(lookup);
  lookup.abort();
  test::runFor(20);
  EXPECT_EQ(counter.count, 0);
  EXPECT_FALSE(lookup.isFinished());
  EXPECT_EQ(lookup.error(), DnsLookup::NoError);
}

// ---------------------------------------------------------------- record types

TEST_F(DnsLookupTest, AGivesTheIPv4AddressesWithNameAndTimeToLive) {
  auto l = lookup(DnsLookup::A, "a.tether.test");
  EXPECT_EQ(l->error(), DnsLookup::NoError);
  EXPECT_EQ(l->errorString(), "");
  ASSERT_EQ(l->hostAddressRecords().size(), 1u);
  EXPECT_EQ(l->hostAddressRecords()[0],
            DnsHostAddressRecord("a.tether.test", 300, HostAddress("192.0.2.1")));
  EXPECT_TRUE(l->textRecords().empty());

  auto multi = lookup(DnsLookup::A, "multi.tether.test");
  EXPECT_EQ(addressTexts(*multi), (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "192.0.2.3"}));
}

TEST_F(DnsLookupTest, AAAAGivesTheIPv6Addresses) {
  auto l = lookup(DnsLookup::AAAA, "a.tether.test");
  EXPECT_EQ(l->error(), DnsLookup::NoError);
  ASSERT_EQ(l->hostAddressRecords().size(), 1u);
  EXPECT_EQ(l->hostAddressRecords()[0].value(), HostAddress("2001:db8::1"));
  EXPECT_EQ(l->hostAddressRecords()[0].value().protocol(), NetworkLayerProtocol::IPv6Protocol);
  EXPECT_EQ(l->hostAddressRecords()[0].name(), "a.tether.test");
}

TEST_F(DnsLookupTest, AddressLookupOfAnAliasGivesTheCanonicalNameAndTheTargetsAddresses) {
  auto l = lookup(DnsLookup::A, "alias.tether.test");
  EXPECT_EQ(l->error(), DnsLookup::NoError);
  EXPECT_EQ(l->canonicalNameRecords(),
            (std::vector<DnsDomainNameRecord>{{"alias.tether.test", 60, "a.tether.test"}}));
  ASSERT_EQ(l->hostAddressRecords().size(), 1u);
  EXPECT_EQ(l->hostAddressRecords()[0].name(), "a.tether.test");
  EXPECT_EQ(l->hostAddressRecords()[0].value(), HostAddress("192.0.2.1"));
}

TEST_F(DnsLookupTest, CnameGivesOnlyTheCanonicalName) {
  auto l = lookup(DnsLookup::CNAME, "alias.tether.test");
  EXPECT_EQ(l->error(), DnsLookup::NoError);
  EXPECT_EQ(domainValues(l->canonicalNameRecords()), (std::vector<std::string>{"a.tether.test"}));
  EXPECT_TRUE(l->hostAddressRecords().empty());
}

TEST_F(DnsLookupTest, AnyGivesEveryRecordTheServerSends) {
  auto l = lookup(DnsLookup::ANY, "a.tether.test");
  EXPECT_EQ(l->error(), DnsLookup::NoError);
  EXPECT_EQ(addressTexts(*l), (std::vector<std::string>{"192.0.2.1", "2001:db8::1"}));
  ASSERT_EQ(l->textRecords().size(), 1u);
  EXPECT_EQ(l->textRecords()[0].values(), (std::vector<std::string>{"alsotext"}));
}

TEST_F(DnsLookupTest, MxIsSortedByPreferenceWithTiesInRandomOrder) {
  std::set<std::vector<std::string>> orders;
  for (int i = 0; i < 40 && orders.size() < 2; ++i) {
    auto l = lookup(DnsLookup::MX, "mx.tether.test");
    ASSERT_EQ(l->error(), DnsLookup::NoError);
    const auto& records = l->mailExchangeRecords();
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0], DnsMailExchangeRecord("mx.tether.test", 0, 10, "a.tether.test"));
    EXPECT_EQ(records[1].preference(), 20);
    EXPECT_EQ(records[2].preference(), 20);
    orders.insert({records[1].exchange(), records[2].exchange()});
  }
  // Both orders of the two preference-20 servers turn up.
  EXPECT_EQ(orders, (std::set<std::vector<std::string>>{{"b.tether.test", "c.tether.test"},
                                                         {"c.tether.test", "b.tether.test"}}));
}

TEST_F(DnsLookupTest, SrvIsSortedByPriority) {
  auto l = lookup(DnsLookup::SRV, "_echo._tcp.tether.test");
  EXPECT_EQ(l->error(), DnsLookup::NoError);
  const auto& records = l->serviceRecords();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0], DnsServiceRecord("_echo._tcp.tether.test", 0, 1, 0, 7, "one.tether.test"));
  EXPECT_EQ(records[1].priority(), 2);
  EXPECT_EQ(records[2].priority(), 2);
  EXPECT_EQ((std::set<std::string>{records[1].target(), records[2].target()}),
            (std::set<std::string>{"two.tether.test", "three.tether.test"}));
  EXPECT_EQ(records[3], DnsServiceRecord("_echo._tcp.tether.test", 0, 3, 0, 8, "four.tether.test"));
}

TEST_F(DnsLookupTest, TxtKeepsEveryStringOfEveryRecord) {
  auto one = lookup(DnsLookup::TXT, "txt.tether.test");
  EXPECT_EQ(one->error(), DnsLookup::NoError);
  EXPECT_EQ(one->textRecords(),
            (std::vector<DnsTextRecord>{{"txt.tether.test", 0, {"Hello", "World"}}}));

  auto two = lookup(DnsLookup::TXT, "txt2.tether.test");
  std::vector<std::string> texts;
  for (const DnsTextRecord& r : two->textRecords()) {
    ASSERT_EQ(r.values().size(), 1u);
    texts.push_back(r.values()[0]);
  }
  std::sort(texts.begin(), texts.end());
  EXPECT_EQ(texts, (std::vector<std::string>{"Hello", "World"}));

  auto bytes = lookup(DnsLookup::TXT, "bytes.tether.test");
  ASSERT_EQ(bytes->textRecords().size(), 1u);
  EXPECT_EQ(bytes->textRecords()[0].values(),
            (std::vector<std::string>{"Hello", "", std::string("\0\1\2", 3)}));
}

TEST_F(DnsLookupTest, ReplyTooLargeForUdpIsFetchedOverTcp) {
  auto l = lookup(DnsLookup::TXT, "big.tether.test");
  EXPECT_EQ(l->error(), DnsLookup::NoError) << l->errorString();
  ASSERT_EQ(l->textRecords().size(), 1u);
  EXPECT_EQ(l->textRecords()[0].values(), std::vector<std::string>(6, kLongText));
}

TEST_F(DnsLookupTest, PtrGivesTheNameForAReverseName) {
  auto l = lookup(DnsLookup::PTR, "99.2.0.192.in-addr.arpa");
  EXPECT_EQ(l->error(), DnsLookup::NoError);
  EXPECT_EQ(l->pointerRecords(),
            (std::vector<DnsDomainNameRecord>{{"99.2.0.192.in-addr.arpa", 0, "host99.tether.test"}}));
}

TEST_F(DnsLookupTest, NsGivesTheNameServers) {
  auto l = lookup(DnsLookup::NS, "zone.tether.test");
  EXPECT_EQ(l->error(), DnsLookup::NoError);
  EXPECT_EQ(domainValues(l->nameServerRecords()),
            (std::vector<std::string>{"ns1.tether.test", "ns2.tether.test"}));
  for (const DnsDomainNameRecord& r : l->nameServerRecords()) EXPECT_EQ(r.name(), "zone.tether.test");
}

TEST_F(DnsLookupTest, NameWithoutRecordsOfTheTypeIsNoErrorWithNoRecords) {
  auto l = lookup(DnsLookup::MX, "a.tether.test");
  EXPECT_EQ(l->error(), DnsLookup::NoError);
  EXPECT_EQ(l->errorString(), "");
  EXPECT_TRUE(hasNoRecords(*l));
}

TEST_F(DnsLookupTest, OtherTypeNumbersAreAskedForAndGiveNoRecords) {
  auto l = lookup(static_cast<DnsLookup::Type>(13), "hinfo.tether.test");  // HINFO
  EXPECT_EQ(l->error(), DnsLookup::NoError);
  EXPECT_TRUE(hasNoRecords(*l));
}

TEST_F(DnsLookupTest, IdnNameIsSentInAsciiFormAndRecordsKeepIt) {
  auto l = lookup(DnsLookup::A, "Alqualond\xc3\xab.tether.test");
  EXPECT_EQ(l->error(), DnsLookup::NoError);
  EXPECT_EQ(l->name(), "Alqualond\xc3\xab.tether.test");
  ASSERT_EQ(l->hostAddressRecords().size(), 1u);
  EXPECT_EQ(l->hostAddressRecords()[0].name(), "xn--alqualond-34a.tether.test");
  EXPECT_EQ(l->hostAddressRecords()[0].value(), HostAddress("192.0.2.8"));
}

// ---------------------------------------------------------------- errors

TEST_F(DnsLookupTest, UnknownNameGivesNotFoundError) {
  for (DnsLookup::Type type : {DnsLookup::A, DnsLookup::AAAA, DnsLookup::ANY, DnsLookup::MX,
                               DnsLookup::NS, DnsLookup::PTR, DnsLookup::SRV, DnsLookup::TXT}) {
    auto l = lookup(type, "nx.tether.test");
    EXPECT_EQ(l->error(), DnsLookup::NotFoundError) << type;
    EXPECT_EQ(l->errorString(), "Non existent domain");
    EXPECT_TRUE(hasNoRecords(*l));
  }
}

TEST_F(DnsLookupTest, InvalidNameGivesInvalidRequestErrorFromTheLoop) {
  const std::string label63(63, 'a');
  for (const std::string& name :
       {std::string("bad..name"), std::string("-a.tether.test"), std::string("has space.test"),
        std::string(64, 'a') + ".test", label63 + '.' + label63 + '.' + label63 + '.' + label63,
        std::string("bad\xff.test")}) {
    SCOPED_TRACE(name);
    auto l = lookup(DnsLookup::A, name);
    EXPECT_EQ(l->error(), DnsLookup::InvalidRequestError);
    EXPECT_EQ(l->errorString(), "Invalid domain name");
  }
}

TEST_F(DnsLookupTest, EmptyNameAsksAboutTheRootDomain) {
  // dnsmasq answers NXDOMAIN for everything it does not define, the root
  // included: the query was sent, not refused as invalid.
  auto l = lookup(DnsLookup::NS, "");
  EXPECT_EQ(l->error(), DnsLookup::NotFoundError);
}

TEST_F(DnsLookupTest, MalformedRecordGivesInvalidReplyError) {
  auto l = lookup(DnsLookup::A, "bad.tether.test");
  EXPECT_EQ(l->error(), DnsLookup::InvalidReplyError);
  EXPECT_EQ(l->errorString(), "Invalid reply received (Invalid IPv4 address record)");
  EXPECT_TRUE(hasNoRecords(*l));
}

TEST_F(DnsLookupTest, RefusingServerGivesServerRefusedError) {
  test::DnsServer refusing({.arguments = {}, .silentDomains = {}, .unknownNamesAreNxdomain = false});
  ASSERT_TRUE(refusing.isRunning()) << refusing.errorString();
  DnsLookup own(DnsLookup::A, "a.tether.test", server(), refusing.port());
  run(own);
  EXPECT_EQ(own.error(), DnsLookup::ServerRefusedError);
  EXPECT_EQ(own.errorString(), "Server refused to answer");
  // The same through the default servers.
  HostInfo::setNameServers({{server(), refusing.port()}});
  DnsLookup viaDefault(DnsLookup::A, "a.tether.test");
  run(viaDefault);
  EXPECT_EQ(viaDefault.error(), DnsLookup::ServerRefusedError);
}

TEST_F(DnsLookupTest, LookupTimeoutEndsALookupNobodyAnswers) {
  DnsLookup l(DnsLookup::A, "x.slow.tether.test", server(), port());
  l.setLookupTimeout(200);
  const auto start = Clock::now();
  run(l);
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(l.error(), DnsLookup::TimeoutError);
  EXPECT_EQ(l.errorString(), "Request timed out");
  EXPECT_GE(elapsed, std::chrono::milliseconds(200));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1000));  // before the resolver's own 1.5 s
  EXPECT_EQ(detail::pendingLookupCount(), 0u);           // the DNS work was stopped
}

TEST_F(DnsLookupTest, ResolverTimeoutGivesTimeoutError) {
  HostInfo::setResolverTimeout(100, 2);  // 100 ms, then 200 ms
  DnsLookup l(DnsLookup::TXT, "x.slow.tether.test", server(), port());
  const auto start = Clock::now();
  run(l);
  EXPECT_EQ(l.error(), DnsLookup::TimeoutError);
  EXPECT_EQ(l.errorString(), "Request timed out");
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(250));
}

TEST_F(DnsLookupTest, ServerThatIsNotThereGivesResolverError) {
  // A port nobody listens on: the refusal comes back as ICMP.
  std::uint16_t closedPort = 0;
  {
    test::DnsServer gone;
    ASSERT_TRUE(gone.isRunning()) << gone.errorString();
    closedPort = gone.port();
  }
  DnsLookup l(DnsLookup::A, "a.tether.test", server(), closedPort);
  run(l);
  EXPECT_EQ(l.error(), DnsLookup::ResolverError);
  EXPECT_EQ(l.errorString(), "Connection refused");
}

// ---------------------------------------------------------------- name servers

TEST_F(DnsLookupTest, WithoutANameserverTheHostInfoServersAreAsked) {
  HostInfo::setNameServers({{server(), port()}});
  for (const HostAddress& none : {HostAddress(), HostAddress(HostAddress::Any)}) {
    DnsLookup l(DnsLookup::A, "a.tether.test", none);
    run(l);
    EXPECT_EQ(l.error(), DnsLookup::NoError) << l.errorString();
    EXPECT_EQ(addressTexts(l), (std::vector<std::string>{"192.0.2.1"}));
  }
}

TEST_F(DnsLookupTest, NameIsAskedExactlyAsGivenWithoutSearchDomains) {
  // "a" alone is not "a.tether.test", whatever the system's search list.
  auto l = lookup(DnsLookup::A, "a");
  EXPECT_EQ(l->error(), DnsLookup::NotFoundError);
  auto absolute = lookup(DnsLookup::A, "a.tether.test.");
  EXPECT_EQ(absolute->error(), DnsLookup::NoError);
}

// ---------------------------------------------------------------- lifecycle

TEST_F(DnsLookupTest, FinishedIsNeverEmittedInsideLookup) {
  const std::vector<std::pair<DnsLookup::Type, std::string>> cases = {
      {DnsLookup::A, "a.tether.test"}, {DnsLookup::A, "nx.tether.test"}, {DnsLookup::A, "bad..name"},
      {DnsLookup::NS, ""}, {DnsLookup::TXT, "txt.tether.test"}};
  std::vector<std::unique_ptr<DnsLookup>> lookups;
  std::vector<int> counts(cases.size(), 0);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    lookups.push_back(std::make_unique<DnsLookup>(cases[i].first, cases[i].second, server(), port()));
    lookups.back()->finished.connect([&counts, i] { ++counts[i]; });
    lookups.back()->lookup();
    EXPECT_EQ(counts[i], 0) << cases[i].second;
  }
  ASSERT_TRUE(test::runUntil(
      [&] { return std::all_of(counts.begin(), counts.end(), [](int c) { return c > 0; }); }, 5000));
  test::runFor(20);
  EXPECT_EQ(counts, std::vector<int>(cases.size(), 1));
}

TEST_F(DnsLookupTest, AbortFinishesWithOperationCancelledFromTheLoop) {
  DnsLookup l(DnsLookup::A, "x.slow.tether.test", server(), port());
  FinishedCounter counter(l);
  l.lookup();
  EXPECT_EQ(detail::pendingLookupCount(), 1u);
  l.abort();
  // The state changes at once; the signal waits for the loop.
  EXPECT_EQ(counter.count, 0);
  EXPECT_TRUE(l.isFinished());
  EXPECT_EQ(l.error(), DnsLookup::OperationCancelledError);
  EXPECT_EQ(l.errorString(), "Operation cancelled");
  EXPECT_EQ(detail::pendingLookupCount(), 0u);  // the DNS work was cancelled
  l.abort();                                    // finished already: nothing
  ASSERT_TRUE(test::runUntil([&] { return counter.count > 0; }, 5000));
  test::runFor(50);
  EXPECT_EQ(counter.count, 1);
  EXPECT_EQ(l.error(), DnsLookup::OperationCancelledError);
  EXPECT_TRUE(hasNoRecords(l));
}

TEST_F(DnsLookupTest, LookupAfterAbortRunsNormally) {
  DnsLookup l(DnsLookup::A, "a.tether.test", server(), port());
  l.lookup();
  l.abort();
  ASSERT_TRUE(test::runUntil([&] { return l.isFinished(); }, 5000));
  EXPECT_EQ(l.error(), DnsLookup::OperationCancelledError);
  EXPECT_TRUE(hasNoRecords(l));
  test::runFor(20);

  l.setType(DnsLookup::AAAA);
  run(l);
  EXPECT_EQ(l.error(), DnsLookup::NoError);
  EXPECT_EQ(addressTexts(l), (std::vector<std::string>{"2001:db8::1"}));
}

TEST_F(DnsLookupTest, LookupAgainReplacesTheRunningOneWhichNeverFinishes) {
  DnsLookup l(DnsLookup::A, "x.slow.tether.test", server(), port());
  FinishedCounter counter(l);
  l.lookup();
  l.abort();  // its finished() is not delivered: a new lookup replaced it
  l.lookup();
  l.setName("multi.tether.test");
  l.lookup();
  ASSERT_TRUE(test::runUntil([&] { return counter.count > 0; }, 5000));
  test::runFor(50);
  EXPECT_EQ(counter.count, 1);
  EXPECT_EQ(l.error(), DnsLookup::NoError);
  EXPECT_EQ(addressTexts(l).size(), 3u);
  EXPECT_EQ(detail::pendingLookupCount(), 0u);
}

TEST_F(DnsLookupTest, ObjectCanBeReusedForAnotherLookup) {
  DnsLookup l(DnsLookup::A, "a.tether.test", server(), port());
  run(l);
  EXPECT_EQ(addressTexts(l), (std::vector<std::string>{"192.0.2.1"}));
  l.setType(DnsLookup::TXT);
  l.setName("txt.tether.test");
  run(l);
  EXPECT_TRUE(l.hostAddressRecords().empty());
  ASSERT_EQ(l.textRecords().size(), 1u);
}

TEST_F(DnsLookupTest, DestroyedDuringALookupEmitsNothingAndStopsTheDnsWork) {
  int calls = 0;
  auto slow = std::make_unique<DnsLookup>(DnsLookup::A, "x.slow.tether.test", server(), port());
  slow->finished.connect([&] { ++calls; });
  slow->lookup();
  auto fast = std::make_unique<DnsLookup>(DnsLookup::A, "a.tether.test", server(), port());
  fast->finished.connect([&] { ++calls; });
  fast->lookup();
  EXPECT_EQ(detail::pendingLookupCount(), 2u);
  slow.reset();
  fast.reset();
  EXPECT_EQ(detail::pendingLookupCount(), 0u);
  test::runFor(100);
  EXPECT_EQ(calls, 0);
}

TEST_F(DnsLookupTest, LookupDestroyedBySiblingsFinishedSlotEmitsNothing) {
  // Answers that arrive together: whichever finishes first destroys all the
  // others, whose replies may already be on their way.
  constexpr int kCount = 20;
  std::vector<std::unique_ptr<DnsLookup>> lookups;
  int calls = 0;
  for (int i = 0; i < kCount; ++i) {
    lookups.push_back(std::make_unique<DnsLookup>(DnsLookup::A, "a.tether.test", server(), port()));
    lookups.back()->finished.connect([&, i] {
      ++calls;
      for (int j = 0; j < kCount; ++j)
        if (j != i) lookups[static_cast<std::size_t>(j)].reset();
    });
  }
  for (auto& l : lookups) l->lookup();
  ASSERT_TRUE(test::runUntil([&] { return calls > 0; }, 5000));
  test::runFor(50);
  EXPECT_EQ(calls, 1);
}

TEST_F(DnsLookupTest, FinishedSlotMayDeleteTheLookupOrStartAnother) {
  auto* first = new DnsLookup(DnsLookup::A, "a.tether.test", server(), port());
  std::vector<std::string> second;
  first->finished.connect([&, first] {
    first->setType(DnsLookup::AAAA);
    first->finished.disconnectAll();
    first->finished.connect([&, first] {
      second = addressTexts(*first);
      first->deleteLater();
    });
    first->lookup();
  });
  first->lookup();
  ASSERT_TRUE(test::runUntil([&] { return !second.empty(); }, 5000));
  EXPECT_EQ(second, (std::vector<std::string>{"2001:db8::1"}));
}

TEST_F(DnsLookupTest, LookupRunsOnTheThreadThatOwnsTheObject) {
  std::promise<std::vector<std::string>> result;
  const std::uint16_t serverPort = port();
  std::thread worker([&] {
    EventLoop loop;
    DnsLookup l(DnsLookup::A, "multi.tether.test", server(), serverPort);
    l.finished.connect([&] { loop.quit(); });
    Timer::singleShot(5000, [&] { loop.quit(); });  // bounded, whatever happens
    l.lookup();
    loop.exec();
    result.set_value(addressTexts(l));
  });
  auto future = result.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  worker.join();
  EXPECT_EQ(future.get(), (std::vector<std::string>{"192.0.2.1", "192.0.2.2", "192.0.2.3"}));
}

TEST_F(DnsLookupTest, ManyConcurrentLookupsAreEachAnsweredOnce) {
  HostInfo::setNameServers({{server(), port()}});
  struct Case {
    DnsLookup::Type type;
    std::string name;
    bool ownServer;
    DnsLookup::Error error;
    std::size_t records;
  };
  const std::vector<Case> cases = {
      {DnsLookup::A, "multi.tether.test", true, DnsLookup::NoError, 3},
      {DnsLookup::AAAA, "v6.tether.test", false, DnsLookup::NoError, 1},
      {DnsLookup::MX, "mx.tether.test", true, DnsLookup::NoError, 3},
      {DnsLookup::SRV, "_echo._tcp.tether.test", false, DnsLookup::NoError, 4},
      {DnsLookup::TXT, "txt2.tether.test", true, DnsLookup::NoError, 2},
      {DnsLookup::A, "nx.tether.test", false, DnsLookup::NotFoundError, 0},
      {DnsLookup::A, "bad..name", true, DnsLookup::InvalidRequestError, 0},
  };
  auto recordCount = [](const DnsLookup& l) {
    return l.hostAddressRecords().size() + l.mailExchangeRecords().size() +
           l.serviceRecords().size() + l.textRecords().size();
  };
  constexpr int kRounds = 30;
  std::vector<std::unique_ptr<DnsLookup>> lookups;
  std::vector<int> calls;
  int wrong = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (const Case& c : cases) {
      const std::size_t index = lookups.size();
      lookups.push_back(c.ownServer ? std::make_unique<DnsLookup>(c.type, c.name, server(), port())
                                    : std::make_unique<DnsLookup>(c.type, c.name));
      calls.push_back(0);
      DnsLookup* l = lookups.back().get();
      l->finished.connect([&, l, c, index] {
        ++calls[index];
        if (l->error() != c.error || recordCount(*l) != c.records) ++wrong;
      });
      l->lookup();
    }
  }
  ASSERT_TRUE(test::runUntil(
      [&] { return std::all_of(calls.begin(), calls.end(), [](int n) { return n > 0; }); }, 20000));
  test::runFor(20);
  EXPECT_EQ(calls, std::vector<int>(calls.size(), 1));
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(detail::pendingLookupCount(), 0u);
}

// ---------------------------------------------------------------- ordering rules

TEST(DnsRecordOrder, MailExchangesByPreferenceWithTiesShuffled) {
  std::mt19937 random(7);
  std::map<std::string, int> firstOfTies;
  for (int i = 0; i < 1000; ++i) {
    std::vector<DnsMailExchangeRecord> records = {
        {"m", 0, 30, "z"}, {"m", 0, 10, "a"}, {"m", 0, 10, "b"}, {"m", 0, 10, "c"}, {"m", 0, 5, "first"}};
    detail::sortMailExchangeRecords(records, random);
    ASSERT_EQ(records.front().exchange(), "first");
    ASSERT_EQ(records.back().exchange(), "z");
    ++firstOfTies[records[1].exchange()];
  }
  // Each of the three equal records comes first about a third of the time.
  for (const char* name : {"a", "b", "c"}) {
    EXPECT_GT(firstOfTies[name], 250) << name;
    EXPECT_LT(firstOfTies[name], 420) << name;
  }
}

TEST(DnsRecordOrder, ServicesByPriorityThenWeightedWithinAPriority) {
  std::mt19937 random(11);
  int heavyFirst = 0;
  int zeroWeightFirst = 0;
  constexpr int kRuns = 4000;
  for (int i = 0; i < kRuns; ++i) {
    std::vector<DnsServiceRecord> records = {
        {"s", 0, 2, 25, 1, "light"}, {"s", 0, 9, 0, 1, "last"}, {"s", 0, 2, 75, 1, "heavy"},
        {"s", 0, 1, 0, 1, "first"},  {"s", 0, 3, 10, 1, "w10"},  {"s", 0, 3, 0, 1, "w0"}};
    detail::sortServiceRecords(records, random);
    ASSERT_EQ(records.size(), 6u);
    ASSERT_EQ(records[0].target(), "first");
    ASSERT_EQ(records[5].target(), "last");
    ASSERT_EQ(records[1].priority(), 2);
    ASSERT_EQ(records[2].priority(), 2);
    ASSERT_EQ(records[3].priority(), 3);
    ASSERT_EQ(records[4].priority(), 3);
    if (records[1].target() == "heavy") ++heavyFirst;
    if (records[3].target() == "w0") ++zeroWeightFirst;
  }
  // RFC 2782: weight 75 against 25 comes first three times out of four; a
  // zero weight against 10 only when the draw is 0, one time in eleven.
  EXPECT_NEAR(heavyFirst, kRuns * 3 / 4, kRuns / 20);
  EXPECT_NEAR(zeroWeightFirst, kRuns / 11, kRuns / 25);
}

TEST(DnsRecordOrder, EmptyAndSingleListsAreLeftAlone) {
  std::mt19937 random(1);
  std::vector<DnsServiceRecord> none;
  detail::sortServiceRecords(none, random);
  EXPECT_TRUE(none.empty());
  std::vector<DnsMailExchangeRecord> one = {{"m", 1, 1, "x"}};
  detail::sortMailExchangeRecords(one, random);
  EXPECT_EQ(one.size(), 1u);
  std::vector<DnsServiceRecord> zeros = {{"s", 0, 1, 0, 1, "a"}, {"s", 0, 1, 0, 1, "b"}};
  detail::sortServiceRecords(zeros, random);
  EXPECT_EQ(zeros.size(), 2u);
}

// ---------------------------------------------------------------- reading replies

namespace {

// A DNS reply built byte by byte: header, the question "q.test" A IN, then
// the answer records added.
class ReplyBuilder {
 public:
  explicit ReplyBuilder(unsigned rcode = 0, std::uint8_t questions = 1) {
    bytes_ = {0x12, 0x34, 0x81, static_cast<unsigned char>(0x80 | rcode), 0, questions, 0, 0,
              0, 0, 0, 0};
    for (std::uint8_t i = 0; i < questions; ++i) {
      name("q.test");
      append({0, 1, 0, 1});
    }
  }
  ReplyBuilder& name(std::string_view text) {
    const std::string hex = wireHex(text);
    for (std::size_t i = 0; i < hex.size(); i += 2)
      bytes_.push_back(static_cast<unsigned char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return *this;
  }
  ReplyBuilder& append(std::initializer_list<unsigned> raw) {
    for (unsigned b : raw) bytes_.push_back(static_cast<unsigned char>(b));
    return *this;
  }
  // The fixed part of a record whose owner name was just written.
  ReplyBuilder& record(unsigned type, unsigned rdLength, unsigned cls = 1, std::uint32_t ttl = 30) {
    ++bytes_[7];
    return append({type >> 8u, type & 0xffu, cls >> 8u, cls & 0xffu, ttl >> 24u, (ttl >> 16u) & 0xffu,
                   (ttl >> 8u) & 0xffu, ttl & 0xffu, rdLength >> 8u, rdLength & 0xffu});
  }
  std::size_t size() const { return bytes_.size(); }
  DnsLookup::Reply parse() const { return detail::parseDnsReply(bytes_.data(), bytes_.size()); }
  DnsLookup::Reply parse(std::size_t cut) const { return detail::parseDnsReply(bytes_.data(), cut); }

 private:
  std::vector<unsigned char> bytes_;
};

constexpr unsigned kQuestionName = 0x0c;  // compression pointer target: "q.test"

}  // namespace

TEST(DnsReplyReading, RcodesGiveQtsErrorsAndTexts) {
  const std::vector<std::tuple<unsigned, DnsLookup::Error, std::string>> cases = {
      {1, DnsLookup::InvalidRequestError, "Server could not process query"},
      {2, DnsLookup::ServerFailureError, "Server failure"},
      {3, DnsLookup::NotFoundError, "Non existent domain"},
      {4, DnsLookup::ServerFailureError, "Server failure"},
      {5, DnsLookup::ServerRefusedError, "Server refused to answer"},
      {9, DnsLookup::InvalidReplyError, "Invalid reply received (rcode 9)"},
  };
  for (const auto& [rcode, error, text] : cases) {
    const DnsLookup::Reply reply = ReplyBuilder(rcode).parse();
    EXPECT_EQ(reply.error, error) << rcode;
    EXPECT_EQ(reply.errorString, text);
  }
}

TEST(DnsReplyReading, ShortRepliesAndSeveralQuestionsAreInvalid) {
  const DnsLookup::Reply shortReply = ReplyBuilder().parse(7);
  EXPECT_EQ(shortReply.error, DnsLookup::InvalidReplyError);
  EXPECT_EQ(shortReply.errorString, "Invalid reply received");
  EXPECT_EQ(ReplyBuilder(0, 2).parse().error, DnsLookup::InvalidReplyError);
  EXPECT_EQ(ReplyBuilder(0, 0).parse().error, DnsLookup::NoError);
}

TEST(DnsReplyReading, RecordsOfOtherClassesAreSkippedAndCompressedNamesFollowed) {
  ReplyBuilder builder;
  builder.append({0xc0, kQuestionName}).record(DnsLookup::A, 4, /*cls=*/3).append({10, 0, 0, 1});
  builder.append({0xc0, kQuestionName}).record(DnsLookup::A, 4, 1, 77).append({10, 0, 0, 2});
  builder.name("m.test").record(DnsLookup::MX, 4).append({0, 5, 0xc0, kQuestionName});
  const DnsLookup::Reply reply = builder.parse();
  EXPECT_EQ(reply.error, DnsLookup::NoError);
  EXPECT_EQ(reply.hostAddressRecords,
            (std::vector<DnsHostAddressRecord>{{"q.test", 77, HostAddress("10.0.0.2")}}));
  EXPECT_EQ(reply.mailExchangeRecords,
            (std::vector<DnsMailExchangeRecord>{{"m.test", 30, 5, "q.test"}}));
}

TEST(DnsReplyReading, ReplyCutShortKeepsTheRecordsBeforeTheCut) {
  ReplyBuilder builder;
  builder.append({0xc0, kQuestionName}).record(DnsLookup::A, 4).append({10, 0, 0, 1});
  const std::size_t firstEnd = builder.size();
  builder.append({0xc0, kQuestionName}).record(DnsLookup::A, 4).append({10, 0, 0, 2});
  for (std::size_t cut : {firstEnd + 5, builder.size() - 1}) {
    const DnsLookup::Reply reply = builder.parse(cut);
    EXPECT_EQ(reply.error, DnsLookup::NoError) << cut;
    ASSERT_EQ(reply.hostAddressRecords.size(), 1u) << cut;
    EXPECT_EQ(reply.hostAddressRecords[0].value(), HostAddress("10.0.0.1"));
  }
}

TEST(DnsReplyReading, MalformedRecordsGiveInvalidReplyWithTheReason) {
  const std::size_t selfPointer = ReplyBuilder().size();  // where the looping name starts
  const std::vector<std::pair<ReplyBuilder, std::string>> cases = [&] {
    std::vector<std::pair<ReplyBuilder, std::string>> c;
    c.emplace_back(std::move(ReplyBuilder()
                                 .append({0xc0, static_cast<unsigned>(selfPointer)})
                                 .record(DnsLookup::A, 4)
                                 .append({1, 2, 3, 4})),
                   "Could not expand domain name");
    c.emplace_back(std::move(ReplyBuilder().name("a").record(DnsLookup::AAAA, 4).append({1, 2, 3, 4})),
                   "Invalid IPv6 address record");
    c.emplace_back(std::move(ReplyBuilder().name("a").record(DnsLookup::TXT, 3).append({5, 'a', 'b'})),
                   "Invalid text record");
    c.emplace_back(std::move(ReplyBuilder().name("a").record(DnsLookup::MX, 2).append({0, 1})),
                   "Invalid mail exchange record");
    c.emplace_back(std::move(ReplyBuilder().name("a").record(DnsLookup::SRV, 7).append({0, 1, 0, 1, 0, 1, 1})),
                   "Invalid service record");  // the target runs past the record
    c.emplace_back(std::move(ReplyBuilder().name("a").record(DnsLookup::CNAME, 0)),
                   "Invalid canonical name record");
    c.emplace_back(std::move(ReplyBuilder().name("a").record(DnsLookup::NS, 0)),
                   "Invalid name server record");
    c.emplace_back(std::move(ReplyBuilder().name("a").record(DnsLookup::PTR, 0)), "Invalid pointer record");
    return c;
  }();
  for (const auto& [builder, reason] : cases) {
    const DnsLookup::Reply reply = builder.parse();
    EXPECT_EQ(reply.error, DnsLookup::InvalidReplyError) << reason;
    EXPECT_EQ(reply.errorString, "Invalid reply received (" + reason + ')');
    EXPECT_TRUE(reply.hostAddressRecords.empty());
  }
}

TEST(DnsReplyReading, StatusWithoutAReplyGivesTheMatchingError) {
  const std::vector<std::tuple<int, DnsLookup::Error, std::string>> cases = {
      {ARES_ETIMEOUT, DnsLookup::TimeoutError, "Request timed out"},
      {ARES_ESERVFAIL, DnsLookup::ServerFailureError, "Server failure"},
      {ARES_EREFUSED, DnsLookup::ServerRefusedError, "Server refused to answer"},
      {ARES_ENOTFOUND, DnsLookup::NotFoundError, "Non existent domain"},
      {ARES_EBADNAME, DnsLookup::InvalidRequestError, "Invalid domain name"},
      {ARES_EBADRESP, DnsLookup::InvalidReplyError, "Invalid reply received"},
      {ARES_SUCCESS, DnsLookup::InvalidReplyError, "Invalid reply received"},
      {ARES_ECONNREFUSED, DnsLookup::ResolverError, "Connection refused"},
      {ARES_EFILE, DnsLookup::ResolverError, ares_strerror(ARES_EFILE)},
  };
  for (const auto& [status, error, text] : cases) {
    const DnsLookup::Reply reply = detail::dnsReplyOf(detail::QueryResult{status, {}});
    EXPECT_EQ(reply.error, error) << status;
    EXPECT_EQ(reply.errorString, text) << status;
  }
}
