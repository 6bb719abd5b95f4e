// The tool's pure parts: frames, the seed's header, the name rules, the
// progress texts and styles.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "progress.h"
#include "tool_test_support.h"
#include "transfer_protocol.h"

using namespace tether::cli;
namespace proto = tether::cli::proto;

namespace {

template <class M>
M roundTrip(const M& message, proto::FrameType type) {
  std::string bytes;
  proto::encode(bytes, message);
  proto::Frame frame;
  std::size_t used = 0;
  EXPECT_EQ(proto::takeFrame(bytes, frame, used), proto::Parse::Complete);
  EXPECT_EQ(used, bytes.size());
  EXPECT_EQ(frame.type, type);
  M back;
  EXPECT_TRUE(proto::decode(frame.body, back));
  return back;
}

}  // namespace

TEST(ToolProtocol, MagicCannotBeASeedTotalSize) {
  // As the seed's quint64 total, the magic is above 2^63: no file (below
  // 2^63 bytes on Linux) plus a header of a few KiB can be that large.
  std::uint64_t asTotal = 0;
  for (std::uint8_t b : proto::kMagic) asTotal = (asTotal << 8) | b;
  EXPECT_EQ(asTotal, 0x895445544845520aULL);
  EXPECT_GT(asTotal, (std::uint64_t{1} << 63) + (std::uint64_t{1} << 40));
  EXPECT_TRUE(proto::startsWithMagic(proto::magic() + "rest"));
  EXPECT_FALSE(proto::startsWithMagic(proto::encodeSeedHeader("a", 10)));
}

TEST(ToolProtocol, EveryFrameRoundTrips) {
  const auto hello = roundTrip(proto::Hello{1, 7, 123456789012ULL, proto::kUnverified}, proto::FrameType::Hello);
  EXPECT_EQ(hello.totalBytes, 123456789012ULL);
  EXPECT_EQ(hello.flags, proto::kUnverified);
  const auto welcome = roundTrip(proto::Welcome{1, proto::Status::Busy, "later"}, proto::FrameType::Welcome);
  EXPECT_EQ(welcome.status, proto::Status::Busy);
  EXPECT_EQ(welcome.message, "later");
  const auto file = roundTrip(proto::FileHeader{"dir/naïve.txt", 42, 0755}, proto::FrameType::File);
  EXPECT_EQ(file.path, "dir/naïve.txt");
  EXPECT_EQ(file.size, 42u);
  EXPECT_EQ(file.mode, 0755u);
  proto::Offer offer{proto::Status::Ok, 1 << 20, {}, ""};
  offer.prefixDigest[0] = 0xab;
  offer.prefixDigest[31] = 0xcd;
  const auto offerBack = roundTrip(offer, proto::FrameType::Offer);
  EXPECT_EQ(offerBack.offset, 1u << 20);
  EXPECT_EQ(offerBack.prefixDigest, offer.prefixDigest);
  EXPECT_EQ(roundTrip(proto::Start{99}, proto::FrameType::Start).offset, 99u);
  proto::DigestFrame digest;
  digest.digest.fill(0x5a);
  EXPECT_EQ(roundTrip(digest, proto::FrameType::FileDigest).digest, digest.digest);
  EXPECT_EQ(roundTrip(proto::Result{proto::Status::Exists, "x"}, proto::FrameType::Result).status,
            proto::Status::Exists);
  EXPECT_EQ(roundTrip(proto::Bye{proto::Status::Ok, 3, ""}, proto::FrameType::Bye).filesReceived, 3u);
}

TEST(ToolProtocol, FramesAreTakenWholeAndBadOnesRefusedEarly) {
  std::string bytes;
  proto::encode(bytes, proto::FileHeader{"a.txt", 1, 0644});
  proto::Frame frame;
  std::size_t used = 0;
  for (std::size_t cut = 0; cut < bytes.size(); ++cut)
    EXPECT_EQ(proto::takeFrame(std::string_view(bytes).substr(0, cut), frame, used), proto::Parse::Incomplete) << cut;
  // Unknown type: known from the first byte.
  EXPECT_EQ(proto::takeFrame("\xff", frame, used), proto::Parse::Malformed);
  EXPECT_EQ(proto::takeFrame(std::string("\x00", 1), frame, used), proto::Parse::Malformed);
  // A body over the limit: known from the first five bytes, before it arrives.
  EXPECT_EQ(proto::takeFrame(std::string("\x03\x00\x01\x00\x01", 5), frame, used), proto::Parse::Malformed);
  // Bodies with trailing or missing bytes do not decode.
  proto::Start start;
  EXPECT_FALSE(proto::decode(std::string(9, '\0'), start));
  EXPECT_FALSE(proto::decode(std::string(7, '\0'), start));
  proto::Result result;
  EXPECT_FALSE(proto::decode(std::string("\x63\x00\x00", 3), result)) << "unknown status";
}

