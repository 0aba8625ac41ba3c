#include "runtime/exit_poller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "fakes/testing.h"
#include "runtime/fake/fake_driver.h"

namespace skiff::runtime {
namespace {

using namespace std::chrono_literals;

TaskConfig SleeperConfig(const std::string& id) {
  TaskConfig config;
  config.instance_id = id;
  config.app = "hello";
  config.run.command = {"sleep", "1000"};
  return config;
}

// Verify that the default WatchExit says an exit that already happened at
// once, on the calling thread, instead of a poll later (or never, with no
// poller running).
TEST(ExitPollerTest, AlreadyExitedIsSaidAtOnce) {
  ManualClock clock;
  FakeDriver driver("process", &clock);
  ExitPoller poller(&clock, 500ms);  // not started: only WatchExit may call back
  auto handle = driver.Start(SleeperConfig("a"));
  ASSERT_TRUE(handle.has_value());
  ASSERT_TRUE(driver.Exit("a", 0));
  int called = 0;
  driver.WatchExit(
      *handle, [&] { ++called; }, poller);
  EXPECT_EQ(called, 1);
  EXPECT_EQ(poller.watching(), 0u);
}

// Verify that a running task's exit is found by the poller's next look.
TEST(ExitPollerTest, ExitFoundByPolling) {
  ManualClock clock;
  FakeDriver driver("process", &clock);
  ExitPoller poller(&clock, 500ms);
  poller.Start();
  auto handle = driver.Start(SleeperConfig("a"));
  ASSERT_TRUE(handle.has_value());
  std::atomic<int> called{0};
  driver.WatchExit(
      *handle, [&] { ++called; }, poller);
  EXPECT_EQ(poller.watching(), 1u);
  ASSERT_TRUE(driver.Exit("a", 3));
  ASSERT_TRUE(testing::PollUntil([&] { return clock.waiters() > 0; }));
  clock.Advance(500ms);
  EXPECT_TRUE(testing::PollUntil([&] { return called == 1; }));
  poller.Stop();
}

}  // namespace
}  // namespace skiff::runtime
