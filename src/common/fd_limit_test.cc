#include "common/fd_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include "fakes/testing.h"

namespace skiff {
namespace {

// Verify that the soft limit of open files is raised to the hard limit.
TEST(FdLimitTest, RaisesSoftToHard) {
  testing::ScopedSoftFileLimit lowered(32);
  ASSERT_TRUE(lowered.ok()) << "the hard limit is too low to lower the soft one";
  auto raised = RaiseFileLimit();
  rlimit after{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
  ASSERT_TRUE(raised);
  EXPECT_EQ(after.rlim_cur, lowered.hard());
  EXPECT_EQ(static_cast<rlim_t>(*raised), lowered.hard());
}

// Verify that children are to get the soft limit found before the raise, with
// the hard limit as it is, and that a later call with nothing to raise keeps it.
TEST(FdLimitTest, ChildrenGetTheSoftLimitFound) {
  testing::ScopedSoftFileLimit lowered(40);
  ASSERT_TRUE(lowered.ok()) << "the hard limit is too low to lower the soft one";
  ASSERT_TRUE(RaiseFileLimit());
  ASSERT_TRUE(RaiseFileLimit());  // nothing left to raise
  auto for_children = FileLimitForChildren();
  ASSERT_TRUE(for_children.has_value());
  EXPECT_EQ(for_children->rlim_cur, 40u);
  EXPECT_EQ(for_children->rlim_max, lowered.hard());
}

}  // namespace
}  // namespace skiff
