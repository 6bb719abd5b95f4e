// DataStream: QDataStream's binary format, byte for byte, for every format
// version from Qt_1_0 to Qt_6_10 (Qt's QDataStream).
//
//   std::string block;
//   DataStream out(&block, IODevice::WriteOnly);
//   out.setVersion(DataStream::Qt_5_7);
//   out << std::uint64_t(total) << asQString(fileName);   // fileName: UTF-8
//
//   DataStream in(socket);                  // any IODevice
//   in.startTransaction();
//   in >> total >> asQString(fileName);
//   if (!in.commitTransaction()) return;    // incomplete: wait for more data
//
// Types and their Qt counterparts (every mapping is byte-exact; the wire
// format is documented in docs/data-stream.md):
//
//   Qt                     tether
//   qint8 ... quint64      std::int8_t ... std::uint64_t (any integer type
//                          of 1, 2, 4 or 8 bytes; char is qint8)
//   bool, float, double    the same; float travels as 8 bytes from Qt_4_6 on
//                          unless setFloatingPointPrecision(SinglePrecision)
//   char16_t, char32_t     the same (quint16, quint32)
//   enum types             their underlying integer type, as in Qt
//   const char *           const char * (written only; see readBytes())
//   QByteArray             std::string / std::string_view (never null on
//                          write; a null QByteArray reads as "")
//                          NullableBytes (null and empty kept apart)
//   QString                std::u16string / std::u16string_view: exact
//                          UTF-16 code units; NullableString keeps null apart;
//                          asQString(std::string&) for UTF-8 text
//   QList / QVector        std::vector, std::deque, std::list
//   QMap, QMultiMap        std::map, std::multimap
//   QHash, QMultiHash      std::unordered_map, std::unordered_multimap
//   QSet                   std::set, std::unordered_set
//   QPair / std::pair      std::pair
//   QHostAddress           HostAddress
//
// Behaviour is Qt 6.10's, including its quirks (see docs/data-stream.md):
// the status latches (setStatus() only changes an Ok stream; reading goes on
// after an error except inside a transaction), sizes of 2^32 - 2 and more
// travel as 0xfffffffe plus a qint64 from Qt_6_7 on and fail with
// SizeLimitExceeded before, and values from 64-bit integers written at
// versions before Qt_3_3 come back with their halves swapped, as Qt reads
// them. Where Qt allocates what a size field claims (QList::reserve), tether
// only allocates as the bytes arrive.
//
// A DataStream is a plain object, not an Object: it has no signals and does
// not own the device it was given. Owner thread of the device only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "tether/io_device.h"

