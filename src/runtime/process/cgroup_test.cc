#include "runtime/process/cgroup.h"

#include <gtest/gtest.h>

#include <fstream>

#include "fakes/testing.h"

namespace skiff::runtime::process {
namespace {

// Verify that millicores become a quota per 100ms period, with the kernel's floor.
TEST(CgroupValuesTest, CpuMax) {
  EXPECT_EQ(CpuMaxValue(0), "max 100000");
  EXPECT_EQ(CpuMaxValue(250), "25000 100000");
  EXPECT_EQ(CpuMaxValue(2000), "200000 100000");
  EXPECT_EQ(CpuMaxValue(1), "1000 100000");
}

// Verify that memory limits are written as bytes, or "max" for none.
TEST(CgroupValuesTest, MemoryMax) {
  EXPECT_EQ(MemoryMaxValue(0), "max");
  EXPECT_EQ(MemoryMaxValue(128 * 1024 * 1024), "134217728");
}

// Verify that a directory that is not a cgroup v2 hierarchy is refused with
// kFailedPrecondition rather than silently accepted.
TEST(CgroupParentTest, ProbeRefusesNonCgroupDirectory) {
  testing::TempDir dir;
  auto parent = CgroupParent::Probe(dir.File("skiff"));
  ASSERT_FALSE(parent.has_value());
  EXPECT_EQ(parent.error().code, ErrorCode::kFailedPrecondition);
}

// Verify that usage of a missing group is kNotFound.
TEST(CgroupParentTest, UsageOfMissingGroupIsNotFound) {
  testing::TempDir dir;
  auto usage = ReadCgroupUsage(dir.File("gone"));
  ASSERT_FALSE(usage.has_value());
  EXPECT_EQ(usage.error().code, ErrorCode::kNotFound);
}

// Verify that a v2 group's usage is cpu.stat usage_usec, the working set
// (memory.current minus memory.stat inactive_file) and memory.max, "max"
// read as 0 (no limit).
TEST(CgroupParentTest, ReadsUsageOfAFakeGroup) {
  testing::TempDir dir;
  auto put = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.File(name)) << text;
  };
  put("cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
  put("memory.current", "20971520\n");
  put("memory.stat", "anon 8388608\nfile 12582912\nactive_file 4194304\ninactive_file 8388608\n");
  put("memory.max", "67108864\n");
  auto usage = ReadCgroupUsage(dir.path());
  ASSERT_TRUE(usage) << usage.error().ToString();
  EXPECT_EQ(usage->cpu_usec, 1'500'000);
  EXPECT_EQ(usage->memory_bytes, 20971520 - 8388608);
  EXPECT_EQ(usage->memory_limit_bytes, 67108864);
  put("memory.max", "max\n");
  usage = ReadCgroupUsage(dir.path());
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->memory_limit_bytes, 0);
}

// Verify that flat-keyed values are found by whole key only, and limits parse.
TEST(CgroupValuesTest, KeyedValueAndLimit) {
  EXPECT_EQ(KeyedValue("active_file 5\ninactive_file 7\n", "inactive_file"), 7);
  EXPECT_EQ(KeyedValue("total_inactive_file 9\n", "inactive_file"), 0);
  EXPECT_EQ(KeyedValue("", "x"), 0);
  EXPECT_EQ(ParseLimit("max\n"), 0);
  EXPECT_EQ(ParseLimit("4096\n"), 4096);
  EXPECT_EQ(ParseLimit("9223372036854771712\n"), 0);
  EXPECT_EQ(ParseLimit("junk"), 0);
}

}  // namespace
}  // namespace skiff::runtime::process
