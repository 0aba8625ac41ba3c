#include "runtime/env.h"

namespace skiff::runtime {
namespace {

bool IsNameStart(char c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

}  // namespace

std::string SubstituteVars(std::string_view text, const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    if (text[i + 1] == '$') {
      out.push_back('$');
      i += 2;
      continue;
    }
    if (text[i + 1] == '{') {
      size_t j = i + 2;
      if (j < text.size() && IsNameStart(text[j])) {
        while (j < text.size() && IsNameChar(text[j])) ++j;
        if (j < text.size() && text[j] == '}') {
          auto it = vars.find(std::string(text.substr(i + 2, j - i - 2)));
          if (it != vars.end()) {
            out += it->second;
            i = j + 1;
            continue;
          }
        }
      }
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

}  // namespace skiff::runtime