TEST(ToolProtocol, SeedHeaderIsQtDataStreamBytes) {
  // quint64 total (header included), quint64 name field size, QString
  // (quint32 byte length + UTF-16BE), as the seed's client writes them.
  const std::string header = proto::encodeSeedHeader("ab", 1000);
  const std::string expected = std::string("\x00\x00\x00\x00\x00\x00\x04\x00", 8) +  // 1000 + 24
                               std::string("\x00\x00\x00\x00\x00\x00\x00\x08", 8) +  // 4 + 2 * 2
                               std::string("\x00\x00\x00\x04\x00\x61\x00\x62", 8);
  EXPECT_EQ(header, expected);
  std::string why;
  const auto parsed = proto::parseSeedHeader(header, &why);
  ASSERT_TRUE(parsed) << why;
  EXPECT_EQ(parsed->total, 1024u);
  EXPECT_EQ(parsed->nameField, 8u);
  EXPECT_EQ(proto::seedFileSize(*parsed), 1000u);
  EXPECT_EQ(proto::parseSeedName(header.substr(16), &why).value_or("?"), "ab");
  // Non-ASCII names travel as UTF-16 (a surrogate pair for the emoji).
  const std::string name = "naïve-😀.txt";
  const std::string h2 = proto::encodeSeedHeader(name, 0);
  EXPECT_EQ(proto::parseSeedName(h2.substr(16), &why).value_or("?"), name);
}

TEST(ToolProtocol, SeedHeadersThatCannotBeFileHeadersAreRefused) {
  std::string why;
  EXPECT_FALSE(proto::parseSeedHeader("GET / HTTP/1.1\r\n", &why));
  EXPECT_FALSE(proto::parseSeedHeader(std::string(16, '\0'), &why)) << "name field of 0 bytes";
  // An odd name field cannot hold UTF-16.
  EXPECT_FALSE(proto::parseSeedHeader(std::string("\0\0\0\0\0\0\0\x40\0\0\0\0\0\0\0\x09", 16), &why));
  // A total smaller than the header.
  EXPECT_FALSE(proto::parseSeedHeader(std::string("\0\0\0\0\0\0\0\x10\0\0\0\0\0\0\0\x08", 16), &why));
  // A name field longer than any name we take.
  EXPECT_FALSE(proto::parseSeedHeader(std::string("\0\0\0\0\0\x10\0\0\0\0\0\0\0\x10\0\0", 16), &why));
  // A null QString, or a length that does not fill the field.
  EXPECT_FALSE(proto::parseSeedName(std::string("\xff\xff\xff\xff", 4), &why));
  EXPECT_FALSE(proto::parseSeedName(std::string("\0\0\0\x02\0a\0b", 8), &why));
}

TEST(ToolNames, SeedNamesLoseTheirDirectoriesButNeverEscape) {
  std::string why;
  EXPECT_EQ(proto::seedFileName("report.pdf", &why).value_or("?"), "report.pdf");
  EXPECT_EQ(proto::seedFileName("a/b/c.txt", &why).value_or("?"), "c.txt");
  EXPECT_EQ(proto::seedFileName("a\\b\\c.txt", &why).value_or("?"), "c.txt");
  EXPECT_EQ(proto::seedFileName("./c.txt", &why).value_or("?"), "c.txt");
  for (const char* bad : {"", "..", "../x", "a/../x", "/etc/passwd", "\\\\server\\share", "C:\\x", "c:/x", "dir/",
                          ".", "x.tether-part", "tab\there", "new\nline"})
    EXPECT_FALSE(proto::seedFileName(bad, &why)) << bad;
  EXPECT_FALSE(proto::seedFileName(std::string(256, 'n'), &why)) << "longer than NAME_MAX";
  EXPECT_TRUE(proto::seedFileName(std::string(255, 'n'), &why));
}

TEST(ToolNames, NativePathsStayRelativeAndBounded) {
  std::string why;
  const auto parts = proto::splitRelativePath("photos/2024/a.jpg", &why);
  ASSERT_TRUE(parts);
  EXPECT_EQ(*parts, (std::vector<std::string>{"photos", "2024", "a.jpg"}));
  for (const char* bad : {"", "/abs", "a//b", "a/", "a/../b", "../a", "a/./b", "a\\b", "C:/x", ".x.tether-part"})
    EXPECT_FALSE(proto::splitRelativePath(bad, &why)) << bad;
  std::string deep;
  for (int i = 0; i < 32; ++i) deep += "d/";
  EXPECT_TRUE(proto::splitRelativePath(deep + "f", &why) == std::nullopt) << "33 levels";
  deep.erase(0, 2);
  EXPECT_TRUE(proto::splitRelativePath(deep + "f", &why)) << "32 levels";
  EXPECT_FALSE(proto::splitRelativePath(std::string(1025, 'a'), &why));
}

