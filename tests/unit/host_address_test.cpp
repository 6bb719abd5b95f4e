// HostAddress: Qt's QHostAddress behaviour, pinned row by row. The tables
// follow the cases Qt's own tests cover (restated here), plus the inet_aton
// forms, RFC 5952 corners and native socket address conversions.
#include "tether/host_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <array>
#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace tether {
namespace {

using Protocol = NetworkLayerProtocol;

static_assert(std::is_nothrow_move_constructible_v<HostAddress>);
static_assert(std::is_nothrow_swappable_v<HostAddress>);
static_assert(std::equality_comparable<HostAddress>);
static_assert(std::is_convertible_v<HostAddress::SpecialAddress, HostAddress>);
static_assert(!std::is_convertible_v<std::string_view, HostAddress>);
static_assert(!std::is_convertible_v<std::uint32_t, HostAddress>);

HostAddress v6(std::string_view text) {
  HostAddress address(text);
  EXPECT_EQ(address.protocol(), Protocol::IPv6Protocol) << text;
  return address;
}

// ---------------------------------------------------------------- parsing

struct ParseRow {
  std::string_view text;
  std::string_view printed;
  Protocol protocol;
};

void PrintTo(const ParseRow& row, std::ostream* out) { *out << '"' << row.text << '"'; }

class ParsesAddressText : public ::testing::TestWithParam<ParseRow> {};

TEST_P(ParsesAddressText, AndPrintsTheCanonicalForm) {
  const ParseRow& row = GetParam();
  HostAddress viaSetter;
  EXPECT_TRUE(viaSetter.setAddress(row.text));
  EXPECT_EQ(viaSetter.toString(), row.printed);
  EXPECT_EQ(viaSetter.protocol(), row.protocol);
  EXPECT_FALSE(viaSetter.isNull());

  const HostAddress viaConstructor(row.text);
  EXPECT_EQ(viaConstructor, viaSetter);
  EXPECT_EQ(viaConstructor.toString(), row.printed);
  // The printed form parses back to the same address.
  EXPECT_EQ(HostAddress(viaSetter.toString()), viaSetter);
}

constexpr auto kV4 = Protocol::IPv4Protocol;
constexpr auto kV6 = Protocol::IPv6Protocol;

INSTANTIATE_TEST_SUITE_P(
    IPv4, ParsesAddressText,
    ::testing::Values(ParseRow{"127.0.0.1", "127.0.0.1", kV4},
                      ParseRow{"255.3.2.1", "255.3.2.1", kV4},
                      ParseRow{" 255.3.2.1", "255.3.2.1", kV4},
                      ParseRow{"255.3.2.1\r ", "255.3.2.1", kV4},
                      ParseRow{"\t10.0.0.1\n", "10.0.0.1", kV4},
                      ParseRow{"0.0.0.0", "0.0.0.0", kV4},
                      ParseRow{"255.255.255.255", "255.255.255.255", kV4},
                      // inet_aton short forms: the last part fills the rest.
                      ParseRow{"123.0.0", "123.0.0.0", kV4},
                      ParseRow{"127.1", "127.0.0.1", kV4},
                      ParseRow{"1.2.65535", "1.2.255.255", kV4},
                      ParseRow{"1.16777215", "1.255.255.255", kV4},
                      ParseRow{"1", "0.0.0.1", kV4},
                      ParseRow{"0", "0.0.0.0", kV4},
                      ParseRow{"4294967295", "255.255.255.255", kV4},
                      ParseRow{"2130706433", "127.0.0.1", kV4},
                      // Octal with a leading zero, hex with 0x.
                      ParseRow{"010.0.0.1", "8.0.0.1", kV4},
                      ParseRow{"0177.00.0.01", "127.0.0.1", kV4},
                      ParseRow{"0x7f.1", "127.0.0.1", kV4},
                      ParseRow{"0X7F000001", "127.0.0.1", kV4},
                      ParseRow{"0xc0.0xA8.0x1.0xff", "192.168.1.255", kV4}));

INSTANTIATE_TEST_SUITE_P(
    IPv6, ParsesAddressText,
    ::testing::Values(
        // RFC 5952 4.3: lower case.
        ParseRow{"FEDC:BA98:7654:3210:FEDC:BA98:7654:3210",
                 "fedc:ba98:7654:3210:fedc:ba98:7654:3210", kV6},
        // 4.1 leading zeros dropped, 4.2.1 shortest form.
        ParseRow{"1080:0000:0000:0000:0008:0800:200C:417A", "1080::8:800:200c:417a", kV6},
        ParseRow{"1080:0:0:0:8:800:200C:417A", "1080::8:800:200c:417a", kV6},
        ParseRow{"1080::8:800:200C:417A", "1080::8:800:200c:417a", kV6},
        ParseRow{"FF01::43", "ff01::43", kV6},
        ParseRow{"::1", "::1", kV6},
        ParseRow{"1::", "1::", kV6},
        ParseRow{"::", "::", kV6},
        ParseRow{"A:B::D:E", "a:b::d:e", kV6},
        // 4.2.2: a single zero group is never "::".
        ParseRow{"1080:0:1:0:8:800:200C:417A", "1080:0:1:0:8:800:200c:417a", kV6},
        ParseRow{"1080:0:1:0:8:800:200C:0", "1080:0:1:0:8:800:200c:0", kV6},
        ParseRow{"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0", kV6},
        ParseRow{"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8", kV6},
        ParseRow{"1080:0:1:0:8:800:0:0", "1080:0:1:0:8:800::", kV6},
        // 4.2.3: the longest run, the first one on a tie.
        ParseRow{"1080:0:0:8:800:0:0:0", "1080:0:0:8:800::", kV6},
        ParseRow{"1080:0:0:0:8:0:0:0", "1080::8:0:0:0", kV6},
        ParseRow{"1:0:0:2:0:0:3:4", "1::2:0:0:3:4", kV6},
        ParseRow{"0:1:1:1:8:800:0:0", "0:1:1:1:8:800::", kV6},
        ParseRow{"0:1:1:1:8:800:0:1", "0:1:1:1:8:800:0:1", kV6},
        ParseRow{"0000:0000:0000:0000:0000:0000:0000:0001", "::1", kV6},
        // Embedded IPv4: shown as a dotted quad for ::ffff:x and ::x, as Qt does.
        ParseRow{"0:0:0:0:0:0:13.1.68.3", "::13.1.68.3", kV6},
        ParseRow{"::13.1.68.3", "::13.1.68.3", kV6},
        ParseRow{"0:0:0:0:0:FFFF:129.144.52.38", "::ffff:129.144.52.38", kV6},
        ParseRow{"::FFFF:129.144.52.38", "::ffff:129.144.52.38", kV6},
        ParseRow{"::ffff:0.0.0.0", "::ffff:0.0.0.0", kV6},
        ParseRow{"::ffff:7f00:1", "::ffff:127.0.0.1", kV6},
        ParseRow{"1::FFFF:129.144.52.38", "1::ffff:8190:3426", kV6},
        ParseRow{"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304", kV6},
        ParseRow{"1::2:3.4.5.6", "1::2:304:506", kV6},
        // ::0.0.0.x stays hex, and a zero run that swallows the seventh
        // group wins over the dotted form (Qt's output).
        ParseRow{"::0.0.0.2", "::2", kV6},
        ParseRow{"::0.1.0.0", "::0.1.0.0", kV6},
        ParseRow{"::0.0.1.0", "::100", kV6},
        // Scope ids after the last '%', kept verbatim.
        ParseRow{"fe80::2e0:4cff:fefb:662a%eth0", "fe80::2e0:4cff:fefb:662a%eth0", kV6},
        ParseRow{"FE80::1%3", "fe80::1%3", kV6},
        ParseRow{"fe80::1%", "fe80::1", kV6},
        ParseRow{"::ffff:1.2.3.4%en0", "::ffff:1.2.3.4%en0", kV6},
        ParseRow{" \t::1\r\n", "::1", kV6}));

class RejectsText : public ::testing::TestWithParam<std::string_view> {};

TEST_P(RejectsText, AndLeavesTheNullAddress) {
  const std::string_view text = GetParam();
  HostAddress address(HostAddress::LocalHostIPv6);
  address.setScopeId("eth0");
  EXPECT_FALSE(address.setAddress(text)) << '"' << text << '"';
  EXPECT_TRUE(address.isNull());
  EXPECT_EQ(address.protocol(), Protocol::UnknownNetworkLayerProtocol);
  EXPECT_EQ(address, HostAddress());
  EXPECT_EQ(address.toString(), "");
  EXPECT_EQ(address.scopeId(), "");
  EXPECT_EQ(address.hash(), HostAddress().hash());
  EXPECT_TRUE(HostAddress(text).isNull()) << '"' << text << '"';
}

INSTANTIATE_TEST_SUITE_P(NotAddresses, RejectsText,
                         ::testing::Values("foobarcom", "foo.bar.com", "", " \t\r", "localhost",
                                           "bjarne", "&&&"));

INSTANTIATE_TEST_SUITE_P(
    BadIPv4, RejectsText,
    ::testing::Values("256.9.9.9", "-1.9.9.9", "123.0.0.", "123.0.0.0.0", "255.2 3.2.1",
                      "1.256.1.1", "1.2.3.256", "1.2.65536", "1.16777216", "4294967296",
                      "1..2.3", ".1.2.3", "08.1.1.1", "0x", "0x.1.1.1", "0xg.1.1.1", "1.2.3.4a",
                      "1.2.3.4:80", "1.2.3.4%eth0", "1.2.3.4/24",
                      // Qt's number reader lets these through; tether does not.
                      "+1.2.3.4", "1. 2.3.4", "0b1.2.3.4"));

INSTANTIATE_TEST_SUITE_P(
    BadIPv6, RejectsText,
    ::testing::Values(":", ":::", "::AAAA:", ":AAAA::", "FFFF:::129.144.52.38",
                      "FEDC:BA98:7654:3210:FEDC:BA98:7654:3210:1234", "129.144.52.38::",
                      "::129.144.52.38:129.144.52.38", ":::129.144.52.38",
                      "1FEDC:BA98:7654:3210:FEDC:BA98:7654:3210", "::FFFFFFFF", "::EFGH",
                      "ABCD:ABCD:ABCD", "::ABCD:ABCD::", "1::2::3", "1:2:::", ":::1:2", "1:::2",
                      "FEDC::7654:3210:FEDC:BA98::3210", "ABCD:ABCD:ABCD:1.2.3.4",
                      "ABCD::ABCD::ABCD:1.2.3.4", "1:2:3:4:5:6:7", "1:2:3:4::5:6:7:8",
                      "::1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:", "[::1]", "::1]", "::1.2.3",
                      "::1.2.3.4.5", "::256.1.1.1", "::01.2.3.4", "::1.2.3.04", "::0x1.2.3.4",
                      "::1.2.3.4:5", "::0x12", "::+1", ":: 1", "fe80 ::1", "fe80::1%a%",
                      "::\xc3\xa9"));

TEST(HostAddress, DefaultConstructedAddressIsNull) {
  const HostAddress address;
  EXPECT_TRUE(address.isNull());
  EXPECT_EQ(address.protocol(), Protocol::UnknownNetworkLayerProtocol);
  EXPECT_EQ(address.toString(), "");
  EXPECT_EQ(address, HostAddress::Null);
  EXPECT_EQ(address.toIPv6Address(), IPv6Address{});
}

TEST(HostAddress, ClearMakesAnyAddressNull) {
  HostAddress address("fe80::1%eth0");
  address.clear();
  EXPECT_TRUE(address.isNull());
  EXPECT_EQ(address.scopeId(), "");
  address.setAddress(v6("fe80::1").toIPv6Address());
  EXPECT_EQ(address.scopeId(), "") << "a cleared scope id must not come back";
}

// ------------------------------------------------------- special addresses

struct SpecialRow {
  HostAddress::SpecialAddress special;
  Protocol protocol;
  std::string_view printed;
};

class SpecialAddresses : public ::testing::TestWithParam<SpecialRow> {};

TEST_P(SpecialAddresses, HaveQtsProtocolAndText) {
  const SpecialRow& row = GetParam();
  const HostAddress address(row.special);
  EXPECT_EQ(address.protocol(), row.protocol);
  EXPECT_EQ(address.toString(), row.printed);
  EXPECT_EQ(address.isNull(), row.special == HostAddress::Null);
}

TEST_P(SpecialAddresses, CompareEqualToThemselvesEitherWayRound) {
  const HostAddress::SpecialAddress special = GetParam().special;
  EXPECT_TRUE(HostAddress(special) == HostAddress(special));
  EXPECT_TRUE(HostAddress(special) == special);
  EXPECT_TRUE(special == HostAddress(special));
  EXPECT_FALSE(HostAddress(special) != HostAddress(special));
  EXPECT_FALSE(HostAddress(special) != special);
  EXPECT_FALSE(special != HostAddress(special));

  HostAddress viaSetter("1.2.3.4");
  viaSetter.setAddress(special);
  EXPECT_EQ(viaSetter, special);
  HostAddress viaAssignment("::5");
  viaAssignment = special;
  EXPECT_EQ(viaAssignment, special);
}

TEST_P(SpecialAddresses, EqualNoOtherSpecialAddress) {
  const HostAddress address(GetParam().special);
  for (const auto other : {HostAddress::Null, HostAddress::Broadcast, HostAddress::LocalHost,
                           HostAddress::LocalHostIPv6, HostAddress::Any, HostAddress::AnyIPv6,
                           HostAddress::AnyIPv4}) {
    EXPECT_EQ(address == other, other == GetParam().special) << other;
    EXPECT_EQ(address == HostAddress(other), other == GetParam().special) << other;
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, SpecialAddresses,
    ::testing::Values(SpecialRow{HostAddress::Null, Protocol::UnknownNetworkLayerProtocol, ""},
                      SpecialRow{HostAddress::Broadcast, kV4, "255.255.255.255"},
                      SpecialRow{HostAddress::LocalHost, kV4, "127.0.0.1"},
                      SpecialRow{HostAddress::LocalHostIPv6, kV6, "::1"},
                      SpecialRow{HostAddress::Any, Protocol::AnyIPProtocol, "0.0.0.0"},
                      SpecialRow{HostAddress::AnyIPv6, kV6, "::"},
                      SpecialRow{HostAddress::AnyIPv4, kV4, "0.0.0.0"}));

TEST(HostAddress, TextComparesWithSpecialAddressesAsInQt) {
  struct Row {
    std::string_view text;
    HostAddress::SpecialAddress special;
    bool equal;
  };
  const Row rows[] = {
      {"127.0.0.1", HostAddress::LocalHost, true},
      {"127.0.0.2", HostAddress::LocalHost, false},
      {"127.0.0.2", HostAddress::LocalHostIPv6, false},
      {"::1", HostAddress::LocalHostIPv6, true},
      {"::2", HostAddress::LocalHostIPv6, false},
      {"::1", HostAddress::LocalHost, false},
      {"::ffff:127.0.0.1", HostAddress::LocalHost, false},
      {"", HostAddress::Null, true},
      {"bjarne", HostAddress::Null, true},
      {"", HostAddress::Broadcast, false},
      {"255.255.255.255", HostAddress::Any, false},
      {"255.255.255.255", HostAddress::Broadcast, true},
      {"::", HostAddress::AnyIPv6, true},
      {"0.0.0.0", HostAddress::AnyIPv4, true},
      {"::", HostAddress::Any, false},
      {"0.0.0.0", HostAddress::Any, false},
      {"0.0.0.0", HostAddress::AnyIPv6, false},
      {"::", HostAddress::AnyIPv4, false},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(HostAddress(row.text) == row.special, row.equal) << row.text << " vs " << row.special;
    EXPECT_EQ(row.special == HostAddress(row.text), row.equal) << row.text;
  }
}

TEST(HostAddress, AnyIsNotEqualToIPv4AnyOrIPv6AnyUnderStrictComparison) {
  const HostAddress any(HostAddress::Any);
  EXPECT_NE(any, HostAddress(HostAddress::AnyIPv4));
  EXPECT_NE(any, HostAddress(HostAddress::AnyIPv6));
  EXPECT_NE(any, HostAddress("0.0.0.0"));
  EXPECT_NE(any, HostAddress("::"));
  EXPECT_NE(any, HostAddress());
  EXPECT_FALSE(any.isNull());
}

TEST(HostAddress, AnyPrintsAsIPv4AnyButStreamsAsAny) {
  EXPECT_EQ(HostAddress(HostAddress::Any).toString(), "0.0.0.0");
  std::ostringstream out;
  out << HostAddress(HostAddress::Any) << ' ' << HostAddress(HostAddress::AnyIPv4) << ' '
      << HostAddress("fe80::1%eth0") << ' ' << HostAddress() << '|';
  EXPECT_EQ(out.str(), "Any 0.0.0.0 fe80::1%eth0 |");
}

// ---------------------------------------------------------------- equality

TEST(HostAddress, StrictEqualityNeverCrossesProtocols) {
  struct Row {
    HostAddress first;
    HostAddress second;
    bool equal;
  };
  IPv6Address mappedLoopback{};
  mappedLoopback[10] = mappedLoopback[11] = 0xff;
  mappedLoopback[12] = 127;
  mappedLoopback[15] = 1;
  const Row rows[] = {
      {HostAddress(), HostAddress(), true},
      {HostAddress::Any, HostAddress::Any, true},
      {HostAddress::AnyIPv6, HostAddress::AnyIPv6, true},
      {HostAddress::Broadcast, HostAddress::Broadcast, true},
      {HostAddress::LocalHost, HostAddress::Broadcast, false},
      {HostAddress::LocalHost, HostAddress::LocalHostIPv6, false},
      {HostAddress(), HostAddress::LocalHostIPv6, false},
      {HostAddress::AnyIPv4, HostAddress::AnyIPv6, false},
      {HostAddress::LocalHost, HostAddress("::ffff:127.0.0.1"), false},
      {HostAddress::LocalHost, HostAddress(mappedLoopback), false},
      {HostAddress("::ffff:127.0.0.1"), HostAddress(mappedLoopback), true},
      {HostAddress("1.2.3.4"), HostAddress(0x01020304u), true},
      {HostAddress("fe80::1%eth0"), HostAddress("fe80::1%eth1"), true},
      {HostAddress("fe80::1%eth0"), HostAddress("fe80::1"), true},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(row.first == row.second, row.equal) << row.first << " vs " << row.second;
    EXPECT_EQ(row.second == row.first, row.equal) << row.first << " vs " << row.second;
    EXPECT_EQ(row.first.isEqual(row.second, HostAddress::StrictConversion), row.equal);
    if (row.equal) {
      EXPECT_EQ(row.first.hash(), row.second.hash()) << row.first;
    }
  }
}

struct IsEqualRow {
  HostAddress first;
  HostAddress second;
  HostAddress::ConversionMode mode;
  bool equal;
};

void PrintTo(const IsEqualRow& row, std::ostream* out) {
  *out << row.first << " vs " << row.second << " mode " << row.mode;
}

class IsEqual : public ::testing::TestWithParam<IsEqualRow> {};

TEST_P(IsEqual, AppliesOnlyTheRequestedConversions) {
  const IsEqualRow& row = GetParam();
  EXPECT_EQ(row.first.isEqual(row.second, row.mode), row.equal);
  EXPECT_EQ(row.second.isEqual(row.first, row.mode), row.equal);
}

using H = HostAddress;
INSTANTIATE_TEST_SUITE_P(
    QtRows, IsEqual,
    ::testing::Values(
        IsEqualRow{H::LocalHost, H::LocalHostIPv6, H::ConvertLocalHost, true},
        IsEqualRow{H::LocalHost, H::LocalHostIPv6, H::ConvertV4CompatToIPv4, false},
        IsEqualRow{H::LocalHost, H::LocalHostIPv6, H::ConvertV4MappedToIPv4, false},
        IsEqualRow{H::LocalHost, H::LocalHostIPv6, H::ConvertUnspecifiedAddress, false},
        IsEqualRow{H("0.0.0.1"), H::LocalHostIPv6, H::ConvertLocalHost, false},
        IsEqualRow{H("0.0.0.1"), H::LocalHostIPv6, H::ConvertUnspecifiedAddress, false},
        IsEqualRow{H("0.0.0.1"), H::LocalHostIPv6, H::ConvertV4CompatToIPv4, false},
        IsEqualRow{H("0.0.0.1"), H::LocalHostIPv6, H::ConvertV4MappedToIPv4, false},
        IsEqualRow{H("192.168.1.1"), H("::192.168.1.1"), H::ConvertLocalHost, false},
        IsEqualRow{H("192.168.1.1"), H("::192.168.1.1"), H::ConvertUnspecifiedAddress, false},
        IsEqualRow{H("192.168.1.1"), H("::192.168.1.1"), H::ConvertV4CompatToIPv4, true},
        IsEqualRow{H("192.168.1.1"), H("::192.168.1.1"), H::ConvertV4MappedToIPv4, false},
        IsEqualRow{H("192.168.1.1"), H("::ffff:192.168.1.1"), H::ConvertLocalHost, false},
        IsEqualRow{H("192.168.1.1"), H("::ffff:192.168.1.1"), H::ConvertUnspecifiedAddress,
                   false},
        IsEqualRow{H("192.168.1.1"), H("::ffff:192.168.1.1"), H::ConvertV4CompatToIPv4, false},
        IsEqualRow{H("192.168.1.1"), H("::FFFF:192.168.1.1"), H::ConvertV4MappedToIPv4, true},
        IsEqualRow{H(), H::Any, H::ConvertLocalHost, false},
        IsEqualRow{H(), H::Any, H::ConvertUnspecifiedAddress, false},
        IsEqualRow{H::AnyIPv6, H::AnyIPv4, H::ConvertV4CompatToIPv4, true},
        IsEqualRow{H::AnyIPv6, H::AnyIPv4, H::ConvertV4MappedToIPv4, false},
        IsEqualRow{H::AnyIPv6, H::AnyIPv4, H::ConvertUnspecifiedAddress, true},
        IsEqualRow{H::Any, H::AnyIPv4, H::ConvertUnspecifiedAddress, true},
        IsEqualRow{H::Any, H::AnyIPv6, H::ConvertUnspecifiedAddress, true},
        IsEqualRow{H::AnyIPv6, H::AnyIPv4, H::ConvertLocalHost, false},
        IsEqualRow{H::Any, H::AnyIPv4, H::ConvertLocalHost, false},
        IsEqualRow{H::Any, H::AnyIPv6, H::ConvertLocalHost, false},
        IsEqualRow{H::LocalHostIPv6, H::Any, H::TolerantConversion, false},
        IsEqualRow{H::LocalHost, H::Any, H::TolerantConversion, false},
        IsEqualRow{H::LocalHostIPv6, H::AnyIPv6, H::TolerantConversion, false},
        IsEqualRow{H::LocalHost, H::AnyIPv6, H::TolerantConversion, false},
        IsEqualRow{H::LocalHostIPv6, H::AnyIPv4, H::TolerantConversion, false},
        IsEqualRow{H::LocalHost, H::AnyIPv4, H::TolerantConversion, false}));

INSTANTIATE_TEST_SUITE_P(
    MoreRows, IsEqual,
    ::testing::Values(
        IsEqualRow{H::Any, H::Any, H::StrictConversion, true},
        IsEqualRow{H(), H(), H::TolerantConversion, true},
        IsEqualRow{H::Any, H::AnyIPv4, H::StrictConversion, false},
        IsEqualRow{H::LocalHost, H::LocalHostIPv6, H::TolerantConversion, true},
        IsEqualRow{H("1.2.3.4"), H("::ffff:1.2.3.4"), H::TolerantConversion, true},
        IsEqualRow{H("1.2.3.4"), H("::1.2.3.4"), H::TolerantConversion, true},
        IsEqualRow{H("1.2.3.4"), H("::ffff:1.2.3.5"), H::TolerantConversion, false},
        IsEqualRow{H("1.2.3.4"), H("1:2::1.2.3.4"), H::TolerantConversion, false},
        IsEqualRow{H("0.0.0.0"), H("::ffff:0.0.0.0"), H::ConvertV4MappedToIPv4, true},
        IsEqualRow{H::Any, H("::1"), H::TolerantConversion, false},
        IsEqualRow{H::Any, H("0.0.0.1"), H::TolerantConversion, false},
        IsEqualRow{H::LocalHost,
                   H("::1"),
                   H::ConvertV4MappedToIPv4 | H::ConvertV4CompatToIPv4 |
                       H::ConvertUnspecifiedAddress,
                   false},
        IsEqualRow{H("fe80::1%a"), H("fe80::1%b"), H::StrictConversion, true}));

TEST(HostAddress, IsEqualDefaultsToTolerantConversion) {
  EXPECT_TRUE(HostAddress(HostAddress::LocalHost).isEqual(HostAddress("::1")));
  EXPECT_TRUE(HostAddress(HostAddress::Any).isEqual(HostAddress("::")));
  EXPECT_FALSE(HostAddress(HostAddress::LocalHost) == HostAddress("::1"));
}

// --------------------------------------------------------------- scope ids

TEST(HostAddress, ScopeIdIsParsedKeptAndPrinted) {
  const HostAddress address("fe80::2e0:4cff:fefb:662a%eth0");
  EXPECT_EQ(address.scopeId(), "eth0");
  EXPECT_EQ(address.toString(), "fe80::2e0:4cff:fefb:662a%eth0");

  HostAddress other("fe80::2e0:4cff:fefb:662a");
  EXPECT_EQ(other.scopeId(), "");
  other.setScopeId("en0");
  EXPECT_EQ(other.scopeId(), "en0");
  EXPECT_EQ(other.toString(), "fe80::2e0:4cff:fefb:662a%en0");

  other = address;
  EXPECT_EQ(other.scopeId(), "eth0");
  EXPECT_EQ(other.toString(), "fe80::2e0:4cff:fefb:662a%eth0");

  other.setScopeId("");
  EXPECT_EQ(other.toString(), "fe80::2e0:4cff:fefb:662a");
}

TEST(HostAddress, CopiesOwnTheirScopeIdAndStayCompact) {
  // The scope id is kept out of line so that an address is 32 bytes; a copy
  // still owns its own.
  static_assert(sizeof(HostAddress) <= 32);
  HostAddress original("fe80::1%eth0");
  HostAddress copy(original);
  HostAddress assigned;
  assigned = original;
  copy.setScopeId("lo");
  assigned.setScopeId("");
  EXPECT_EQ(original.scopeId(), "eth0");
  EXPECT_EQ(copy.scopeId(), "lo");
  EXPECT_EQ(assigned.scopeId(), "");
  HostAddress moved(std::move(copy));
  EXPECT_EQ(moved.toString(), "fe80::1%lo");
  HostAddress& self = original;
  original = self;
  EXPECT_EQ(original.scopeId(), "eth0");
}

TEST(HostAddress, ScopeIdIsOnlyKeptForIPv6) {
  for (HostAddress address : {HostAddress("10.0.0.1"), HostAddress(HostAddress::Any),
                              HostAddress(), HostAddress(HostAddress::AnyIPv4)}) {
    address.setScopeId("eth0");
    EXPECT_EQ(address.scopeId(), "") << address;
    EXPECT_EQ(address.toString().find('%'), std::string::npos) << address;
  }
  HostAddress address("::ffff:10.0.0.1");
  address.setScopeId("eth0");
  EXPECT_EQ(address.scopeId(), "eth0");
}

TEST(HostAddress, SettingAnotherAddressDropsTheScopeId) {
  HostAddress address("fe80::1%eth0");
  address.setAddress("fe80::2");
  EXPECT_EQ(address.scopeId(), "");
  address.setAddress("fe80::1%eth0");
  address.setAddress(v6("fe80::3").toIPv6Address());
  EXPECT_EQ(address.scopeId(), "");
  address.setAddress("fe80::1%eth0");
  address.setAddress(0x01020304u);
  address.setAddress(v6("fe80::3").toIPv6Address().data());
  EXPECT_EQ(address.scopeId(), "");
}

// ------------------------------------------------------------- conversions

TEST(HostAddress, IPv4NumberIsInHostByteOrder) {
  const HostAddress address(0x7f000001u);
  EXPECT_EQ(address.toString(), "127.0.0.1");
  EXPECT_EQ(address.protocol(), Protocol::IPv4Protocol);
  bool ok = false;
  EXPECT_EQ(address.toIPv4Address(&ok), 2130706433u);
  EXPECT_TRUE(ok);
  EXPECT_EQ(address.toIPv4Address(), 0x7f000001u);
  EXPECT_EQ(address, HostAddress::LocalHost);
}

TEST(HostAddress, IPv6ByteConstructorsAgree) {
  const IPv6Address bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const HostAddress fromArray(bytes);
  const HostAddress fromPointer(bytes.data());
  HostAddress viaSetter;
  viaSetter.setAddress(bytes);
  EXPECT_EQ(fromArray.toString(), "2001:db8::1");
  EXPECT_EQ(fromPointer, fromArray);
  EXPECT_EQ(viaSetter, fromArray);
  EXPECT_EQ(fromArray.toIPv6Address(), bytes);
}

TEST(HostAddress, IPv4ConvertsToItsMappedIPv6Form) {
  const IPv6Address mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  EXPECT_EQ(HostAddress("192.0.2.1").toIPv6Address(), mapped);
  EXPECT_EQ(HostAddress(HostAddress("192.0.2.1").toIPv6Address()), HostAddress("::ffff:192.0.2.1"));
  // 127.0.0.1 maps to ::ffff:127.0.0.1, never to ::1.
  EXPECT_EQ(HostAddress(HostAddress(HostAddress::LocalHost).toIPv6Address()),
            HostAddress("::ffff:127.0.0.1"));
  // 0.0.0.0 and Any give ::.
  EXPECT_EQ(HostAddress(HostAddress(HostAddress::AnyIPv4).toIPv6Address()),
            HostAddress(HostAddress::AnyIPv6));
  EXPECT_EQ(HostAddress(HostAddress(HostAddress::Any).toIPv6Address()),
            HostAddress(HostAddress::AnyIPv6));
  EXPECT_EQ(HostAddress().toIPv6Address(), IPv6Address{});
}

TEST(HostAddress, ToIPv4AddressSucceedsOnlyForIPv4AnyMappedAndUnspecified) {
  struct Row {
    HostAddress source;
    bool ok;
    std::uint32_t ip4;
  };
  const Row rows[] = {
      {HostAddress(HostAddress::Any), true, 0},
      {HostAddress(HostAddress::AnyIPv6), true, 0},
      {HostAddress(HostAddress::AnyIPv4), true, 0},
      {HostAddress("::ffff:192.0.2.1"), true, 0xc0000201},
      {HostAddress("::ffff:127.0.0.1"), true, 0x7f000001},
      {HostAddress("::ffff:0.0.0.0"), true, 0},
      {HostAddress(HostAddress::LocalHostIPv6), false, 0},
      {HostAddress("::192.0.2.1"), false, 0},
      {HostAddress("::127.0.0.1"), false, 0},
      {HostAddress("2001:db8::1"), false, 0},
      {HostAddress("ff02::1"), false, 0},
      {HostAddress(), false, 0},
  };
  for (const Row& row : rows) {
    bool ok = !row.ok;
    EXPECT_EQ(row.source.toIPv4Address(&ok), row.ip4) << row.source;
    EXPECT_EQ(ok, row.ok) << row.source;
  }
}

// ----------------------------------------------------------------- subnets

struct SubnetRow {
  std::string_view text;
  HostAddress network;
  int prefix;
};

void PrintTo(const SubnetRow& row, std::ostream* out) { *out << '"' << row.text << '"'; }

class ParseSubnet : public ::testing::TestWithParam<SubnetRow> {};

TEST_P(ParseSubnet, GivesNetworkAndPrefixOrNullAndMinusOne) {
  const SubnetRow& row = GetParam();
  const auto [network, prefix] = HostAddress::parseSubnet(row.text);
  EXPECT_EQ(network, row.network);
  EXPECT_EQ(network.toString(), row.network.toString());
  EXPECT_EQ(prefix, row.prefix);
}

const HostAddress kNull;

INSTANTIATE_TEST_SUITE_P(
    Invalid, ParseSubnet,
    ::testing::Values(SubnetRow{"", kNull, -1}, SubnetRow{"foobar", kNull, -1},
                      SubnetRow{"   ", kNull, -1}, SubnetRow{"1.2.3.a", kNull, -1},
                      SubnetRow{"1.2.3.4.5", kNull, -1}, SubnetRow{"1.2.3.4:80", kNull, -1},
                      SubnetRow{"1.2.3.4/33", kNull, -1}, SubnetRow{"1.2.3.4/-1", kNull, -1},
                      SubnetRow{"1.2.3.4/256.0.0.0", kNull, -1},
                      SubnetRow{"1.2.3.4/255.253.0.0", kNull, -1},
                      SubnetRow{"1.2.3.4/255.0.0.255", kNull, -1},
                      SubnetRow{"1.2.3.4.", kNull, -1}, SubnetRow{"ffff::/-1", kNull, -1},
                      SubnetRow{"ffff::/129", kNull, -1},
                      SubnetRow{"ffff::/255.255.0.0", kNull, -1},
                      SubnetRow{"ffff::/ff00::", kNull, -1}, SubnetRow{"1.2.3.4/", kNull, -1},
                      SubnetRow{"/24", kNull, -1}, SubnetRow{".", kNull, -1},
                      SubnetRow{"1..2", kNull, -1}, SubnetRow{"256/8", kNull, -1},
                      SubnetRow{"1.2.3.4/99999999999999", kNull, -1},
                      SubnetRow{"1.2.3.4/24x", kNull, -1}, SubnetRow{"::g/64", kNull, -1},
                      SubnetRow{"1.2.3.4/ffff::", kNull, -1}));

INSTANTIATE_TEST_SUITE_P(
    IPv4Netmasks, ParseSubnet,
    ::testing::Values(SubnetRow{"0.0.0.0/0.0.0.0", H::AnyIPv4, 0},
                      SubnetRow{"0.0.0.0/255.128.0.0", H::AnyIPv4, 9},
                      SubnetRow{"0.0.0.0/255.192.0.0", H::AnyIPv4, 10},
                      SubnetRow{"0.0.0.0/255.224.0.0", H::AnyIPv4, 11},
                      SubnetRow{"0.0.0.0/255.240.0.0", H::AnyIPv4, 12},
                      SubnetRow{"0.0.0.0/255.248.0.0", H::AnyIPv4, 13},
                      SubnetRow{"0.0.0.0/255.252.0.0", H::AnyIPv4, 14},
                      SubnetRow{"0.0.0.0/255.254.0.0", H::AnyIPv4, 15},
                      SubnetRow{"0.0.0.0/255.255.0.0", H::AnyIPv4, 16},
                      SubnetRow{"0.0.0.0/255.255.255.0", H::AnyIPv4, 24},
                      SubnetRow{"0.0.0.0/255.255.255.254", H::AnyIPv4, 31},
                      SubnetRow{"0.0.0.0/255.255.255.255", H::AnyIPv4, 32},
                      SubnetRow{"192.168.7.9/255.255.252.0", H("192.168.4.0"), 22}));

INSTANTIATE_TEST_SUITE_P(
    IPv4Prefixes, ParseSubnet,
    ::testing::Values(SubnetRow{"0.0.0.0/0", H::AnyIPv4, 0}, SubnetRow{"0.0.0.0/1", H::AnyIPv4, 1},
                      SubnetRow{"0.0.0.0/9", H::AnyIPv4, 9},
                      SubnetRow{"0.0.0.0/31", H::AnyIPv4, 31},
                      SubnetRow{"0.0.0.0/32", H::AnyIPv4, 32},
                      SubnetRow{" 10.1.2.3/8 ", H("10.0.0.0"), 8},
                      SubnetRow{"10.1.2.3/024", H("10.1.2.0"), 24},
                      // Partial forms: missing parts are zero, the default
                      // prefix is eight bits per part given.
                      SubnetRow{"10", H("10.0.0.0"), 8}, SubnetRow{"10.", H("10.0.0.0"), 8},
                      SubnetRow{"172.16", H("172.16.0.0"), 16},
                      SubnetRow{"172.16.", H("172.16.0.0"), 16},
                      SubnetRow{"192.168.0", H("192.168.0.0"), 24},
                      SubnetRow{"192.168.0.", H("192.168.0.0"), 24},
                      SubnetRow{"192.168.0.1", H("192.168.0.1"), 32},
                      SubnetRow{"10.1/8", H("10.0.0.0"), 8},
                      SubnetRow{"192.168/255.255.0.0", H("192.168.0.0"), 16},
                      SubnetRow{"172.16/12", H("172.16.0.0"), 12}));

INSTANTIATE_TEST_SUITE_P(
    IPv4TailBitsCleared, ParseSubnet,
    ::testing::Values(SubnetRow{"255.255.255.255/31", H("255.255.255.254"), 31},
                      SubnetRow{"255.255.255.255/24", H("255.255.255.0"), 24},
                      SubnetRow{"255.255.255.255/23", H("255.255.254.0"), 23},
                      SubnetRow{"255.255.255.255/22", H("255.255.252.0"), 22},
                      SubnetRow{"255.255.255.255/21", H("255.255.248.0"), 21},
                      SubnetRow{"255.255.255.255/20", H("255.255.240.0"), 20},
                      SubnetRow{"255.255.255.255/19", H("255.255.224.0"), 19},
                      SubnetRow{"255.255.255.255/18", H("255.255.192.0"), 18},
                      SubnetRow{"255.255.255.255/17", H("255.255.128.0"), 17},
                      SubnetRow{"255.255.255.255/16", H("255.255.0.0"), 16},
                      SubnetRow{"255.255.255.255/8", H("255.0.0.0"), 8},
                      SubnetRow{"255.255.255.255/1", H("128.0.0.0"), 1},
                      SubnetRow{"255.255.255.255/0", H("0.0.0.0"), 0}));

constexpr std::string_view kAllOnes = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";

INSTANTIATE_TEST_SUITE_P(
    IPv6, ParseSubnet,
    ::testing::Values(
        SubnetRow{"::/0", H::AnyIPv6, 0}, SubnetRow{"::/3", H::AnyIPv6, 3},
        SubnetRow{"::/16", H::AnyIPv6, 16}, SubnetRow{"::/48", H::AnyIPv6, 48},
        SubnetRow{"::/127", H::AnyIPv6, 127}, SubnetRow{"::/128", H::AnyIPv6, 128},
        SubnetRow{"2001:db8::1", H("2001:db8::1"), 128},
        SubnetRow{"2001:db8::1/64", H("2001:db8::"), 64},
        SubnetRow{"::ffff:10.1.2.3/120", H("::ffff:10.1.2.0"), 120},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/127",
                  H("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), 127},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/121",
                  H("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff80"), 121},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/120",
                  H("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00"), 120},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/112",
                  H("ffff:ffff:ffff:ffff:ffff:ffff:ffff:0"), 112},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/48", H("ffff:ffff:ffff::"), 48},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/47", H("ffff:ffff:fffe::"), 47},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/46", H("ffff:ffff:fffc::"), 46},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/45", H("ffff:ffff:fff8::"), 45},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/44", H("ffff:ffff:fff0::"), 44},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/43", H("ffff:ffff:ffe0::"), 43},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/42", H("ffff:ffff:ffc0::"), 42},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/41", H("ffff:ffff:ff80::"), 41},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/40", H("ffff:ffff:ff00::"), 40},
        SubnetRow{"3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/3", H("2000::"), 3},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/1", H("8000::"), 1},
        SubnetRow{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/0", H::AnyIPv6, 0}));

TEST(HostAddress, ParseSubnetKeepsAnIPv6ScopeId) {
  const auto [network, prefix] = HostAddress::parseSubnet("fe80::1234%eth0/64");
  EXPECT_EQ(network.toString(), "fe80::%eth0");
  EXPECT_EQ(prefix, 64);
}

TEST(HostAddress, ParseSubnetOfMappedAddressKeepsIPv4ViewConsistent) {
  const auto [network, prefix] = HostAddress::parseSubnet("::ffff:10.1.2.3/104");
  EXPECT_EQ(prefix, 104);
  bool ok = false;
  EXPECT_EQ(network.toIPv4Address(&ok), 0x0a000000u);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(network.isEqual(HostAddress("10.0.0.0")));
}

struct InSubnetRow {
  HostAddress address;
  HostAddress network;
  int prefix;
  bool inside;
};

void PrintTo(const InSubnetRow& row, std::ostream* out) {
  *out << row.address << " in " << row.network << '/' << row.prefix;
}

class IsInSubnet : public ::testing::TestWithParam<InSubnetRow> {};

TEST_P(IsInSubnet, ComparesThePrefixBits) {
  const InSubnetRow& row = GetParam();
  EXPECT_EQ(row.address.isInSubnet(row.network, row.prefix), row.inside);
  EXPECT_EQ(row.address.isInSubnet(std::pair(row.network, row.prefix)), row.inside);
}

INSTANTIATE_TEST_SUITE_P(
    NeverInside, IsInSubnet,
    ::testing::Values(
        InSubnetRow{H(), H(), 32, false}, InSubnetRow{H(), H::AnyIPv4, 32, false},
        InSubnetRow{H(), H::AnyIPv4, 8, false}, InSubnetRow{H(), H::AnyIPv4, 0, false},
        InSubnetRow{H(), H("255.255.255.0"), 24, false}, InSubnetRow{H(), H::AnyIPv6, 0, false},
        InSubnetRow{H(), H::AnyIPv6, 32, false}, InSubnetRow{H(), H::AnyIPv6, 128, false},
        InSubnetRow{H::AnyIPv4, H(), 16, false}, InSubnetRow{H::AnyIPv6, H(), 16, false},
        InSubnetRow{H::LocalHost, H(), 16, false}, InSubnetRow{H::LocalHostIPv6, H(), 16, false},
        InSubnetRow{H::AnyIPv4, H::Any, -1, false}, InSubnetRow{H::AnyIPv6, H::AnyIPv6, -1, false},
        InSubnetRow{H::LocalHost, H::LocalHost, -1, false},
        InSubnetRow{H::LocalHost, H::AnyIPv6, 0, false},
        InSubnetRow{H::LocalHostIPv6, H::Any, 0, false},
        InSubnetRow{H::Any, H::Any, 0, false},
        InSubnetRow{H::LocalHost, H("ffff:ffff:ffff:ffff:ffff:ffff:255.0.0.0"), 113, false},
        InSubnetRow{H::LocalHost, H("::ffff:255.0.0.0"), 113, false}));

INSTANTIATE_TEST_SUITE_P(
    IPv4, IsInSubnet,
    ::testing::Values(InSubnetRow{H::LocalHost, H::AnyIPv4, 0, true},
                      InSubnetRow{H::LocalHost, H("255.255.0.0"), 0, true},
                      InSubnetRow{H::LocalHost, H("1.2.3.4"), 0, true},
                      InSubnetRow{H::LocalHost, H::AnyIPv4, 1, true},
                      InSubnetRow{H::LocalHost, H("128.0.0.0"), 1, false},
                      InSubnetRow{H("224.0.0.1"), H("128.0.0.0"), 1, true},
                      InSubnetRow{H("224.0.0.1"), H("0.0.0.0"), 1, false},
                      InSubnetRow{H::LocalHost, H("127.0.0.0"), 8, true},
                      InSubnetRow{H::LocalHost, H("126.0.0.0"), 8, false},
                      InSubnetRow{H("10.0.1.255"), H("10.0.0.0"), 15, true},
                      InSubnetRow{H("10.2.0.0"), H("10.0.0.0"), 15, false},
                      InSubnetRow{H("172.16.0.1"), H("172.16.0.0"), 16, true},
                      InSubnetRow{H::LocalHost, H::LocalHost, 1, true},
                      InSubnetRow{H::LocalHost, H::LocalHost, 7, true},
                      InSubnetRow{H::LocalHost, H::LocalHost, 8, true},
                      InSubnetRow{H::LocalHost, H::LocalHost, 23, true},
                      InSubnetRow{H::LocalHost, H::LocalHost, 31, true},
                      InSubnetRow{H::LocalHost, H::LocalHost, 32, true},
                      InSubnetRow{H("127.0.0.2"), H::LocalHost, 32, false},
                      InSubnetRow{H("127.0.0.2"), H::LocalHost, 1000, false},
                      InSubnetRow{H::LocalHost, H::LocalHost, 1000, true}));

INSTANTIATE_TEST_SUITE_P(
    IPv6, IsInSubnet,
    ::testing::Values(InSubnetRow{H::LocalHostIPv6, H::AnyIPv6, 0, true},
                      InSubnetRow{H::LocalHostIPv6, H::LocalHostIPv6, 0, true},
                      InSubnetRow{H::LocalHostIPv6, H("ffff::"), 0, true},
                      InSubnetRow{H::LocalHostIPv6, H::AnyIPv6, 1, true},
                      InSubnetRow{H("fec0::1"), H("8000::"), 1, true},
                      InSubnetRow{H::LocalHostIPv6, H("8000::"), 1, false},
                      InSubnetRow{H("fec0::1"), H("::"), 1, false},
                      InSubnetRow{H("2:3:5::1"), H("2:3:4::"), 47, true},
                      InSubnetRow{H("2:3:4::1"), H("2:3:4::"), 48, true},
                      InSubnetRow{H("2:3:5::1"), H("2:3:4::"), 48, false},
                      InSubnetRow{H("2:3:4:5::1"), H("2:3:4:5::"), 127, true},
                      InSubnetRow{H("2:3:4:5::1"), H("2:3:4:5::1"), 128, true},
                      InSubnetRow{H("2:3:4:5::1"), H("2:3:4:5::0"), 128, false},
                      InSubnetRow{H("2:3:4:5::1"), H("2:3:4:5::0"), 5000, false},
                      InSubnetRow{H("fe80::1%eth0"), H("fe80::%eth1"), 64, true}));

TEST(HostAddress, IsInSubnetAcceptsTheResultOfParseSubnet) {
  const auto subnet = HostAddress::parseSubnet("192.168.0.0/16");
  EXPECT_TRUE(HostAddress("192.168.200.1").isInSubnet(subnet));
  EXPECT_FALSE(HostAddress("192.169.0.1").isInSubnet(subnet));
  const auto invalid = HostAddress::parseSubnet("nonsense");
  EXPECT_FALSE(HostAddress("192.168.200.1").isInSubnet(invalid));
}

// ----------------------------------------------------------- classification

enum class Class { Unknown, Loopback, LocalNet, LinkLocal, Multicast, Broadcast, Global,
                   Private, UniqueLocal, SiteLocal };

struct ClassRow {
  HostAddress address;
  Class expected;
};

void PrintTo(const ClassRow& row, std::ostream* out) { *out << row.address; }

class Classifies : public ::testing::TestWithParam<ClassRow> {};

TEST_P(Classifies, WithEveryPredicateAgreeing) {
  const HostAddress& address = GetParam().address;
  const Class expected = GetParam().expected;
  EXPECT_EQ(address.isLoopback(), expected == Class::Loopback);
  EXPECT_EQ(address.isGlobal(), expected == Class::Global || expected == Class::Private ||
                                    expected == Class::UniqueLocal ||
                                    expected == Class::SiteLocal);
  EXPECT_EQ(address.isLinkLocal(), expected == Class::LinkLocal);
  EXPECT_EQ(address.isSiteLocal(), expected == Class::SiteLocal);
  EXPECT_EQ(address.isUniqueLocalUnicast(), expected == Class::UniqueLocal);
  EXPECT_EQ(address.isMulticast(), expected == Class::Multicast);
  EXPECT_EQ(address.isBroadcast(), expected == Class::Broadcast);
  EXPECT_EQ(address.isPrivateUse(), expected == Class::Private || expected == Class::UniqueLocal);
}

INSTANTIATE_TEST_SUITE_P(
    Special, Classifies,
    ::testing::Values(ClassRow{H(), Class::Unknown}, ClassRow{H("&&&"), Class::Unknown},
                      ClassRow{H::Null, Class::Unknown}, ClassRow{H::Any, Class::LocalNet},
                      ClassRow{H::AnyIPv6, Class::LocalNet},
                      ClassRow{H::LocalHostIPv6, Class::Loopback},
                      ClassRow{H::AnyIPv4, Class::LocalNet},
                      ClassRow{H::LocalHost, Class::Loopback},
                      ClassRow{H::Broadcast, Class::Broadcast}));

INSTANTIATE_TEST_SUITE_P(
    IPv6Space, Classifies,
    ::testing::Values(ClassRow{H("::"), Class::LocalNet}, ClassRow{H("::1"), Class::Loopback},
                      ClassRow{H("::2"), Class::Global},
                      ClassRow{H("::127.0.0.1"), Class::Global},
                      ClassRow{H("2000::"), Class::Global},
                      ClassRow{H("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Class::Global},
                      ClassRow{H("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Class::Global},
                      ClassRow{H("fc00::"), Class::UniqueLocal},
                      ClassRow{H("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Class::UniqueLocal},
                      ClassRow{H("fe00::"), Class::Unknown},
                      ClassRow{H("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Class::Unknown},
                      ClassRow{H("fe80::"), Class::LinkLocal},
                      ClassRow{H("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Class::LinkLocal},
                      ClassRow{H("fec0::"), Class::SiteLocal},
                      ClassRow{H("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Class::SiteLocal},
                      ClassRow{H("ff00::"), Class::Multicast},
                      ClassRow{H("ff02::1"), Class::Multicast},
                      ClassRow{H(kAllOnes), Class::Multicast}));

// Each IPv4 row is checked as IPv4 and as its ::ffff: mapped IPv6 form.
std::vector<ClassRow> ipv4Rows() {
  const std::pair<std::string_view, Class> rows[] = {
      {"0.0.0.0", Class::LocalNet},         {"0.0.0.1", Class::LocalNet},
      {"0.255.255.255", Class::LocalNet},   {"1.0.0.0", Class::Global},
      {"1.2.3.4", Class::Global},           {"10.0.0.4", Class::Private},
      {"10.255.255.255", Class::Private},   {"9.255.255.255", Class::Global},
      {"11.0.0.0", Class::Global},          {"127.0.0.1", Class::Loopback},
      {"127.0.0.2", Class::Loopback},       {"127.255.255.255", Class::Loopback},
      {"169.254.1.1", Class::LinkLocal},    {"169.253.1.1", Class::Global},
      {"172.15.255.255", Class::Global},    {"172.16.0.1", Class::Private},
      {"172.31.255.255", Class::Private},   {"172.32.0.0", Class::Global},
      {"192.168.3.4", Class::Private},      {"192.169.0.1", Class::Global},
      {"223.255.255.255", Class::Global},   {"224.0.0.0", Class::Multicast},
      {"239.255.255.255", Class::Multicast}, {"240.0.0.0", Class::Unknown},
      {"255.255.255.254", Class::Unknown},  {"255.255.255.255", Class::Broadcast},
  };
  std::vector<ClassRow> out;
  for (const auto& [text, expected] : rows) {
    out.push_back({HostAddress(text), expected});
    out.push_back({HostAddress("::ffff:" + std::string(text)), expected});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(IPv4SpaceAndMapped, Classifies, ::testing::ValuesIn(ipv4Rows()));

// ------------------------------------------------------------------ hashing

TEST(HostAddress, EqualAddressesHashEqually) {
  const std::vector<std::pair<HostAddress, HostAddress>> pairs = {
      {HostAddress("127.0.0.1"), HostAddress(HostAddress::LocalHost)},
      {HostAddress("127.1"), HostAddress(0x7f000001u)},
      {HostAddress("::1"), HostAddress(HostAddress::LocalHostIPv6)},
      {HostAddress("fe80::1%eth0"), HostAddress("FE80:0::1%eth7")},
      {HostAddress(), HostAddress("garbage")},
      {HostAddress(HostAddress::Any), HostAddress(HostAddress::Any)},
  };
  for (const auto& [a, b] : pairs) {
    ASSERT_EQ(a, b);
    EXPECT_EQ(a.hash(), b.hash()) << a;
    EXPECT_EQ(a.hash(1234), b.hash(1234)) << a;
    EXPECT_EQ(std::hash<HostAddress>{}(a), std::hash<HostAddress>{}(b)) << a;
  }
}

TEST(HostAddress, HashSeparatesAddressesThatOnlyShareBytes) {
  // Not required by the hash contract, but cheap protocol mixing keeps
  // 0.0.0.0, ::, Any and Null (all zero bytes) in different buckets.
  const std::unordered_set<std::size_t> hashes = {
      HostAddress(HostAddress::AnyIPv4).hash(), HostAddress(HostAddress::AnyIPv6).hash(),
      HostAddress(HostAddress::Any).hash(), HostAddress().hash(),
      HostAddress("1.2.3.4").hash(), HostAddress("::ffff:1.2.3.4").hash()};
  EXPECT_EQ(hashes.size(), 6u);
  EXPECT_NE(HostAddress("1.2.3.4").hash(0), HostAddress("1.2.3.4").hash(1));
}

TEST(HostAddress, WorksAsAnUnorderedSetKey) {
  std::unordered_set<HostAddress> set;
  set.insert(HostAddress("10.0.0.1"));
  set.insert(HostAddress("10.0.0.1"));
  set.insert(HostAddress("::ffff:10.0.0.1"));
  set.insert(HostAddress());
  set.insert(HostAddress("bad"));
  set.insert(HostAddress(HostAddress::Any));
  EXPECT_EQ(set.size(), 4u);
  EXPECT_EQ(set.count(HostAddress(0x0a000001u)), 1u);
}

// ---------------------------------------------------- native socket address

TEST(HostAddress, IPv4BecomesSockaddrInWithPort) {
  sockaddr_storage storage{};
  const socklen_t length = HostAddress("192.0.2.7").toSockaddr(8080, &storage);
  ASSERT_EQ(length, sizeof(sockaddr_in));
  sockaddr_in ip4{};
  std::memcpy(&ip4, &storage, sizeof ip4);
  EXPECT_EQ(ip4.sin_family, AF_INET);
  EXPECT_EQ(ntohs(ip4.sin_port), 8080);
  EXPECT_EQ(ntohl(ip4.sin_addr.s_addr), 0xc0000207u);

  std::uint16_t port = 0;
  const HostAddress back =
      HostAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&storage), &port);
  EXPECT_EQ(back, HostAddress("192.0.2.7"));
  EXPECT_EQ(port, 8080);
  EXPECT_EQ(HostAddress(reinterpret_cast<const sockaddr*>(&storage)), back);
}

TEST(HostAddress, IPv6BecomesSockaddrIn6WithPortAndNumericScope) {
  sockaddr_storage storage{};
  const socklen_t length = HostAddress("fe80::1%7").toSockaddr(443, &storage);
  ASSERT_EQ(length, sizeof(sockaddr_in6));
  sockaddr_in6 ip6{};
  std::memcpy(&ip6, &storage, sizeof ip6);
  EXPECT_EQ(ip6.sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(ip6.sin6_port), 443);
  EXPECT_EQ(ip6.sin6_scope_id, 7u);
  EXPECT_EQ(ip6.sin6_addr.s6_addr[0], 0xfe);
  EXPECT_EQ(ip6.sin6_addr.s6_addr[15], 1);

  std::uint16_t port = 0;
  const HostAddress back =
      HostAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&storage), &port);
  EXPECT_EQ(back, HostAddress("fe80::1"));
  EXPECT_EQ(port, 443);
  std::array<char, IF_NAMESIZE> name{};
  const std::string expectedScope =
      if_indextoname(7, name.data()) != nullptr ? std::string(name.data()) : "7";
  EXPECT_EQ(back.scopeId(), expectedScope);
  // The plain constructor, like Qt's, reads only the address.
  EXPECT_EQ(HostAddress(reinterpret_cast<const sockaddr*>(&storage)).scopeId(), "");
}

TEST(HostAddress, InterfaceNameScopeIsLookedUpForSockaddr) {
  std::array<char, IF_NAMESIZE> name{};
  ASSERT_NE(if_indextoname(1, name.data()), nullptr) << "no interface with index 1";
  HostAddress address("fe80::1");
  address.setScopeId(name.data());
  sockaddr_storage storage{};
  ASSERT_EQ(address.toSockaddr(0, &storage), sizeof(sockaddr_in6));
  sockaddr_in6 ip6{};
  std::memcpy(&ip6, &storage, sizeof ip6);
  EXPECT_EQ(ip6.sin6_scope_id, 1u);
  EXPECT_EQ(HostAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&storage)).scopeId(),
            name.data());

  address.setScopeId("no-such-interface-here");
  ASSERT_EQ(address.toSockaddr(0, &storage), sizeof(sockaddr_in6));
  std::memcpy(&ip6, &storage, sizeof ip6);
  EXPECT_EQ(ip6.sin6_scope_id, 0u);
}

TEST(HostAddress, AnyBecomesIn6AddrAnyAndIPv4AnyStaysIPv4) {
  sockaddr_storage storage{};
  ASSERT_EQ(HostAddress(HostAddress::Any).toSockaddr(53, &storage), sizeof(sockaddr_in6));
  sockaddr_in6 ip6{};
  std::memcpy(&ip6, &storage, sizeof ip6);
  EXPECT_EQ(ip6.sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(ip6.sin6_port), 53);
  EXPECT_EQ(std::memcmp(&ip6.sin6_addr, &in6addr_any, sizeof in6addr_any), 0);

  ASSERT_EQ(HostAddress(HostAddress::AnyIPv4).toSockaddr(53, &storage), sizeof(sockaddr_in));
  EXPECT_EQ(storage.ss_family, AF_INET);
  ASSERT_EQ(HostAddress(HostAddress::AnyIPv6).toSockaddr(53, &storage), sizeof(sockaddr_in6));
  EXPECT_EQ(storage.ss_family, AF_INET6);
  // A mapped IPv6 address stays IPv6 on the wire.
  ASSERT_EQ(HostAddress("::ffff:1.2.3.4").toSockaddr(1, &storage), sizeof(sockaddr_in6));
}

TEST(HostAddress, NullFillsNoSockaddr) {
  sockaddr_storage storage{};
  storage.ss_family = AF_UNIX;
  EXPECT_EQ(HostAddress().toSockaddr(80, &storage), 0u);
  EXPECT_EQ(storage.ss_family, AF_UNIX);
  EXPECT_EQ(HostAddress::LocalHost == HostAddress(), false);
  EXPECT_EQ(HostAddress(HostAddress::LocalHost).toSockaddr(80, nullptr), 0u);
}

TEST(HostAddress, OtherSocketFamiliesGiveNull) {
  sockaddr_un local{};
  local.sun_family = AF_UNIX;
  const auto* generic = reinterpret_cast<const sockaddr*>(&local);
  std::uint16_t port = 99;
  EXPECT_TRUE(HostAddress(generic).isNull());
  EXPECT_TRUE(HostAddress::fromSockaddr(generic, &port).isNull());
  EXPECT_EQ(port, 0);
  EXPECT_TRUE(HostAddress::fromSockaddr(nullptr).isNull());
  HostAddress address("1.2.3.4");
  address.setAddress(generic);
  EXPECT_TRUE(address.isNull());
}

// ------------------------------------------------------------- value type

TEST(HostAddress, CopyMoveAndSwapKeepEveryPart) {
  HostAddress a("fe80::1%eth0");
  HostAddress b("10.0.0.1");
  swap(a, b);
  EXPECT_EQ(a.toString(), "10.0.0.1");
  EXPECT_EQ(b.toString(), "fe80::1%eth0");
  a.swap(b);
  EXPECT_EQ(a.toString(), "fe80::1%eth0");

  const HostAddress copy = a;
  EXPECT_EQ(copy.toString(), "fe80::1%eth0");
  HostAddress moved = std::move(a);
  EXPECT_EQ(moved.toString(), "fe80::1%eth0");
  HostAddress assigned;
  assigned = copy;
  EXPECT_EQ(assigned.scopeId(), "eth0");
}

TEST(HostAddress, StreamsItsText) {
  std::ostringstream out;
  out << HostAddress("2001:DB8::1") << ' ' << HostAddress("127.0.0.1");
  EXPECT_EQ(out.str(), "2001:db8::1 127.0.0.1");
}

}  // namespace
}  // namespace tether
