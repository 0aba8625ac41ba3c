#include "agent/instance_runner.h"

#include <gtest/gtest.h>

namespace skiff::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Verify that start-up probes come fast at first, thin out, and never wait
// longer than the check's interval (nor less than the floor).
TEST(StartupProbeDelayTest, GrowsFromFloorToInterval) {
  struct Case {
    milliseconds since_start;
    Duration interval;
    Duration want;
  } cases[] = {
      {milliseconds(0), seconds(2), kMinStartupProbeDelay},
      {milliseconds(20), seconds(2), kMinStartupProbeDelay},
      {milliseconds(400), seconds(2), milliseconds(100)},
      {seconds(4), seconds(2), seconds(1)},
      {seconds(60), seconds(2), seconds(2)},
      {milliseconds(0), milliseconds(5), milliseconds(5)},  // a tiny interval wins
  };
  for (const Case& c : cases) {
    EXPECT_EQ(StartupProbeDelay(c.since_start, c.interval), c.want)
        << c.since_start.count() << "ms after start, interval " << c.interval.count() << "ms";
  }
}

}  // namespace
}  // namespace skiff::agent
