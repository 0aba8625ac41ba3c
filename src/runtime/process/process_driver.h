// ProcessDriver: runs an instance as a plain process on this machine.
//
// Each task is the leader of its own session and process group (setsid), so it
// outlives the agent and Stop can signal everything it started at once. Its
// stdout and stderr are appended to the task's log file. With a writable cgroup
// v2 hierarchy every task also gets its own cgroup with memory.max / cpu.max;
// without one no limit is applied, and Info() says so.
//
// Identity: a TaskHandle is "pid:<pid>:<start ticks>" (field 22 of
// /proc/<pid>/stat), so a restarted agent never mistakes a recycled pid for its
// task. Only processes this driver forked can be reaped, so only their exit
// codes are known; a recovered task that ends reports "exit status unknown".
//
// Exits are heard, not polled: every task's pidfd (pidfd_open, Linux >= 5.3)
// sits in one epoll set watched by one reaper thread, which reaps it, wakes a
// Stop waiting for it and calls the WatchExit callbacks. Where pidfd_open is
// missing, WatchExit falls back to the caller's ExitPoller and Stop looks at
// the stop_poll pace. Waits are measured on options.clock, so a ManualClock
// drives a stop's grace in tests.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "runtime/driver.h"
#include "runtime/process/cgroup.h"
#include "runtime/process/cgroup_v1.h"

namespace skiff::runtime::process {

struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_ticks = 0;
  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

// "pid:<pid>:<start ticks>".
std::string FormatProcessHandle(const ProcessIdentity& identity);
// The inverse of FormatProcessHandle. kInvalidArgument for anything else.
Result<ProcessIdentity> ParseProcessHandle(const std::string& handle_id);

struct ProcessDriverOptions {
  // A cgroup v2 directory the driver may create and own; each task gets a group
  // inside it. Empty: never use cgroups.
  std::string cgroup_parent = "/sys/fs/cgroup/skiff";
  // How often Stop looks whether the task has exited when it has no pidfd,
  // and whether stragglers of its group are gone after SIGKILL.
  Duration stop_poll = std::chrono::milliseconds(20);
  // How long Stop waits for the task to disappear after SIGKILL.
  Duration kill_wait = std::chrono::seconds(10);
  // Stamps started_at and samples, and measures Stop's waits; must outlive
  // the driver.
  const Clock* clock = SystemClock::Get();
  // The most pidfds held at once; past it, exits are found by looking (the
  // caller's ExitPoller), so a thousand tasks cannot use up the process's
  // file descriptors. 0: a quarter of the soft RLIMIT_NOFILE.
  int max_pidfds = 0;
  // Where /proc is: a task's cgroup v1 groups are found from it (tests give a
  // fake one).
  std::string proc_root = "/proc";
};

class ProcessDriver final : public Driver {
 public:
  // Probes the cgroup parent once, and starts the reaper thread, here.
  explicit ProcessDriver(ProcessDriverOptions options = {});
  // Stops the reaper; pending WatchExit callbacks are dropped. Leaves tasks
  // running: they belong to the node, not the agent.
  ~ProcessDriver() override;

  ProcessDriver(const ProcessDriver&) = delete;
  ProcessDriver& operator=(const ProcessDriver&) = delete;

  // Driver:

  DriverInfo Info() const override;

  // Runs config.run.command[0] (looked up in the task's PATH when it has no '/')
  // with exactly config.env (plus the agent's PATH when config.env has none), cwd
  // config.work_dir, stdin /dev/null, stdout+stderr appended to config.log_path
  // (its directories created). Returns after the exec succeeded.
  // kInvalidArgument for an image or an empty command; kFailedPrecondition
  // when the program cannot be found or is not one that can run (missing, not
  // executable, not a program: "python3: No such file or directory");
  // kUnavailable when the log or the work dir cannot be opened, fork fails or
  // exec fails for want of resources, with the reason.
  Result<TaskHandle> Start(const TaskConfig& config) override;

  Result<TaskHandle> Recover(const TaskHandle& handle) override;
  Result<TaskStatus> Inspect(const TaskHandle& handle) override;

  // SIGTERM to the task's process group, up to `grace` for the leader to exit,
  // then SIGKILL to the group (also when the leader left on its own, to take
  // stragglers with it). A live task this driver has not seen is adopted and
  // stopped. A handle that is not "pid:…" names no task: stopped (OK).
  // kDeadlineExceeded when the task survives SIGKILL for kill_wait (stuck in
  // the kernel).
  Status Stop(const TaskHandle& handle, Duration grace) override;

