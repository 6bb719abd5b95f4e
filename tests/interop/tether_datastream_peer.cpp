// The tether side of the DataStream interop test, and its judge.
//
//   tether_datastream_peer <qt-peer> <work-dir> <qt-major>
//
// 1. Runs `<qt-peer> write` for a corpus of every record type at every format
//    version 1..23 in both byte orders, writes the same corpus with tether,
//    and compares the two record by record, byte for byte.
// 2. Has the Qt peer read tether's corpus and its own, reads both with
//    tether, and checks that all four readings agree value for value (and
//    status for status) with Qt reading its own bytes.
// 3. Does the same for malformed inputs: both read them, and both must end
//    with the same values and statuses.
//
// Not compared byte for byte, but by value: hash-ordered containers with
// more than one element (QHash and std::unordered_map orders differ), and
// with Qt 5 the maps, which Qt 5 writes last key first (Qt 6 and tether
// write them in key order).
//
// The records, their order and the dump format are kept in step with
// qt_datastream_peer.cpp.
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "datastream_peer_common.h"
#include "tether/data_stream.h"
#include "tether/host_address.h"

extern char** environ;

using namespace tether;
using namespace datastream_peer;

static_assert(kNewestFormat == DataStream::Qt_DefaultCompiledVersion, "the corpus covers every format tether names");
namespace fs = std::filesystem;

namespace {

// ------------------------------------------------------------- dump text

std::string dump(bool v) { return v ? "true" : "false"; }
template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
std::string dump(T v) {
  if constexpr (std::is_signed_v<T>) {
    return std::to_string(static_cast<long long>(v));
  } else {
    return std::to_string(static_cast<unsigned long long>(v));
  }
}
std::string dump(float v) { return fmt("f:%08llx", std::bit_cast<std::uint32_t>(v)); }
std::string dump(double v) { return fmt("d:%016llx", std::bit_cast<std::uint64_t>(v)); }
std::string dump(const NullableBytes& v) {
  if (v.isNull) return "null";
  return "b[" + hexOf(v.bytes.data(), v.bytes.size()) + "]";
}
std::string dump(const NullableString& v) {
  if (v.isNull) return "snull";
  std::string out = "s[";
  for (const char16_t c : v.text) out += fmt("%04llx", c);
  return out + "]";
}
std::string dump(const HostAddress& a) {
  switch (a.protocol()) {
    case NetworkLayerProtocol::UnknownNetworkLayerProtocol:
      return "ha:null";
    case NetworkLayerProtocol::AnyIPProtocol:
      return "ha:any";
    case NetworkLayerProtocol::IPv4Protocol:
      return fmt("ha4:%08llx", a.toIPv4Address());
    case NetworkLayerProtocol::IPv6Protocol: {
      const IPv6Address ip6 = a.toIPv6Address();
      const std::string scope = a.scopeId();
      return "ha6:" + hexOf(reinterpret_cast<const char*>(ip6.data()), 16) + "%" + hexOf(scope.data(), scope.size());
    }
  }
  return "ha:?";
}
template <class A, class B>
std::string dump(const std::pair<A, B>& p) {
  return "(" + dump(p.first) + "," + dump(p.second) + ")";
}
template <class T>
std::string dump(const std::vector<T>& list) {
  std::string out = "[";
  for (std::size_t i = 0; i < list.size(); ++i) out += (i ? "," : "") + dump(static_cast<const T&>(list[i]));
  return out + "]";
}
template <class Map>
std::string dumpMap(const Map& map) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : map) {
    out += (first ? "" : ",") + dump(key) + "=" + dump(value);
    first = false;
  }
  return out + "}";
}
template <class Hash>
std::string dumpHash(const Hash& hash) {
  std::vector<std::string> items;
  for (const auto& [key, value] : hash) items.push_back(dump(key) + "=" + dump(value));
  return sortedItems(items, "{", "}");
}
template <class Set>
std::string dumpSet(const Set& set) {
  std::vector<std::string> items;
  for (const auto& v : set) items.push_back(dump(v));
  return sortedItems(items, "<", ">");
}

// -------------------------------------------------------------- the corpus

