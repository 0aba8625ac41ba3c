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

}  // namespace

bool DomainCovers(std::string_view pattern, std::string_view host) {
  if (pattern.empty() || host.empty()) return false;
  if (!pattern.starts_with("*.")) return EqualFolded(pattern, host);
  const std::string_view parent = pattern.substr(2);
  const size_t dot = host.find('.');
  if (dot == 0 || dot == std::string_view::npos) return false;  // no label for the '*'
  return !parent.empty() && EqualFolded(host.substr(dot + 1), parent);
}

}  // namespace skiff::crypto
