#include "runtime/log_rotate.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fakes/testing.h"

namespace skiff::runtime {
namespace {

std::string ReadLogFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Append(int fd, const std::string& text) {
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

// Verify that a small or missing log is left alone.
TEST(RotateLogTest, SmallOrMissingIsNoop) {
  testing::TempDir dir;
  auto missing = RotateLogIfLarger(dir.File("none.log"), 10, 2);
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(*missing);
  std::ofstream(dir.File("a.log")) << "12345";
  auto small = RotateLogIfLarger(dir.File("a.log"), 10, 2);
  ASSERT_TRUE(small.has_value());
  EXPECT_FALSE(*small);
  EXPECT_EQ(ReadLogFile(dir.File("a.log")), "12345");
  EXPECT_FALSE(std::filesystem::exists(dir.File("a.log.1")));
}

// Verify that rotation keeps `keep` old copies and that a writer holding the
// file with O_APPEND keeps writing into the (now empty) live file.
TEST(RotateLogTest, CopyTruncateKeepsAppendingWriter) {
  testing::TempDir dir;
  std::string path = dir.File("app.log");
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);

  Append(fd, "first chunk\n");
  ASSERT_EQ(RotateLogIfLarger(path, 5, 2).value(), true);
  Append(fd, "second chunk\n");
  ASSERT_EQ(RotateLogIfLarger(path, 5, 2).value(), true);
  Append(fd, "third chunk\n");
  ASSERT_EQ(RotateLogIfLarger(path, 5, 2).value(), true);
  Append(fd, "live\n");
  close(fd);

  EXPECT_EQ(ReadLogFile(path), "live\n");
  EXPECT_EQ(ReadLogFile(path + ".1"), "third chunk\n");
  EXPECT_EQ(ReadLogFile(path + ".2"), "second chunk\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".3"));
}

// Verify that keep == 0 truncates without copies.
TEST(RotateLogTest, KeepZeroOnlyTruncates) {
  testing::TempDir dir;
  std::string path = dir.File("app.log");
  std::ofstream(path) << "0123456789abcdef";
  ASSERT_EQ(RotateLogIfLarger(path, 4, 0).value(), true);
  EXPECT_EQ(ReadLogFile(path), "");
  EXPECT_FALSE(std::filesystem::exists(path + ".1"));
}

}  // namespace
}  // namespace skiff::runtime
