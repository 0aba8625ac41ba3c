#include "runtime/fake/fake_driver.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "fakes/testing.h"

namespace skiff::runtime {
namespace {

using namespace std::chrono_literals;

TaskConfig Config(const std::string& id) {
  TaskConfig config;
  config.instance_id = id;
  config.app = "hello";
  config.revision = 1;
  config.run.command = {"sleep", "1000"};
  return config;
}

// Verify that a started task runs until scripted to exit, then reports its code.
TEST(FakeDriverTest, ExitIsVisibleToInspect) {
  ManualClock clock;
  FakeDriver driver("process", &clock);
  auto handle = driver.Start(Config("a"));
  ASSERT_TRUE(handle.has_value());
  auto status = driver.Inspect(*handle);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->running);
  EXPECT_EQ(status->started_at, clock.Now());
  EXPECT_TRUE(driver.Exit("a", 3));
  status = driver.Inspect(*handle);
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->running);
  EXPECT_EQ(status->exit_code, 3);
  EXPECT_EQ(status->message, "exited with 3");
  EXPECT_FALSE(driver.Exit("a", 1));  // already exited
  EXPECT_EQ(driver.RunningCount(), 0);
}

// Verify that Start failures can be scripted per instance and globally.
TEST(FakeDriverTest, FailStart) {
  FakeDriver driver;
  driver.FailStart("a", Error{ErrorCode::kUnavailable, "python3: not found"});
  auto a = driver.Start(Config("a"));
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(driver.Start(Config("b")).has_value());
  driver.FailStart("a", std::nullopt);
  EXPECT_TRUE(driver.Start(Config("a")).has_value());
  driver.FailAllStarts(Error{ErrorCode::kInternal, "boom"});
  auto c = driver.Start(Config("c"));
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ErrorCode::kInternal);
  EXPECT_EQ(driver.counts().start, 4);
  EXPECT_EQ(driver.started().size(), 4u);
  EXPECT_EQ(driver.RunningCount(), 2);
}

// Verify that Stop records its grace, stops the task and succeeds for a gone task.
TEST(FakeDriverTest, StopRecordsGrace) {
  FakeDriver driver;
  auto handle = driver.Start(Config("a"));
  ASSERT_TRUE(handle.has_value());
  EXPECT_TRUE(driver.Stop(*handle, 7s).has_value());
  EXPECT_FALSE(driver.IsRunning("a"));
  EXPECT_TRUE(driver.Stop(*handle, 7s).has_value());
  ASSERT_EQ(driver.stops().size(), 2u);
  EXPECT_EQ(driver.stops()[0].grace, Duration(7s));
  EXPECT_EQ(driver.stops()[0].instance_id, "a");
  auto status = driver.Inspect(*handle);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->exit_code, 128 + 15);
}

// Verify that a scripted stop delay blocks Stop until ReleaseStops.
TEST(FakeDriverTest, StopDelayAndRelease) {
  FakeDriver driver;
  auto handle = driver.Start(Config("a"));
  ASSERT_TRUE(handle.has_value());
  driver.SetStopDelay(std::chrono::hours(1));
  std::thread stopper(
      [&] { EXPECT_TRUE(driver.Stop(*handle, std::chrono::hours(2)).has_value()); });
  // Other calls proceed while Stop blocks.
  EXPECT_TRUE(driver.Inspect(*handle).has_value());
  driver.ReleaseStops();
  stopper.join();
  EXPECT_FALSE(driver.IsRunning("a"));
}

// Verify that a stop delay longer than the grace ends in a kill.
TEST(FakeDriverTest, StopPastGraceKills) {
  FakeDriver driver;
  auto handle = driver.Start(Config("a"));
  ASSERT_TRUE(handle.has_value());
  driver.SetStopDelay(1h);
  EXPECT_TRUE(driver.Stop(*handle, 1ms).has_value());
  auto status = driver.Inspect(*handle);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->exit_code, 128 + 9);
}

