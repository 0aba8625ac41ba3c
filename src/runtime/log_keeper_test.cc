#include "runtime/log_keeper.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/testing.h"
#include "runtime/exit_poller.h"
#include "runtime/fake/fake_driver.h"

namespace skiff::runtime {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app) << text;
}

// Verify that logs larger than the limit are rotated, and that the directory
// is looked over no more often than rotate_every.
TEST(LogKeeperTest, RotatesLargeLogsAtItsPace) {
  testing::TempDir dir;
  LogKeeper keeper({.dir = dir.path(), .rotate_bytes = 10, .keep = 2, .rotate_every = 1h});
  Write(dir.File("a.log"), "0123456789abc");
  Write(dir.File("b.log"), "small");
  Write(dir.File("notes.txt"), "0123456789abcdef");
  keeper.MaybeRotate();
  EXPECT_EQ(ReadAll(dir.File("a.log")), "");
  EXPECT_EQ(ReadAll(dir.File("a.log.1")), "0123456789abc");
  EXPECT_EQ(ReadAll(dir.File("b.log")), "small");
  EXPECT_FALSE(fs::exists(dir.File("notes.txt.1")));
  Write(dir.File("a.log"), "again, and long");
  keeper.MaybeRotate();  // too soon
  EXPECT_EQ(ReadAll(dir.File("a.log")), "again, and long");

  LogKeeper eager({.dir = dir.path(), .rotate_bytes = 10, .keep = 2, .rotate_every = 0ms});
  eager.MaybeRotate();
  EXPECT_EQ(ReadAll(dir.File("a.log.1")), "again, and long");
  EXPECT_EQ(ReadAll(dir.File("a.log.2")), "0123456789abc");
}

// Verify that the logs of instances not kept go, rotated copies included, and
// that nothing else in the directory is touched.
TEST(LogKeeperTest, RemovesLogsOfInstancesNotKept) {
  testing::TempDir dir;
  for (const char* name : {"kept.log", "kept.log.1", "gone.log", "gone.log.1", "gone.log.7",
                           "other.txt", "x.log.old"}) {
    Write(dir.File(name), "x");
  }
  LogKeeper keeper({.dir = dir.path()});
  keeper.RemoveExcept({"kept"});
  for (const char* name : {"kept.log", "kept.log.1", "other.txt", "x.log.old"}) {
    EXPECT_TRUE(fs::exists(dir.File(name))) << name;
  }
  for (const char* name : {"gone.log", "gone.log.1", "gone.log.7"}) {
    EXPECT_FALSE(fs::exists(dir.File(name))) << name;
  }
}

// Verify that a LogKeepingDriver forwards every call to its driver, rotates
// as it samples and removes the logs of what the orphan sweep did not keep.
TEST(LogKeeperTest, KeepingDriverForwardsAndKeepsLogs) {
  testing::TempDir dir;
  FakeDriver fake;
  LogKeeper keeper({.dir = dir.path(), .rotate_bytes = 4, .keep = 1, .rotate_every = 0ms});
  LogKeepingDriver driver(&fake, &keeper);
  TaskConfig config;
  config.instance_id = "a";
  config.node_id = "n";
  config.run.command = {"app"};
  config.log_path = dir.File("a.log");
  auto handle = driver.Start(config);
  ASSERT_TRUE(handle.has_value());
  EXPECT_EQ(driver.Info().name, "process");
  ASSERT_TRUE(fake.Print("a", "a long line\n"));
  EXPECT_TRUE(driver.Sample(*handle).has_value());
  EXPECT_EQ(ReadAll(dir.File("a.log.1")), "a long line\n");
  EXPECT_TRUE(driver.Inspect(*handle)->running);
  EXPECT_TRUE(driver.Stop(*handle, 1s).has_value());
  driver.Release(*handle);
  EXPECT_TRUE(driver.Recover(*handle).error().code == ErrorCode::kNotFound);
  Write(dir.File("b.log"), "x");
  auto removed = driver.RemoveOrphans("n", {"b"});
  ASSERT_TRUE(removed.has_value());
  EXPECT_FALSE(fs::exists(dir.File("a.log")));
  EXPECT_FALSE(fs::exists(dir.File("a.log.1")));
  EXPECT_TRUE(fs::exists(dir.File("b.log")));
  const FakeDriver::Counts counts = fake.counts();
  EXPECT_EQ(counts.start, 1);
  EXPECT_EQ(counts.sample, 1);
  EXPECT_EQ(counts.inspect, 1);
  EXPECT_EQ(counts.stop, 1);
  EXPECT_EQ(counts.release, 1);
  EXPECT_EQ(counts.recover, 1);
  EXPECT_EQ(counts.remove_orphans, 1);
}

// Verify that a LogKeepingDriver hands WatchExit and SampleAll to its driver
// (so the driver's own exit watch and one-pass sampling are kept) and gives
// back what it answers unchanged, rotating the logs as it samples them all.
TEST(LogKeeperTest, KeepingDriverForwardsWatchExitAndSampleAll) {
  testing::TempDir dir;
  ManualClock clock;
  FakeDriver fake("process", &clock);
  LogKeeper keeper({.dir = dir.path(), .rotate_bytes = 4, .keep = 1, .rotate_every = 0ms});
  LogKeepingDriver driver(&fake, &keeper);
  std::vector<TaskHandle> handles;
  for (const char* id : {"a", "b"}) {
    TaskConfig config;
    config.instance_id = id;
    config.run.command = {"app"};
    config.log_path = dir.File(std::string(id) + ".log");
    auto handle = driver.Start(config);
    ASSERT_TRUE(handle.has_value());
    handles.push_back(*handle);
  }
  fake.SetSample("a", ResourceSample{.cpu_millis = 250, .memory_bytes = 4096});
  ASSERT_TRUE(fake.Exit("b", 3));  // gone: left out of the samples
  ASSERT_TRUE(fake.Print("a", "a long line\n"));

  const std::map<std::string, ResourceSample> samples = driver.SampleAll(handles);
  EXPECT_EQ(fake.counts().sample_all, 1);
  ASSERT_EQ(samples.size(), 1u);
  const ResourceSample& a = samples.at(handles[0].id);
  EXPECT_EQ(a.cpu_millis, 250);
  EXPECT_EQ(a.memory_bytes, 4096);
  EXPECT_EQ(a.at, clock.Now());
  EXPECT_EQ(ReadAll(dir.File("a.log.1")), "a long line\n");

  ExitPoller poller(&clock, 500ms);  // not started: only the driver's WatchExit calls back
  int running_heard = 0;
  int exited_heard = 0;
  driver.WatchExit(
      handles[0], [&] { ++running_heard; }, poller);
  driver.WatchExit(
      handles[1], [&] { ++exited_heard; }, poller);
  EXPECT_EQ(fake.counts().watch_exit, 2);
  EXPECT_EQ(running_heard, 0);
  EXPECT_EQ(exited_heard, 1);  // it had exited: said at once
  EXPECT_EQ(poller.watching(), 1u);
}

}  // namespace
}  // namespace skiff::runtime
