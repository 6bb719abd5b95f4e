// The two file-transfer protocols `tether send` and `tether receive` speak
// (docs/tool.md has the whole description):
//
// * the seed's (seeds/003, Qt's QTcpSocket example): quint64 total size (the
//   header included), quint64 size of the name field, the name as a QString,
//   all in a QDataStream of version Qt_5_7 (big-endian), then the file's raw
//   bytes. One file per connection, nothing comes back.
// * tether's native protocol: an 8-byte magic in the place of the seed's
//   total size, then frames (type, length, body) both ways: per-file headers
//   with relative path, size and mode, resume negotiation, a SHA-256 digest
//   of every file and a final acknowledgement. The raw bytes of a file travel
//   unframed, so that the sender can hand them to sendfile(2).
//
// The magic read as the seed's quint64 is 0x895445544845520a, more than
// 2^63: a real file's size plus the seed's header cannot be that large
// (file sizes are below 2^63 on Linux, and the header is a few KiB), so the
// first eight bytes tell the two protocols apart without a doubt.
//
// Everything here is pure: encoding, decoding and name checks, no I/O.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::cli::proto {

using Digest = std::array<std::uint8_t, 32>;

inline constexpr std::array<std::uint8_t, 8> kMagic = {0x89, 'T', 'E', 'T', 'H', 'E', 'R', '\n'};
inline constexpr std::uint16_t kVersion = 1;

// Limits, applied by the receiver before it allocates anything.
inline constexpr std::size_t kFrameHeaderSize = 5;         // u8 type, u32 body length
inline constexpr std::size_t kMaxFrameBody = 64 * 1024;
inline constexpr std::size_t kMaxPathBytes = 1024;         // a whole relative path, UTF-8
inline constexpr std::size_t kMaxComponentBytes = 255;     // one name (NAME_MAX)
inline constexpr std::size_t kMaxDepth = 32;               // components of a relative path
inline constexpr std::size_t kSeedHeaderSize = 16;         // two quint64
// The seed's name field: a QString's 4-byte length and UTF-16 code units.
inline constexpr std::uint64_t kMaxSeedNameField = 4 + 2 * kMaxPathBytes;
// Partial files of the native protocol are named ".NAME" + kPartSuffix; a
// sender may not use that suffix itself.
inline constexpr std::string_view kPartSuffix = ".tether-part";

enum class FrameType : std::uint8_t {
  Hello = 1,    // S->R: version, file count, total bytes, flags
  Welcome = 2,  // R->S: version, status, message
  File = 3,     // S->R: path, size, mode
  Offer = 4,    // R->S: status, resume offset, SHA-256 of that prefix, message
  Start = 5,    // S->R: offset the data starts at; then size - offset raw bytes
  FileDigest = 6,  // S->R: SHA-256 of the whole file
  Result = 7,   // R->S: status, message (the file is in place when Ok)
  End = 8,      // S->R: no more files
  Bye = 9,      // R->S: status, files received, message
};

// Outcomes the receiver reports (Welcome, Offer, Result, Bye).
enum class Status : std::uint8_t {
  Ok = 0,
  BadName = 1,            // absolute, "..", empty, too long, too deep, bad characters
  Exists = 2,             // the target exists and the receiver does not overwrite
  NoSpace = 3,            // larger than the free space
  Busy = 4,               // another connection is receiving the same file
  IoError = 5,            // the receiver could not write
  DigestMismatch = 6,     // the bytes did not hash to the sender's digest
  LimitExceeded = 7,      // a receiver limit (size, file count)
  ProtocolError = 8,      // a malformed or unexpected frame
  UnsupportedVersion = 9,
};
// For people ("file exists") and for scripts ("exists").
std::string_view statusText(Status status);
std::string_view statusName(Status status);

// Hello flags.
inline constexpr std::uint32_t kUnverified = 1;  // the sender does not hash: Digest frames are zeros