std::u16string everyFewUnits() {
  std::u16string text;
  for (int u = 1; u < 0x10000; u += 37) text += static_cast<char16_t>(u);
  return text;
}
std::string allBytes() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  return bytes;
}
NullableString str(std::u16string text) { return {std::move(text), false}; }
HostAddress withScope(const char* text, const char* scope) {
  HostAddress a(text);
  a.setScopeId(scope);
  return a;
}

enum class Shade : std::uint16_t { Dark = 0x0102 };

struct Record {
  const char* name;
  std::function<void(DataStream&)> write;
  std::function<std::string(DataStream&)> read;
  // Compared by value only (see the top of the file).
  bool hashOrdered = false;
  bool keyOrderedMap = false;
};

template <class T>
T get(DataStream& s) {
  T v{};
  s >> v;
  return v;
}

// Keep in step with qt_datastream_peer.cpp.
std::vector<Record> corpus() {
  std::vector<Record> r;
  r.push_back({"int8", [](DataStream& s) { s << std::int8_t(-128) << std::int8_t(127) << std::uint8_t(0xff) << 'A'; },
               [](DataStream& s) {
                 std::string out = dump(get<std::int8_t>(s));
                 out += " " + dump(get<std::int8_t>(s));
                 out += " " + dump(get<std::uint8_t>(s));
                 out += " " + dump(static_cast<std::int8_t>(get<char>(s)));
                 return out;
               }});
  r.push_back({"int16", [](DataStream& s) { s << std::int16_t(-32768) << std::uint16_t(0xbeef); },
               [](DataStream& s) {
                 std::string out = dump(get<std::int16_t>(s));
                 return out + " " + dump(get<std::uint16_t>(s));
               }});
  r.push_back({"int32", [](DataStream& s) { s << std::int32_t(-123456789) << std::uint32_t(0xdeadbeef); },
               [](DataStream& s) {
                 std::string out = dump(get<std::int32_t>(s));
                 return out + " " + dump(get<std::uint32_t>(s));
               }});
  r.push_back({"int64",
               [](DataStream& s) { s << std::int64_t(-0x0123456789abcdf0LL) << std::uint64_t(0xfedcba9876543210ULL); },
               [](DataStream& s) {
                 std::string out = dump(get<long long>(s));
                 return out + " " + dump(get<unsigned long long>(s));
               }});
  r.push_back({"bool", [](DataStream& s) { s << true << false; },
               [](DataStream& s) {
                 std::string out = dump(get<bool>(s));
                 return out + " " + dump(get<bool>(s));
               }});
  r.push_back({"enum", [](DataStream& s) { s << Shade::Dark; },
               [](DataStream& s) { return dump(static_cast<std::int64_t>(get<Shade>(s))); }});
  r.push_back({"float",
               [](DataStream& s) {
                 s << 1.5f << -0.0f << std::numeric_limits<float>::infinity() << std::bit_cast<float>(0x7f800001u)
                   << std::bit_cast<float>(0x7fc12345u) << std::bit_cast<float>(1u) << std::numeric_limits<float>::max();
               },
               [](DataStream& s) {
                 std::string out;
                 for (int i = 0; i < 7; ++i) out += (i ? " " : "") + dump(get<float>(s));
                 return out;
               }});
  r.push_back({"double",
               [](DataStream& s) {
                 s << 3.141592653589793 << std::bit_cast<double>(0x7ff0000000000123ULL)
                   << -std::numeric_limits<double>::infinity() << std::bit_cast<double>(1ULL)
                   << std::numeric_limits<double>::max();
               },
               [](DataStream& s) {
                 std::string out;
                 for (int i = 0; i < 5; ++i) out += (i ? " " : "") + dump(get<double>(s));
                 return out;
               }});
  r.push_back({"single-precision",
               [](DataStream& s) {
                 s.setFloatingPointPrecision(DataStream::SinglePrecision);
                 s << 2.5f << 0.1 << 1e300 << std::bit_cast<double>(0x7ff0000000000123ULL);
                 s.setFloatingPointPrecision(DataStream::DoublePrecision);
               },
               [](DataStream& s) {
                 s.setFloatingPointPrecision(DataStream::SinglePrecision);
                 std::string out = dump(get<float>(s));
                 for (int i = 0; i < 3; ++i) out += " " + dump(get<double>(s));
                 s.setFloatingPointPrecision(DataStream::DoublePrecision);
                 return out;
               }});
  r.push_back({"char16-char32", [](DataStream& s) { s << u'\u20ac' << U'\U0001F600'; },
               [](DataStream& s) {
                 std::string out = dump(static_cast<std::uint16_t>(get<char16_t>(s)));
                 return out + " " + dump(static_cast<std::uint32_t>(get<char32_t>(s)));
               }});
  r.push_back({"cstring", [](DataStream& s) { s << "hello" << static_cast<const char*>(nullptr) << ""; },
               [](DataStream& s) {
                 std::string out;
                 for (int i = 0; i < 3; ++i) {
                   std::unique_ptr<char[]> text;
                   std::int64_t length = 0;
                   s.readBytes(text, length);
                   out += (i ? " " : "");
                   out += text ? "c[" + hexOf(text.get(), std::strlen(text.get())) + "]" : "cnull";
                 }
                 return out;
               }});
  r.push_back({"raw",
               [](DataStream& s) {
                 s.writeBytes("raw", 3);
                 s.writeRawData("xy", 2);
               },
               [](DataStream& s) {
                 std::string bytes;
                 s.readBytes(bytes);
                 std::string out = "n" + std::to_string(bytes.size()) + ":" + hexOf(bytes.data(), bytes.size());
                 char raw[2] = {};
                 const std::int64_t got = s.readRawData(raw, 2);
                 return out + " r" + std::to_string(got) + ":" + hexOf(raw, 2);
               }});
  r.push_back({"bytes",
               [](DataStream& s) {
                 s << std::string("abc\0def", 7) << NullableBytes{{}, true} << std::string() << allBytes();
               },
               [](DataStream& s) {
                 std::string out;
                 for (int i = 0; i < 4; ++i) out += (i ? " " : "") + dump(get<NullableBytes>(s));
                 return out;
               }});
  r.push_back({"string",
               [](DataStream& s) {
                 s << u"a\u00e9\u20ac\U0001F600" << NullableString{{}, true} << u"" << std::u16string(u"\xdc00x\xd800");
               },
               [](DataStream& s) {
                 std::string out;
                 for (int i = 0; i < 4; ++i) out += (i ? " " : "") + dump(get<NullableString>(s));
                 return out;
               }});
  r.push_back({"string-long", [](DataStream& s) { s << everyFewUnits(); },
               [](DataStream& s) { return dump(get<NullableString>(s)); }});
  r.push_back({"list-int32", [](DataStream& s) { s << std::vector<std::int32_t>{1, -2, 3} << std::list<std::int32_t>(); },
               [](DataStream& s) {
                 std::string out = dump(get<std::vector<std::int32_t>>(s));
                 return out + " " + dump(get<std::vector<std::int32_t>>(s));
               }});
  r.push_back({"list-string",
               [](DataStream& s) {
                 s << std::vector<NullableString>{str(u"a"), str(u""), NullableString{{}, true}};
               },
               [](DataStream& s) { return dump(get<std::vector<NullableString>>(s)); }});
  r.push_back({"list-bytes", [](DataStream& s) { s << std::deque<NullableBytes>{{"x", false}, {{}, true}}; },
               [](DataStream& s) { return dump(get<std::vector<NullableBytes>>(s)); }});
  r.push_back({"list-nested",
               [](DataStream& s) { s << std::vector<std::vector<std::uint8_t>>{{1, 2}, {}}; },
               [](DataStream& s) { return dump(get<std::vector<std::vector<std::uint8_t>>>(s)); }});
  Record map{"map",
             [](DataStream& s) {
               s << std::map<std::int32_t, std::u16string>{{3, u"c"}, {1, u"a"}, {2, u"b"}};
             },
             [](DataStream& s) { return dumpMap(get<std::map<std::int32_t, NullableString>>(s)); }};
  map.keyOrderedMap = true;
  r.push_back(map);
  r.push_back({"map-single",
               [](DataStream& s) { s << std::map<std::u16string, std::string>{{u"k", "v"}}; },
               [](DataStream& s) {
                 std::map<std::u16string, NullableBytes> read;
                 s >> read;
                 std::string out = "{";
                 bool first = true;
                 for (const auto& [key, value] : read) {
                   out += (first ? "" : ",") + dump(str(key)) + "=" + dump(value);
                   first = false;
                 }
                 return out + "}";
               }});
  Record multimap{"multimap",
                  [](DataStream& s) {
                    s << std::multimap<std::int32_t, std::int32_t>{{0, 5}, {1, 11}, {1, 10}, {2, 20}};
                  },
                  [](DataStream& s) { return dumpMap(get<std::multimap<std::int32_t, std::int32_t>>(s)); }};
  multimap.keyOrderedMap = true;
  r.push_back(multimap);
  Record hash{"hash",
              [](DataStream& s) { s << std::unordered_map<std::int32_t, std::int32_t>{{1, 2}, {3, 4}, {5, 6}}; },
              [](DataStream& s) { return dumpHash(get<std::unordered_map<std::int32_t, std::int32_t>>(s)); }};
  hash.hashOrdered = true;
  r.push_back(hash);
  r.push_back({"hash-single", [](DataStream& s) { s << std::unordered_map<std::u16string, std::int32_t>{{u"one", 1}}; },
               [](DataStream& s) {
                 const auto read = get<std::unordered_map<std::u16string, std::int32_t>>(s);
                 std::vector<std::string> items;
                 for (const auto& [key, value] : read) items.push_back(dump(str(key)) + "=" + dump(value));
                 return sortedItems(items, "{", "}");
               }});
  r.push_back({"multihash",
               [](DataStream& s) {
                 std::unordered_multimap<std::int32_t, std::int32_t> multi;
                 for (const std::int32_t v : {1, 2, 3}) multi.emplace(7, v);
                 s << multi;
               },
               [](DataStream& s) { return dumpMap(get<std::unordered_multimap<std::int32_t, std::int32_t>>(s)); }});
  Record set{"set", [](DataStream& s) { s << std::unordered_set<std::int32_t>{1, 2, 3}; },
             [](DataStream& s) { return dumpSet(get<std::unordered_set<std::int32_t>>(s)); }};
  set.hashOrdered = true;
  r.push_back(set);
  r.push_back({"set-single", [](DataStream& s) { s << std::set<std::u16string>{u"s"}; },
               [](DataStream& s) {
                 std::vector<std::string> items;
                 for (const auto& v : get<std::set<std::u16string>>(s)) items.push_back(dump(str(v)));
                 return sortedItems(items, "<", ">");
               }});
  r.push_back({"pair",
               [](DataStream& s) {
                 s << std::pair<std::int8_t, std::u16string>(-1, u"p")
                   << std::pair<std::pair<std::int32_t, std::int32_t>, bool>({1, 2}, true);
               },
               [](DataStream& s) {
                 std::string out = dump(get<std::pair<std::int8_t, NullableString>>(s));
                 return out + " " + dump(get<std::pair<std::pair<std::int32_t, std::int32_t>, bool>>(s));
               }});
  r.push_back({"hostaddress",
               [](DataStream& s) {
                 s << HostAddress() << HostAddress(HostAddress::Any) << HostAddress("127.0.0.1") << HostAddress("::1")
                   << withScope("fe80::1", "eth0") << HostAddress("::ffff:1.2.3.4")
                   << HostAddress(HostAddress::AnyIPv6) << HostAddress("192.168.1.1");
               },
               [](DataStream& s) {
                 std::string out;
                 for (int i = 0; i < 8; ++i) out += (i ? " " : "") + dump(get<HostAddress>(s));
                 return out;
               }});
  return r;
}

