#include "serialization/utf.h"

#include <cstddef>
#include <cstdint>

namespace tether::detail {

namespace {

constexpr char32_t kReplacement = 0xfffd;

bool isContinuation(unsigned char c) { return (c & 0xc0) == 0x80; }

// Decodes the sequence at utf8[i]; returns the code point and sets `length`,
// or returns kReplacement with length 1 for an invalid sequence.
char32_t decodeOne(std::string_view utf8, std::size_t i, std::size_t& length) {
  length = 1;
  const auto lead = static_cast<unsigned char>(utf8[i]);
  if (lead < 0x80) return lead;
  std::size_t n = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((lead & 0xe0) == 0xc0) {
    n = 2, cp = lead & 0x1f, min = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    n = 3, cp = lead & 0x0f, min = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    n = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return kReplacement;
  }
  if (i + n > utf8.size()) return kReplacement;
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(utf8[i + k]);
    if (!isContinuation(c)) return kReplacement;
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return kReplacement;
  length = n;
  return cp;
}

void appendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

}  // namespace

std::u16string utf8ToUtf16(std::string_view utf8) {
  std::u16string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    std::size_t length = 1;
    const char32_t cp = decodeOne(utf8, i, length);
    i += length;
    if (cp >= 0x10000) {
      out += static_cast<char16_t>(0xd800 + ((cp - 0x10000) >> 10));
      out += static_cast<char16_t>(0xdc00 + ((cp - 0x10000) & 0x3ff));
    } else {
      out += static_cast<char16_t>(cp);
    }
  }
  return out;
}

std::string utf16ToUtf8(std::u16string_view utf16) {
  std::string out;
  out.reserve(utf16.size());
  for (std::size_t i = 0; i < utf16.size(); ++i) {
    char32_t cp = utf16[i];
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < utf16.size() && utf16[i + 1] >= 0xdc00 && utf16[i + 1] <= 0xdfff) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (utf16[++i] - 0xdc00);
    } else if (cp >= 0xd800 && cp <= 0xdfff) {
      cp = kReplacement;
    }
    appendUtf8(out, cp);
  }
  return out;
}

}  // namespace tether::detail
