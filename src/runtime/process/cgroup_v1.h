// Cgroup v1 (one hierarchy per controller), for measuring only: where the
// machine has no usable cgroup v2, ProcessDriver creates no groups and sets no
// limits, but a task that runs in a cpuacct and memory group of its own (one
// its starter made: a systemd unit, a wrapper) is measured from those groups,
// found through /proc/PID/cgroup. A task in the agent's own groups is not: the
// figures would be everything the agent's group holds.
//
// Everything reads below a root given to it (the /proc directory, and the
// mount points mountinfo names), so tests build a fake tree in a temp dir.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "runtime/process/cgroup.h"

namespace skiff::runtime::process {

// One mounted v1 hierarchy: which of its directories is mounted (`root`, "/"
// on a host, deeper in a container) and where.
struct CgroupV1Mount {
  std::string root;
  std::string mount_point;
  friend bool operator==(const CgroupV1Mount&, const CgroupV1Mount&) = default;
};

// The hierarchies a measurement needs.
struct CgroupV1Mounts {
  std::optional<CgroupV1Mount> cpuacct;
  std::optional<CgroupV1Mount> memory;
};

// The cpuacct and memory hierarchies among the cgroup (v1) mounts of a
// /proc/PID/mountinfo text (proc(5)); missing ones are unset.
CgroupV1Mounts ParseCgroupV1Mounts(std::string_view mountinfo);

// A process's groups in those hierarchies, paths from the hierarchy's root,
// from a /proc/PID/cgroup text ("4:memory:/a/b", "2:cpu,cpuacct:/a"); empty
// for a hierarchy it does not list.
struct CgroupV1Paths {
  std::string cpuacct;
  std::string memory;
  friend bool operator==(const CgroupV1Paths&, const CgroupV1Paths&) = default;
};
CgroupV1Paths ParseCgroupV1Paths(std::string_view proc_cgroup);

// Where the group `path` is: below the mount point, when the mount shows it
// (path at or under the mount's root); nullopt otherwise.
std::optional<std::string> CgroupV1Dir(const CgroupV1Mount& mount, const std::string& path);

// The directories of one task's groups.
struct CgroupV1Groups {
  std::string cpuacct_dir;
  std::string memory_dir;
  friend bool operator==(const CgroupV1Groups&, const CgroupV1Groups&) = default;
};

// Reads cpuacct.usage (ns), memory.usage_in_bytes, memory.stat
// total_inactive_file and memory.limit_in_bytes (0 for the kernel's "no
// limit"). kNotFound when a group is gone.
Result<CgroupUsage> ReadCgroupV1Usage(const CgroupV1Groups& groups);

// Finds the v1 groups of tasks. Thread-safe: immutable once made.
class CgroupV1Finder {
 public:
  // Reads `proc_root`/self/mountinfo and `proc_root`/self/cgroup. nullopt
  // when the machine mounts no v1 cpuacct or memory hierarchy.
  static std::optional<CgroupV1Finder> Detect(const std::string& proc_root = "/proc");

  // The groups of `pid` (`proc_root`/PID/cgroup) when they are its own: not
  // a hierarchy's root, nor the groups this process (the agent) is in.
  // nullopt otherwise, or when it is gone.
  std::optional<CgroupV1Groups> GroupsOf(pid_t pid) const;

 private:
  CgroupV1Finder(std::string proc_root, CgroupV1Mount cpuacct, CgroupV1Mount memory,
                 CgroupV1Paths own)
      : proc_root_(std::move(proc_root)),
        cpuacct_(std::move(cpuacct)),
        memory_(std::move(memory)),
        own_(std::move(own)) {}

  std::string proc_root_;
  CgroupV1Mount cpuacct_;
  CgroupV1Mount memory_;
  CgroupV1Paths own_;  // the agent's groups
};

}  // namespace skiff::runtime::process
