// The pure parts of the network subcommands: the fortune framings byte for
// byte (against literal bytes and the examples' hand-written encoder), the
// reader's answers to partial and broken input, and the parsing helpers.
#include <gtest/gtest.h>

#include <string>

#include "command_support.h"
#include "common/fortune_protocol.h"
#include "fortune_protocol.h"
#include "tether/buffer.h"

using namespace tether::cli;
using namespace std::string_literals;

namespace {

// A readable Buffer holding `bytes` (a sequential stand-in for a socket).
struct Device {
  explicit Device(std::string bytes) : data(std::move(bytes)) {
    buffer.setData(data);
    buffer.open(tether::IODevice::ReadOnly);
  }
  std::string data;
  tether::Buffer buffer;
};

TEST(FortuneFraming, Qt4IsQuint16SizeThenQStringAtQt40) {
  EXPECT_EQ(encodeFortune("Hi", FortuneFraming::Qt4), "\x00\x08\x00\x00\x00\x04\x00H\x00i"s);
  EXPECT_EQ(encodeFortune("", FortuneFraming::Qt4), "\x00\x04\x00\x00\x00\x00"s);
}

TEST(FortuneFraming, Qt5IsABareQString) {
  EXPECT_EQ(encodeFortune("Hi", FortuneFraming::Qt5), "\x00\x00\x00\x04\x00H\x00i"s);
}

TEST(FortuneFraming, Qt4MatchesTheExamplesEncoderForEveryQtFortune) {
  for (const char* f : kQtFortunes) EXPECT_EQ(encodeFortune(f, FortuneFraming::Qt4), fortune::encode(f)) << f;
  // Astral characters travel as surrogate pairs.
  EXPECT_EQ(encodeFortune("a\U0001F642", FortuneFraming::Qt4), fortune::encode("a\U0001F642"));
}

TEST(FortuneFraming, ReaderRoundTripsBothFramings) {
  for (FortuneFraming framing : {FortuneFraming::Qt4, FortuneFraming::Qt5}) {
    Device device(encodeFortune("Grüße \U0001F642", framing) + "rest");
    const FortuneRead read = readFortune(device.buffer, framing);
    EXPECT_EQ(read.status, FortuneRead::Complete) << framingName(framing);
    EXPECT_EQ(read.text, "Grüße \U0001F642");
    EXPECT_EQ(device.buffer.readAll(), "rest") << "exactly the fortune's bytes are consumed";
  }
}

TEST(FortuneFraming, ReaderWaitsForEveryPrefixWithoutConsuming) {
  for (FortuneFraming framing : {FortuneFraming::Qt4, FortuneFraming::Qt5}) {
    const std::string whole = encodeFortune("You might have mail.", framing);
    for (std::size_t n = 0; n < whole.size(); ++n) {
      Device device(whole.substr(0, n));
      EXPECT_EQ(readFortune(device.buffer, framing).status, FortuneRead::Incomplete) << n;
      EXPECT_EQ(device.buffer.bytesAvailable(), static_cast<std::int64_t>(n));
    }
  }
}

TEST(FortuneFraming, ReaderRefusesWhatCannotBeAFortune) {
  // A block too small for a QString's length field.
  Device tiny("\x00\x02\x00\x00"s);
  EXPECT_EQ(readFortune(tiny.buffer, FortuneFraming::Qt4).status, FortuneRead::Malformed);
  // An odd byte count.
  Device odd("\x00\x00\x00\x03xyz"s);
  EXPECT_EQ(readFortune(odd.buffer, FortuneFraming::Qt5).status, FortuneRead::Malformed);
  // A QString larger than its block.
  Device overflow("\x00\x06\x00\x00\x00\x08\x00H"s);
  EXPECT_EQ(readFortune(overflow.buffer, FortuneFraming::Qt4).status, FortuneRead::Malformed);
  // A claimed size far beyond any fortune: refused at once, not waited for.
  Device huge("\x7f\x00\x00\x00"s);
  const FortuneRead read = readFortune(huge.buffer, FortuneFraming::Qt5);
  EXPECT_EQ(read.status, FortuneRead::Malformed);
  EXPECT_NE(read.error.find("bytes"), std::string::npos) << read.error;
  // A qt4 block read as qt5: the size and the length field run together.
  Device mismatch(encodeFortune(std::string(40, 'x'), FortuneFraming::Qt4));
  EXPECT_EQ(readFortune(mismatch.buffer, FortuneFraming::Qt5).status, FortuneRead::Malformed);
}

TEST(FortuneFraming, NullQStringReadsAsEmpty) {
  Device device("\x00\x04\xff\xff\xff\xff"s);
  const FortuneRead read = readFortune(device.buffer, FortuneFraming::Qt4);
  EXPECT_EQ(read.status, FortuneRead::Complete);
  EXPECT_EQ(read.text, "");
}

TEST(FortuneFraming, NamesAndQt4Limit) {
  EXPECT_EQ(framingFromName("qt4"), FortuneFraming::Qt4);
  EXPECT_EQ(framingFromName("qt5"), FortuneFraming::Qt5);
  EXPECT_FALSE(framingFromName("qt6"));
  EXPECT_EQ(utf16Length("a\U0001F642"), 3u);
  const std::string largest(kMaxQt4FortuneUnits, 'x');
  const std::string block = encodeFortune(largest, FortuneFraming::Qt4);
  EXPECT_EQ(block.substr(0, 2), "\xff\xfe"s) << "4 + 2 * 32765 = 65534 bytes after the size";
}

TEST(CommandParsing, HostPort) {
  std::string host;
  std::uint16_t port = 0;
  ASSERT_TRUE(parseHostPort("localhost:7000", host, port));
  EXPECT_EQ(host, "localhost");
  EXPECT_EQ(port, 7000);
  ASSERT_TRUE(parseHostPort("[::1]:65535", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 65535);
  for (const char* bad : {"", "host", "host:", ":80", "host:0", "host:65536", "host:8o", "::1:80", "[]:80", "[::1:80"})
    EXPECT_FALSE(parseHostPort(bad, host, port)) << bad;
}

TEST(CommandParsing, AddressAndOptionalPort) {
  auto parsed = parseAddressAndPort("127.0.0.1:5353");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first.toString(), "127.0.0.1");
  EXPECT_EQ(parsed->second, 5353);
  parsed = parseAddressAndPort("127.0.0.1");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->second, 0);
  parsed = parseAddressAndPort("::1");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first.toString(), "::1");
  EXPECT_EQ(parsed->second, 0);
  parsed = parseAddressAndPort("[fd00::53]:53");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first.toString(), "fd00::53");
  EXPECT_EQ(parsed->second, 53);
  for (const char* bad : {"", "dns.example", "127.0.0.1:", "127.0.0.1:x", "[127.0.0.1]:53", "[::1]x", "1.2.3.4:70000"})
    EXPECT_FALSE(parseAddressAndPort(bad)) << bad;
}

TEST(CommandParsing, ListenAddress) {
  EXPECT_EQ(parseListenAddress("0.0.0.0"), tether::HostAddress(tether::HostAddress::Any));
  EXPECT_EQ(parseListenAddress("any"), tether::HostAddress(tether::HostAddress::Any));
  EXPECT_EQ(parseListenAddress("127.0.0.1").toString(), "127.0.0.1");
  EXPECT_TRUE(parseListenAddress("localhost").isNull());
}

TEST(CommandParsing, PrintableTextKeepsUtf8AndEscapesTheRest) {
  EXPECT_EQ(printableText("Grüße \U0001F642 \\ \"q\""), "Grüße \U0001F642 \\ \"q\"");
  EXPECT_EQ(printableText("a\nb\x1b[31m"), "a\\x0ab\\x1b[31m");
  EXPECT_EQ(printableText("\xff\xc3"s), "\\xff\\xc3");
  EXPECT_EQ(printableText("\xed\xa0\x80"s), "\\xed\\xa0\\x80") << "a surrogate is not UTF-8";
  EXPECT_EQ(printableText("\xc0\xaf"s), "\\xc0\\xaf") << "an overlong form is not UTF-8";
}

}  // namespace
