// FakeDriver: a runtime::Driver whose tasks "run" in memory, scriptable from
// tests the way Nomad's mock driver is: make a task exit with a code, make
// Start fail for one instance or for all, make Stop take a while, set the
// samples it returns. It counts every call and remembers every config it was
// asked to start, so tests assert on what an agent did to the machine.
//
// It keeps the Driver contract as the real drivers do (the contract suite,
// test/integration/driver_contract_test.cc, runs it beside them): named
// "docker" it runs only images and builds, otherwise only commands, refusing
// the rest with kInvalidArgument; a started task's log file exists; exits are
// worded by ExitMessage; a released task is forgotten everywhere (Inspect,
// Sample, Recover: kNotFound; Stop: gone; no longer running nor an orphan).
// What differs by design: an exited task cannot be recovered (as a process),
// resource limits are not enforced (Info's notes say so), Sample returns what
// SetSample told it, and exits are found by the caller's ExitPoller
// (hears_exits is false).
//
// Thread-safety: every method may be called from any thread. Stop blocks for
// the scripted stop delay (bounded by the grace it is given) without holding
// the driver's lock, so other calls proceed meanwhile.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "runtime/driver.h"

namespace skiff::runtime {

class FakeDriver final : public Driver {
 public:
  // `clock` stamps started_at and samples; it must outlive the driver.
  explicit FakeDriver(std::string name = "process", const Clock* clock = SystemClock::Get());
  ~FakeDriver() override;

  // Driver:
  DriverInfo Info() const override;
  Result<TaskHandle> Start(const TaskConfig& config) override;
  Result<TaskHandle> Recover(const TaskHandle& handle) override;
  Result<TaskStatus> Inspect(const TaskHandle& handle) override;
  Status Stop(const TaskHandle& handle, Duration grace) override;
  Result<ResourceSample> Sample(const TaskHandle& handle) override;
  void Release(const TaskHandle& handle) override;
  // Counted, then the default's: exits are found by `poller`.
  void WatchExit(const TaskHandle& handle, std::function<void()> on_exit,
                 ExitPoller& poller) override;
  // Counted, then the default's: Sample for each.
  std::map<std::string, ResourceSample> SampleAll(const std::vector<TaskHandle>& handles) override;
  // Removes the running tasks started with config.node_id == `node_id` whose
  // instance is not kept, as the docker driver does.
  Result<int> RemoveOrphans(const std::string& node_id, const std::set<std::string>& keep) override;

  // --- Scripting ---

  // The running task of `instance_id` exits with `code` (message as the real
  // drivers word it, ExitMessage, when empty). Returns false when the instance
  // has no running task.
  bool Exit(const std::string& instance_id, int code, std::string message = {});
  // The running task of `instance_id` writes `text` to its log (config.log_path).
  // Returns false when the instance has no running task.
  bool Print(const std::string& instance_id, std::string_view text);
  // The code a task exits with when it obeys Stop's SIGTERM within the grace.
  // Default 143 (killed by signal 15: a program without a handler); 0 is what
  // a program that catches SIGTERM and exits cleanly reports.
  void SetTermExitCode(int code);
  // The task of `instance_id` vanishes as if its process died while no agent
  // watched it: Recover and Inspect answer kNotFound from now on.
  bool Vanish(const std::string& instance_id);
  // Every later Start of `instance_id` fails with `error`, until cleared with
  // std::nullopt.
  void FailStart(const std::string& instance_id, std::optional<Error> error);
  // Every later Recover fails with `error` (an engine that does not answer),
  // until cleared with std::nullopt.
  void FailRecover(std::optional<Error> error);
  // Every later Start fails with `error`, until cleared with std::nullopt.
  void FailAllStarts(std::optional<Error> error);
  // A stopped task takes `delay` to exit after SIGTERM (so Stop blocks for
  // min(delay, grace)). Default 0.
  void SetStopDelay(Duration delay);
  // Sets the stop delay to 0 and lets every Stop that is blocked return now.
  void ReleaseStops();
  // What Sample returns for the task of `instance_id` (default: zeros).
  void SetSample(const std::string& instance_id, ResourceSample sample);

  // --- Inspection ---

  struct StopCall {
    TaskHandle handle;
    std::string instance_id;
    Duration grace{0};
  };
  struct Counts {
    int start = 0;
    int recover = 0;
    int inspect = 0;
    int stop = 0;
    int sample = 0;
    int release = 0;
    int remove_orphans = 0;
    int watch_exit = 0;
    int sample_all = 0;
  };
  Counts counts() const;
  // Every config Start was called with (including failed starts), in order.
  std::vector<TaskConfig> started() const;
  std::vector<StopCall> stops() const;
  // Whether `instance_id` has a task that is running now.
  bool IsRunning(const std::string& instance_id) const;
  // How many tasks are running now.
  int RunningCount() const;
  // The handle of the latest task of `instance_id`, if any.
  std::optional<TaskHandle> HandleOf(const std::string& instance_id) const;

 private:
  struct Task {
    TaskConfig config;
    bool running = true;
    bool vanished = false;
    bool released = false;
    std::optional<int> exit_code;
    std::string message;
    Time started_at;
  };

  Task* FindLocked(const std::string& handle_id);
  const Task* LatestLocked(const std::string& instance_id) const;

  const std::string name_;
  const Clock* const clock_;

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  int64_t next_task_ = 1;                          // GUARDED_BY(mu_)
  std::map<std::string, Task> tasks_;              // handle id -> task; GUARDED_BY(mu_)
  std::map<std::string, std::string> latest_;      // instance id -> handle id; GUARDED_BY(mu_)
  std::map<std::string, Error> fail_start_;        // GUARDED_BY(mu_)
  std::optional<Error> fail_all_starts_;           // GUARDED_BY(mu_)
  std::optional<Error> fail_recover_;              // GUARDED_BY(mu_)
  std::map<std::string, ResourceSample> samples_;  // GUARDED_BY(mu_)
  Duration stop_delay_{0};                         // GUARDED_BY(mu_)
  int term_exit_code_ = 128 + 15;                  // GUARDED_BY(mu_)
  Counts counts_;                                  // GUARDED_BY(mu_)
  std::vector<TaskConfig> started_;                // GUARDED_BY(mu_)
  std::vector<StopCall> stops_;                    // GUARDED_BY(mu_)
};

}  // namespace skiff::runtime
