#include "fortune_protocol.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "serialization/utf.h"
#include "tether/data_stream.h"

namespace tether::cli {

namespace {

std::uint32_t bigEndian32(std::string_view bytes) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

// A QString's length field: 0xffffffff is the null string; anything else
// must be an even byte count of reasonable size.
std::optional<std::string> checkStringLength(std::uint32_t length) {
  if (length == 0xffffffffu) return std::nullopt;
  if (length % 2 != 0) return fmt::format("the QString claims an odd byte count ({})", length);
  if (length > kMaxFortuneBytes)
    return fmt::format("the QString claims {} bytes (more than the {} accepted)", length, kMaxFortuneBytes);
  return std::nullopt;
}

FortuneRead malformed(std::string why) {
  FortuneRead result;
  result.status = FortuneRead::Malformed;
  result.error = std::move(why);
  return result;
}

FortuneRead readQt4(IODevice& device) {
  // quint16 block size, then exactly that many bytes holding the QString.
  const std::string header = device.peek(6);
  if (header.size() < 2) return {};
  const std::size_t blockSize =
      (static_cast<std::size_t>(static_cast<unsigned char>(header[0])) << 8) | static_cast<unsigned char>(header[1]);
  if (blockSize < 4) return malformed(fmt::format("a block of {} bytes cannot hold a QString", blockSize));
  if (header.size() >= 6) {
    const std::uint32_t length = bigEndian32(std::string_view(header).substr(2));
    if (auto why = checkStringLength(length)) return malformed(*why);
    if (length != 0xffffffffu && length + 4 > blockSize)
      return malformed(fmt::format("the QString ({} bytes) does not fit its block ({} bytes)", length, blockSize));
  }
  if (device.bytesAvailable() < static_cast<std::int64_t>(2 + blockSize)) return {};
  device.skip(2);
  const std::string block = device.read(static_cast<std::int64_t>(blockSize));
  DataStream in{std::string_view(block)};
  in.setVersion(DataStream::Qt_4_0);
  FortuneRead result;
  in >> asQString(result.text);
  if (in.status() != DataStream::Ok) return malformed("the block does not hold a QString");
  result.status = FortuneRead::Complete;
  return result;
}

FortuneRead readQt5(IODevice& device) {
  // Look at the length before the transaction, so that a bogus one is
  // refused instead of waited for.
  const std::string header = device.peek(4);
  if (header.size() == 4) {
    if (auto why = checkStringLength(bigEndian32(header))) return malformed(*why);
  }
  DataStream in(&device);
  in.setVersion(DataStream::Qt_5_10);
  in.startTransaction();
  FortuneRead result;
  in >> asQString(result.text);
  if (in.commitTransaction()) {
    result.status = FortuneRead::Complete;
    return result;
  }
  if (in.status() == DataStream::ReadPastEnd) return {};
  return malformed("the bytes are not a QString");
}

}  // namespace

const char* framingName(FortuneFraming framing) { return framing == FortuneFraming::Qt4 ? "qt4" : "qt5"; }

std::optional<FortuneFraming> framingFromName(std::string_view name) {
  if (name == "qt4") return FortuneFraming::Qt4;
  if (name == "qt5") return FortuneFraming::Qt5;
  return std::nullopt;
}

CLI::Option* addFramingOption(CLI::App* command, std::string& framing, const char* description) {
  return command->add_option("--framing", framing, description)
      ->check(CLI::IsMember({"qt4", "qt5"}))
      ->capture_default_str();
}

std::size_t utf16Length(std::string_view utf8) { return detail::utf8ToUtf16(utf8).size(); }

std::string encodeFortune(std::string_view fortune, FortuneFraming framing) {
  std::string block;
  DataStream out(&block, IODevice::WriteOnly);
  if (framing == FortuneFraming::Qt5) {
    out.setVersion(DataStream::Qt_5_10);
    out << asQString(fortune);
    return block;
  }
  // As Qt's server does it: a placeholder size, the QString, then the real
  // size over the placeholder.
  out.setVersion(DataStream::Qt_4_0);
  out << std::uint16_t{0} << asQString(fortune);
  const std::size_t size = block.size() - sizeof(std::uint16_t);
  block[0] = static_cast<char>((size >> 8) & 0xff);
  block[1] = static_cast<char>(size & 0xff);
  return block;
}

FortuneRead readFortune(IODevice& device, FortuneFraming framing) {
  return framing == FortuneFraming::Qt4 ? readQt4(device) : readQt5(device);
}

}  // namespace tether::cli
