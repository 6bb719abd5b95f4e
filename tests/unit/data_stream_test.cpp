// DataStream against QDataStream's format and behaviour. Every expected byte
// sequence here was produced by real Qt 5.15 and Qt 6 (the interop test in
// tests/interop compares whole corpora against them); the rules for newer
// formats (Qt_6_7's 64-bit sizes, SizeLimitExceeded) follow Qt 6.10.
#include "tether/data_stream.h"

#include <sys/mman.h>

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "support/test_support.h"
#include "tether/buffer.h"
#include "tether/event_loop.h"
#include "tether/host_address.h"
#include "tether/tcp_server.h"
#include "tether/tcp_socket.h"

using namespace tether;

namespace {

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    if (!out.empty()) out += ' ';
    out += digits[static_cast<unsigned char>(c) >> 4];
    out += digits[static_cast<unsigned char>(c) & 0xf];
  }
  return out;
}

std::string unhex(std::string_view text) {
  std::string out;
  int nibbles = 0;
  unsigned value = 0;
  for (const char c : text) {
    if (c == ' ') continue;
    value = value * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : c - 'a' + 10);
    if (++nibbles == 2) {
      out += static_cast<char>(value);
      nibbles = 0;
      value = 0;
    }
  }
  return out;
}

// The bytes `write` produces on a fresh stream of `version` and `order`.
template <class Write>
std::string written(Write&& write, int version = DataStream::Qt_DefaultCompiledVersion,
                    DataStream::ByteOrder order = DataStream::BigEndian) {
  std::string bytes;
  DataStream out(&bytes, IODevice::WriteOnly);
  out.setVersion(version);
  out.setByteOrder(order);
  write(out);
  EXPECT_EQ(out.status(), DataStream::Ok);
  return bytes;
}

template <class T>
T readBack(const std::string& bytes, int version = DataStream::Qt_DefaultCompiledVersion,
           DataStream::ByteOrder order = DataStream::BigEndian, DataStream::Status expected = DataStream::Ok) {
  DataStream in(bytes);
  in.setVersion(version);
  in.setByteOrder(order);
  T value{};
  in >> value;
  EXPECT_EQ(in.status(), expected);
  if (expected == DataStream::Ok) {
    EXPECT_TRUE(in.atEnd());
  }
  return value;
}

template <class T>
void expectRoundTrip(const T& value, int version = DataStream::Qt_DefaultCompiledVersion) {
  for (const auto order : {DataStream::BigEndian, DataStream::LittleEndian}) {
    const std::string bytes = written([&](DataStream& out) { out << value; }, version, order);
    EXPECT_EQ(readBack<T>(bytes, version, order), value) << "version " << version << " order " << order;
  }
}

// Every distinct format number, Qt_1_0 to the newest.
std::vector<int> allVersions() {
  std::vector<int> versions;
  for (int v = DataStream::Qt_1_0; v <= DataStream::Qt_DefaultCompiledVersion; ++v) versions.push_back(v);
  return versions;
}

// A write-only device that takes everything and keeps only the first bytes:
// for sizes of 4 GiB and more without the memory.
class SinkDevice : public IODevice {
 public:
  SinkDevice() { open(WriteOnly); }
  std::string head;
  std::int64_t total = 0;

 protected:
  std::int64_t readData(char*, std::int64_t) override { return -1; }
  std::int64_t writeData(const char* data, std::int64_t size) override {
    const std::int64_t keep = std::min<std::int64_t>(size, 64 - static_cast<std::int64_t>(head.size()));
    if (keep > 0) head.append(data, static_cast<std::size_t>(keep));
    total += size;
    return size;
  }
};

// An allocator that remembers the largest single allocation.
inline std::size_t largestAllocation = 0;
template <class T>
struct CountingAllocator {
  using value_type = T;
  CountingAllocator() = default;
  template <class U>
  CountingAllocator(const CountingAllocator<U>&) {}  // NOLINT(google-explicit-constructor)
  T* allocate(std::size_t n) {
    largestAllocation = std::max(largestAllocation, n * sizeof(T));
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) { std::allocator<T>().deallocate(p, n); }
  friend bool operator==(const CountingAllocator&, const CountingAllocator&) { return true; }
};

enum class Color : std::uint16_t { Red = 1, Blue = 0x0102 };
enum Plain { PlainA = 7 };

}  // namespace

// ----------------------------------------------------------- construction

TEST(DataStream, DefaultsAreQtsNewestFormatBigEndianDoublePrecision) {
  DataStream s;
  EXPECT_EQ(s.version(), DataStream::Qt_6_10);
  EXPECT_EQ(s.version(), 23);
  EXPECT_EQ(DataStream::Qt_DefaultCompiledVersion, DataStream::Qt_6_10);
  EXPECT_EQ(s.byteOrder(), DataStream::BigEndian);
  EXPECT_EQ(s.floatingPointPrecision(), DataStream::DoublePrecision);
  EXPECT_EQ(s.status(), DataStream::Ok);
  EXPECT_TRUE(static_cast<bool>(s));
  EXPECT_EQ(s.device(), nullptr);
}

