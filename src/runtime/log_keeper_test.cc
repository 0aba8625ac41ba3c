#include "runtime/log_keeper.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "fakes/testing.h"
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

}  // namespace
}  // namespace skiff::runtime
