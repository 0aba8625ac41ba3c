#include "controller/backoff.h"

#include <gtest/gtest.h>

#include <climits>
#include <vector>

namespace skiff::controller {
namespace {

using std::chrono::seconds;

// Verify that the backoff starts at 1s, doubles per failure and stops at 60s.
TEST(RestartBackoffTest, DoublesUpToCap) {
  struct Case {
    int crash_count;
    Duration want;
  };
  const std::vector<Case> cases = {
      {-1, seconds(1)}, {0, seconds(1)},  {1, seconds(1)},        {2, seconds(2)},
      {3, seconds(4)},  {4, seconds(8)},  {5, seconds(16)},       {6, seconds(32)},
      {7, seconds(60)}, {8, seconds(60)}, {INT_MAX, seconds(60)},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RestartBackoff(c.crash_count), c.want) << c.crash_count;
  }
}

// Verify that five consecutive failures, and no fewer, make a crash loop.
TEST(IsCrashLoopTest, FiveFailures) {
  EXPECT_FALSE(IsCrashLoop(0));
  EXPECT_FALSE(IsCrashLoop(4));
  EXPECT_TRUE(IsCrashLoop(5));
  EXPECT_TRUE(IsCrashLoop(12));
}

}  // namespace
}  // namespace skiff::controller
