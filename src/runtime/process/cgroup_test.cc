#include "runtime/process/cgroup.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace skiff::runtime::process