TEST(DataStream, VersionNumbersAreQts) {
  EXPECT_EQ(DataStream::Qt_1_0, 1);
  EXPECT_EQ(DataStream::Qt_3_3, 6);
  EXPECT_EQ(DataStream::Qt_4_0, 7);
  EXPECT_EQ(DataStream::Qt_4_1, 7);
  EXPECT_EQ(DataStream::Qt_4_6, 12);
  EXPECT_EQ(DataStream::Qt_4_9, 12);
  EXPECT_EQ(DataStream::Qt_5_0, 13);
  EXPECT_EQ(DataStream::Qt_5_7, 17);
  EXPECT_EQ(DataStream::Qt_5_12, 18);
  EXPECT_EQ(DataStream::Qt_5_15, 19);
  EXPECT_EQ(DataStream::Qt_6_0, 20);
  EXPECT_EQ(DataStream::Qt_6_5, 20);
  EXPECT_EQ(DataStream::Qt_6_6, 21);
  EXPECT_EQ(DataStream::Qt_6_7, 22);
  EXPECT_EQ(DataStream::Qt_6_9, 22);
  EXPECT_EQ(DataStream::Qt_6_10, 23);
}

TEST(DataStream, WithoutADeviceWritesNothingAndReadsZeros) {
  DataStream s;
  s << std::int32_t(5) << "text" << std::string("bytes");
  std::int32_t i = 7;
  std::string bytes = "x";
  s >> i >> bytes;
  EXPECT_EQ(i, 0);
  EXPECT_EQ(bytes, "");
  EXPECT_EQ(s.status(), DataStream::Ok);
  EXPECT_TRUE(s.atEnd());
  EXPECT_EQ(s.readRawData(nullptr, 0), -1);
  EXPECT_EQ(s.writeRawData("a", 1), -1);
  EXPECT_EQ(s.skipRawData(1), -1);
}

TEST(DataStream, StringConstructorWritesFromTheStartWithoutTruncating) {
  std::string bytes = "0123456789";
  {
    DataStream out(&bytes, IODevice::WriteOnly);
    out << std::uint16_t(0x4142);
  }
  EXPECT_EQ(bytes, "AB23456789");
  {
    DataStream out(&bytes, IODevice::Append);
    out << std::uint8_t('!');
  }
  EXPECT_EQ(bytes, "AB23456789!");
  {
    DataStream out(&bytes, IODevice::WriteOnly | IODevice::Truncate);
    out << std::uint8_t('x');
  }
  EXPECT_EQ(bytes, "x");
}

TEST(DataStream, ReadOnlyConstructorReadsACopy) {
  std::string bytes = unhex("00000001");
  DataStream in{std::string_view(bytes)};
  bytes = unhex("00000002");
  std::uint32_t value = 0;
  in >> value;
  EXPECT_EQ(value, 1u);
  EXPECT_TRUE(in.atEnd());
  in << std::uint8_t(1);  // read-only: the write fails
  EXPECT_EQ(in.status(), DataStream::WriteFailed);
}

TEST(DataStream, WorksOnAnyDeviceAndSetDeviceSwitches) {
  Buffer first;
  first.open(IODevice::ReadWrite);
  Buffer second;
  second.open(IODevice::ReadWrite);
  DataStream s(&first);
  EXPECT_EQ(s.device(), &first);
  s << std::int8_t(1);
  s.setDevice(&second);
  s << std::int8_t(2);
  EXPECT_EQ(first.data(), std::string("\x01", 1));
  EXPECT_EQ(second.data(), std::string("\x02", 1));
  s.setDevice(nullptr);
  EXPECT_TRUE(s.atEnd());
}

TEST(DataStream, MovedStreamKeepsItsInternalBuffer) {
  std::string bytes;
  DataStream a(&bytes, IODevice::WriteOnly);
  DataStream b(std::move(a));
  b << std::uint8_t(9);
  EXPECT_EQ(bytes, "\x09");
}

// ------------------------------------------------------------- integers

TEST(DataStream, IntegersOfEveryWidthInBothByteOrders) {
  auto all = [](DataStream& out) {
    out << std::int8_t(-2) << std::uint8_t(0xfe) << std::int16_t(-2) << std::uint16_t(0x0102)
        << std::int32_t(-2) << std::uint32_t(0x01020304) << std::int64_t(-2) << std::uint64_t(0x0102030405060708);
  };
  EXPECT_EQ(hex(written(all)),
            "fe fe ff fe 01 02 ff ff ff fe 01 02 03 04 ff ff ff ff ff ff ff fe 01 02 03 04 05 06 07 08");
  EXPECT_EQ(hex(written(all, DataStream::Qt_6_10, DataStream::LittleEndian)),
            "fe fe fe ff 02 01 fe ff ff ff 04 03 02 01 fe ff ff ff ff ff ff ff 08 07 06 05 04 03 02 01");
  for (const auto order : {DataStream::BigEndian, DataStream::LittleEndian}) {
    DataStream in(written(all, DataStream::Qt_6_10, order));
    in.setByteOrder(order);
    std::int8_t a;
    std::uint8_t b;
    std::int16_t c;
    std::uint16_t d;
    std::int32_t e;
    std::uint32_t f;
    std::int64_t g;
    std::uint64_t h;
    in >> a >> b >> c >> d >> e >> f >> g >> h;
    EXPECT_EQ(a, -2);
    EXPECT_EQ(b, 0xfe);
    EXPECT_EQ(c, -2);
    EXPECT_EQ(d, 0x0102);
    EXPECT_EQ(e, -2);
    EXPECT_EQ(f, 0x01020304u);
    EXPECT_EQ(g, -2);
    EXPECT_EQ(h, 0x0102030405060708u);
    EXPECT_EQ(in.status(), DataStream::Ok);
  }
}

