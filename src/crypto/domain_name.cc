#include "crypto/domain_name.h"

#include <algorithm>
#include <cctype>

namespace skiff::crypto {
namespace {

bool EqualFolded(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool IsLabel(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
    return false;
  }
  return std::all_of(label.begin(), label.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
  });
}

}  // namespace

bool IsHostname(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (size_t start = 0;;) {
    const size_t dot = name.find('.', start);
    if (!IsLabel(name.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool IsDnsName(std::string_view name) {
  return IsHostname(name.starts_with("*.") ? name.substr(2) : name);
}

bool DomainCovers(std::string_view pattern, std::string_view host) {
  if (pattern.empty() || host.empty()) return false;
  if (!pattern.starts_with("*.")) return EqualFolded(pattern, host);
  const std::string_view parent = pattern.substr(2);
  const size_t dot = host.find('.');
  if (dot == 0 || dot == std::string_view::npos) return false;  // no label for the '*'
  return !parent.empty() && EqualFolded(host.substr(dot + 1), parent);
}

}  // namespace skiff::crypto