namespace tether {

class Buffer;
class HostAddress;

// A QByteArray with Qt's null state: a null QByteArray is written as
// 0xffffffff (from Qt_3_3 on), an empty one as 0.
struct NullableBytes {
  std::string bytes;
  bool isNull = false;
  friend bool operator==(const NullableBytes&, const NullableBytes&) = default;
};

// A QString with Qt's null state: a null QString is written as 0xffffffff
// (from Qt_3_0 on), an empty one as 0.
struct NullableString {
  std::u16string text;
  bool isNull = false;
  friend bool operator==(const NullableString&, const NullableString&) = default;
};

// UTF-8 text that travels as a QString; made by asQString().
struct Utf8StringView {
  std::string_view text;
};
struct Utf8StringRef {
  std::string* text;
};

// `out << asQString(text)` writes UTF-8 text as a QString (UTF-16 on the
// wire; invalid UTF-8 becomes U+FFFD); `in >> asQString(text)` reads a
// QString into UTF-8 (an unpaired surrogate becomes U+FFFD, a null QString
// becomes ""). Binds a non-const std::string for reading, anything else that
// converts to std::string_view for writing.
inline Utf8StringRef asQString(std::string& utf8) { return {&utf8}; }
inline Utf8StringView asQString(std::string_view utf8) { return {utf8}; }

namespace detail {
// The integer types DataStream reads and writes directly: every integer type
// of 1, 2, 4 or 8 bytes except bool (its own overload), wchar_t and char8_t
// (no Qt counterpart).
template <class T>
concept StreamInteger = std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, wchar_t> &&
                        !std::is_same_v<T, char8_t> &&
                        (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);
}  // namespace detail

class DataStream {
 public:
  // Format versions: Qt's names and numbers. Names that share a number
  // share a format.
  enum Version : int {
    Qt_1_0 = 1,
    Qt_2_0 = 2,
    Qt_2_1 = 3,
    Qt_3_0 = 4,
    Qt_3_1 = 5,
    Qt_3_3 = 6,
    Qt_4_0 = 7,
    Qt_4_1 = Qt_4_0,
    Qt_4_2 = 8,
    Qt_4_3 = 9,
    Qt_4_4 = 10,
    Qt_4_5 = 11,
    Qt_4_6 = 12,
    Qt_4_7 = Qt_4_6,
    Qt_4_8 = Qt_4_7,
    Qt_4_9 = Qt_4_8,
    Qt_5_0 = 13,
    Qt_5_1 = 14,
    Qt_5_2 = 15,
    Qt_5_3 = Qt_5_2,
    Qt_5_4 = 16,
    Qt_5_5 = Qt_5_4,
    Qt_5_6 = 17,
    Qt_5_7 = Qt_5_6,
    Qt_5_8 = Qt_5_7,
    Qt_5_9 = Qt_5_8,
    Qt_5_10 = Qt_5_9,
    Qt_5_11 = Qt_5_10,
    Qt_5_12 = 18,
    Qt_5_13 = 19,
    Qt_5_14 = Qt_5_13,
    Qt_5_15 = Qt_5_14,
    Qt_6_0 = 20,
    Qt_6_1 = Qt_6_0,
    Qt_6_2 = Qt_6_0,
    Qt_6_3 = Qt_6_0,
    Qt_6_4 = Qt_6_0,
    Qt_6_5 = Qt_6_0,
    Qt_6_6 = 21,
    Qt_6_7 = 22,
    Qt_6_8 = Qt_6_7,
    Qt_6_9 = Qt_6_7,
    Qt_6_10 = 23,
    // The newest format tether knows, and the default of every stream.
    Qt_DefaultCompiledVersion = Qt_6_10,
  };

  // Values as Qt's (QSysInfo::BigEndian is 0).
  enum ByteOrder { BigEndian = 0, LittleEndian = 1 };

  enum Status {
    Ok,
    ReadPastEnd,        // a read wanted more bytes than the device had
    ReadCorruptData,    // the bytes cannot be what they claim to be
    WriteFailed,        // the device took fewer bytes than written
    SizeLimitExceeded,  // a size that does not fit the format or the container
  };

  // From Qt_4_6 on, every float and double travels with this precision
  // (default DoublePrecision: a float takes 8 bytes); before Qt_4_6 the
  // type decides.
  enum FloatingPointPrecision { SinglePrecision, DoublePrecision };

  // No device: writes do nothing and reads give zero values.
  DataStream();
  // Works on `device` (not owned; it must outlive the stream or be replaced
  // with setDevice()). The device must already be open.
  explicit DataStream(IODevice* device);
  // Works on *bytes through an internal Buffer opened with `mode`, as Qt's
  // QDataStream(QByteArray*, OpenMode): WriteOnly writes from the start
  // without truncating; Append writes at the end.
  DataStream(std::string* bytes, IODevice::OpenMode mode);
  // Reads a copy of `bytes` (Qt's QDataStream(const QByteArray&)).
  explicit DataStream(std::string_view bytes);
  ~DataStream();

  DataStream(const DataStream&) = delete;
  DataStream& operator=(const DataStream&) = delete;
  DataStream(DataStream&&) noexcept;
  DataStream& operator=(DataStream&&) noexcept;

  IODevice* device() const { return device_; }
  // Replaces the device (nullptr: none); an internal Buffer is deleted.
  void setDevice(IODevice* device);

  // True at the end of the device's data, or without a device.
  bool atEnd() const;

