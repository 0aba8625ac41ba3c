#include "runtime/docker/dockerignore.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace skiff::runtime::docker {
namespace {

struct Case {
  std::string pattern;
  std::string path;
  bool excluded;
};

// Verify one pattern at a time against the table of Docker's own matcher
// (moby/patternmatcher's TestMatches, as MatchesOrParentMatches runs it).
TEST(DockerIgnoreTest, DockersPatternTable) {
  const std::vector<Case> cases = {
      {"**", "file", true},
      {"**", "file/", true},
      {"**/", "file", true},
      {"**/", "file/", true},
      {"**", "/", true},
      {"**/", "/", true},
      {"**", "dir/file", true},
      {"**/", "dir/file", true},
      {"**", "dir/file/", true},
      {"**/", "dir/file/", true},
      {"**/**", "dir/file", true},
      {"**/**", "dir/file/", true},
      {"dir/**", "dir/file", true},
      {"dir/**", "dir/file/", true},
      {"dir/**", "dir/dir2/file", true},
      {"dir/**", "dir/dir2/file/", true},
      {"**/dir", "dir", true},
      {"**/dir", "dir/file", true},
      {"**/dir2/*", "dir/dir2/file", true},
      {"**/dir2/*", "dir/dir2/file/", true},
      {"**/dir2/**", "dir/dir2/dir3/file", true},
      {"**/dir2/**", "dir/dir2/dir3/file/", true},
      {"**file", "file", true},
      {"**file", "dir/file", true},
      {"**/file", "dir/file", true},
      {"**file", "dir/dir/file", true},
      {"**/file", "dir/dir/file", true},
      {"**/file*", "dir/dir/file", true},
      {"**/file*", "dir/dir/file.txt", true},
      {"**/file*txt", "dir/dir/file.txt", true},
      {"**/file*.txt", "dir/dir/file.txt", true},
      {"**/file*.txt*", "dir/dir/file.txt", true},
      {"**/**/*.txt", "dir/dir/file.txt", true},
      {"**/**/*.txt2", "dir/dir/file.txt", false},
      {"**/*.txt", "file.txt", true},
      {"**/**/*.txt", "file.txt", true},
      {"a**/*.txt", "a/file.txt", true},
      {"a**/*.txt", "a/dir/file.txt", true},
      {"a**/*.txt", "a/dir/dir/file.txt", true},
      {"a/*.txt", "a/dir/file.txt", false},
      {"a/*.txt", "a/file.txt", true},
      {"a/*.txt**", "a/file.txt", true},
      {"a[b-d]e", "ae", false},
      {"a[b-d]e", "ace", true},
      {"a[b-d]e", "aae", false},
      {"a[^b-d]e", "aze", true},
      {".*", ".foo", true},
      {".*", "foo", false},
      {"abc.def", "abcdef", false},
      {"abc.def", "abc.def", true},
      {"abc.def", "abcZdef", false},
      {"abc?def", "abcZdef", true},
      {"abc?def", "abcdef", false},
      {"a\\\\", "a\\", true},
      {"**/foo/bar", "foo/bar", true},
      {"**/foo/bar", "dir/foo/bar", true},
      {"**/foo/bar", "dir/dir2/foo/bar", true},
      {"abc/**", "abc", false},
      {"abc/**", "abc/def", true},
      {"abc/**", "abc/def/ghi", true},
      {"**/.foo", ".foo", true},
      {"**/.foo", "bar.foo", false},
      {"a(b)c/def", "a(b)c/def", true},
      {"a(b)c/def", "a(b)c/xyz", false},
      {"a.|)$(}+{bc", "a.|)$(}+{bc", true},
      {"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
       "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
      {"dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
      {"a\\*b", "a*b", true},
  };
  for (const Case& c : cases) {
    auto ignore = DockerIgnore::Parse(c.pattern);
    ASSERT_TRUE(ignore) << c.pattern << ": " << ignore.error().ToString();
    EXPECT_EQ(ignore->Excludes(c.path), c.excluded)
        << "pattern " << c.pattern << ", path " << c.path;
  }
}

// Verify that the last matching line wins, so "!" takes back what came
// before it and a later pattern excludes again (Docker's multi-pattern table).
TEST(DockerIgnoreTest, ExceptionsAndOrder) {
  struct Multi {
    std::string text;
    std::string path;
    bool excluded;
  };
  const std::vector<Multi> cases = {
      {"**\n!util/docker/web\n", "util/docker/web/foo", false},
      {"**\n!util/docker/web\nutil/docker/web/foo\n", "util/docker/web/foo", true},
      {"**\n!dist/*.whl\n", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false},
      {"*.go\n!fileutils.go\n", "fileutils.go", false},
      {"!fileutils.go\n*.go\n", "fileutils.go", true},
      {"docs\n!docs/README.md\n", "docs/README.md", false},
      {"docs/\n!docs/README.md\n", "docs/README.md", false},
      {"docs/*\n!docs/README.md\n", "docs/README.md", false},
      {"docs/*\n!docs/README.md\n", "docs/other.md", true},
  };
  for (const Multi& c : cases) {
    auto ignore = DockerIgnore::Parse(c.text);
    ASSERT_TRUE(ignore) << c.text;
    EXPECT_EQ(ignore->Excludes(c.path), c.excluded) << c.text << "| " << c.path;
  }
}

// Verify how the file is read: comments only at the start of a line, blank
// lines and surrounding spaces ignored, a leading "/" and "./" mean the
// context's root, paths are cleaned.
TEST(DockerIgnoreTest, ReadsTheFileAsDockerDoes) {
  auto ignore = DockerIgnore::Parse(
      "# a comment\n\n   \n  secret.txt  \n/build\n./tmp//cache/../out\n #not-a-comment\n");
  ASSERT_TRUE(ignore) << ignore.error().ToString();
  EXPECT_TRUE(ignore->Excludes("secret.txt"));
  EXPECT_FALSE(ignore->Excludes("# a comment"));
  EXPECT_TRUE(ignore->Excludes("build"));
  EXPECT_TRUE(ignore->Excludes("build/app.o"));
  EXPECT_FALSE(ignore->Excludes("src/build"));  // patterns are anchored at the root
  EXPECT_TRUE(ignore->Excludes("tmp/out/x"));
  EXPECT_FALSE(ignore->Excludes("tmp/cache"));
  EXPECT_TRUE(ignore->Excludes("#not-a-comment"));
  EXPECT_FALSE(ignore->has_exceptions());
  EXPECT_FALSE(ignore->Excludes("."));
  EXPECT_TRUE(DockerIgnore::Parse("# only comments\n")->empty());
  EXPECT_TRUE(DockerIgnore::Parse("!keep\n")->has_exceptions());
}

// Verify that malformed patterns are kInvalidArgument naming their line.
TEST(DockerIgnoreTest, MalformedPatterns) {
  for (const std::string& text : {std::string("ok\n!\n"), std::string("ok\n[\n")}) {
    auto ignore = DockerIgnore::Parse(text);
    ASSERT_FALSE(ignore) << text;
    EXPECT_EQ(ignore.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(ignore.error().message.find(".dockerignore line 2"), std::string::npos)
        << ignore.error().message;
  }
}

// Verify that paths are cleaned as Go's path.Clean does.
TEST(DockerIgnoreTest, CleanPath) {
  EXPECT_EQ(CleanPath(""), ".");
  EXPECT_EQ(CleanPath("./"), ".");
  EXPECT_EQ(CleanPath("a//b/./c/"), "a/b/c");
  EXPECT_EQ(CleanPath("a/../../b"), "../b");
  EXPECT_EQ(CleanPath("/../a"), "/a");
  EXPECT_EQ(CleanPath("/"), "/");
}

}  // namespace
}  // namespace skiff::runtime::docker
