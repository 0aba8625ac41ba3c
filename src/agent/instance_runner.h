// InstanceRunner: the one thread that owns one instance on this node. Every
// operation on the instance's task (start, inspect, stop, probe) happens on
// it, so two tasks never run for one instance and a slow stop of one instance
// never delays another. It converges the task towards the latest target the
// agent hands it, and reports what happens through the Reporter.
//
// Rules it follows:
// - desired run: start when nothing runs and the target's generation is newer
//   than the last one that ended here (a task that exited is restarted only
//   when the controller asks, by bumping the generation); a running task of an
//   older generation is stopped first.
// - desired stop: report stopping, stop with spec.stop_grace, report stopped.
//   With drain_until set (the instance may have had traffic), the task keeps
//   running, reported stopping ("draining"), until the control plane marks it
//   drained (no edge routes it or has requests in flight to it) or
//   drain_until passes, whichever comes first; only then the stop. An agent
//   restarted meanwhile picks the wait up from the same fields.
// - unassigned (deleted, moved): stop the task, then the runner finishes.
// - exit observed (Inspect every inspect_interval): report failed, or stopped
//   when the stop was wanted, with the exit code and message.
// - health: probes per spec.health through the Prober, decisions by HealthTracker.
//
// Thread-safety: SetTarget, Unassign, Snapshot, finished may be called from any
// thread; Start and Shutdown from the owner.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/health_tracker.h"
#include "agent/local_state.h"
#include "agent/port_allocator.h"
#include "agent/prober.h"
#include "agent/reporter.h"
#include "common/clock.h"
#include "model/resources.h"
#include "model/spec.h"
#include "runtime/driver.h"

namespace skiff::agent {

// What all runners of one agent share. Everything pointed to outlives them.
struct RunnerContext {
  std::string node_id;
  std::string host;      // node address instances bind
  std::string logs_dir;  // <data>/logs
  std::string apps_dir;  // <data>/apps: an app's default working directory is apps_dir/<app>
  std::map<std::string, runtime::Driver*> drivers;
  Reporter* reporter = nullptr;
  Prober* prober = nullptr;
  PortAllocator* ports = nullptr;
  LocalState* state = nullptr;
  const Clock* clock = nullptr;
  Duration inspect_interval = std::chrono::milliseconds(500);
};

// How long to wait before probing again an instance that has not passed its
// first health check yet, `since_start` after it started: a quarter of that
// (so probes thin out as start-up drags on), at least kMinStartupProbeDelay,
// at most the check's interval.
inline constexpr Duration kMinStartupProbeDelay = std::chrono::milliseconds(10);
Duration StartupProbeDelay(std::chrono::nanoseconds since_start, Duration interval);

class InstanceRunner {
 public:
  InstanceRunner(const RunnerContext* context, std::string instance_id);
  ~InstanceRunner();  // Shuts down.
  InstanceRunner(const InstanceRunner&) = delete;
  InstanceRunner& operator=(const InstanceRunner&) = delete;

  // Before Start: takes over a task an earlier agent left running.
  void Adopt(const LocalInstance& local, runtime::Driver* driver);
  // Before Start: the task of `generation` ended while no agent watched; it is
  // not started again for that generation.
  void MarkEnded(int64_t generation);

  void Start();
  // Ends the thread after the operation in progress (a stop may take up to its
  // grace). The task is left running: an agent stop never stops instances.
  void Shutdown();

  // The latest wish of the control plane for this instance. False when the
  // runner has already finished (the caller needs a new runner).
  bool SetTarget(const model::Instance& instance, const model::AppSpec& spec);
  // The instance is no longer this node's: stop its task, then finish.
  void Unassign();

  // True once unassigned and its task is gone: the thread has ended.
  bool finished() const;

  struct Running {
    runtime::Driver* driver = nullptr;
    runtime::TaskHandle handle;
    std::string log_path;
  };
  // The task now running, if any (for sampling and log rotation).
  std::optional<Running> Snapshot() const;

  const std::string& id() const { return id_; }

 private:
  struct Target {
    model::Instance instance;
    model::AppSpec spec;
  };
  // The task this runner owns. Touched by the runner thread only; mirrored
  // into running_ for Snapshot.
  struct Task {
    runtime::Driver* driver = nullptr;
    std::string driver_name;
    runtime::TaskHandle handle;
    int64_t generation = 0;
    int port = 0;
    Time started_at;
    bool reported_running = false;
    // Adopted from an earlier agent: confirm "running" to the control plane
    // once the first target arrives.
    bool adopted = false;
    bool said_draining = false;  // "stopping (draining)" was reported
  };

  void Loop();
  void Step(const std::optional<Target>& target, bool unassigned);
  void CheckTask(const std::optional<Target>& target);
  void StartTask(const Target& target);
  bool TryRecoverFromStore(const Target& target);
  // Whether a desired-stop instance still waits for the edges to drain it.
  bool Draining(const model::Instance& instance) const;
  // Stops the task; reports stopping/stopped when `report`.
  void StopTask(Duration grace, bool report);
  void Ended(const runtime::TaskStatus& status, bool wanted_stop);
  void ForgetTask();
  void ProbeIfDue(const Target& target);
  void Send(protocol::InstanceReport report);
  void SetTask(std::optional<Task> task);
  std::string LogPath() const;
  std::string Address(int port) const;

  const RunnerContext* const context_;
  const std::string id_;

  // Runner-thread state.
  std::optional<Task> task_;
  int64_t ended_generation_ = 0;  // the newest generation whose task ended here
  bool recover_tried_ = false;
  bool reported_stopped_ = false;  // for a desired-stop target that had no task
  std::optional<HealthTracker> health_;
  std::chrono::steady_clock::time_point next_probe_{};
  Time drain_until_{};  // while the task waits for a drain: its deadline

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Target> target_;    // GUARDED_BY(mu_)
  bool unassigned_ = false;         // GUARDED_BY(mu_)
  bool shutdown_ = false;           // GUARDED_BY(mu_)
  bool wake_ = false;               // GUARDED_BY(mu_)
  bool finished_ = false;           // GUARDED_BY(mu_)
  std::optional<Running> running_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace skiff::agent