  Status status() const { return status_; }
  // Sets the status, but only if it is Ok: the first error sticks until
  // resetStatus().
  void setStatus(Status status);
  void resetStatus() { status_ = Ok; }
  // status() == Ok (Qt 6.10).
  explicit operator bool() const { return status_ == Ok; }

  FloatingPointPrecision floatingPointPrecision() const { return precision_; }
  void setFloatingPointPrecision(FloatingPointPrecision precision) { precision_ = precision; }

  ByteOrder byteOrder() const { return byteOrder_; }
  void setByteOrder(ByteOrder order) { byteOrder_ = order; }

  // Any number is accepted, as in Qt; formats change at the Version values.
  int version() const { return version_; }
  void setVersion(int version) { version_ = version; }

  // ---------------------------------------------------------------- values

  template <detail::StreamInteger T>
  DataStream& operator<<(T value) {
    return writeInteger(static_cast<std::uint64_t>(value), sizeof(T));
  }
  template <detail::StreamInteger T>
  DataStream& operator>>(T& value) {
    std::uint64_t raw = 0;
    readInteger(raw, sizeof(T));
    value = static_cast<T>(raw);
    return *this;
  }
  // Enumerations travel as their underlying type.
  template <class E>
    requires std::is_enum_v<E>
  DataStream& operator<<(E value) {
    return *this << static_cast<std::underlying_type_t<E>>(value);
  }
  template <class E>
    requires std::is_enum_v<E>
  DataStream& operator>>(E& value) {
    std::underlying_type_t<E> raw{};
    *this >> raw;
    value = static_cast<E>(raw);
    return *this;
  }

  // One byte, 0 or 1; any non-zero byte reads as true. A template, as in
  // Qt, so that pointers do not convert to bool.
  template <class B>
    requires std::is_same_v<B, bool>
  DataStream& operator<<(B value) {
    return writeInteger(value ? 1 : 0, 1);
  }
  DataStream& operator>>(bool& value);
  // IEEE 754 bits as they are: NaN payloads survive, except that a
  // conversion between float and double (the precision rule above) changes
  // them exactly as the processor's conversion does, as in Qt.
  DataStream& operator<<(float value);
  DataStream& operator>>(float& value);
  DataStream& operator<<(double value);
  DataStream& operator>>(double& value);
  // Nothing travels.
  DataStream& operator<<(std::nullptr_t) { return *this; }
  DataStream& operator>>(std::nullptr_t& value) {
    value = nullptr;
    return *this;
  }
  // The bytes of the string and its terminating NUL, as writeBytes() (a size
  // of strlen + 1); a null pointer writes a size of 0.
  DataStream& operator<<(const char* text);

  // ------------------------------------------------------------- raw bytes

  // A size field then the bytes (Qt's writeBytes()). A negative length sets
  // WriteFailed, even on a stream in error.
  DataStream& writeBytes(const char* data, std::int64_t length);
  DataStream& writeBytes(std::string_view bytes) {
    return writeBytes(bytes.data(), static_cast<std::int64_t>(bytes.size()));
  }
  // Reads what writeBytes() and operator<<(const char*) write. The bytes
  // arrive in a new NUL-terminated array (nullptr when the size is 0), the
  // size in `length`. A size field of 0xffffffff sets SizeLimitExceeded.
  DataStream& readBytes(std::unique_ptr<char[]>& data, std::int64_t& length);
  // The same into a string (a C string read this way ends with its NUL).
  DataStream& readBytes(std::string& bytes);

  // Exactly `length` bytes, no size field. Returns the count, or -1.
  std::int64_t readRawData(char* data, std::int64_t length);
  std::int64_t writeRawData(const char* data, std::int64_t length);
  std::int64_t skipRawData(std::int64_t length);

  // Qt's size field (QDataStream's private readQSizeType/writeQSizeType),
  // public for custom containers: a quint32, or from Qt_6_7 on 0xfffffffe
  // then a qint64 for sizes of 0xfffffffe and more. -1 is the null marker
  // 0xffffffff. writeSize() returns false (and sets SizeLimitExceeded) when
  // the version cannot express the size.
  std::int64_t readSize();
  bool writeSize(std::int64_t size);

