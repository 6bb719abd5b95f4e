// DataStream: byte arrays (QByteArray), strings (QString) and HostAddress
// (QHostAddress).
#include <cstddef>
#include <string>

#include "serialization/utf.h"
#include "tether/data_stream.h"
#include "tether/host_address.h"

namespace tether {

// ------------------------------------------------------------ byte arrays

DataStream& operator<<(DataStream& out, const NullableBytes& bytes) {
  // Before Qt_3_3 there is no null byte array: it is written empty.
  if (bytes.isNull && out.version() >= DataStream::Qt_3_3) {
    out.writeSize(-1);
    return out;
  }
  return out.writeBytes(bytes.bytes);
}

DataStream& operator>>(DataStream& in, NullableBytes& bytes) {
  bytes.bytes.clear();
  bytes.isNull = true;
  if (in.device_ == nullptr) return in;
  const std::int64_t size = in.readSize();
  if (size < -1) {
    in.setStatus(DataStream::SizeLimitExceeded);
    return in;
  }
  if (size == -1) return in;  // the null marker, at every version
  bytes.isNull = !in.readGrowing(bytes.bytes, size);
  return in;
}

DataStream& operator<<(DataStream& out, std::string_view bytes) { return out.writeBytes(bytes); }

DataStream& operator>>(DataStream& in, std::string& bytes) {
  NullableBytes read;
  in >> read;
  bytes = std::move(read.bytes);
  return in;
}

// ---------------------------------------------------------------- strings

void DataStream::writeUtf16(std::u16string_view text, bool isNull) {
  if (version_ == Qt_1_0) {
    // A Latin-1 QByteArray; what Latin-1 cannot hold becomes '?', one per
    // UTF-16 code unit, as QString::toLatin1() does.
    NullableBytes latin1{std::string(text.size(), '\0'), isNull};
    for (std::size_t i = 0; i < text.size(); ++i) {
      latin1.bytes[i] = text[i] > 0xff ? '?' : static_cast<char>(text[i]);
    }
    *this << latin1;
    return;
  }
  // Before Qt_2_1 there is no null string: it is written empty.
  if (isNull && version_ >= Qt_2_1) {
    writeSize(-1);
    return;
  }
  std::string units(2 * text.size(), '\0');
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto high = static_cast<char>(text[i] >> 8);
    const auto low = static_cast<char>(text[i] & 0xff);
    units[2 * i] = byteOrder_ == BigEndian ? high : low;
    units[2 * i + 1] = byteOrder_ == BigEndian ? low : high;
  }
  writeBytes(units);
}

void DataStream::readUtf16(NullableString& out) {
  out.text.clear();
  out.isNull = true;
  if (version_ == Qt_1_0) {
    NullableBytes latin1;
    *this >> latin1;
    out.isNull = latin1.isNull;
    for (const char c : latin1.bytes) out.text += static_cast<char16_t>(static_cast<unsigned char>(c));
    return;
  }
  const std::int64_t size = readSize();
  if (size < -1) {
    setStatus(SizeLimitExceeded);
    return;
  }
  if (size == -1) return;
  if (size % 2 != 0) {
    setStatus(ReadCorruptData);
    return;
  }
  out.isNull = false;
  if (size == 0) return;
  std::string units;
  if (!readGrowing(units, size)) {
    out.isNull = true;
    return;
  }
  out.text.resize(units.size() / 2);
  for (std::size_t i = 0; i < out.text.size(); ++i) {
    const auto first = static_cast<unsigned char>(units[2 * i]);
    const auto second = static_cast<unsigned char>(units[2 * i + 1]);
    out.text[i] = byteOrder_ == BigEndian ? static_cast<char16_t>((first << 8) | second)
                                          : static_cast<char16_t>((second << 8) | first);
  }
}

DataStream& operator<<(DataStream& out, const NullableString& text) {
  out.writeUtf16(text.text, text.isNull);
  return out;
}

DataStream& operator>>(DataStream& in, NullableString& text) {
  in.readUtf16(text);
  return in;
}

DataStream& operator<<(DataStream& out, std::u16string_view text) {
  out.writeUtf16(text, false);
  return out;
}

DataStream& operator>>(DataStream& in, std::u16string& text) {
  NullableString read;
  in >> read;
  text = std::move(read.text);
  return in;
}

DataStream& operator<<(DataStream& out, Utf8StringView text) {
  out.writeUtf16(detail::utf8ToUtf16(text.text), false);
  return out;
}

DataStream& operator<<(DataStream& out, Utf8StringRef text) { return out << Utf8StringView{*text.text}; }

DataStream& operator>>(DataStream& in, Utf8StringRef text) {
  NullableString read;
  in >> read;
  *text.text = detail::utf16ToUtf8(read.text);
  return in;
}

// ------------------------------------------------------------ HostAddress

namespace {

enum ProtocolCode : std::int8_t { kUnknown = -1, kIPv4 = 0, kIPv6 = 1, kAny = 2 };

}  // namespace

DataStream& operator<<(DataStream& out, const HostAddress& address) {
  const auto protocol = address.protocol();
  out << static_cast<std::int8_t>(static_cast<int>(protocol));
  switch (protocol) {
    case NetworkLayerProtocol::IPv4Protocol:
      out << address.toIPv4Address();
      break;
    case NetworkLayerProtocol::IPv6Protocol: {
      for (const std::uint8_t byte : address.toIPv6Address()) out << byte;
      const std::string scope = address.scopeId();
      out << NullableString{detail::utf8ToUtf16(scope), scope.empty()};
      break;
    }
    case NetworkLayerProtocol::AnyIPProtocol:
    case NetworkLayerProtocol::UnknownNetworkLayerProtocol:
      break;
  }
  return out;
}

DataStream& operator>>(DataStream& in, HostAddress& address) {
  std::int8_t protocol = 0;
  in >> protocol;
  switch (protocol) {
    case kUnknown:
      address.clear();
      break;
    case kIPv4: {
      std::uint32_t ip4 = 0;
      in >> ip4;
      address.setAddress(ip4);
      break;
    }
    case kIPv6: {
      IPv6Address ip6{};
      for (std::uint8_t& byte : ip6) in >> byte;
      address.setAddress(ip6);
      NullableString scope;
      in >> scope;
      address.setScopeId(detail::utf16ToUtf8(scope.text));
      break;
    }
    case kAny:
      address = HostAddress::Any;
      break;
    default:
      address.clear();
      in.setStatus(DataStream::ReadCorruptData);
      break;
  }
  return in;
}

}  // namespace tether
