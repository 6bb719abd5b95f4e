// The fortune examples' wire format, as Qt's Fortune Server writes it with a
// QDataStream at version Qt_4_0: a quint16 block size, then the fortune as a
// QString (a quint32 byte count and UTF-16 code units, both big-endian).
// Written by hand here so the examples stand alone; tether's DataStream
// produces the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fortune {

inline const char* const kFortunes[] = {
    "You've been leading a dog's life. Stay off the furniture.",
    "You've got to think about tomorrow.",
    "You will be surprised by a loud noise.",
    "You will feel hungry again in another hour.",
    "You might have mail.",
    "You cannot kill time without injuring eternity.",
    "Computers are not intelligent. They only think they are.",
};

// UTF-8 text (ASCII in these examples, but any BMP or astral text works).
inline std::u16string toUtf16(std::string_view utf8) {
  std::u16string out;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    char32_t cp = 0;
    std::size_t len = 1;
    if (c < 0x80) cp = c;
    else if ((c >> 5) == 0x6) cp = c & 0x1f, len = 2;
    else if ((c >> 4) == 0xe) cp = c & 0x0f, len = 3;
    else cp = c & 0x07, len = 4;
    for (std::size_t k = 1; k < len && i + k < utf8.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3f);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

inline std::string toUtf8(std::u16string_view utf16) {
  std::string out;
  for (std::size_t i = 0; i < utf16.size(); ++i) {
    char32_t cp = utf16[i];
    if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < utf16.size()) cp = 0x10000 + ((cp - 0xd800) << 10) + (utf16[++i] - 0xdc00);
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  return out;
}

// One framed message: quint16 size, then the QString.
inline std::string encode(std::string_view utf8) {
  const std::u16string text = toUtf16(utf8);
  const auto bytes = static_cast<std::uint32_t>(text.size() * 2);
  std::string body;
  for (int shift = 24; shift >= 0; shift -= 8) body.push_back(static_cast<char>((bytes >> shift) & 0xff));
  for (char16_t unit : text) {
    body.push_back(static_cast<char>(unit >> 8));
    body.push_back(static_cast<char>(unit & 0xff));
  }
  const auto size = static_cast<std::uint16_t>(body.size());
  std::string block;
  block.push_back(static_cast<char>(size >> 8));
  block.push_back(static_cast<char>(size & 0xff));
  return block + body;
}

// Decodes one framed message from the front of `bytes` if it is complete:
// the fortune and the number of bytes it used. nullopt: need more bytes.
struct Decoded {
  std::string text;
  std::size_t used;
};
inline std::optional<Decoded> decode(std::string_view bytes) {
  auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])); };
  if (bytes.size() < 2) return std::nullopt;
  const std::size_t blockSize = (byte(0) << 8) | byte(1);
  if (bytes.size() < 2 + blockSize || blockSize < 4) return std::nullopt;
  const std::uint32_t length = (byte(2) << 24) | (byte(3) << 16) | (byte(4) << 8) | byte(5);
  std::u16string text;
  if (length != 0xffffffffu) {
    if (length + 4 > blockSize) return std::nullopt;
    for (std::size_t i = 0; i + 1 < length; i += 2)
      text.push_back(static_cast<char16_t>((byte(6 + i) << 8) | byte(7 + i)));
  }
  return Decoded{toUtf8(text), 2 + blockSize};
}

}  // namespace fortune
