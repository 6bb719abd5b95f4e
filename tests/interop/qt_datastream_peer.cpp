// The Qt side of the DataStream interop test: real QDataStream, built once
// against Qt 5 and once against Qt 6 from Debian's packages. It never links
// tether.
//
//   qt_datastream_peer write <dir>             one corpus file per format
//                                              version and byte order
//   qt_datastream_peer read <dir> <out>        reads every corpus file in
//                                              <dir>, dumps the values as text
//   qt_datastream_peer hostile <dir> <out>     reads each malformed input
//                                              (at Qt_6_0), dumps value and
//                                              status
//
// The records, their order and the dump format are kept in step with
// tether_datastream_peer.cpp, which is the tether side and does the
// comparing. A corpus file <combo>.bin comes with <combo>.idx: one line per
// record, "<name> <offset>".
#include <QByteArray>
#include <QDataStream>
#include <QDir>
#include <QFile>
#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QMap>
#include <QPair>
#include <QSet>
#include <QString>
#include <QStringList>

#include "datastream_peer_common.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using namespace datastream_peer;

// ------------------------------------------------------------- dump text

std::string dump(bool v) { return v ? "true" : "false"; }
template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, bool> = true>
std::string dump(T v) {
  if constexpr (std::is_signed_v<T>) return std::to_string(static_cast<long long>(v));
  else return std::to_string(static_cast<unsigned long long>(v));
}
std::string dumpInt(long long v) { return std::to_string(v); }
std::string dump(float v) {
  quint32 bits;
  std::memcpy(&bits, &v, 4);
  return fmt("f:%08llx", bits);
}
std::string dump(double v) {
  quint64 bits;
  std::memcpy(&bits, &v, 8);
  return fmt("d:%016llx", bits);
}
std::string dump(const QByteArray& v) {
  if (v.isNull()) return "null";
  return "b[" + hexOf(v.constData(), size_t(v.size())) + "]";
}
std::string dump(const QString& v) {
  if (v.isNull()) return "snull";
  std::string out = "s[";
  for (QChar c : v) out += fmt("%04llx", c.unicode());
  return out + "]";
}
std::string dump(const QHostAddress& a) {
  switch (a.protocol()) {
    case QAbstractSocket::UnknownNetworkLayerProtocol:
      return "ha:null";
    case QAbstractSocket::AnyIPProtocol:
      return "ha:any";
    case QAbstractSocket::IPv4Protocol:
      return fmt("ha4:%08llx", a.toIPv4Address());
    case QAbstractSocket::IPv6Protocol: {
      const Q_IPV6ADDR ip6 = a.toIPv6Address();
      const QByteArray scope = a.scopeId().toUtf8();
      return "ha6:" + hexOf(reinterpret_cast<const char*>(ip6.c), 16) + "%" + hexOf(scope.constData(), size_t(scope.size()));
    }
  }
  return "ha:?";
}
template <class A, class B>
std::string dump(const QPair<A, B>& p) {
  return "(" + dump(p.first) + "," + dump(p.second) + ")";
}
template <class T>
std::string dump(const QList<T>& list) {
  std::string out = "[";
  for (int i = 0; i < list.size(); ++i) out += (i ? "," : "") + dump(list.at(i));
  return out + "]";
}
template <class Map>
std::string dumpMap(const Map& map) {
  std::string out = "{";
  bool first = true;
  for (auto it = map.begin(); it != map.end(); ++it) {
    out += (first ? "" : ",") + dump(it.key()) + "=" + dump(it.value());
    first = false;
  }
  return out + "}";
}
template <class Hash>
std::string dumpHash(const Hash& hash) {
  std::vector<std::string> items;
  for (auto it = hash.begin(); it != hash.end(); ++it) items.push_back(dump(it.key()) + "=" + dump(it.value()));
  return sortedItems(items, "{", "}");
}
template <class T>
std::string dump(const QSet<T>& set) {
  std::vector<std::string> items;
  for (const T& v : set) items.push_back(dump(v));
  return sortedItems(items, "<", ">");
}
std::string dumpC(const char* s) {
  if (s == nullptr) return "cnull";
  return "c[" + hexOf(s, std::strlen(s)) + "]";
}