TEST(DataStream, EveryIntegerTypeWritesByItsSize) {
  EXPECT_EQ(hex(written([](DataStream& o) { o << 'A' << static_cast<signed char>(-1) << static_cast<unsigned char>(2); })),
            "41 ff 02");
  EXPECT_EQ(hex(written([](DataStream& o) { o << short(1) << 1 << 1L << 1LL << 1ULL; })),
            "00 01 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 01");
  EXPECT_EQ(hex(written([](DataStream& o) { o << u'\u20ac' << U'\U0001F600'; })), "20 ac 00 01 f6 00");
  char16_t c16 = 0;
  char32_t c32 = 0;
  DataStream in(unhex("20ac 0001f600"));
  in >> c16 >> c32;
  EXPECT_EQ(c16, u'\u20ac');
  EXPECT_EQ(c32, U'\U0001F600');
}

TEST(DataStream, EnumsTravelAsTheirUnderlyingType) {
  EXPECT_EQ(hex(written([](DataStream& o) { o << Color::Blue << PlainA; })), "01 02 00 00 00 07");
  DataStream in(unhex("0001"));
  Color c = Color::Blue;
  in >> c;
  EXPECT_EQ(c, Color::Red);
}

TEST(DataStream, Int64BeforeQt_3_3IsTwoQuint32sHighFirstAndReadsBackSwappedAsInQt) {
  for (int version = DataStream::Qt_1_0; version < DataStream::Qt_3_3; ++version) {
    const auto value = std::int64_t(0x0102030405060708);
    EXPECT_EQ(hex(written([&](DataStream& o) { o << value; }, version)), "01 02 03 04 05 06 07 08");
    EXPECT_EQ(hex(written([&](DataStream& o) { o << value; }, version, DataStream::LittleEndian)),
              "04 03 02 01 08 07 06 05");
    // Qt 5 and Qt 6 both read the first quint32 as the low half.
    EXPECT_EQ(readBack<std::int64_t>(unhex("0102030405060708"), version), 0x0506070801020304);
    EXPECT_EQ(readBack<std::int64_t>(unhex("0403020108070605"), version, DataStream::LittleEndian),
              0x0506070801020304);
  }
  EXPECT_EQ(readBack<std::int64_t>(unhex("0102030405060708"), DataStream::Qt_3_3), 0x0102030405060708);
  // Doubles are not split.
  EXPECT_EQ(hex(written([](DataStream& o) { o << 1.0; }, DataStream::Qt_1_0, DataStream::LittleEndian)),
            "00 00 00 00 00 00 f0 3f");
}

TEST(DataStream, BoolIsOneByteAndAnyNonZeroByteIsTrue) {
  EXPECT_EQ(hex(written([](DataStream& o) { o << true << false; })), "01 00");
  EXPECT_TRUE(readBack<bool>(unhex("02")));
  EXPECT_FALSE(readBack<bool>(unhex("00")));
}

TEST(DataStream, NullptrTakesNoBytes) {
  EXPECT_EQ(written([](DataStream& o) { o << nullptr; }), "");
  DataStream in(std::string_view{});
  std::nullptr_t p;
  in >> p;
  EXPECT_EQ(in.status(), DataStream::Ok);
}

// ------------------------------------------------------------ floating point

TEST(DataStream, FloatIsEightBytesFromQt_4_6UnlessSinglePrecision) {
  EXPECT_EQ(hex(written([](DataStream& o) { o << 1.5f; }, DataStream::Qt_4_5)), "3f c0 00 00");
  EXPECT_EQ(hex(written([](DataStream& o) { o << 1.5f; }, DataStream::Qt_4_6)), "3f f8 00 00 00 00 00 00");
  EXPECT_EQ(hex(written([](DataStream& o) {
              o.setFloatingPointPrecision(DataStream::SinglePrecision);
              o << 1.5f << 1.5;
            })),
            "3f c0 00 00 3f c0 00 00");
  // Before Qt_4_6 the precision setting does nothing: the type decides.
  EXPECT_EQ(hex(written(
                [](DataStream& o) {
                  o.setFloatingPointPrecision(DataStream::SinglePrecision);
                  o << 1.5f << 1.5;
                },
                DataStream::Qt_4_5)),
            "3f c0 00 00 3f f8 00 00 00 00 00 00");
  EXPECT_EQ(hex(written([](DataStream& o) { o << 1.5; }, DataStream::Qt_6_10, DataStream::LittleEndian)),
            "00 00 00 00 00 00 f8 3f");
  EXPECT_EQ(readBack<float>(unhex("3ff8000000000000")), 1.5f);
  EXPECT_EQ(readBack<float>(unhex("3fc00000"), DataStream::Qt_4_5), 1.5f);
  DataStream in(unhex("3fc00000"));
  in.setFloatingPointPrecision(DataStream::SinglePrecision);
  double d = 0;
  in >> d;
  EXPECT_EQ(d, 1.5);
}

TEST(DataStream, NaNPayloadsSurviveAndConversionsQuietThemLikeQt) {
  const float signalingFloat = std::bit_cast<float>(0x7f800001u);
  const double signalingDouble = std::bit_cast<double>(0x7ff0000000000123ull);
  // Bytes from Qt 5.15 and Qt 6: the float widened to double is quieted
  // with its payload shifted; kept at its own width it is untouched.
  EXPECT_EQ(hex(written([&](DataStream& o) {
              o << signalingFloat;
              o.setFloatingPointPrecision(DataStream::SinglePrecision);
              o << signalingFloat << signalingDouble;
            })),
            "7f f8 00 00 20 00 00 00 7f 80 00 01 7f c0 00 00");
  EXPECT_EQ(std::bit_cast<std::uint64_t>(readBack<double>(unhex("7ff0000000000123"))), 0x7ff0000000000123ull);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(readBack<float>(unhex("7f800001"), DataStream::Qt_4_5)), 0x7f800001u);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(
                readBack<double>(unhex("230100000000f07f"), DataStream::Qt_6_10, DataStream::LittleEndian)),
            0x7ff0000000000123ull);
}

