// UTF-8 <-> UTF-16 for DataStream's asQString(): QString travels as UTF-16,
// tether's text is UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace tether::detail {

// Each byte that does not start a valid, shortest-form UTF-8 sequence of a
// scalar value becomes U+FFFD.
std::u16string utf8ToUtf16(std::string_view utf8);

// A surrogate pair becomes its code point; an unpaired surrogate becomes
// U+FFFD.
std::string utf16ToUtf8(std::u16string_view utf16);

}  // namespace tether::detail
