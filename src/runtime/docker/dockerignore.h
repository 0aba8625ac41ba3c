// .dockerignore: which files of a build context are left out of what is sent
// to the engine, by Docker's own rules (the CLI's, moby/patternmatcher's):
// one pattern a line, `#` at the start of a line a comment, blank lines
// skipped; a pattern is a path relative to the context (a leading "/" means
// the same), cleaned (`a//b/../c` is `a/c`); `*` is any run of characters but
// "/", `?` one such character, `[a-z]` a class, `\` escapes, `**` any number
// of directories (none included); a path is excluded when it or one of its
// parent directories matches; `!pattern` takes back what earlier lines
// excluded, and the last matching line wins.
//
// Written here because no C or C++ library of Debian does it (Docker's own
// matcher is Go, golang-github-moby-patternmatcher-dev; this follows it
// pattern for pattern, and its tests' tables are in dockerignore_test.cc).
#pragma once

#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace skiff::runtime::docker {

class DockerIgnore {
 public:
  // Parses the text of a .dockerignore. kInvalidArgument for a malformed
  // pattern (a lone "!", an unclosed "["), naming its line.
  static Result<DockerIgnore> Parse(std::string_view text);

  // Whether `path` (relative to the context, "/"-separated) is left out.
  bool Excludes(std::string_view path) const;
  // Whether any pattern takes something back ("!"): an excluded directory
  // must then still be walked.
  bool has_exceptions() const { return has_exceptions_; }
  bool empty() const { return patterns_.empty(); }

 private:
  enum class MatchType { kExact, kPrefix, kSuffix, kRegex };
  struct Pattern {
    std::string cleaned;
    bool exception = false;
    MatchType type = MatchType::kExact;
    std::regex regex;
    bool Matches(const std::string& path) const;
  };

  std::vector<Pattern> patterns_;
  bool has_exceptions_ = false;
};

// `path` cleaned as Go's path.Clean does: no empty or "." elements, ".."
// resolved lexically, no trailing "/"; "." for nothing.
std::string CleanPath(std::string_view path);

}  // namespace skiff::runtime::docker