  // ---------------------------------------------------------- transactions

  // Qt's read transactions on the device's own. Only the outermost start
  // and end touch the device; inner ones report to the outermost. Inside a
  // transaction reading stops at the first error.
  void startTransaction();
  // Outermost: a ReadPastEnd status rolls the device back (false), else the
  // device commits. Returns status() == Ok.
  bool commitTransaction();
  // Sets ReadPastEnd if the status was Ok; the outermost rolls back on
  // ReadPastEnd and otherwise commits (the read bytes are gone).
  void rollbackTransaction();
  // Sets ReadCorruptData unconditionally; the outermost commits.
  void abortTransaction();
  bool isDeviceTransactionStarted() const;

 private:
  friend DataStream& operator<<(DataStream&, const NullableBytes&);
  friend DataStream& operator>>(DataStream&, NullableBytes&);
  friend DataStream& operator<<(DataStream&, const NullableString&);
  friend DataStream& operator>>(DataStream&, NullableString&);
  friend DataStream& operator<<(DataStream&, std::u16string_view);
  friend DataStream& operator<<(DataStream&, Utf8StringView);

  DataStream& writeInteger(std::uint64_t value, std::size_t width);
  void readInteger(std::uint64_t& value, std::size_t width);
  // `width` bytes in the stream's byte order, never split.
  void writeFixed(std::uint64_t value, std::size_t width);
  void readFixed(std::uint64_t& value, std::size_t width);
  std::int64_t readBlock(char* data, std::int64_t length);
  bool writeBlock(const char* data, std::int64_t length);
  bool canWrite() const { return device_ != nullptr && status_ == Ok; }
  // Reads `length` bytes into `out`, growing it only as the bytes arrive.
  bool readGrowing(std::string& out, std::int64_t length);
  void writeUtf16(std::u16string_view text, bool isNull);
  void readUtf16(NullableString& out);

  IODevice* device_ = nullptr;
  std::unique_ptr<Buffer> ownBuffer_;  // for the std::string constructors
  int version_ = Qt_DefaultCompiledVersion;
  ByteOrder byteOrder_ = BigEndian;
  FloatingPointPrecision precision_ = DoublePrecision;
  Status status_ = Ok;
  int transactionDepth_ = 0;
};

// ------------------------------------------------------------ byte arrays

DataStream& operator<<(DataStream& out, std::string_view bytes);
DataStream& operator>>(DataStream& in, std::string& bytes);
DataStream& operator<<(DataStream& out, const NullableBytes& bytes);
DataStream& operator>>(DataStream& in, NullableBytes& bytes);

// ---------------------------------------------------------------- strings

// Qt_1_0 wrote a QString as Latin-1 bytes: every code unit above U+00FF
// becomes '?', as in Qt. Before Qt_3_0 a null QString is written empty.
DataStream& operator<<(DataStream& out, std::u16string_view text);
DataStream& operator>>(DataStream& in, std::u16string& text);
DataStream& operator<<(DataStream& out, const NullableString& text);
DataStream& operator>>(DataStream& in, NullableString& text);
DataStream& operator<<(DataStream& out, Utf8StringView text);
DataStream& operator<<(DataStream& out, Utf8StringRef text);
DataStream& operator>>(DataStream& in, Utf8StringRef text);

// ------------------------------------------------------------ HostAddress

// QHostAddress's format: the protocol as qint8 (-1 Null, 0 IPv4, 1 IPv6,
// 2 Any), then for IPv4 the address as quint32, for IPv6 its 16 bytes and the
// scope id as a QString (null when there is none). An unknown protocol
// byte reads as Null with ReadCorruptData.
DataStream& operator<<(DataStream& out, const HostAddress& address);
DataStream& operator>>(DataStream& in, HostAddress& address);

// ------------------------------------------------------------- containers

namespace detail {

// Qt's StreamStateSaver: a container is read even on a stream in error
// (outside a transaction), and the earlier error is put back afterwards.
class StreamStateSaver {
 public:
  explicit StreamStateSaver(DataStream& stream) : stream_(stream), old_(stream.status()) {
    if (!stream_.isDeviceTransactionStarted()) stream_.resetStatus();
  }
  ~StreamStateSaver() {
    if (old_ != DataStream::Ok) {
      stream_.resetStatus();
      stream_.setStatus(old_);
    }
  }
  StreamStateSaver(const StreamStateSaver&) = delete;
  StreamStateSaver& operator=(const StreamStateSaver&) = delete;

