#include "common/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "fakes/testing.h"

namespace skiff {
namespace {

// The names in `dir`, for checking that no temporary file is left behind.
std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    out.push_back(entry.path().filename().string());
  }
  return out;
}

// Verify that RemoveFileDurably removes a file, accepts one already gone,
// and names what it could not remove.
TEST(FilesTest, RemoveFileDurably) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("marker"), "x"));
  ASSERT_TRUE(RemoveFileDurably(dir.File("marker")));
  EXPECT_FALSE(std::filesystem::exists(dir.File("marker")));
  EXPECT_TRUE(RemoveFileDurably(dir.File("marker")));
  std::filesystem::create_directory(dir.File("a-dir"));
  const Status refused = RemoveFileDurably(dir.File("a-dir"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message.find("a-dir"), std::string::npos);
}

// Verify that a new file is made whole with its mode and no temporary file
// left beside it, and that an existing file is kAlreadyExists and kept as it was.
TEST(FilesTest, WriteNewFileAtomicallyNeverReplaces) {
  testing::TempDir dir;
  const std::string path = dir.File("keyring.json");
  ASSERT_TRUE(WriteNewFileAtomically(path, "first", 0600));
  EXPECT_EQ(ReadPrivateFile(path).value_or(""), "first");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_nlink, 1u);  // the temporary name is gone

  Status again = WriteNewFileAtomically(path, "second", 0600);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(ReadPrivateFile(path).value_or(""), "first");
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"keyring.json"});
}

// Verify that a directory that is not there is kUnavailable naming the file.
TEST(FilesTest, WriteNewFileAtomicallyReportsFailure) {
  testing::TempDir dir;
  const std::string path = dir.File("missing/keyring.json");
  Status written = WriteNewFileAtomically(path, "x", 0600);
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(written.error().message.find("keyring.json"), std::string::npos);
}

// Verify that a private file is refused (kFailedPrecondition naming it) when
// its group or others have any permission on it (saying how to mend it), when it is a symbolic link
// (even to a private file) or a directory, and read whole when it is private.
TEST(FilesTest, ReadPrivateFileChecksTheFileItself) {
  testing::TempDir dir;
  const std::string path = dir.File("secret");
  ASSERT_TRUE(WriteNewFile(path, "key", 0600));
  EXPECT_EQ(ReadPrivateFile(path).value_or(""), "key");

  const std::string link = dir.File("link");
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  const std::string open = dir.File("open");
  ASSERT_TRUE(WriteNewFile(open, "key", 0644));
  ASSERT_EQ(::chmod(open.c_str(), 0644), 0);
  for (const std::string& bad : {link, open, dir.path()}) {
    auto read = ReadPrivateFile(bad);
    ASSERT_FALSE(read) << bad;
    EXPECT_EQ(read.error().code, ErrorCode::kFailedPrecondition) << bad;
    EXPECT_NE(read.error().message.find(bad), std::string::npos) << read.error().message;
  }
  // What to do is said, with the mode: a group's write bit is refused too.
  auto open_read = ReadPrivateFile(open);
  ASSERT_FALSE(open_read);
  EXPECT_NE(open_read.error().message.find("(mode 644): chmod 600 " + open), std::string::npos)
      << open_read.error().message;
  ASSERT_EQ(::chmod(open.c_str(), 0620), 0);
  EXPECT_EQ(ReadPrivateFile(open).error().code, ErrorCode::kFailedPrecondition);
  // Not private: a link is followed.
  EXPECT_EQ(ReadPrivateFile(link, false).value_or(""), "key");
  EXPECT_EQ(ReadPrivateFile(dir.File("none")).error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace skiff