// Verify that Recover finds a running task and answers kNotFound for a dead one.
TEST(FakeDriverTest, Recover) {
  FakeDriver driver;
  auto a = driver.Start(Config("a"));
  auto b = driver.Start(Config("b"));
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_TRUE(driver.Recover(*a).has_value());
  driver.Exit("b", 1);
  auto rb = driver.Recover(*b);
  ASSERT_FALSE(rb.has_value());
  EXPECT_EQ(rb.error().code, ErrorCode::kNotFound);
  driver.Vanish("a");
  auto ra = driver.Recover(*a);
  ASSERT_FALSE(ra.has_value());
  EXPECT_EQ(ra.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(driver.Inspect(*a).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(driver.counts().recover, 3);
}

// Verify that Sample returns the scripted sample and kNotFound once the task is gone.
TEST(FakeDriverTest, Sample) {
  FakeDriver driver;
  auto handle = driver.Start(Config("a"));
  ASSERT_TRUE(handle.has_value());
  driver.SetSample("a", ResourceSample{.cpu_millis = 120, .memory_bytes = 1 << 20});
  auto sample = driver.Sample(*handle);
  ASSERT_TRUE(sample.has_value());
  EXPECT_EQ(sample->cpu_millis, 120);
  EXPECT_EQ(sample->memory_bytes, 1 << 20);
  driver.Exit("a", 0);
  EXPECT_EQ(driver.Sample(*handle).error().code, ErrorCode::kNotFound);
}

// Verify that the fake keeps the Driver contract where the real drivers do:
// it refuses the other driver's kind, words a kill as a signal, creates and
// appends to the log, exits as scripted on SIGTERM and forgets what is released.
TEST(FakeDriverTest, KeepsTheDriverContract) {
  skiff::testing::TempDir dir;
  FakeDriver process("process");
  TaskConfig image = Config("i");
  image.run.command.clear();
  image.run.image = "hello:1";
  EXPECT_EQ(process.Start(image).error().code, ErrorCode::kInvalidArgument);
  FakeDriver docker("docker");
  EXPECT_EQ(docker.Start(Config("c")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(docker.Start(image).has_value());

  TaskConfig config = Config("a");
  config.log_path = dir.File("logs/a.log");
  auto handle = process.Start(config);
  ASSERT_TRUE(handle.has_value());
  EXPECT_TRUE(std::ifstream(config.log_path).good());
  EXPECT_TRUE(process.Print("a", "GET /x\n"));
  std::stringstream log;
  log << std::ifstream(config.log_path).rdbuf();
  EXPECT_EQ(log.str(), "GET /x\n");
  EXPECT_TRUE(process.Exit("a", 137));
  EXPECT_EQ(process.Inspect(*handle)->message, "killed by signal 9");

  process.SetTermExitCode(0);
  handle = process.Start(config);
  ASSERT_TRUE(handle.has_value());
  ASSERT_TRUE(process.Stop(*handle, 1s).has_value());
  EXPECT_EQ(process.Inspect(*handle)->exit_code, 0);
  EXPECT_EQ(process.Inspect(*handle)->message, "exited with 0");
  process.Release(*handle);
  EXPECT_EQ(process.Inspect(*handle).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(process.Stop(*handle, 1s).has_value());
}

// Verify that a released task is forgotten everywhere, not only by Inspect,
// even one released while it still ran: Sample and Recover answer kNotFound,
// it no longer counts as running, scripting it finds nothing, and a Stop of
// its handle succeeds without stopping anything.
TEST(FakeDriverTest, ReleasedTaskIsForgottenEverywhere) {
  FakeDriver driver;
  TaskConfig config = Config("a");
  config.node_id = "n1";
  auto handle = driver.Start(config);
  ASSERT_TRUE(handle.has_value());
  driver.Release(*handle);
  EXPECT_EQ(driver.Inspect(*handle).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(driver.Sample(*handle).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(driver.Recover(*handle).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(driver.IsRunning("a"));
  EXPECT_EQ(driver.RunningCount(), 0);
  EXPECT_FALSE(driver.Exit("a", 1));
  EXPECT_FALSE(driver.Print("a", "x\n"));
  EXPECT_TRUE(driver.Stop(*handle, 1s).has_value());
  EXPECT_EQ(driver.RemoveOrphans("n1", {}).value(), 0);
}

}  // namespace
}  // namespace skiff::runtime
