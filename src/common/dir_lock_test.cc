#include "common/dir_lock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

#include "fakes/testing.h"

namespace skiff {
namespace {

// Verify that a directory's lock is held by one holder at a time:
// kFailedPrecondition naming the directory while it is held, free again once
// the holder is gone.
TEST(DirLockTest, OneHolderAtATime) {
  testing::TempDir dir;
  std::optional<DirLock> held;
  {
    auto first = DirLock::Acquire(dir.path());
    ASSERT_TRUE(first.has_value()) << first.error().ToString();
    held.emplace(std::move(*first));
  }
  auto second = DirLock::Acquire(dir.path());
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(second.error().message, ::testing::HasSubstr(dir.path()));
  held.reset();
  auto again = DirLock::Acquire(dir.path());
  EXPECT_TRUE(again.has_value()) << again.error().ToString();
}

// Verify that a directory that does not exist is kUnavailable.
TEST(DirLockTest, AMissingDirectoryIsUnavailable) {
  testing::TempDir dir;
  auto lock = DirLock::Acquire(dir.File("missing"));
  ASSERT_FALSE(lock.has_value());
  EXPECT_EQ(lock.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace skiff
