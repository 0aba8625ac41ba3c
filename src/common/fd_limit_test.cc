#include "common/fd_limit.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace skiff {
namespace {

// Verify that the soft limit of open files is raised to the hard limit.
TEST(FdLimitTest, RaisesSoftToHard) {
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
  if (before.rlim_max < 64) GTEST_SKIP() << "hard limit too low to lower the soft one";
  rlimit lowered = before;
  lowered.rlim_cur = 32;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  auto raised = RaiseFileLimit();
  rlimit after{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
  setrlimit(RLIMIT_NOFILE, &before);
  ASSERT_TRUE(raised);
  EXPECT_EQ(after.rlim_cur, before.rlim_max);
  EXPECT_EQ(static_cast<rlim_t>(*raised), before.rlim_max);
}

}  // namespace
}  // namespace skiff