// ---------------------------------------------------------- byte arrays

TEST(DataStream, ByteArraysNullAndEmptyDifferFromQt_3_3On) {
  for (const int version : allVersions()) {
    const std::string null = written([](DataStream& o) { o << NullableBytes{{}, true}; }, version);
    EXPECT_EQ(hex(null), version >= DataStream::Qt_3_3 ? "ff ff ff ff" : "00 00 00 00") << version;
    EXPECT_EQ(hex(written([](DataStream& o) { o << std::string(); }, version)), "00 00 00 00");
    EXPECT_EQ(hex(written([](DataStream& o) { o << std::string("ab"); }, version, DataStream::LittleEndian)),
              "02 00 00 00 61 62");
  }
  // The null marker reads as null at every version.
  EXPECT_EQ(readBack<NullableBytes>(unhex("ffffffff"), DataStream::Qt_1_0), (NullableBytes{{}, true}));
  EXPECT_EQ(readBack<NullableBytes>(unhex("00000000")), (NullableBytes{{}, false}));
  EXPECT_EQ(readBack<NullableBytes>(unhex("0000000161")), (NullableBytes{"a", false}));
  EXPECT_EQ(readBack<std::string>(unhex("ffffffff")), "");
}

TEST(DataStream, ByteArraysKeepEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  expectRoundTrip(all);
  expectRoundTrip(std::string(300000, 'z'));  // more than one read step
}

TEST(DataStream, CStringsIncludeTheirNulAndNullIsZero) {
  EXPECT_EQ(hex(written([](DataStream& o) { o << "ab"; })), "00 00 00 03 61 62 00");
  EXPECT_EQ(hex(written([](DataStream& o) { o << static_cast<const char*>(nullptr); })), "00 00 00 00");
  DataStream in(unhex("00000003 616200 00000000"));
  std::unique_ptr<char[]> text;
  std::int64_t length = -1;
  in.readBytes(text, length);
  ASSERT_NE(text, nullptr);
  EXPECT_EQ(length, 3);
  EXPECT_STREQ(text.get(), "ab");
  in.readBytes(text, length);
  EXPECT_EQ(text, nullptr);
  EXPECT_EQ(length, 0);
  EXPECT_EQ(in.status(), DataStream::Ok);
}

TEST(DataStream, WriteBytesAndRawData) {
  EXPECT_EQ(hex(written([](DataStream& o) {
              o.writeBytes("xyz", 2);
              o.writeRawData("q", 1);
            })),
            "00 00 00 02 78 79 71");
  DataStream in(unhex("00000002 7879 71 7273"));
  std::string bytes;
  in.readBytes(bytes);
  EXPECT_EQ(bytes, "xy");
  char raw[2] = {};
  EXPECT_EQ(in.readRawData(raw, 1), 1);
  EXPECT_EQ(raw[0], 'q');
  EXPECT_EQ(in.skipRawData(1), 1);
  EXPECT_EQ(in.readRawData(raw, 2), 1);
  EXPECT_EQ(raw[0], 's');
  EXPECT_EQ(in.status(), DataStream::ReadPastEnd);
}

TEST(DataStream, ReadBytesOfANullMarkerIsSizeLimitExceeded) {
  DataStream in(unhex("ffffffff"));
  std::string bytes = "x";
  in.readBytes(bytes);
  EXPECT_EQ(bytes, "");
  EXPECT_EQ(in.status(), DataStream::SizeLimitExceeded);
}

// --------------------------------------------------------------- strings

TEST(DataStream, StringsAreUtf16InTheStreamsByteOrder) {
  const std::u16string text = u"a\u00e9\u20ac\U0001F600";
  EXPECT_EQ(hex(written([&](DataStream& o) { o << text; })), "00 00 00 0a 00 61 00 e9 20 ac d8 3d de 00");
  EXPECT_EQ(hex(written([&](DataStream& o) { o << text; }, DataStream::Qt_6_10, DataStream::LittleEndian)),
            "0a 00 00 00 61 00 e9 00 ac 20 3d d8 00 de");
  for (const int version : allVersions()) {
    if (version != DataStream::Qt_1_0) {
      expectRoundTrip(text, version);
    }
  }
  expectRoundTrip(std::u16string(u"\xdc00 lone \xd800"));  // exact code units, even unpaired surrogates
}

TEST(DataStream, NullStringsFromQt_2_1AndEmptyBefore) {
  for (const int version : allVersions()) {
    const std::string null = written([](DataStream& o) { o << NullableString{{}, true}; }, version);
    EXPECT_EQ(hex(null), version >= DataStream::Qt_2_1 ? "ff ff ff ff" : "00 00 00 00") << version;
    EXPECT_EQ(hex(written([](DataStream& o) { o << NullableString{}; }, version)), "00 00 00 00");
  }
  EXPECT_EQ(readBack<NullableString>(unhex("ffffffff")), (NullableString{{}, true}));
  EXPECT_EQ(readBack<NullableString>(unhex("00000000")), (NullableString{{}, false}));
  EXPECT_EQ(readBack<NullableString>(unhex("ffffffff"), DataStream::Qt_1_0), (NullableString{{}, true}));
}