  // cpu: average since the previous Sample of this handle (the first one since
  // the task started); memory: the working set and limit of the task's cgroup
  // (v2: its own; v1: groups of its own, found through /proc/PID/cgroup), else
  // resident bytes of its whole process group, with no limit.
  Result<ResourceSample> Sample(const TaskHandle& handle) override;

  // Releasing a task calls its pending WatchExit callbacks.
  void Release(const TaskHandle& handle) override;

  // Hears of the exit through the task's pidfd (the caller's poller only
  // where pidfd_open is missing).
  void WatchExit(const TaskHandle& handle, std::function<void()> on_exit,
                 ExitPoller& poller) override;

  // As Sample for each, with one scan of /proc for all the tasks outside a
  // cgroup of ours (and two small reads per task in one).
  std::map<std::string, ResourceSample> SampleAll(const std::vector<TaskHandle>& handles) override;

 private:
  struct Task {
    ProcessIdentity id;
    pid_t pgid = 0;  // the group to signal; 0 when the process leads none
    bool is_child = false;
    Time started_at;
    std::string cgroup;  // empty when not in a cgroup of ours
    bool exited = false;
    std::optional<int> exit_code;
    std::string message;
    // Its cgroup v1 groups (measuring only), once looked up: a task outside
    // a v2 group of ours is looked up at its first sample.
    bool v1_looked = false;
    std::optional<CgroupV1Groups> v1_groups;
    bool sampled = false;
    MonoTime last_sample_at;
    int64_t last_cpu_usec = 0;
    int pidfd = -1;                              // in the reaper's epoll set while >= 0
    uint64_t key = 0;                            // its epoll key (by_key_)
    std::vector<std::function<void()>> on_exit;  // WatchExit callbacks not yet called
  };

  // Brings `task` up to date (reaps a child, looks at /proc otherwise), unless
  // its pidfd is watched and `heard` is false: then the reaper keeps it up to
  // date, and looking would cost a syscall per task per call. When it has
  // exited, its pidfd is closed and its callbacks move to due_.
  void RefreshLocked(Task& task, bool heard = false);  // REQUIRES: mu_ held
  // Puts a task just entered in tasks_ under its handle into the epoll set.
  void WatchPidLocked(Task& task);    // REQUIRES: mu_ held
  void ClosePidfdLocked(Task& task);  // REQUIRES: mu_ held
  // Calls the callbacks that fell due (without the lock).
  void RunDue();
  void ReaperLoop();
  // The reaper cannot listen any more: close every pidfd, so that tasks are
  // looked at again, and call the callbacks it held (their callers look).
  void ReaperDied();
  // How many pidfds may be open at once.
  int MaxPidfds() const;
  // cpu and memory of `task` from `cpu_usec` and `memory` measured now;
  // updates the task's last sample (by handle id).
  ResourceSample MakeSample(const std::string& handle_id, const Task& task,
                            const CgroupUsage& usage);
  // A task entry for a live process named by `handle`; kNotFound when gone.
  Result<Task> Adopt(const TaskHandle& handle) const;

  const ProcessDriverOptions options_;
  std::optional<CgroupParent> cgroups_;  // set when cgroup v2 is usable
  std::string cgroup_note_;              // why cgroups are or are not used
  // Without cgroup v2: finds the tasks' v1 groups to measure them (unset
  // without v1 cpuacct and memory hierarchies).
  std::optional<CgroupV1Finder> cgroups_v1_;

  // Both -1 unless the reaper thread runs: no pidfd is opened without one.
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd that ends the reaper
  std::thread reaper_;

  std::mutex mu_;
  std::condition_variable exited_cv_;       // notified when a task is found exited
  std::map<std::string, Task> tasks_;       // GUARDED_BY(mu_), by handle id
  std::map<uint64_t, std::string> by_key_;  // epoll key -> handle id; GUARDED_BY(mu_)
  uint64_t next_key_ = 1;                   // GUARDED_BY(mu_); 0 is wake_fd_
  std::vector<std::function<void()>> due_;  // callbacks to call; GUARDED_BY(mu_)
  bool stopping_ = false;                   // GUARDED_BY(mu_)
  // The reaper listens; false once it died (epoll_wait failed): every pidfd
  // is closed then, and tasks are looked at instead. Written under mu_;
  // atomic so that Info reads it without.
  std::atomic<bool> reaper_alive_ = false;
  int pidfds_ = 0;  // pidfds open; GUARDED_BY(mu_)
};

}  // namespace skiff::runtime::process