// ------------------------------------------------------- malformed inputs

struct Hostile {
  const char* type;  // how it is read; see readAs()
  const char* name;
  const char* hexBytes;
  bool qt6Only = false;  // Qt 5 reads it differently
};

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

const std::vector<Hostile>& hostileInputs() {
  static const std::vector<Hostile> inputs = {
      {"int32", "short", "0102"},
      {"bool", "two", "02"},
      {"double", "short", "3ff0"},
      {"bytes", "truncated", "00000005 616263"},
      {"bytes", "null", "ffffffff"},
      {"bytes", "empty", "00000000"},
      {"bytes", "size-short", "0000"},
      {"bytes", "large-size-little-data", "7ffffff0 41"},
      {"string", "odd", "00000003 006100"},
      {"string", "truncated", "00000008 00610062"},
      {"string", "null", "ffffffff"},
      {"string", "large-size-little-data", "7ffffff0 0041"},
      {"list-int32", "truncated", "00000003 00000001 0000"},
      {"list-int32", "short-count", "000000"},
      {"list-string", "bad-element", "00000002 00000002 0061 00000001 00"},
      {"map-int8", "duplicate-keys", "00000002 0101 0102", true},
      {"hostaddress", "bad-protocol", "05"},
      {"hostaddress", "truncated-ipv4", "00 0102"},
      {"hostaddress", "truncated-ipv6", "01 fe80"},
      {"hostaddress", "any", "02"},
      {"hostaddress", "ipv6-odd-scope", "01 fe800000000000000000000000000001 00000001 00"},
  };
  return inputs;
}