TEST(DataStream, Qt_1_0StringsAreLatin1WithQuestionMarksPerCodeUnit) {
  // Qt 5 and Qt 6 write U+20AC as one '?' and U+1F600 as two.
  EXPECT_EQ(hex(written([](DataStream& o) { o << std::u16string(u"a\u00e9\u20ac\U0001F600z"); }, DataStream::Qt_1_0)),
            "00 00 00 06 61 e9 3f 3f 3f 7a");
  EXPECT_EQ(readBack<std::u16string>(unhex("00000002 61e9"), DataStream::Qt_1_0), u"a\u00e9");
}

TEST(DataStream, OddStringSizeIsCorruptData) {
  DataStream in(unhex("00000003 006100"));
  NullableString text{u"old", false};
  in >> text;
  EXPECT_EQ(text, (NullableString{{}, true}));
  EXPECT_EQ(in.status(), DataStream::ReadCorruptData);
}

TEST(DataStream, Utf8TextTravelsAsAString) {
  std::string name = "r\xc3\xa9sum\xc3\xa9 \xf0\x9f\x98\x80";
  const std::string bytes = written([&](DataStream& o) { o << asQString(name) << asQString("x"); });
  EXPECT_EQ(bytes, written([](DataStream& o) { o << std::u16string(u"r\u00e9sum\u00e9 \U0001F600") << u"x"; }));
  DataStream in(bytes);
  std::string back;
  std::string x;
  in >> asQString(back) >> asQString(x);
  EXPECT_EQ(back, name);
  EXPECT_EQ(x, "x");
}

TEST(DataStream, Utf8ConversionReplacesWhatIsNotText) {
  EXPECT_EQ(written([](DataStream& o) { o << asQString("a\xff\xc3"); }),
            written([](DataStream& o) { o << std::u16string(u"a\ufffd\ufffd"); }));
  EXPECT_EQ(written([](DataStream& o) { o << asQString("\xed\xa0\x80"); }),  // an encoded surrogate
            written([](DataStream& o) { o << std::u16string(u"\ufffd\ufffd\ufffd"); }));
  DataStream in(written([](DataStream& o) { o << std::u16string(u"\xd800z"); }));
  std::string text;
  in >> asQString(text);
  EXPECT_EQ(text, "\xef\xbf\xbdz");
}

// ------------------------------------------------------------ containers

TEST(DataStream, ListsAreACountThenTheElements) {
  const std::vector<std::int16_t> values{1, -1, 2};
  EXPECT_EQ(hex(written([&](DataStream& o) { o << values; })), "00 00 00 03 00 01 ff ff 00 02");
  expectRoundTrip(values);
  expectRoundTrip(std::list<std::string>{"a", "", "bc"});
  expectRoundTrip(std::deque<double>{1.5, -0.0});
  expectRoundTrip(std::vector<bool>{true, false, true});
  expectRoundTrip(std::vector<std::vector<std::u16string>>{{u"a"}, {}, {u"b", u"c"}});
}

TEST(DataStream, MapsAreWrittenInKeyOrder) {
  const std::map<std::int32_t, std::int32_t> map{{2, 2}, {1, 1}};
  EXPECT_EQ(hex(written([&](DataStream& o) { o << map; })), "00 00 00 02 00 00 00 01 00 00 00 01 00 00 00 02 00 00 00 02");
  expectRoundTrip(map);
  expectRoundTrip(std::map<std::string, std::vector<std::int8_t>>{{"a", {1}}, {"b", {}}});
  // A repeated key: the last value wins, as QMap::insert.
  const auto read = readBack<std::map<std::int8_t, std::int8_t>>(unhex("00000002 0101 0102"));
  EXPECT_EQ(read, (std::map<std::int8_t, std::int8_t>{{1, 2}}));
}

TEST(DataStream, MultiMapsWriteEachRunOfEqualKeysLastToFirstAsQt6) {
  // Qt 6: QMultiMap {0:5, 1:11, 1:10, 2:20} (iteration order) is written
  // 0:5, 1:10, 1:11, 2:20.
  const std::multimap<std::int32_t, std::int32_t> map{{0, 5}, {1, 11}, {1, 10}, {2, 20}};
  EXPECT_EQ(hex(written([&](DataStream& o) { o << map; })),
            "00 00 00 04 00 00 00 00 00 00 00 05 00 00 00 01 00 00 00 0a 00 00 00 01 00 00 00 0b 00 00 00 02 00 00 "
            "00 14");
  const auto back = readBack<std::multimap<std::int32_t, std::int32_t>>(written([&](DataStream& o) { o << map; }));
  EXPECT_EQ(std::vector(back.begin(), back.end()), std::vector(map.begin(), map.end()));
  const std::unordered_multimap<std::int8_t, std::int8_t> hash{{1, 1}, {1, 2}, {1, 3}};
  const auto hashBack = readBack<std::unordered_multimap<std::int8_t, std::int8_t>>(written([&](DataStream& o) { o << hash; }));
  EXPECT_EQ(std::vector(hashBack.begin(), hashBack.end()), std::vector(hash.begin(), hash.end()));
}

TEST(DataStream, HashesSetsAndPairs) {
  expectRoundTrip(std::unordered_map<std::string, std::int32_t>{{"a", 1}, {"b", 2}, {"c", 3}});
  expectRoundTrip(std::set<std::int32_t>{3, 1, 2});
  expectRoundTrip(std::unordered_set<std::u16string>{u"x", u"y"});
  expectRoundTrip(std::pair<std::int8_t, std::string>{-1, "one"});
  EXPECT_EQ(hex(written([](DataStream& o) { o << std::set<std::int8_t>{2, 1}; })), "00 00 00 02 01 02");
  EXPECT_EQ(hex(written([](DataStream& o) { o << std::pair<std::int8_t, bool>{3, true}; })), "03 01");
  EXPECT_EQ(readBack<std::set<std::int8_t>>(unhex("00000003 010201")), (std::set<std::int8_t>{1, 2}));
}

