#include "addressing/host_address_text.h"

#include <array>
#include <charconv>
#include <cstddef>

namespace tether::host_address_text {
namespace {

constexpr std::uint64_t kMaxIPv4 = 0xffff'ffff;

bool isBlank(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int digitValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Digits of `base` only, at least one, value at most kMaxIPv4.
std::optional<std::uint64_t> parseDigits(std::string_view digits, int base) noexcept {
  if (digits.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : digits) {
    const int digit = digitValue(c);
    if (digit < 0 || digit >= base) return std::nullopt;
    value = value * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(digit);
    if (value > kMaxIPv4) return std::nullopt;
  }
  return value;
}

// One inet_aton part: "0x1f" is hex, "017" octal, anything else decimal.
std::optional<std::uint64_t> parseIPv4Part(std::string_view part) noexcept {
  if (part.size() > 1 && part[0] == '0') {
    if (part[1] == 'x' || part[1] == 'X') return parseDigits(part.substr(2), 16);
    return parseDigits(part.substr(1), 8);
  }
  return parseDigits(part, 10);
}

// Exactly "d.d.d.d", each 0-255 in decimal without leading zeros: the only
// IPv4 form allowed inside IPv6 text.
std::optional<std::uint32_t> parseStrictDottedQuad(std::string_view text) noexcept {
  std::uint32_t result = 0;
  for (int part = 0; part < 4; ++part) {
    const std::size_t dot = text.find('.');
    if ((dot == std::string_view::npos) != (part == 3)) return std::nullopt;
    const std::string_view digits = text.substr(0, dot);
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) {
      return std::nullopt;
    }
    const auto value = parseDigits(digits, 10);
    if (!value || *value > 0xff) return std::nullopt;
    result = (result << 8) | static_cast<std::uint32_t>(*value);
    if (dot != std::string_view::npos) text.remove_prefix(dot + 1);
  }
  return result;
}

// Up to eight 16-bit groups, as read from one side of a "::".
struct Groups {
  std::array<std::uint16_t, 8> values{};
  int count = 0;
};

// Parses "g:g:...:g" (possibly empty). The last group may be a dotted quad,
// which counts as two groups, when `mayEndWithIPv4`.
std::optional<Groups> parseGroupList(std::string_view list, bool mayEndWithIPv4) noexcept {
  Groups groups;
  if (list.empty()) return groups;
  while (true) {
    const std::size_t colon = list.find(':');
    const std::string_view group = list.substr(0, colon);
    const bool last = colon == std::string_view::npos;
    if (last && mayEndWithIPv4 && group.find('.') != std::string_view::npos) {
      const auto ip4 = parseStrictDottedQuad(group);
      if (!ip4 || groups.count > 6) return std::nullopt;
      groups.values[static_cast<std::size_t>(groups.count++)] =
          static_cast<std::uint16_t>(*ip4 >> 16);
      groups.values[static_cast<std::size_t>(groups.count++)] =
          static_cast<std::uint16_t>(*ip4 & 0xffff);
      return groups;
    }
    if (group.empty() || group.size() > 4 || groups.count == 8) return std::nullopt;
    const auto value = parseDigits(group, 16);
    if (!value) return std::nullopt;
    groups.values[static_cast<std::size_t>(groups.count++)] = static_cast<std::uint16_t>(*value);
    if (last) return groups;
    list.remove_prefix(colon + 1);
  }
}

void appendHexGroup(std::string& out, std::uint16_t group) {
  std::array<char, 4> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), group, 16);
  out.append(buffer.data(), result.ptr);
}

}  // namespace

std::string_view trimBlanks(std::string_view text) noexcept {
  while (!text.empty() && isBlank(text.front())) text.remove_prefix(1);
  while (!text.empty() && isBlank(text.back())) text.remove_suffix(1);
  return text;
}

