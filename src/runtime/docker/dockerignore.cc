#include "runtime/docker/dockerignore.h"

#include <fmt/format.h>

#include <cctype>

namespace skiff::runtime::docker {
namespace {

std::string Trim(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return std::string(text.substr(begin, end - begin));
}

}  // namespace

std::string CleanPath(std::string_view path) {
  const bool rooted = !path.empty() && path[0] == '/';
  std::vector<std::string> parts;
  size_t at = 0;
  while (at <= path.size()) {
    size_t slash = path.find('/', at);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(at, slash - at);
    at = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.emplace_back("..");
      }
      continue;
    }
    parts.emplace_back(part);
  }
  std::string out = rooted ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

Result<DockerIgnore> DockerIgnore::Parse(std::string_view text) {
  DockerIgnore ignore;
  int line_number = 0;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(at, end - at);
    at = end + 1;
    ++line_number;
    if (line_number == 1 && raw.starts_with("\xEF\xBB\xBF")) raw.remove_prefix(3);  // a BOM
    if (!raw.empty() && raw[0] == '#') continue;
    std::string line = Trim(raw);
    if (line.empty()) continue;
    auto bad = [&](const std::string& why) {
      return InvalidArgument(fmt::format(".dockerignore line {}: {}", line_number, why));
    };
    Pattern pattern;
    if (line[0] == '!') {
      line = Trim(std::string_view(line).substr(1));
      if (line.empty()) return bad("illegal exclusion pattern: \"!\"");
      pattern.exception = true;
    }
    line = CleanPath(line);
    if (line.size() > 1 && line[0] == '/') line.erase(0, 1);
    pattern.cleaned = line;

    // As patternmatcher's compile: plain text matches exactly, "x/**" is a
    // prefix, "**x" a suffix, anything else a regular expression.
    std::string regex = "^";
    pattern.type = MatchType::kExact;
    for (size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (c == '*') {
        if (i + 1 < line.size() && line[i + 1] == '*') {
          const bool at_start = i == 0;
          ++i;
          if (i + 1 < line.size() && line[i + 1] == '/') ++i;
          if (i + 1 == line.size()) {
            if (pattern.type == MatchType::kExact) {
              pattern.type = MatchType::kPrefix;
            } else {
              regex += ".*";
              pattern.type = MatchType::kRegex;
            }
          } else {
            regex += "(.*/)?";
            pattern.type = MatchType::kRegex;
          }
          if (at_start) pattern.type = MatchType::kSuffix;
        } else {
          regex += "[^/]*";
          pattern.type = MatchType::kRegex;
        }
      } else if (c == '?') {
        regex += "[^/]";
        pattern.type = MatchType::kRegex;
      } else if (c == '\\') {
        if (i + 1 < line.size()) {
          regex += '\\';
          regex += line[++i];
          pattern.type = MatchType::kRegex;
        } else {
          regex += "\\\\";
        }
      } else if (c == '[' || c == ']') {
        regex += c;
        pattern.type = MatchType::kRegex;
      } else if (std::string_view(".+()|{}$").find(c) != std::string_view::npos) {
        regex += '\\';
        regex += c;
      } else {
        regex += c;
      }
    }
    if (pattern.type == MatchType::kRegex) {
      try {
        pattern.regex = std::regex(regex + "$", std::regex::ECMAScript);
      } catch (const std::regex_error&) {
        return bad("malformed pattern \"" + line + "\"");
      }
    }
    ignore.has_exceptions_ = ignore.has_exceptions_ || pattern.exception;
    ignore.patterns_.push_back(std::move(pattern));
  }
  return ignore;
}

bool DockerIgnore::Pattern::Matches(const std::string& path) const {
  switch (type) {
    case MatchType::kExact:
      return path == cleaned;
    case MatchType::kPrefix:
      return path.starts_with(std::string_view(cleaned).substr(0, cleaned.size() - 2));
    case MatchType::kSuffix: {
      std::string_view suffix = std::string_view(cleaned).substr(2);
      if (path.ends_with(suffix)) return true;
      return !suffix.empty() && suffix[0] == '/' && path == suffix.substr(1);
    }
    case MatchType::kRegex:
      return std::regex_match(path, regex);
  }
  return false;
}

bool DockerIgnore::Excludes(std::string_view path) const {
  const std::string file = CleanPath(path);
  if (file == ".") return false;
  // The parent directories, shortest first: "a", "a/b" for "a/b/c".
  std::vector<std::string> parents;
  for (size_t slash = file.find('/'); slash != std::string::npos;
       slash = file.find('/', slash + 1)) {
    parents.push_back(file.substr(0, slash));
  }
  bool excluded = false;
  for (const Pattern& pattern : patterns_) {
    // Only a pattern that could change the verdict is tried (the last match wins).
    if (pattern.exception != excluded) continue;
    bool match = pattern.Matches(file);
    for (size_t i = 0; !match && i < parents.size(); ++i) match = pattern.Matches(parents[i]);
    if (match) excluded = !pattern.exception;
  }
  return excluded;
}

}  // namespace skiff::runtime::docker
