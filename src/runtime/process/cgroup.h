// Cgroup v2 support for ProcessDriver: one cgroup per task under a parent the
// driver owns, carrying memory.max and cpu.max. Only cgroup v2 is supported; on
// a v1-only or read-only hierarchy Probe says why and limits are not applied.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "model/spec.h"

namespace skiff::runtime::process {

// The value for cpu.max: "<quota_us> <period_us>" for `cpu_millis` millicores,
// or "max 100000" for 0 (no limit).
std::string CpuMaxValue(int64_t cpu_millis);

// The value for memory.max: the byte count, or "max" for 0 (no limit).
std::string MemoryMaxValue(int64_t memory_bytes);

struct CgroupUsage {
  int64_t cpu_usec = 0;      // cpu.stat usage_usec: cumulative
  int64_t memory_bytes = 0;  // memory.current
};

// A cgroup v2 directory (e.g. /sys/fs/cgroup/skiff) under which tasks get their
// own groups. Thread-safe: it holds only immutable paths.
class CgroupParent {
 public:
  // Checks that `parent_dir`'s parent is a cgroup v2 directory offering the cpu
  // and memory controllers, creates `parent_dir` and enables both controllers
  // for its children. kFailedPrecondition with the reason when any step fails
  // (no cgroup v2, controller missing, not writable).
  static Result<CgroupParent> Probe(const std::string& parent_dir);

  const std::string& dir() const { return dir_; }

  // Creates (or reuses, if left over) the group `name` with the given limits
  // and returns its directory. kUnavailable when the kernel refuses.
  Result<std::string> CreateTaskGroup(const std::string& name,
                                      const model::Resources& limits) const;

  // The directory of the group a pid is in, when it is one of ours; nullopt otherwise.
  std::optional<std::string> GroupOf(pid_t pid) const;

 private:
  explicit CgroupParent(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// Reads cpu.stat and memory.current of a group. kNotFound when it is gone.
Result<CgroupUsage> ReadCgroupUsage(const std::string& group_dir);

// Removes an empty group; best effort (a group with processes stays).
void RemoveCgroup(const std::string& group_dir);

}  // namespace skiff::runtime::process