TEST(ToolProgress, TextsAreShortAndExact) {
  EXPECT_EQ(formatBytes(0), "0 B");
  EXPECT_EQ(formatBytes(1023), "1023 B");
  EXPECT_EQ(formatBytes(1536), "1.50 KiB");
  EXPECT_EQ(formatBytes(50 << 20), "50.0 MiB");
  EXPECT_EQ(formatBytes(std::int64_t{1} << 30), "1.00 GiB");
  EXPECT_EQ(formatRate(2.5 * (1 << 20)), "2.50 MiB/s");
  EXPECT_EQ(formatDuration(0), "0:00");
  EXPECT_EQ(formatDuration(65.2), "1:06");
  EXPECT_EQ(formatDuration(3723), "1:02:03");
  EXPECT_EQ(formatDuration(-1), "--:--");
}

TEST(ToolProgress, RateAndEtaFollowTheRecentWindow) {
  using namespace std::chrono;
  const auto t0 = Progress::Clock::time_point{};
  Progress p(Progress::Style::None, 100 << 20, stderr, t0);
  p.update(10 << 20, t0 + seconds(1));
  p.update(20 << 20, t0 + seconds(2));
  EXPECT_NEAR(p.rate(), 10.0 * (1 << 20), 1.0);
  EXPECT_NEAR(p.eta(), 8.0, 0.01);
  // After a stall longer than the window, the rate reflects the stall.
  p.update(20 << 20, t0 + seconds(10));
  p.update(21 << 20, t0 + seconds(11));
  EXPECT_LT(p.rate(), 1.0 * (1 << 20));
}

TEST(ToolProgress, BarFitsTheTerminalWidth) {
  Progress p(Progress::Style::None, 1000, stderr, Progress::Clock::time_point{});
  p.setLabel("a-very-long-file-name-that-does-not-fit-in-the-label-column.bin");
  p.update(500, Progress::Clock::time_point{} + std::chrono::seconds(1));
  for (int width : {40, 80, 120}) {
    const std::string bar = p.renderBar(width);
    EXPECT_LE(static_cast<int>(bar.size()), width) << bar;
    EXPECT_NE(bar.find("50%"), std::string::npos) << bar;
    EXPECT_NE(bar.find("ETA"), std::string::npos) << bar;
  }
  EXPECT_NE(p.renderBar(80).find("[#"), std::string::npos);
  EXPECT_EQ(p.renderLine(), "a-very-long-file-name-that-does-not-fit-in-the-label-column.bin: 50% 500 B / 1000 B, 500 B/s, "
                            "ETA 0:01");
}

TEST(ToolProgress, StyleIsABarOnlyOnATerminal) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_EQ(Progress::styleFor(false, false, fds[1]), Progress::Style::Lines);
  EXPECT_EQ(Progress::styleFor(true, false, fds[1]), Progress::Style::Json);
  EXPECT_EQ(Progress::styleFor(false, true, fds[1]), Progress::Style::None);
  ::close(fds[0]);
  ::close(fds[1]);
  const int tty = ::open("/dev/ptmx", O_RDWR | O_NOCTTY);
  if (tty >= 0) {
    EXPECT_EQ(Progress::styleFor(false, false, tty), Progress::Style::Bar);
    ::close(tty);
  }
}

TEST(ToolProgress, JsonLinesCarryBytesRateAndEta) {
  char* buffer = nullptr;
  std::size_t size = 0;
  std::FILE* out = ::open_memstream(&buffer, &size);
  const auto t0 = Progress::Clock::time_point{};
  {
    Progress p(Progress::Style::Json, 4000, out, t0);
    p.setLabel("f.bin");
    p.setJsonContext({{"id", 3}});
    p.update(1000, t0 + std::chrono::seconds(1));  // drawn: the interval has passed
    p.update(1001, t0 + std::chrono::milliseconds(1100));  // not drawn: too soon
    p.update(4000, t0 + std::chrono::seconds(4));
    p.finish(t0 + std::chrono::seconds(4));
  }
  std::fclose(out);
  const std::string text(buffer, size);
  std::free(buffer);
  tether::tooltest::RunResult r;
  r.out = text;
  const auto events = r.events();
  ASSERT_EQ(events.size(), 3u) << text;
  EXPECT_EQ(events[0]["event"], "progress");
  EXPECT_EQ(events[0]["file"], "f.bin");
  EXPECT_EQ(events[0]["id"], 3);
  EXPECT_EQ(events[0]["bytes"], 1000);
  EXPECT_EQ(events[0]["total"], 4000);
  EXPECT_EQ(events[0]["rate"], 1000.0);
  EXPECT_EQ(events[0]["eta"], 3.0);
  EXPECT_EQ(events[2]["bytes"], 4000);
  EXPECT_EQ(events[2]["eta"], 0.0);
}