 private:
  DataStream& stream_;
  DataStream::Status old_;
};

// The element count of a container being read, or -1 (with
// SizeLimitExceeded set) for a negative or null size.
std::int64_t readContainerSize(DataStream& in);
// How many elements of `elementSize` bytes may be reserved before any has
// been read: no more memory than the device holds bytes to read them from.
std::size_t safeReserve(DataStream& in, std::int64_t count, std::size_t elementSize);

template <class Container>
DataStream& writeSequence(DataStream& out, const Container& c) {
  if (!out.writeSize(static_cast<std::int64_t>(c.size()))) return out;
  for (const auto& value : c) out << static_cast<const typename Container::value_type&>(value);
  return out;
}

template <class Container>
DataStream& readSequence(DataStream& in, Container& c) {
  StreamStateSaver saver(in);
  c.clear();
  const std::int64_t n = readContainerSize(in);
  if (n < 0) return in;
  if constexpr (requires { c.reserve(std::size_t{}); }) c.reserve(safeReserve(in, n, sizeof(typename Container::value_type)));
  for (std::int64_t i = 0; i < n; ++i) {
    typename Container::value_type value{};
    if (!(in >> value)) {
      c.clear();
      break;
    }
    c.push_back(std::move(value));
  }
  return in;
}

template <class Container>
DataStream& readSetLike(DataStream& in, Container& c) {
  StreamStateSaver saver(in);
  c.clear();
  const std::int64_t n = readContainerSize(in);
  if (n < 0) return in;
  for (std::int64_t i = 0; i < n; ++i) {
    typename Container::value_type value{};
    if (!(in >> value)) {
      c.clear();
      break;
    }
    c.insert(std::move(value));
  }
  return in;
}

// QMap and QHash: in iteration order.
template <class Container>
DataStream& writeAssociative(DataStream& out, const Container& c) {
  if (!out.writeSize(static_cast<std::int64_t>(c.size()))) return out;
  for (const auto& [key, value] : c) out << key << value;
  return out;
}

// QMultiMap and QMultiHash: in iteration order, except that each run of
// equal keys is written last to first (Qt 6's order).
template <class Container>
DataStream& writeAssociativeMulti(DataStream& out, const Container& c) {
  if (!out.writeSize(static_cast<std::int64_t>(c.size()))) return out;
  std::vector<typename Container::const_iterator> run;
  for (auto it = c.begin(); it != c.end();) {
    auto runEnd = std::next(it);
    while (runEnd != c.end() && runEnd->first == it->first) ++runEnd;
    run.clear();
    for (auto r = it; r != runEnd; ++r) run.push_back(r);
    for (auto r = run.rbegin(); r != run.rend(); ++r) out << (*r)->first << (*r)->second;
    it = runEnd;
  }
  return out;
}

// `insert(container, key, value)` decides what a repeated key does.
template <class Container, class Insert>
DataStream& readAssociative(DataStream& in, Container& c, Insert insert) {
  StreamStateSaver saver(in);
  c.clear();
  const std::int64_t n = readContainerSize(in);
  if (n < 0) return in;
  for (std::int64_t i = 0; i < n; ++i) {
    typename Container::key_type key{};
    typename Container::mapped_type value{};
    if (!(in >> key >> value)) {
      c.clear();
      break;
    }
    insert(c, std::move(key), std::move(value));
  }
  return in;
}

// QMap and QHash keep the last value of a repeated key.
inline constexpr auto kInsertOrAssign = [](auto& c, auto&& key, auto&& value) {
  c.insert_or_assign(std::forward<decltype(key)>(key), std::forward<decltype(value)>(value));
};
// QMultiMap and QMultiHash put each value read before the earlier values
// of its key, so that the container reads back in the order it was written
// from.
inline constexpr auto kInsertFirstOfKey = [](auto& c, auto&& key, auto&& value) {
  if constexpr (requires { c.lower_bound(key); }) {
    const auto hint = c.lower_bound(key);
    c.emplace_hint(hint, std::forward<decltype(key)>(key), std::forward<decltype(value)>(value));
  } else {
    // libstdc++ puts a new element first among its equals.
    c.emplace(std::forward<decltype(key)>(key), std::forward<decltype(value)>(value));
  }
};

}  // namespace detail

template <class T, class A>
DataStream& operator<<(DataStream& out, const std::vector<T, A>& c) {
  return detail::writeSequence(out, c);
}
template <class T, class A>
DataStream& operator>>(DataStream& in, std::vector<T, A>& c) {
  return detail::readSequence(in, c);
}
template <class T, class A>
DataStream& operator<<(DataStream& out, const std::deque<T, A>& c) {
  return detail::writeSequence(out, c);
}
template <class T, class A>
DataStream& operator>>(DataStream& in, std::deque<T, A>& c) {
  return detail::readSequence(in, c);
}
template <class T, class A>
DataStream& operator<<(DataStream& out, const std::list<T, A>& c) {
  return detail::writeSequence(out, c);
}
template <class T, class A>
DataStream& operator>>(DataStream& in, std::list<T, A>& c) {
  return detail::readSequence(in, c);
}

template <class T, class C, class A>
DataStream& operator<<(DataStream& out, const std::set<T, C, A>& c) {
  return detail::writeSequence(out, c);
}
template <class T, class C, class A>
DataStream& operator>>(DataStream& in, std::set<T, C, A>& c) {
  return detail::readSetLike(in, c);
}
template <class T, class H, class E, class A>
DataStream& operator<<(DataStream& out, const std::unordered_set<T, H, E, A>& c) {
  return detail::writeSequence(out, c);
}
template <class T, class H, class E, class A>
DataStream& operator>>(DataStream& in, std::unordered_set<T, H, E, A>& c) {
  return detail::readSetLike(in, c);
}

template <class K, class V, class C, class A>
DataStream& operator<<(DataStream& out, const std::map<K, V, C, A>& c) {
  return detail::writeAssociative(out, c);
}
template <class K, class V, class C, class A>
DataStream& operator>>(DataStream& in, std::map<K, V, C, A>& c) {
  return detail::readAssociative(in, c, detail::kInsertOrAssign);
}
template <class K, class V, class C, class A>
DataStream& operator<<(DataStream& out, const std::multimap<K, V, C, A>& c) {
  return detail::writeAssociativeMulti(out, c);
}
template <class K, class V, class C, class A>
DataStream& operator>>(DataStream& in, std::multimap<K, V, C, A>& c) {
  return detail::readAssociative(in, c, detail::kInsertFirstOfKey);
}
template <class K, class V, class H, class E, class A>
DataStream& operator<<(DataStream& out, const std::unordered_map<K, V, H, E, A>& c) {
  return detail::writeAssociative(out, c);
}
template <class K, class V, class H, class E, class A>
DataStream& operator>>(DataStream& in, std::unordered_map<K, V, H, E, A>& c) {
  return detail::readAssociative(in, c, detail::kInsertOrAssign);
}
template <class K, class V, class H, class E, class A>
DataStream& operator<<(DataStream& out, const std::unordered_multimap<K, V, H, E, A>& c) {
  return detail::writeAssociativeMulti(out, c);
}
template <class K, class V, class H, class E, class A>
DataStream& operator>>(DataStream& in, std::unordered_multimap<K, V, H, E, A>& c) {
  return detail::readAssociative(in, c, detail::kInsertFirstOfKey);
}

template <class T1, class T2>
DataStream& operator<<(DataStream& out, const std::pair<T1, T2>& p) {
  return out << p.first << p.second;
}
template <class T1, class T2>
DataStream& operator>>(DataStream& in, std::pair<T1, T2>& p) {
  return in >> p.first >> p.second;
}

}  // namespace tether
