// Cgroup v2 support for ProcessDriver: one cgroup per task under a parent the
// driver owns, carrying memory.max and cpu.max. Only cgroup v2 is supported; on
// a v1-only or read-only hierarchy Probe says why and limits are not applied.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "model/spec.h"

namespace skiff::runtime::process {

// The value for cpu.max: "<quota_us> <period_us>" for `cpu_millis` millicores,
// or "max 100000" for 0 (no limit).
std::string CpuMaxValue(int64_t cpu_millis);

// The value for memory.max: the byte count, or "max" for 0 (no limit).
std::string MemoryMaxValue(int64_t memory_bytes);

// What a task's cgroup (v2 here, v1 in cgroup_v1.h) says of its use.
struct CgroupUsage {
  int64_t cpu_usec = 0;  // cumulative cpu time (v2 cpu.stat usage_usec)
  // The working set: usage minus inactive file pages, the page cache the
  // kernel reclaims first (v2 memory.current - memory.stat inactive_file).
  int64_t memory_bytes = 0;
  int64_t memory_limit_bytes = 0;  // memory.max; 0 for "max" (none)
};

// The contents of a small control file (a cgroup's, /proc's), read with one
// open and read: sampling reads several per task per second, and a stream's
// set-up would cost more than the read. nullopt when it cannot be read.
std::optional<std::string> ReadControlFile(const std::string& path);

// The value of `key` in a flat-keyed file ("key value" lines: cpu.stat,
// memory.stat); 0 when absent.
int64_t KeyedValue(std::string_view text, std::string_view key);

// A limit as cgroups write it: "max" (v2) or a figure at or past the kernel's
// "no limit" (v1 writes PAGE_COUNTER_MAX pages, about 2^63) read as 0.
int64_t ParseLimit(std::string_view text);

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

// Reads cpu.stat, memory.current, memory.stat and memory.max of a v2 group.
// kNotFound when it is gone.
Result<CgroupUsage> ReadCgroupUsage(const std::string& group_dir);

// Removes an empty group; best effort (a group with processes stays).
void RemoveCgroup(const std::string& group_dir);

}  // namespace skiff::runtime::process