TEST(DataStream, AFailedElementClearsTheContainer) {
  std::vector<std::int32_t> values{9};
  DataStream in(unhex("00000003 00000001 0000"));
  in >> values;
  EXPECT_TRUE(values.empty());
  EXPECT_EQ(in.status(), DataStream::ReadPastEnd);
}

TEST(DataStream, ANullContainerSizeIsSizeLimitExceeded) {
  DataStream in(unhex("ffffffff"));
  std::vector<std::int8_t> values{1};
  in >> values;
  EXPECT_TRUE(values.empty());
  EXPECT_EQ(in.status(), DataStream::SizeLimitExceeded);
}

// ----------------------------------------------------------- HostAddress

TEST(DataStream, HostAddressesInQtsFormat) {
  // Bytes from Qt 5.15 and Qt 6.
  const std::string bytes = written([](DataStream& o) {
    o << HostAddress() << HostAddress(HostAddress::Any) << HostAddress("1.2.3.4") << HostAddress("fe80::1%eth0")
      << HostAddress(HostAddress::AnyIPv6);
  });
  EXPECT_EQ(hex(bytes),
            "ff 02 00 01 02 03 04 01 fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 08 00 65 00 74 00 68 00 30 "
            "01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ff ff ff ff");
  DataStream in(bytes);
  HostAddress a, b, c, d, e;
  in >> a >> b >> c >> d >> e;
  EXPECT_EQ(in.status(), DataStream::Ok);
  EXPECT_TRUE(a.isNull());
  EXPECT_EQ(b, HostAddress::Any);
  EXPECT_EQ(c, HostAddress("1.2.3.4"));
  EXPECT_EQ(c.protocol(), NetworkLayerProtocol::IPv4Protocol);
  EXPECT_EQ(d, HostAddress("fe80::1"));
  EXPECT_EQ(d.scopeId(), "eth0");
  EXPECT_EQ(e, HostAddress::AnyIPv6);
  EXPECT_EQ(e.scopeId(), "");
  expectRoundTrip(HostAddress("::ffff:1.2.3.4"));
}

TEST(DataStream, AnUnknownHostAddressProtocolIsCorruptData) {
  DataStream in(unhex("05"));
  HostAddress address("1.2.3.4");
  in >> address;
  EXPECT_TRUE(address.isNull());
  EXPECT_EQ(in.status(), DataStream::ReadCorruptData);
}

// ---------------------------------------------------------------- status

TEST(DataStream, ReadingPastTheEndGivesZeroAndReadPastEnd) {
  DataStream in(unhex("0102"));
  std::int32_t value = 7;
  in >> value;
  EXPECT_EQ(value, 0);
  EXPECT_EQ(in.status(), DataStream::ReadPastEnd);
  EXPECT_FALSE(in);
  EXPECT_TRUE(in.atEnd());  // the partial bytes were consumed, as in Qt
}

TEST(DataStream, TheFirstErrorSticksUntilReset) {
  DataStream in(unhex("00000003 0061 00000001"));
  in.setStatus(DataStream::ReadCorruptData);
  in.setStatus(DataStream::ReadPastEnd);
  EXPECT_EQ(in.status(), DataStream::ReadCorruptData);
  // Outside a transaction reading goes on after an error, as in Qt.
  std::uint32_t size = 0;
  in >> size;
  EXPECT_EQ(size, 3u);
  EXPECT_EQ(in.status(), DataStream::ReadCorruptData);
  in.resetStatus();
  EXPECT_EQ(in.status(), DataStream::Ok);
}

TEST(DataStream, WritesStopWhileTheStatusIsNotOk) {
  std::string bytes;
  DataStream out(&bytes, IODevice::WriteOnly);
  out.setStatus(DataStream::ReadPastEnd);
  out << std::int32_t(1) << "x" << std::string("y");
  EXPECT_EQ(out.writeRawData("z", 1), -1);
  EXPECT_EQ(bytes, "");
  out.resetStatus();
  out << std::int8_t(1);
  EXPECT_EQ(bytes, "\x01");
}

TEST(DataStream, AFailedWriteIsWriteFailed) {
  Buffer readOnly;
  readOnly.open(IODevice::ReadOnly);
  DataStream out(&readOnly);
  out << std::int16_t(1);
  EXPECT_EQ(out.status(), DataStream::WriteFailed);
}

TEST(DataStream, ANegativeWriteBytesLengthIsWriteFailedEvenAfterAnError) {
  std::string bytes;
  DataStream out(&bytes, IODevice::WriteOnly);
  out.setStatus(DataStream::ReadPastEnd);
  out.writeBytes("x", -1);
  EXPECT_EQ(out.status(), DataStream::WriteFailed);
  EXPECT_EQ(bytes, "");
}

TEST(DataStream, AContainerIsReadEvenAfterAnErrorAndTheErrorIsKept) {
  // Qt's StreamStateSaver: outside a transaction a container read starts
  // afresh and the earlier status is put back.
  DataStream in(unhex("00000002 01 02"));
  in.setStatus(DataStream::ReadCorruptData);
  std::vector<std::int8_t> values;
  in >> values;
  EXPECT_EQ(values, (std::vector<std::int8_t>{1, 2}));
  EXPECT_EQ(in.status(), DataStream::ReadCorruptData);
}

// ------------------------------------------------------- sizes and hostility

