#include "runtime/process/cgroup_v1.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fakes/testing.h"

namespace skiff::runtime::process {
namespace {

void CgroupV1WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

// A mountinfo of a host with cgroup v1 (cpu and cpuacct co-mounted) and a v2
// hierarchy beside them, mounted at `base`.
std::string CgroupV1Mountinfo(const std::string& base, const std::string& memory_root = "/") {
  return "25 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
         "30 25 0:26 / " +
         base +
         "/unified rw,nosuid - cgroup2 cgroup2 rw\n"
         "31 25 0:27 / " +
         base +
         "/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
         "32 25 0:28 " +
         memory_root + " " + base +
         "/memory rw,nosuid shared:10 master:3 - cgroup cgroup rw,memory\n";
}

// Verify that mountinfo yields the cpuacct and memory hierarchies (co-mounted
// controllers, optional fields, a container's non-root mount) and not cgroup2.
TEST(CgroupV1Test, ParsesMounts) {
  CgroupV1Mounts mounts = ParseCgroupV1Mounts(CgroupV1Mountinfo("/sys/fs/cgroup", "/docker/abc"));
  ASSERT_TRUE(mounts.cpuacct);
  EXPECT_EQ(*mounts.cpuacct, (CgroupV1Mount{"/", "/sys/fs/cgroup/cpu,cpuacct"}));
  ASSERT_TRUE(mounts.memory);
  EXPECT_EQ(*mounts.memory, (CgroupV1Mount{"/docker/abc", "/sys/fs/cgroup/memory"}));
  CgroupV1Mounts none =
      ParseCgroupV1Mounts("30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  EXPECT_FALSE(none.cpuacct);
  EXPECT_FALSE(none.memory);
}

// Verify that /proc/PID/cgroup yields the groups of both hierarchies, and that
// a path maps below a mount only when the mount shows it.
TEST(CgroupV1Test, ParsesPathsAndMapsThemToDirectories) {
  CgroupV1Paths paths =
      ParseCgroupV1Paths("12:pids:/x\n4:memory:/skiff/web-1\n2:cpu,cpuacct:/skiff/web-1\n0::/\n");
  EXPECT_EQ(paths, (CgroupV1Paths{"/skiff/web-1", "/skiff/web-1"}));
  EXPECT_EQ(ParseCgroupV1Paths("0::/a\n"), CgroupV1Paths{});

  EXPECT_EQ(CgroupV1Dir({"/", "/m"}, "/skiff/web-1"), "/m/skiff/web-1");
  EXPECT_EQ(CgroupV1Dir({"/", "/m"}, "/"), "/m");
  EXPECT_EQ(CgroupV1Dir({"/docker/abc", "/m"}, "/docker/abc/t"), "/m/t");
  EXPECT_EQ(CgroupV1Dir({"/docker/abc", "/m"}, "/docker/abc"), "/m");
  EXPECT_EQ(CgroupV1Dir({"/docker/abc", "/m"}, "/docker/abcd/t"), std::nullopt);
  EXPECT_EQ(CgroupV1Dir({"/docker/abc", "/m"}, "/other"), std::nullopt);
}

// Verify that a v1 group's usage is its cpuacct.usage in microseconds, its
// working set (usage minus total_inactive_file) and its limit, the kernel's
// "no limit" read as 0; a group gone is kNotFound.
TEST(CgroupV1Test, ReadsUsage) {
  testing::TempDir dir;
  CgroupV1Groups groups{dir.File("cpuacct/t"), dir.File("memory/t")};
  CgroupV1WriteFile(groups.cpuacct_dir + "/cpuacct.usage", "2500000000\n");
  CgroupV1WriteFile(groups.memory_dir + "/memory.usage_in_bytes", "10485760\n");
  CgroupV1WriteFile(groups.memory_dir + "/memory.stat",
                    "cache 4194304\nrss 6291456\ninactive_file 1\ntotal_cache 4194304\n"
                    "total_inactive_file 3145728\n");
  CgroupV1WriteFile(groups.memory_dir + "/memory.limit_in_bytes", "134217728\n");
  auto usage = ReadCgroupV1Usage(groups);
  ASSERT_TRUE(usage) << usage.error().ToString();
  EXPECT_EQ(usage->cpu_usec, 2'500'000);
  EXPECT_EQ(usage->memory_bytes, 10485760 - 3145728);
  EXPECT_EQ(usage->memory_limit_bytes, 134217728);

  CgroupV1WriteFile(groups.memory_dir + "/memory.limit_in_bytes", "9223372036854771712\n");
  usage = ReadCgroupV1Usage(groups);
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->memory_limit_bytes, 0);

  auto gone = ReadCgroupV1Usage({dir.File("nope"), dir.File("nope")});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

// Verify that the finder, on a fake /proc and cgroup tree, finds a task's own
// groups, and refuses the agent's groups, a hierarchy's root and a pid gone.
TEST(CgroupV1Test, FinderFindsOnlyATasksOwnGroups) {
  testing::TempDir dir;
  const std::string proc = dir.File("proc");
  CgroupV1WriteFile(proc + "/self/mountinfo", CgroupV1Mountinfo(dir.File("cg")));
  CgroupV1WriteFile(proc + "/self/cgroup", "4:memory:/agent\n2:cpu,cpuacct:/agent\n");
  CgroupV1WriteFile(proc + "/100/cgroup", "4:memory:/skiff/t1\n2:cpu,cpuacct:/skiff/t1\n");
  CgroupV1WriteFile(proc + "/101/cgroup", "4:memory:/agent\n2:cpu,cpuacct:/agent\n");
  CgroupV1WriteFile(proc + "/102/cgroup", "4:memory:/\n2:cpu,cpuacct:/\n");
  auto finder = CgroupV1Finder::Detect(proc);
  ASSERT_TRUE(finder);
  EXPECT_EQ(finder->GroupsOf(100),
            (CgroupV1Groups{dir.File("cg/cpu,cpuacct/skiff/t1"), dir.File("cg/memory/skiff/t1")}));
  EXPECT_EQ(finder->GroupsOf(101), std::nullopt);
  EXPECT_EQ(finder->GroupsOf(102), std::nullopt);
  EXPECT_EQ(finder->GroupsOf(103), std::nullopt);

  testing::TempDir v2_only;
  CgroupV1WriteFile(v2_only.File("proc/self/mountinfo"),
                    "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  EXPECT_FALSE(CgroupV1Finder::Detect(v2_only.File("proc")));
}

}  // namespace
}  // namespace skiff::runtime::process
