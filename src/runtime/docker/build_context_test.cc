#include "runtime/docker/build_context.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/testing.h"

namespace skiff::runtime::docker {
namespace {

namespace fs = std::filesystem;

// The names in a tar stream, sorted, without the "./" prefix.
std::vector<std::string> Names(const std::string& tar, const testing::TempDir& scratch) {
  const std::string file = scratch.File("context.tar");
  std::ofstream(file, std::ios::binary) << tar;
  auto listed = RunCapture({"tar", "-tf", file});
  EXPECT_TRUE(listed) << listed.error().ToString();
  std::vector<std::string> names;
  std::stringstream lines(listed.value_or(""));
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("./")) line.erase(0, 2);
    while (!line.empty() && line.back() == '/') line.pop_back();
    if (!line.empty() && line != ".") names.push_back(line);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void Write(const testing::TempDir& dir, const std::string& name, const std::string& text = "x") {
  fs::create_directories(fs::path(dir.File(name)).parent_path());
  std::ofstream(dir.File(name)) << text;
}

// Verify that the context sent to the engine leaves out what .dockerignore
// excludes (and .git), keeps what "!" takes back, and always keeps the
// Dockerfile and .dockerignore.
TEST(TarDirectoryTest, AppliesDockerignore) {
  testing::TempDir context;
  testing::TempDir scratch;
  Write(context, "build/Dockerfile.app", "FROM scratch\n");
  Write(context, "app");
  Write(context, "secret.env");
  Write(context, "logs/a.log");
  Write(context, "logs/keep.log");
  Write(context, "node_modules/x/index.js");
  Write(context, "src/main.c");
  Write(context, "src/main.o");
  Write(context, ".git/HEAD");
  Write(context, ".dockerignore",
        "# what the image never needs\n*.env\nlogs\n!logs/keep.log\n**/*.o\nnode_modules\n"
        "build\n.dockerignore\n");
  auto tar = TarDirectory(context.path(), "build/Dockerfile.app");
  ASSERT_TRUE(tar) << tar.error().ToString();
  EXPECT_EQ(Names(*tar, scratch),
            (std::vector<std::string>{".dockerignore", "app", "build/Dockerfile.app",
                                      "logs/keep.log", "src", "src/main.c"}));
}

// Verify that without a .dockerignore everything but .git is sent, and that a
// malformed one fails with kInvalidArgument naming its line.
TEST(TarDirectoryTest, NoIgnoreFileAndMalformedOne) {
  testing::TempDir context;
  testing::TempDir scratch;
  Write(context, "Dockerfile");
  Write(context, "a/b");
  Write(context, ".git/HEAD");
  auto tar = TarDirectory(context.path());
  ASSERT_TRUE(tar) << tar.error().ToString();
  EXPECT_EQ(Names(*tar, scratch), (std::vector<std::string>{"Dockerfile", "a", "a/b"}));

  Write(context, ".dockerignore", "a\n[\n");
  auto bad = TarDirectory(context.path());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find(".dockerignore line 2"), std::string::npos);

  // An excluded directory still gives up the Dockerfile inside it.
  Write(context, ".dockerignore", "a\n");
  Write(context, "a/Dockerfile.a");
  tar = TarDirectory(context.path(), "a/Dockerfile.a");
  ASSERT_TRUE(tar) << tar.error().ToString();
  EXPECT_EQ(Names(*tar, scratch),
            (std::vector<std::string>{".dockerignore", "Dockerfile", "a/Dockerfile.a"}));

  auto missing = TarDirectory(context.File("nope"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace skiff::runtime::docker
