// Private to HostAddress: the text forms of IPv4 and IPv6 addresses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tether/host_address.h"

namespace tether::host_address_text {

// `text` without the ASCII blanks (space, \t, \n, \v, \f, \r) at either end.
std::string_view trimBlanks(std::string_view text) noexcept;

// inet_aton's forms: one to four parts separated by dots, each decimal, octal
// (leading 0) or hex (0x/0X); the last part fills all remaining bytes.
std::optional<std::uint32_t> parseIPv4(std::string_view text) noexcept;

// RFC 4291 text without scope id: groups of 1-4 hex digits, at most one
// "::" standing for at least one zero group, and optionally a strict dotted
// quad (decimal, no leading zeros) as the last 32 bits.
std::optional<IPv6Address> parseIPv6(std::string_view text) noexcept;

// Appends "a.b.c.d".
void appendIPv4(std::string& out, std::uint32_t address);

// Appends the RFC 5952 form, with Qt's choice of when to show a dotted quad.
void appendIPv6(std::string& out, const IPv6Address& address);

}  // namespace tether::host_address_text
