// The fortune examples' wire formats, on tether's DataStream:
//
//   qt4  Qt's Fortune Server and Local Fortune Server (seed 002): a quint16
//        block size, then the fortune as a QString, in a QDataStream at
//        Qt_4_0. The client reads the size, waits for that many bytes, then
//        reads the QString.
//   qt5  Qt 5's Fortune Server: the QString alone, in a QDataStream at
//        Qt_5_10; the client reads it inside a DataStream transaction and
//        retries when the transaction fails for lack of bytes.
//
// A QString is a quint32 byte count and UTF-16 code units, big-endian, in
// both formats (they differ only in the block size in front).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace tether {
class IODevice;
}

namespace tether::cli {

enum class FortuneFraming { Qt4, Qt5 };

// "qt4" / "qt5".
const char* framingName(FortuneFraming framing);
std::optional<FortuneFraming> framingFromName(std::string_view name);
// The --framing option (qt4 or qt5, default qt4) of the fortune commands.
CLI::Option* addFramingOption(CLI::App* command, std::string& framing, const char* description);

// Qt's seven fortunes (the fortune and local fortune examples).
inline constexpr const char* kQtFortunes[] = {
    "You've been leading a dog's life. Stay off the furniture.",
    "You've got to think about tomorrow.",
    "You will be surprised by a loud noise.",
    "You will feel hungry again in another hour.",
    "You might have mail.",
    "You cannot kill time without injuring eternity.",
    "Computers are not intelligent. They only think they are.",
};

// The largest fortune (in UTF-16 code units) a qt4 block can carry: the
// quint16 size counts the QString's 4-byte length field too.
inline constexpr std::size_t kMaxQt4FortuneUnits = (0xffff - 4) / 2;
// A client gives up on a fortune claimed to be larger than this (bytes of
// UTF-16) instead of buffering whatever a broken server sends.
inline constexpr std::uint32_t kMaxFortuneBytes = 1u << 20;

// The UTF-16 length of UTF-8 text (as DataStream writes it).
std::size_t utf16Length(std::string_view utf8);

// The bytes a fortune server writes for `fortune` (UTF-8). For qt4 the
// fortune must fit kMaxQt4FortuneUnits.
std::string encodeFortune(std::string_view fortune, FortuneFraming framing);

// One attempt to read a whole fortune from what `device` has buffered.
struct FortuneRead {
  enum Status {
    Complete,    // `text` holds the fortune; its bytes were consumed
    Incomplete,  // not all there yet: nothing consumed, wait for more
    Malformed,   // the bytes cannot be a fortune; `error` says why
  };
  Status status = Incomplete;
  std::string text;
  std::string error;
};
FortuneRead readFortune(IODevice& device, FortuneFraming framing);

}  // namespace tether::cli