TEST(DataStream, SizeFieldsBeyond32BitsFollowQt_6_7) {
  auto sizeBytes = [](std::int64_t size, int version) {
    return hex(written([&](DataStream& o) { EXPECT_TRUE(o.writeSize(size)); }, version));
  };
  EXPECT_EQ(sizeBytes(0xfffffffd, DataStream::Qt_6_7), "ff ff ff fd");
  EXPECT_EQ(sizeBytes(0xfffffffe, DataStream::Qt_6_7), "ff ff ff fe 00 00 00 00 ff ff ff fe");
  EXPECT_EQ(sizeBytes(0x100000000, DataStream::Qt_6_7), "ff ff ff fe 00 00 00 01 00 00 00 00");
  EXPECT_EQ(sizeBytes(0xfffffffe, DataStream::Qt_6_6), "ff ff ff fe");
  EXPECT_EQ(sizeBytes(-1, DataStream::Qt_6_6), "ff ff ff ff");
  std::string bytes;
  DataStream out(&bytes, IODevice::WriteOnly);
  out.setVersion(DataStream::Qt_6_6);
  EXPECT_FALSE(out.writeSize(0xffffffff));
  EXPECT_EQ(out.status(), DataStream::SizeLimitExceeded);
  EXPECT_EQ(bytes, "");

  DataStream in(unhex("fffffffe 0000000100000000 fffffffe"));
  EXPECT_EQ(in.readSize(), 0x100000000);
  in.setVersion(DataStream::Qt_6_6);
  EXPECT_EQ(in.readSize(), 0xfffffffe);
}

