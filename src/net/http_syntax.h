// The character classes of HTTP's grammar (RFC 9110 5.6) and the comparisons
// built on them, shared by every parser of Skiff. Header-only and depending on
// the standard library alone, so that the parsers inline them on the hot path
// and their fuzz targets build from the parser's own file. ASCII only, never
// the locale: header names and tokens compare byte for byte.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace skiff::net {

inline constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = table[c - 'a' + 'A'] = true;
  for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~")) table[c] = true;
  return table;
}();

// RFC 9110 tchar: what a field name, a method or a coding is made of.
inline bool IsTokenChar(unsigned char c) { return kTokenChars[c]; }

inline char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; }

// ASCII case-insensitive equality, as header names and tokens compare.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// `s` without the optional whitespace (SP, HTAB) around it.
inline std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace skiff::net
