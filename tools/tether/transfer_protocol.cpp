#include "transfer_protocol.h"

#include <algorithm>
#include <cstring>

#include "tether/data_stream.h"

namespace tether::cli::proto {

namespace {

// --- big-endian encoding of a frame body

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) { putBigEndian(v, 2); }
  void u32(std::uint32_t v) { putBigEndian(v, 4); }
  void u64(std::uint64_t v) { putBigEndian(v, 8); }
  // u16 length, then the bytes; a longer string is cut at 4096 bytes (only
  // messages can be, and they are for people).
  void str(std::string_view s) {
    s = s.substr(0, 4096);
    u16(static_cast<std::uint16_t>(s.size()));
    out_.append(s);
  }
  void digest(const Digest& d) { out_.append(reinterpret_cast<const char*>(d.data()), d.size()); }

 private:
  void putBigEndian(std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(take(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(take(4)); }
  std::uint64_t u64() { return take(8); }
  std::string str() {
    const std::size_t n = u16();
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  Digest digest() {
    Digest d{};
    if (!ok_ || in_.size() - pos_ < d.size()) {
      ok_ = false;
      return d;
    }
    std::memcpy(d.data(), in_.data() + pos_, d.size());
    pos_ += d.size();
    return d;
  }
  // Everything read, nothing left over.
  bool done() const { return ok_ && pos_ == in_.size(); }

 private:
  std::uint64_t take(int bytes) {
    if (!ok_ || in_.size() - pos_ < static_cast<std::size_t>(bytes)) {
      ok_ = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<std::uint8_t>(in_[pos_ + static_cast<std::size_t>(i)]);
    pos_ += static_cast<std::size_t>(bytes);
    return v;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

template <class Fill>
void frame(std::string& out, FrameType type, Fill fill) {
  std::string body;
  Writer w(body);
  fill(w);
  Writer head(out);
  head.u8(static_cast<std::uint8_t>(type));
  head.u32(static_cast<std::uint32_t>(body.size()));
  out.append(body);
}

std::uint64_t readBigEndian(std::string_view bytes) {
  std::uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<std::uint8_t>(c);
  return v;
}

bool setWhy(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return false;
}

bool isSeparator(char c) { return c == '/' || c == '\\'; }

// One name: the rules every component of every path obeys.
bool checkComponent(std::string_view name, std::string* why) {
  if (name.empty()) return setWhy(why, "empty name");
  if (name == "..") return setWhy(why, "'..' is not allowed");
  if (name == ".") return setWhy(why, "'.' is not a file name");
  if (name.size() > kMaxComponentBytes)
    return setWhy(why, "name longer than " + std::to_string(kMaxComponentBytes) + " bytes");
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return setWhy(why, "control character in name");
    if (c == '\\') return setWhy(why, "backslash in name");
  }
  if (name.size() >= kPartSuffix.size() && name.substr(name.size() - kPartSuffix.size()) == kPartSuffix)
    return setWhy(why, "names ending in " + std::string(kPartSuffix) + " are reserved");
  return true;
}

bool looksAbsolute(std::string_view path) {
  if (!path.empty() && isSeparator(path.front())) return true;
  // A Windows drive ("C:\..." or "C:/...").
  return path.size() >= 2 && path[1] == ':' &&
         ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z'));
}

}  // namespace

std::string_view statusText(Status status) {
  switch (status) {
    case Status::Ok: return "ok";
    case Status::BadName: return "refused name";
    case Status::Exists: return "file exists";
    case Status::NoSpace: return "not enough free space";
    case Status::Busy: return "file is being received by another connection";
    case Status::IoError: return "receiver I/O error";
    case Status::DigestMismatch: return "SHA-256 mismatch";
    case Status::LimitExceeded: return "receiver limit exceeded";
    case Status::ProtocolError: return "protocol error";
    case Status::UnsupportedVersion: return "unsupported protocol version";
  }
  return "unknown status";
}

std::string_view statusName(Status status) {
  switch (status) {
    case Status::Ok: return "ok";
    case Status::BadName: return "bad-name";
    case Status::Exists: return "exists";
    case Status::NoSpace: return "no-space";
    case Status::Busy: return "busy";
    case Status::IoError: return "io-error";
    case Status::DigestMismatch: return "digest-mismatch";
    case Status::LimitExceeded: return "limit";
    case Status::ProtocolError: return "protocol-error";
    case Status::UnsupportedVersion: return "unsupported-version";
  }
  return "unknown";
}

std::string magic() { return std::string(reinterpret_cast<const char*>(kMagic.data()), kMagic.size()); }

bool startsWithMagic(std::string_view bytes) {
  return bytes.size() >= kMagic.size() && std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) == 0;
}

void encode(std::string& out, const Hello& m) {
  frame(out, FrameType::Hello, [&](Writer& w) {
    w.u16(m.version);
    w.u32(m.fileCount);
    w.u64(m.totalBytes);
    w.u32(m.flags);
  });
}
void encode(std::string& out, const Welcome& m) {
  frame(out, FrameType::Welcome, [&](Writer& w) {
    w.u16(m.version);
    w.u8(static_cast<std::uint8_t>(m.status));
    w.str(m.message);
  });
}
void encode(std::string& out, const FileHeader& m) {
  frame(out, FrameType::File, [&](Writer& w) {
    w.str(m.path);
    w.u64(m.size);
    w.u32(m.mode);
  });
}
void encode(std::string& out, const Offer& m) {
  frame(out, FrameType::Offer, [&](Writer& w) {
    w.u8(static_cast<std::uint8_t>(m.status));
    w.u64(m.offset);
    w.digest(m.prefixDigest);
    w.str(m.message);
  });
}
void encode(std::string& out, const Start& m) {
  frame(out, FrameType::Start, [&](Writer& w) { w.u64(m.offset); });
}
void encode(std::string& out, const DigestFrame& m) {
  frame(out, FrameType::FileDigest, [&](Writer& w) { w.digest(m.digest); });
}
void encode(std::string& out, const Result& m) {
  frame(out, FrameType::Result, [&](Writer& w) {
    w.u8(static_cast<std::uint8_t>(m.status));
    w.str(m.message);
  });
}
void encode(std::string& out, const End&) {
  frame(out, FrameType::End, [](Writer&) {});
}
void encode(std::string& out, const Bye& m) {
  frame(out, FrameType::Bye, [&](Writer& w) {
    w.u8(static_cast<std::uint8_t>(m.status));
    w.u32(m.filesReceived);
    w.str(m.message);
  });
}

Parse takeFrame(std::string_view bytes, Frame& f, std::size_t& consumed) {
  if (bytes.empty()) return Parse::Incomplete;
  const auto type = static_cast<std::uint8_t>(bytes[0]);
  if (type < static_cast<std::uint8_t>(FrameType::Hello) || type > static_cast<std::uint8_t>(FrameType::Bye))
    return Parse::Malformed;
  if (bytes.size() < kFrameHeaderSize) return Parse::Incomplete;
  const std::uint64_t length = readBigEndian(bytes.substr(1, 4));
  if (length > kMaxFrameBody) return Parse::Malformed;
  if (bytes.size() < kFrameHeaderSize + length) return Parse::Incomplete;
  f.type = static_cast<FrameType>(type);
  f.body.assign(bytes.substr(kFrameHeaderSize, length));
  consumed = kFrameHeaderSize + length;
  return Parse::Complete;
}

namespace {
bool validStatus(std::uint8_t s) { return s <= static_cast<std::uint8_t>(Status::UnsupportedVersion); }
}  // namespace

bool decode(std::string_view body, Hello& m) {
  Reader r(body);
  m.version = r.u16();
  m.fileCount = r.u32();
  m.totalBytes = r.u64();
  m.flags = r.u32();
  return r.done();
}
bool decode(std::string_view body, Welcome& m) {
  Reader r(body);
  m.version = r.u16();
  const std::uint8_t s = r.u8();
  m.status = static_cast<Status>(s);
  m.message = r.str();
  return r.done() && validStatus(s);
}
bool decode(std::string_view body, FileHeader& m) {
  Reader r(body);
  m.path = r.str();
  m.size = r.u64();
  m.mode = r.u32();
  return r.done();
}
bool decode(std::string_view body, Offer& m) {
  Reader r(body);
  const std::uint8_t s = r.u8();
  m.status = static_cast<Status>(s);
  m.offset = r.u64();
  m.prefixDigest = r.digest();
  m.message = r.str();
  return r.done() && validStatus(s);
}
bool decode(std::string_view body, Start& m) {
  Reader r(body);
  m.offset = r.u64();
  return r.done();
}
bool decode(std::string_view body, DigestFrame& m) {
  Reader r(body);
  m.digest = r.digest();
  return r.done();
}
bool decode(std::string_view body, Result& m) {
  Reader r(body);
  const std::uint8_t s = r.u8();
  m.status = static_cast<Status>(s);
  m.message = r.str();
  return r.done() && validStatus(s);
}
bool decode(std::string_view body, Bye& m) {
  Reader r(body);
  const std::uint8_t s = r.u8();
  m.status = static_cast<Status>(s);
  m.filesReceived = r.u32();
  m.message = r.str();
  return r.done() && validStatus(s);
}

// --- the seed's protocol

std::string encodeSeedHeader(std::string_view fileName, std::uint64_t fileSize) {
  // As the seed's client does it: two zero sizes and the name, then the
  // sizes written over the zeros once the header's length is known.
  std::string block;
  {
    DataStream out(&block, IODevice::WriteOnly);
    out.setVersion(DataStream::Qt_5_7);
    out << std::uint64_t{0} << std::uint64_t{0} << asQString(fileName);
  }
  const std::uint64_t total = fileSize + block.size();
  const std::uint64_t nameField = block.size() - kSeedHeaderSize;
  std::string sizes;
  Writer w(sizes);
  w.u64(total);
  w.u64(nameField);
  block.replace(0, kSeedHeaderSize, sizes);
  return block;
}

std::optional<SeedHeader> parseSeedHeader(std::string_view first16, std::string* why) {
  if (first16.size() < kSeedHeaderSize) {
    setWhy(why, "short header");
    return std::nullopt;
  }
  SeedHeader h;
  h.total = readBigEndian(first16.substr(0, 8));
  h.nameField = readBigEndian(first16.substr(8, 8));
  if (h.nameField < 4 || h.nameField > kMaxSeedNameField || h.nameField % 2 != 0) {
    setWhy(why, "not a file header (name field of " + std::to_string(h.nameField) + " bytes)");
    return std::nullopt;
  }
  if (h.total < kSeedHeaderSize + h.nameField) {
    setWhy(why, "not a file header (total size " + std::to_string(h.total) + " smaller than the header)");
    return std::nullopt;
  }
  return h;
}

std::optional<std::string> parseSeedName(std::string_view field, std::string* why) {
  if (field.size() < 4) {
    setWhy(why, "short name field");
    return std::nullopt;
  }
  const std::uint64_t length = readBigEndian(field.substr(0, 4));
  if (length == 0xffffffffu || length == 0) {
    setWhy(why, "empty name");
    return std::nullopt;
  }
  if (length != field.size() - 4) {
    setWhy(why, "name field does not hold one string");
    return std::nullopt;
  }
  DataStream in(field);
  in.setVersion(DataStream::Qt_5_7);
  std::string name;
  in >> asQString(name);
  if (in.status() != DataStream::Ok || !in.atEnd()) {
    setWhy(why, "malformed name");
    return std::nullopt;
  }
  return name;
}

// --- names

std::optional<std::string> seedFileName(std::string_view sent, std::string* why) {
  if (sent.empty()) {
    setWhy(why, "empty name");
    return std::nullopt;
  }
  if (sent.size() > kMaxPathBytes) {
    setWhy(why, "name longer than " + std::to_string(kMaxPathBytes) + " bytes");
    return std::nullopt;
  }
  if (looksAbsolute(sent)) {
    setWhy(why, "absolute path");
    return std::nullopt;
  }
  std::size_t start = 0;
  std::string_view last;
  for (std::size_t i = 0; i <= sent.size(); ++i) {
    if (i < sent.size() && !isSeparator(sent[i])) continue;
    const std::string_view part = sent.substr(start, i - start);
    if (part == "..") {
      setWhy(why, "'..' is not allowed");
      return std::nullopt;
    }
    last = part;
    start = i + 1;
  }
  if (!checkComponent(last, why)) return std::nullopt;
  return std::string(last);
}

std::optional<std::vector<std::string>> splitRelativePath(std::string_view path, std::string* why) {
  if (path.empty()) {
    setWhy(why, "empty name");
    return std::nullopt;
  }
  if (path.size() > kMaxPathBytes) {
    setWhy(why, "path longer than " + std::to_string(kMaxPathBytes) + " bytes");
    return std::nullopt;
  }
  if (looksAbsolute(path)) {
    setWhy(why, "absolute path");
    return std::nullopt;
  }
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    const std::string_view part = path.substr(start, i - start);
    if (!checkComponent(part, why)) return std::nullopt;
    parts.emplace_back(part);
    if (parts.size() > kMaxDepth) {
      setWhy(why, "path deeper than " + std::to_string(kMaxDepth) + " levels");
      return std::nullopt;
    }
    start = i + 1;
  }
  return parts;
}

std::string hex(const Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(digest.size() * 2);
  for (std::uint8_t b : digest) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 0xf]);
  }
  return s;
}

}  // namespace tether::cli::proto