// -------------------------------------------------------------- the corpus

QString utf16(const char16_t* text) {
  return QString(reinterpret_cast<const QChar*>(text), int(std::char_traits<char16_t>::length(text)));
}
QString loneSurrogate() {
  const char16_t units[] = {0xdc00, u'x', 0xd800};
  return QString(reinterpret_cast<const QChar*>(units), 3);
}
QString everyFewUnits() {
  QString text;
  for (int u = 1; u < 0x10000; u += 37) text += QChar(ushort(u));
  return text;
}
QByteArray allBytes() {
  QByteArray bytes;
  for (int i = 0; i < 256; ++i) bytes += char(i);
  return bytes;
}
float floatBits(quint32 bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
double doubleBits(quint64 bits) {
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}
QHostAddress withScope(const char* text, const char* scope) {
  QHostAddress a(QString::fromLatin1(text));
  a.setScopeId(QString::fromLatin1(scope));
  return a;
}

enum class Shade : quint16 { Dark = 0x0102 };

struct Record {
  const char* name;
  std::function<void(QDataStream&)> write;
  std::function<std::string(QDataStream&)> read;
};

template <class T>
T get(QDataStream& s) {
  T v{};
  s >> v;
  return v;
}

// Keep in step with tether_datastream_peer.cpp.
std::vector<Record> corpus() {
  std::vector<Record> r;
  r.push_back({"int8", [](QDataStream& s) { s << qint8(-128) << qint8(127) << quint8(0xff) << qint8('A'); },
               [](QDataStream& s) {
                 std::string out = dumpInt(get<qint8>(s));
                 out += " " + dumpInt(get<qint8>(s));
                 out += " " + dumpInt(get<quint8>(s));
                 out += " " + dumpInt(get<qint8>(s));
                 return out;
               }});
  r.push_back({"int16", [](QDataStream& s) { s << qint16(-32768) << quint16(0xbeef); },
               [](QDataStream& s) {
                 std::string out = dumpInt(get<qint16>(s));
                 return out + " " + dumpInt(get<quint16>(s));
               }});
  r.push_back({"int32", [](QDataStream& s) { s << qint32(-123456789) << quint32(0xdeadbeef); },
               [](QDataStream& s) {
                 std::string out = dumpInt(get<qint32>(s));
                 return out + " " + dumpInt(get<quint32>(s));
               }});
  r.push_back({"int64", [](QDataStream& s) { s << qint64(-0x0123456789abcdf0LL) << quint64(0xfedcba9876543210ULL); },
               [](QDataStream& s) {
                 std::string out = dump(get<qint64>(s));
                 return out + " " + dump(get<quint64>(s));
               }});
  r.push_back({"bool", [](QDataStream& s) { s << true << false; },
               [](QDataStream& s) {
                 std::string out = dump(get<bool>(s));
                 return out + " " + dump(get<bool>(s));
               }});
  r.push_back({"enum", [](QDataStream& s) { s << Shade::Dark; },
               [](QDataStream& s) { return dumpInt(qint64(get<Shade>(s))); }});
  r.push_back({"float",
               [](QDataStream& s) {
                 s << 1.5f << -0.0f << std::numeric_limits<float>::infinity() << floatBits(0x7f800001)
                   << floatBits(0x7fc12345) << floatBits(1) << std::numeric_limits<float>::max();
               },
               [](QDataStream& s) {
                 std::string out;
                 for (int i = 0; i < 7; ++i) out += (i ? " " : "") + dump(get<float>(s));
                 return out;
               }});
  r.push_back({"double",
               [](QDataStream& s) {
                 s << 3.141592653589793 << doubleBits(0x7ff0000000000123ULL) << -std::numeric_limits<double>::infinity()
                   << doubleBits(1) << std::numeric_limits<double>::max();
               },
               [](QDataStream& s) {
                 std::string out;
                 for (int i = 0; i < 5; ++i) out += (i ? " " : "") + dump(get<double>(s));
                 return out;
               }});
  r.push_back({"single-precision",
               [](QDataStream& s) {
                 s.setFloatingPointPrecision(QDataStream::SinglePrecision);
                 s << 2.5f << 0.1 << 1e300 << doubleBits(0x7ff0000000000123ULL);
                 s.setFloatingPointPrecision(QDataStream::DoublePrecision);
               },
               [](QDataStream& s) {
                 s.setFloatingPointPrecision(QDataStream::SinglePrecision);
                 std::string out = dump(get<float>(s));
                 for (int i = 0; i < 3; ++i) out += " " + dump(get<double>(s));
                 s.setFloatingPointPrecision(QDataStream::DoublePrecision);
                 return out;
               }});
  r.push_back({"char16-char32", [](QDataStream& s) { s << quint16(0x20ac) << quint32(0x1f600); },
               [](QDataStream& s) {
                 std::string out = dumpInt(get<quint16>(s));
                 return out + " " + dumpInt(get<quint32>(s));
               }});
  r.push_back({"cstring", [](QDataStream& s) { s << "hello" << static_cast<const char*>(nullptr) << ""; },
               [](QDataStream& s) {
                 std::string out;
                 for (int i = 0; i < 3; ++i) {
                   char* text = nullptr;
                   s >> text;
                   out += (i ? " " : "") + dumpC(text);
                   delete[] text;
                 }
                 return out;
               }});
  r.push_back({"raw",
               [](QDataStream& s) {
                 s.writeBytes("raw", 3);
                 s.writeRawData("xy", 2);
               },
               [](QDataStream& s) {
                 char* bytes = nullptr;
                 uint length = 0;
                 s.readBytes(bytes, length);
                 std::string out = "n" + std::to_string(length) + ":" + hexOf(bytes, length);
                 delete[] bytes;
                 char raw[2] = {};
                 const int got = s.readRawData(raw, 2);
                 return out + " r" + std::to_string(got) + ":" + hexOf(raw, 2);
               }});
  r.push_back({"bytes",
               [](QDataStream& s) {
                 s << QByteArray("abc\0def", 7) << QByteArray() << QByteArray("") << allBytes();
               },
               [](QDataStream& s) {
                 std::string out;
                 for (int i = 0; i < 4; ++i) out += (i ? " " : "") + dump(get<QByteArray>(s));
                 return out;
               }});
  r.push_back({"string",
               [](QDataStream& s) {
                 s << utf16(u"a\u00e9\u20ac\U0001F600") << QString() << QString("") << loneSurrogate();
               },
               [](QDataStream& s) {
                 std::string out;
                 for (int i = 0; i < 4; ++i) out += (i ? " " : "") + dump(get<QString>(s));
                 return out;
               }});
  r.push_back({"string-long", [](QDataStream& s) { s << everyFewUnits(); },
               [](QDataStream& s) { return dump(get<QString>(s)); }});
  r.push_back({"list-int32", [](QDataStream& s) { s << QList<qint32>{1, -2, 3} << QList<qint32>(); },
               [](QDataStream& s) {
                 std::string out = dump(get<QList<qint32>>(s));
                 return out + " " + dump(get<QList<qint32>>(s));
               }});
  r.push_back({"list-string", [](QDataStream& s) { s << QList<QString>{QString("a"), QString(""), QString()}; },
               [](QDataStream& s) { return dump(get<QList<QString>>(s)); }});
  r.push_back({"list-bytes", [](QDataStream& s) { s << QList<QByteArray>{QByteArray("x"), QByteArray()}; },
               [](QDataStream& s) { return dump(get<QList<QByteArray>>(s)); }});
  r.push_back({"list-nested", [](QDataStream& s) { s << QList<QList<quint8>>{{1, 2}, {}}; },
               [](QDataStream& s) { return dump(get<QList<QList<quint8>>>(s)); }});
  r.push_back({"map",
               [](QDataStream& s) {
                 QMap<qint32, QString> map;
                 map.insert(3, "c");
                 map.insert(1, "a");
                 map.insert(2, "b");
                 s << map;
               },
               [](QDataStream& s) { return dumpMap(get<QMap<qint32, QString>>(s)); }});
  r.push_back({"map-single",
               [](QDataStream& s) {
                 QMap<QString, QByteArray> map;
                 map.insert("k", "v");
                 s << map;
               },
               [](QDataStream& s) { return dumpMap(get<QMap<QString, QByteArray>>(s)); }});
  r.push_back({"multimap",
               [](QDataStream& s) {
                 QMultiMap<qint32, qint32> map;
                 map.insert(1, 10);
                 map.insert(1, 11);
                 map.insert(0, 5);
                 map.insert(2, 20);
                 s << map;
               },
               [](QDataStream& s) { return dumpMap(get<QMultiMap<qint32, qint32>>(s)); }});
  r.push_back({"hash",
               [](QDataStream& s) {
                 QHash<qint32, qint32> hash;
                 hash.insert(1, 2);
                 hash.insert(3, 4);
                 hash.insert(5, 6);
                 s << hash;
               },
               [](QDataStream& s) { return dumpHash(get<QHash<qint32, qint32>>(s)); }});
  r.push_back({"hash-single",
               [](QDataStream& s) {
                 QHash<QString, qint32> hash;
                 hash.insert("one", 1);
                 s << hash;
               },
               [](QDataStream& s) { return dumpHash(get<QHash<QString, qint32>>(s)); }});
  r.push_back({"multihash",
               [](QDataStream& s) {
                 QMultiHash<qint32, qint32> hash;
                 hash.insert(7, 1);
                 hash.insert(7, 2);
                 hash.insert(7, 3);
                 s << hash;
               },
               [](QDataStream& s) { return dumpMap(get<QMultiHash<qint32, qint32>>(s)); }});
  r.push_back({"set", [](QDataStream& s) { s << QSet<qint32>{1, 2, 3}; },
               [](QDataStream& s) { return dump(get<QSet<qint32>>(s)); }});
  r.push_back({"set-single", [](QDataStream& s) { s << QSet<QString>{QString("s")}; },
               [](QDataStream& s) { return dump(get<QSet<QString>>(s)); }});
  r.push_back({"pair",
               [](QDataStream& s) {
                 s << QPair<qint8, QString>(-1, "p") << QPair<QPair<qint32, qint32>, bool>(qMakePair(1, 2), true);
               },
               [](QDataStream& s) {
                 std::string out = dump(get<QPair<qint8, QString>>(s));
                 const auto nested = get<QPair<QPair<qint32, qint32>, bool>>(s);
                 return out + " ((" + dumpInt(nested.first.first) + "," + dumpInt(nested.first.second) + ")," +
                        dump(nested.second) + ")";
               }});
  r.push_back({"hostaddress",
               [](QDataStream& s) {
                 s << QHostAddress() << QHostAddress(QHostAddress::Any) << QHostAddress("127.0.0.1")
                   << QHostAddress("::1") << withScope("fe80::1", "eth0") << QHostAddress("::ffff:1.2.3.4")
                   << QHostAddress(QHostAddress::AnyIPv6) << QHostAddress("192.168.1.1");
               },
               [](QDataStream& s) {
                 std::string out;
                 for (int i = 0; i < 8; ++i) out += (i ? " " : "") + dump(get<QHostAddress>(s));
                 return out;
               }});
  return r;
}

// ------------------------------------------------------- malformed inputs

// What each malformed input is read as: the file name is "<type>__<case>.bin".
std::string readAs(const std::string& type, QDataStream& s) {
  if (type == "int32") return dumpInt(get<qint32>(s));
  if (type == "bool") return dump(get<bool>(s));
  if (type == "double") return dump(get<double>(s));
  if (type == "bytes") return dump(get<QByteArray>(s));
  if (type == "string") return dump(get<QString>(s));
  if (type == "list-int32") return dump(get<QList<qint32>>(s));
  if (type == "list-string") return dump(get<QList<QString>>(s));
  if (type == "map-int8") return dumpMap(get<QMap<qint8, qint8>>(s));
  if (type == "hostaddress") return dump(get<QHostAddress>(s));
  return "unknown type " + type;
}

// ------------------------------------------------------------------- files

bool writeFile(const QString& path, const QByteArray& bytes) {
  QFile file(path);
  return file.open(QIODevice::WriteOnly | QIODevice::Truncate) && file.write(bytes) == bytes.size();
}

int writeCorpus(const QString& dir) {
  QDir().mkpath(dir);
  for (const Combo& combo : combos()) {
    QByteArray bytes;
    QByteArray index;
    QDataStream out(&bytes, QIODevice::WriteOnly);
    out.setVersion(combo.version);
    out.setByteOrder(combo.littleEndian ? QDataStream::LittleEndian : QDataStream::BigEndian);
    for (const Record& record : corpus()) {
      index += QByteArray(record.name) + " " + QByteArray::number(bytes.size()) + "\n";
      record.write(out);
    }
    index += "end " + QByteArray::number(bytes.size()) + "\n";
    if (out.status() != QDataStream::Ok) {
      std::fprintf(stderr, "%s: write status %d\n", combo.name().c_str(), int(out.status()));
      return 1;
    }
    const QString base = dir + "/" + QString::fromStdString(combo.name());
    if (!writeFile(base + ".bin", bytes) || !writeFile(base + ".idx", index)) return 1;
  }
  return 0;
}

int readCorpus(const QString& dir, const QString& outDir) {
  QDir().mkpath(outDir);
  for (const Combo& combo : combos()) {
    QFile file(dir + "/" + QString::fromStdString(combo.name()) + ".bin");
    if (!file.open(QIODevice::ReadOnly)) {
      std::fprintf(stderr, "cannot open %s\n", qPrintable(file.fileName()));
      return 1;
    }
    QDataStream in(&file);
    in.setVersion(combo.version);
    in.setByteOrder(combo.littleEndian ? QDataStream::LittleEndian : QDataStream::BigEndian);
    std::string text;
    for (const Record& record : corpus()) {
      const std::string value = record.read(in);
      text += recordLine(record.name, value, int(in.status()));
    }
    text += endLine(in.atEnd());
    if (!writeFile(outDir + "/" + QString::fromStdString(combo.name()) + ".txt", QByteArray::fromStdString(text)))
      return 1;
  }
  return 0;
}

int readHostile(const QString& dir, const QString& outDir) {
  QDir().mkpath(outDir);
  const QStringList names = QDir(dir).entryList(QStringList() << "*.bin", QDir::Files, QDir::Name);
  for (const QString& name : names) {
    QFile file(dir + "/" + name);
    if (!file.open(QIODevice::ReadOnly)) return 1;
    const QByteArray bytes = file.readAll();
    QDataStream in(bytes);
    in.setVersion(kMalformedFormat);
    const std::string type = name.section("__", 0, 0).toStdString();
    const std::string value = readAs(type, in);
    const std::string text = malformedLine(value, int(in.status()), in.atEnd());
    QString outName = name;
    outName.replace(".bin", ".txt");
    if (!writeFile(outDir + "/" + outName, QByteArray::fromStdString(text))) return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "write" && argc == 3) return writeCorpus(QString::fromLocal8Bit(argv[2]));
  if (mode == "read" && argc == 4) return readCorpus(QString::fromLocal8Bit(argv[2]), QString::fromLocal8Bit(argv[3]));
  if (mode == "hostile" && argc == 4)
    return readHostile(QString::fromLocal8Bit(argv[2]), QString::fromLocal8Bit(argv[3]));
  std::fprintf(stderr, "usage: %s write <dir> | read <dir> <out> | hostile <dir> <out>\n", argv[0]);
  return 2;
}