std::string readAs(const std::string& type, DataStream& s) {
  if (type == "int32") return dump(get<std::int32_t>(s));
  if (type == "bool") return dump(get<bool>(s));
  if (type == "double") return dump(get<double>(s));
  if (type == "bytes") return dump(get<NullableBytes>(s));
  if (type == "string") return dump(get<NullableString>(s));
  if (type == "list-int32") return dump(get<std::vector<std::int32_t>>(s));
  if (type == "list-string") return dump(get<std::vector<NullableString>>(s));
  if (type == "map-int8") return dumpMap(get<std::map<std::int8_t, std::int8_t>>(s));
  if (type == "hostaddress") return dump(get<HostAddress>(s));
  return "unknown type " + type;
}

// ------------------------------------------------------------------- files

DataStream::ByteOrder orderOf(const Combo& combo) {
  return combo.littleEndian ? DataStream::LittleEndian : DataStream::BigEndian;
}

std::string readFile(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream out;
  out << file.rdbuf();
  return out.str();
}

void writeFile(const fs::path& path, std::string_view bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "cannot start %s\n", argv[0]);
    return false;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "%s %s failed (status %d)\n", argv[0], argv[1], status);
    return false;
  }
  return true;
}

// The dump of one corpus file as the Qt peer writes it.
std::string readCorpusFile(const std::string& bytes, const Combo& combo) {
  DataStream in(bytes);
  in.setVersion(combo.version);
  in.setByteOrder(orderOf(combo));
  std::string text;
  for (const Record& record : corpus()) {
    const std::string value = record.read(in);
    text += recordLine(record.name, value, static_cast<int>(in.status()));
  }
  text += endLine(in.atEnd());
  return text;
}