std::optional<std::uint32_t> parseIPv4(std::string_view text) noexcept {
  std::uint32_t result = 0;
  for (int part = 0; part < 4; ++part) {
    const std::size_t dot = text.find('.');
    const auto value = parseIPv4Part(text.substr(0, dot));
    if (!value) return std::nullopt;
    if (dot == std::string_view::npos) {
      // The last part fills every byte not yet given.
      const int bits = 8 * (4 - part);
      const std::uint64_t limit = bits == 32 ? kMaxIPv4 : (std::uint64_t{1} << bits) - 1;
      if (*value > limit) return std::nullopt;
      const std::uint32_t high = bits == 32 ? 0 : result << bits;
      return high | static_cast<std::uint32_t>(*value);
    }
    if (*value > 0xff || part == 3) return std::nullopt;
    result = (result << 8) | static_cast<std::uint32_t>(*value);
    text.remove_prefix(dot + 1);
  }
  return std::nullopt;
}

std::optional<IPv6Address> parseIPv6(std::string_view text) noexcept {
  const std::size_t gap = text.find("::");
  const bool hasGap = gap != std::string_view::npos;
  const std::string_view head = hasGap ? text.substr(0, gap) : text;
  const std::string_view tail = hasGap ? text.substr(gap + 2) : std::string_view{};
  if (hasGap && tail.find("::") != std::string_view::npos) return std::nullopt;

  const auto front = parseGroupList(head, !hasGap);
  const auto back = parseGroupList(tail, true);
  if (!front || !back) return std::nullopt;
  const int total = front->count + back->count;
  // "::" stands for at least one zero group; without it all eight are given.
  if (hasGap ? total > 7 : total != 8) return std::nullopt;

  IPv6Address bytes{};
  const auto store = [&bytes](int index, std::uint16_t group) {
    const auto at = 2 * static_cast<std::size_t>(index);
    bytes[at] = static_cast<std::uint8_t>(group >> 8);
    bytes[at + 1] = static_cast<std::uint8_t>(group & 0xff);
  };
  for (int i = 0; i < front->count; ++i) store(i, front->values[static_cast<std::size_t>(i)]);
  for (int i = 0; i < back->count; ++i) {
    store(8 - back->count + i, back->values[static_cast<std::size_t>(i)]);
  }
  return bytes;
}

void appendIPv4(std::string& out, std::uint32_t address) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    std::array<char, 3> buffer{};
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(),
                                      (address >> shift) & 0xff);
    out.append(buffer.data(), result.ptr);
    if (shift != 0) out.push_back('.');
  }
}

void appendIPv6(std::string& out, const IPv6Address& address) {
  std::array<std::uint16_t, 8> groups{};
  for (std::size_t i = 0; i < 8; ++i) {
    groups[i] = static_cast<std::uint16_t>(address[2 * i] << 8 | address[2 * i + 1]);
  }

  // Qt shows the last 32 bits as a dotted quad for ::ffff:a.b.c.d and for
  // ::a.b.c.d, unless a, b and c are all zero (::1 stays "::1").
  bool dottedTail = false;
  if (groups[0] == 0 && groups[1] == 0 && groups[2] == 0 && groups[3] == 0 && groups[4] == 0) {
    dottedTail = groups[5] == 0xffff ||
                 (groups[5] == 0 && (address[12] != 0 || address[13] != 0 || address[14] != 0));
  }

  // RFC 5952: the longest run of two or more zero groups becomes "::"; the
  // first run wins a tie.
  int runStart = -1;
  int runLength = 1;
  for (int i = 0; i < 8;) {
    if (groups[static_cast<std::size_t>(i)] != 0) {
      ++i;
      continue;
    }
    int end = i;
    while (end < 8 && groups[static_cast<std::size_t>(end)] == 0) ++end;
    if (end - i > runLength) {
      runStart = i;
      runLength = end - i;
    }
    i = end;
  }

  bool needColon = false;
  for (int i = 0; i < 8; ++i) {
    if (i == runStart) {
      out += "::";
      needColon = false;
      i += runLength - 1;
      continue;
    }
    if (needColon) out.push_back(':');
    if (i == 6 && dottedTail) {
      appendIPv4(out, static_cast<std::uint32_t>(groups[6]) << 16 | groups[7]);
      return;
    }
    appendHexGroup(out, groups[static_cast<std::size_t>(i)]);
    needColon = true;
  }
}

}  // namespace tether::host_address_text