struct Hello {
  std::uint16_t version = kVersion;
  std::uint32_t fileCount = 0;
  std::uint64_t totalBytes = 0;
  std::uint32_t flags = 0;
};
struct Welcome {
  std::uint16_t version = kVersion;
  Status status = Status::Ok;
  std::string message;
};
struct FileHeader {
  std::string path;  // relative, '/'-separated, UTF-8
  std::uint64_t size = 0;
  std::uint32_t mode = 0644;  // permission bits
};
struct Offer {
  Status status = Status::Ok;
  std::uint64_t offset = 0;  // bytes of a partial file the receiver keeps
  Digest prefixDigest{};     // SHA-256 of those bytes (zeros when offset is 0)
  std::string message;
};
struct Start {
  std::uint64_t offset = 0;
};
struct DigestFrame {
  Digest digest{};
};
struct Result {
  Status status = Status::Ok;
  std::string message;
};
struct End {};
struct Bye {
  Status status = Status::Ok;
  std::uint32_t filesReceived = 0;
  std::string message;
};

// Appends one whole frame to `out`.
void encode(std::string& out, const Hello& m);
void encode(std::string& out, const Welcome& m);
void encode(std::string& out, const FileHeader& m);
void encode(std::string& out, const Offer& m);
void encode(std::string& out, const Start& m);
void encode(std::string& out, const DigestFrame& m);
void encode(std::string& out, const Result& m);
void encode(std::string& out, const End& m);
void encode(std::string& out, const Bye& m);
std::string magic();

struct Frame {
  FrameType type{};
  std::string body;
};

enum class Parse { Incomplete, Complete, Malformed };
// Takes one frame from the front of `bytes`: Complete sets `frame` and
// `consumed`; Incomplete asks for more bytes; Malformed is an unknown type
// or a body longer than kMaxFrameBody (known from the first five bytes).
Parse takeFrame(std::string_view bytes, Frame& frame, std::size_t& consumed);

// Decode a frame's body; false when it is malformed (short, trailing bytes,
// a string longer than the frame allows).
bool decode(std::string_view body, Hello& m);
bool decode(std::string_view body, Welcome& m);
bool decode(std::string_view body, FileHeader& m);
bool decode(std::string_view body, Offer& m);
bool decode(std::string_view body, Start& m);
bool decode(std::string_view body, DigestFrame& m);
bool decode(std::string_view body, Result& m);
bool decode(std::string_view body, Bye& m);

// --- the seed's protocol

// The header the seed's client writes for `fileName` (UTF-8) and a file of
// fileSize bytes: exactly the bytes of Qt's QDataStream(Qt_5_7).
std::string encodeSeedHeader(std::string_view fileName, std::uint64_t fileSize);

struct SeedHeader {
  std::uint64_t total = 0;      // the whole transfer, header included
  std::uint64_t nameField = 0;  // bytes of the QString that follows
};
// The first 16 bytes. Returns nullopt when they cannot be a seed header:
// a name field that is not a QString of at most kMaxPathBytes code units,
// or a total smaller than the header.
std::optional<SeedHeader> parseSeedHeader(std::string_view first16, std::string* why);
// The QString of nameField bytes, as UTF-8; nullopt (and *why) when it is
// not a well-formed QString of that size.
std::optional<std::string> parseSeedName(std::string_view field, std::string* why);
inline std::uint64_t seedFileSize(const SeedHeader& h) { return h.total - kSeedHeaderSize - h.nameField; }
bool startsWithMagic(std::string_view bytes);

// --- names

// The seed's name: directories are stripped ("a/b/c.txt" -> "c.txt"), but
// an absolute path, a ".." anywhere, an empty, over-long or reserved name,
// or control characters are refused (nullopt, *why says which).
std::optional<std::string> seedFileName(std::string_view sent, std::string* why);
// A native relative path: every component checked as above; at most
// kMaxDepth components and kMaxPathBytes bytes. Returns the components.
std::optional<std::vector<std::string>> splitRelativePath(std::string_view path, std::string* why);

std::string hex(const Digest& digest);

}  // namespace tether::cli::proto