TEST(DataStream, WritesOfFourGigabytesAndMoreCarryA64BitSize) {
  // 4 GiB + 1 of address space, never touched: the sink keeps the head only.
  const std::size_t length = (std::size_t{1} << 32) + 1;
  void* region = mmap(nullptr, length, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(region, MAP_FAILED);
  const auto* data = static_cast<const char*>(region);
  {
    SinkDevice sink;
    DataStream out(&sink);
    out.writeBytes(data, static_cast<std::int64_t>(length));
    EXPECT_EQ(out.status(), DataStream::Ok);
    EXPECT_EQ(hex(sink.head.substr(0, 14)), "ff ff ff fe 00 00 00 01 00 00 00 01 00 00");
    EXPECT_EQ(sink.total, static_cast<std::int64_t>(length) + 12);
  }
  {
    SinkDevice sink;
    DataStream out(&sink);
    out.setVersion(DataStream::Qt_6_6);
    out.writeBytes(data, static_cast<std::int64_t>(length));
    EXPECT_EQ(out.status(), DataStream::SizeLimitExceeded);
    EXPECT_EQ(sink.total, 0);
  }
  munmap(region, length);
}

TEST(DataStream, ExtendedSizesThatAreNegativeAreRefusedAsQtDoes) {
  // 0xfffffffe then qint64 -1: Qt reads a null byte array; below -1 is
  // SizeLimitExceeded.
  EXPECT_EQ(readBack<NullableBytes>(unhex("fffffffe ffffffffffffffff")), (NullableBytes{{}, true}));
  readBack<NullableBytes>(unhex("fffffffe fffffffffffffffe"), DataStream::Qt_6_10, DataStream::BigEndian,
                          DataStream::SizeLimitExceeded);
  readBack<NullableString>(unhex("fffffffe 8000000000000000"), DataStream::Qt_6_10, DataStream::BigEndian,
                           DataStream::SizeLimitExceeded);
  readBack<std::vector<std::int8_t>>(unhex("fffffffe ffffffffffffffff"), DataStream::Qt_6_10, DataStream::BigEndian,
                                     DataStream::SizeLimitExceeded);
}

TEST(DataStream, HostileSizesNeverAllocateWhatTheyClaim) {
  // Under AddressSanitizer an allocation of 2^42 bytes aborts the test; the
  // reads must fail on the missing bytes instead.
  const std::string huge = unhex("fffffffe 0000040000000000 616263");
  readBack<std::string>(huge, DataStream::Qt_6_10, DataStream::BigEndian, DataStream::ReadPastEnd);
  readBack<std::u16string>(huge, DataStream::Qt_6_10, DataStream::BigEndian, DataStream::ReadPastEnd);
  {
    DataStream in(huge);
    std::string bytes;
    in.readBytes(bytes);
    EXPECT_EQ(in.status(), DataStream::ReadPastEnd);
  }
  // 0xfffffffd elements claimed, three bytes present.
  largestAllocation = 0;
  std::vector<std::int32_t, CountingAllocator<std::int32_t>> values;
  DataStream in(unhex("fffffffd 000000"));
  in >> values;
  EXPECT_EQ(in.status(), DataStream::ReadPastEnd);
  EXPECT_TRUE(values.empty());
  EXPECT_LE(largestAllocation, 64u);
  // A real 32-bit size with one byte behind it fails the same way.
  DataStream in2(unhex("7fffffff 41"));
  std::string bytes = "x";
  in2 >> bytes;
  EXPECT_EQ(in2.status(), DataStream::ReadPastEnd);
  EXPECT_EQ(bytes, "");
}

// ---------------------------------------------------------- transactions

TEST(DataStream, TransactionRollsBackAPartialMessageOnABuffer) {
  std::string bytes = written([](DataStream& o) { o << std::uint16_t(1); });
  Buffer buffer(&bytes);
  buffer.open(IODevice::ReadOnly);
  DataStream in(&buffer);
  in.startTransaction();
  std::uint16_t a = 0;
  std::string text;
  in >> a >> text;
  EXPECT_EQ(in.status(), DataStream::ReadPastEnd);
  EXPECT_FALSE(in.commitTransaction());
  EXPECT_EQ(buffer.pos(), 0);
  // The rest arrives.
  bytes += written([](DataStream& o) { o << std::string("hello"); });
  in.startTransaction();
  EXPECT_EQ(in.status(), DataStream::Ok);  // the outermost start resets the status
  in >> a >> text;
  EXPECT_TRUE(in.commitTransaction());
  EXPECT_EQ(a, 1);
  EXPECT_EQ(text, "hello");
  EXPECT_TRUE(in.atEnd());
}

TEST(DataStream, InsideATransactionReadingStopsAtTheFirstError) {
  Buffer buffer;
  buffer.setData(unhex("01 02"));
  buffer.open(IODevice::ReadOnly);
  DataStream in(&buffer);
  in.startTransaction();
  in.setStatus(DataStream::ReadCorruptData);
  std::int8_t value = 5;
  in >> value;
  EXPECT_EQ(value, 0);
  EXPECT_EQ(buffer.pos(), 0);  // nothing was read
  char raw = 0;
  EXPECT_EQ(in.readRawData(&raw, 1), -1);
  EXPECT_EQ(in.skipRawData(1), -1);
  in.abortTransaction();
  EXPECT_EQ(in.status(), DataStream::ReadCorruptData);
}

TEST(DataStream, NestedTransactionsReportToTheOutermost) {
  std::string bytes = unhex("01 02");
  Buffer buffer(&bytes);
  buffer.open(IODevice::ReadOnly);
  DataStream in(&buffer);
  std::int8_t a = 0, b = 0;
  in.startTransaction();
  in >> a;
  in.startTransaction();
  in >> b;
  EXPECT_TRUE(in.commitTransaction());  // inner: nothing happens to the device
  EXPECT_TRUE(buffer.isTransactionStarted());
  in.startTransaction();
  in.rollbackTransaction();  // inner rollback: the outermost fails
  EXPECT_EQ(in.status(), DataStream::ReadPastEnd);
  EXPECT_FALSE(in.commitTransaction());
  EXPECT_FALSE(buffer.isTransactionStarted());
  EXPECT_EQ(buffer.pos(), 0);

  // An inner abort makes the outermost commit (the bytes are gone) and fail.
  in.startTransaction();
  in >> a;
  in.startTransaction();
  in.abortTransaction();
  EXPECT_EQ(in.status(), DataStream::ReadCorruptData);
  EXPECT_FALSE(in.commitTransaction());
  EXPECT_EQ(buffer.pos(), 1);
  EXPECT_FALSE(buffer.isTransactionStarted());
}

TEST(DataStream, RollbackAfterCorruptDataCommits) {
  std::string bytes = unhex("00000001 00");  // odd string size
  Buffer buffer(&bytes);
  buffer.open(IODevice::ReadOnly);
  DataStream in(&buffer);
  in.startTransaction();
  std::u16string text;
  in >> text;
  in.rollbackTransaction();
  EXPECT_EQ(in.status(), DataStream::ReadCorruptData);
  EXPECT_EQ(buffer.pos(), 4);
}

TEST(DataStream, CommitWithoutATransactionFails) {
  DataStream in(std::string_view("x"));
  EXPECT_FALSE(in.commitTransaction());
  in.rollbackTransaction();
  EXPECT_EQ(in.status(), DataStream::ReadPastEnd);
  in.resetStatus();
  in.abortTransaction();
  EXPECT_EQ(in.status(), DataStream::ReadCorruptData);
}

TEST(DataStream, TransactionOverATcpSocketWaitsForTheWholeMessage) {
  test::DescriptorLeakCheck leaks;
  EventLoop loop;
  TcpServer server;
  ASSERT_TRUE(server.listen(HostAddress(HostAddress::LocalHost)));
  TcpSocket* peer = nullptr;
  server.newConnection.connect([&] { peer = server.nextPendingConnection(); });
  TcpSocket client;
  client.connectToHost(HostAddress(HostAddress::LocalHost), server.serverPort());
  ASSERT_TRUE(test::runUntil([&] { return peer != nullptr && client.state() == SocketState::ConnectedState; }));

  // The fortune protocol of Qt's examples: quint16 size, then a QString.
  const std::string message = written(
      [](DataStream& o) {
        o << std::uint16_t(0) << std::u16string(u"You've been leading a dog's life. Stay off the furniture.");
      },
      DataStream::Qt_4_0);
  DataStream in(&client);
  in.setVersion(DataStream::Qt_4_0);
  int attempts = 0;
  int completed = 0;
  std::u16string fortune;
  client.readyRead.connect([&] {
    ++attempts;
    in.startTransaction();
    std::uint16_t size = 0;
    std::u16string text;
    in >> size >> text;
    if (!in.commitTransaction()) return;
    fortune = text;
    ++completed;
  });

  peer->write(message.substr(0, 9));
  ASSERT_TRUE(test::runUntil([&] { return attempts >= 1; }));
  test::runFor(20);
  EXPECT_EQ(completed, 0);
  EXPECT_EQ(client.bytesAvailable(), 9);  // rolled back: every byte still there
  peer->write(message.substr(9));
  ASSERT_TRUE(test::runUntil([&] { return completed == 1; }));
  EXPECT_EQ(fortune, u"You've been leading a dog's life. Stay off the furniture.");
  EXPECT_EQ(client.bytesAvailable(), 0);
  EXPECT_EQ(in.status(), DataStream::Ok);
  client.abort();
  delete peer;
}