struct Tally {
  int failures = 0;
  int exactRecords = 0;
  int valueRecords = 0;
  int dumpLines = 0;
  int hostile = 0;
  void fail(const std::string& what) {
    if (++failures <= 25) std::fprintf(stderr, "MISMATCH %s\n", what.c_str());
  }
};

void compareDumps(Tally& tally, const std::string& label, const std::string& expected, const std::string& actual) {
  const auto want = lines(expected);
  const auto got = lines(actual);
  if (want.size() != got.size()) {
    tally.fail(label + ": " + std::to_string(got.size()) + " lines, Qt has " + std::to_string(want.size()));
    return;
  }
  for (std::size_t i = 0; i < want.size(); ++i) {
    ++tally.dumpLines;
    if (want[i] != got[i]) tally.fail(label + "\n    Qt:     " + want[i].substr(0, 300) + "\n    tether: " + got[i].substr(0, 300));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <qt-peer> <work-dir> <qt-major>\n", argv[0]);
    return 2;
  }
  const std::string peer = argv[1];
  const fs::path work = argv[2];
  const int qtMajor = std::atoi(argv[3]);
  fs::remove_all(work);
  for (const char* sub : {"qt", "tether", "hostile"}) fs::create_directories(work / sub);
  Tally tally;

  // 1. Bytes.
  if (!run({peer, "write", (work / "qt").string()})) return 1;
  const std::vector<Record> records = corpus();
  for (const Combo& combo : combos()) {
    std::string bytes;
    std::vector<std::size_t> offsets;
    {
      DataStream out(&bytes, IODevice::WriteOnly);
      out.setVersion(combo.version);
      out.setByteOrder(orderOf(combo));
      for (const Record& record : records) {
        offsets.push_back(bytes.size());
        record.write(out);
      }
      offsets.push_back(bytes.size());
      if (out.status() != DataStream::Ok) tally.fail(combo.name() + ": tether write status");
    }
    writeFile(work / "tether" / (combo.name() + ".bin"), bytes);
    const std::string qtBytes = readFile(work / "qt" / (combo.name() + ".bin"));
    const auto index = lines(readFile(work / "qt" / (combo.name() + ".idx")));
    if (index.size() != records.size() + 1) {
      tally.fail(combo.name() + ": the Qt index has " + std::to_string(index.size()) + " lines");
      continue;
    }
    std::vector<std::size_t> qtOffsets;
    for (const std::string& line : index) qtOffsets.push_back(std::stoul(line.substr(line.find(' ') + 1)));
    for (std::size_t i = 0; i < records.size(); ++i) {
      const std::string ours = bytes.substr(offsets[i], offsets[i + 1] - offsets[i]);
      const std::string theirs = qtBytes.substr(qtOffsets[i], qtOffsets[i + 1] - qtOffsets[i]);
      const std::string label = combo.name() + " " + records[i].name;
      if (records[i].hashOrdered || (records[i].keyOrderedMap && qtMajor == 5)) {
        ++tally.valueRecords;
        if (ours.size() != theirs.size()) tally.fail(label + ": length differs");
        continue;
      }
      ++tally.exactRecords;
      if (ours != theirs) {
        tally.fail(label + "\n    Qt:     " + hexOf(theirs.data(), std::min<std::size_t>(theirs.size(), 80)) +
                   "\n    tether: " + hexOf(ours.data(), std::min<std::size_t>(ours.size(), 80)));
      }
    }
  }

  // 2. Values: Qt reading its own bytes is the reference.
  if (!run({peer, "read", (work / "qt").string(), (work / "qt-reads-qt").string()})) return 1;
  if (!run({peer, "read", (work / "tether").string(), (work / "qt-reads-tether").string()})) return 1;
  for (const Combo& combo : combos()) {
    const std::string txt = combo.name() + ".txt";
    const std::string reference = readFile(work / "qt-reads-qt" / txt);
    compareDumps(tally, combo.name() + " (Qt reads tether's bytes)", reference, readFile(work / "qt-reads-tether" / txt));
    compareDumps(tally, combo.name() + " (tether reads Qt's bytes)", reference,
                 readCorpusFile(readFile(work / "qt" / (combo.name() + ".bin")), combo));
    compareDumps(tally, combo.name() + " (tether reads its own bytes)", reference,
                 readCorpusFile(readFile(work / "tether" / (combo.name() + ".bin")), combo));
  }

  // 3. Malformed inputs.
  for (const Hostile& input : hostileInputs()) {
    if (input.qt6Only && qtMajor == 5) continue;
    writeFile(work / "hostile" / (std::string(input.type) + "__" + input.name + ".bin"), unhex(input.hexBytes));
  }
  if (!run({peer, "hostile", (work / "hostile").string(), (work / "qt-hostile").string()})) return 1;
  for (const Hostile& input : hostileInputs()) {
    if (input.qt6Only && qtMajor == 5) continue;
    const std::string base = std::string(input.type) + "__" + input.name;
    DataStream in(unhex(input.hexBytes));
    in.setVersion(kMalformedFormat);
    const std::string value = readAs(input.type, in);
    const std::string text = malformedLine(value, static_cast<int>(in.status()), in.atEnd());
    ++tally.hostile;
    compareDumps(tally, "malformed " + base, readFile(work / "qt-hostile" / (base + ".txt")), text);
  }

  std::printf(
      "Qt %d: %zu formats (versions 1-%d, both byte orders); %d records byte-exact, %d compared by value; "
      "%d values read alike; %d malformed inputs read alike; %d mismatches\n",
      qtMajor, combos().size(), kNewestFormat, tally.exactRecords,
      tally.valueRecords, tally.dumpLines, tally.hostile, tally.failures);
  return tally.failures == 0 ? 0 : 1;
}
