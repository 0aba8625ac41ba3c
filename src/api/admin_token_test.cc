#include "api/admin_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "fakes/testing.h"

namespace skiff::api {
namespace {

// Verify that the first call creates a private 0600 token file and later calls reuse it.
TEST(AdminTokenTest, CreatesPrivateThenReuses) {
  skiff::testing::TempDir dir;
  bool created = false;
  auto first = LoadOrCreateAdminToken(dir.path(), &created);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(created);
  EXPECT_EQ(first->size(), 64u);
  struct stat st;
  ASSERT_EQ(::stat(dir.File("admin.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  auto second = LoadOrCreateAdminToken(dir.path(), &created);
  ASSERT_TRUE(second);
  EXPECT_FALSE(created);
  EXPECT_EQ(*second, *first);
}

// Verify that a token file readable by others is refused with kFailedPrecondition.
TEST(AdminTokenTest, RefusesWorldReadableFile) {
  skiff::testing::TempDir dir;
  std::ofstream(dir.File("admin.token")) << "leaked\n";
  ::chmod(dir.File("admin.token").c_str(), 0644);
  auto token = LoadOrCreateAdminToken(dir.path());
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kFailedPrecondition);
}

// Verify that a missing data directory is kUnavailable.
TEST(AdminTokenTest, MissingDirectory) {
  skiff::testing::TempDir dir;
  auto token = LoadOrCreateAdminToken(dir.File("absent"));
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace skiff::api
