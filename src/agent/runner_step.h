// The decisions of one instance's runner, as pure functions over values: the
// runner's state, what the control plane wants (the target), what was
// observed (an exit, a driver call's result, a probe's) and the time go in; a
// new state, the reports to send and the one driver action to carry out next
// come out. InstanceRunner only carries the actions out and feeds their
// results back, so every rule below is tested with tables of cases
// (runner_step_test.cc), the way the reconciler is.
//
// Rules:
// - desired run: start when nothing runs and the target's generation is newer
//   than the last one that ended here (a task that exited is restarted only
//   when the controller asks, by bumping the generation); a running task of an
//   older generation is stopped first. With no local record, a handle the
//   control plane stored is recovered once instead of starting a second task.
// - desired stop: report stopping, stop with spec.stop_grace, report stopped.
//   With drain_until set (the instance may have had traffic), the task keeps
//   running, reported stopping ("draining"), until the control plane marks it
//   drained or drain_until passes, whichever comes first; only then the stop.
// - unassigned (deleted, moved): stop the task, then the runner finishes.
// - exit observed (the driver's exit watch fired, then Inspect): report
//   failed, or stopped when the stop was wanted, with the exit code and message.
// - health: probes per spec.health, decided by HealthTracker; without a check,
//   staying up for update.min_healthy_time is what healthy means, and once
//   healthy nothing is left to look at (no periodic work for an idle task).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/health_tracker.h"
#include "agent/prober.h"
#include "common/clock.h"
#include "common/result.h"
#include "model/spec.h"
#include "protocol/node.h"
#include "runtime/driver.h"

namespace skiff::agent {

// How long to wait before probing again an instance that has not passed its
// first health check yet, `since_start` after it started: a quarter of that
// (so probes thin out as start-up drags on), at least kMinStartupProbeDelay,
// at most the check's interval.
inline constexpr Duration kMinStartupProbeDelay = std::chrono::milliseconds(10);
Duration StartupProbeDelay(std::chrono::nanoseconds since_start, Duration interval);

// After a driver call that failed for a reason that may pass (an Inspect or a
// Stop that errs), the runner tries again this much later.
inline constexpr Duration kRetryDelay = std::chrono::milliseconds(500);

// The grace for stopping a task whose spec this agent never saw (adopted and
// then unassigned before any assignment arrived): the spec default.
inline const Duration kDefaultGrace = model::AppSpec{}.stop_grace;

struct RunnerTarget {
  model::Instance instance;
  model::AppSpec spec;
  // The values of the secrets `spec` names (protocol::Assignments::secrets).
  std::map<std::string, std::string> secrets;
};

// The task the runner owns.
struct RunnerTask {
  std::string driver;  // "process", "docker"
  std::string handle;  // runtime::TaskHandle::id
  int64_t generation = 0;
  int port = 0;
  Time started_at;
  bool reported_running = false;
  // Adopted from an earlier agent: confirm "running" to the control plane
  // once the first target arrives.
  bool adopted = false;
  bool said_draining = false;  // "stopping (draining)" was reported
  // Look at it (Inspect) before anything else: just started, adopted, or its
  // exit watch fired. Not before `check_at` (a failed Inspect is retried).
  bool check = true;
  MonoTime check_at{};
  // The last Inspect erred (not "gone"): only a start's or a probe's path
  // waits for a good one; a stop goes ahead (an engine that cannot inspect
  // one container must not keep a deleted app's task alive).
  bool inspect_failed = false;
};

struct RunnerState {
  std::string instance_id;
  std::string host;  // the node address instances bind: reports say host:port
  std::optional<RunnerTask> task;
  int64_t ended_generation = 0;  // the newest generation whose task ended here
  bool recover_tried = false;
  bool reported_stopped = false;  // for a desired-stop target that had no task
  std::optional<HealthTracker> health;
  MonoTime next_probe{};  // max(): nothing to probe
  MonoTime stop_retry_at{};
};

// What the runner is told: the latest target (none yet for an adopted task),
// whether the instance left the node, and the time.
struct RunnerInput {
  const std::optional<RunnerTarget>& target;
  bool unassigned = false;
  Time now;
  MonoTime mono;
};

struct RunnerAction {
  enum class Kind {
    kWait,     // nothing to do until wake_at (or a new target, or an exit)
    kInspect,  // Inspect the task; then OnInspected
    kRecover,  // Recover target.instance.handle with `driver`; then OnRecovered
    kStart,    // allocate a port and Start the target with `driver`; then OnStarted
    kStop,     // Stop the task with `grace`; then OnStopped
    kProbe,    // probe the task per target.spec.health; then OnProbed
    kFinish,   // unassigned and nothing runs: the runner is done
  };
  Kind kind = Kind::kWait;
  MonoTime wake_at = MonoTime::max();  // kWait
  std::string driver;                  // kRecover, kStart
  int64_t generation = 0;              // kRecover: the generation the handle runs
  Duration grace{0};                   // kStop
  bool report = false;                 // kStop: say stopping and stopped
};

// Reports to send (in order, before the action), and the action.
struct RunnerDecision {
  std::vector<protocol::InstanceReport> reports;
  RunnerAction action;
};

// The next action for `state` given `in`. Updates `state` (what was said).
// The caller carries the action out and calls the matching On* function,
// then decides again, until kWait or kFinish.
RunnerDecision DecideRunner(RunnerState& state, const RunnerInput& in);

// What came of the driver calls. Each updates `state` and appends the reports
// it makes to `reports`. A task that leaves `state` (ended, stopped) is the
// caller's to release (driver, port, local record).
void OnInspected(RunnerState& state, const RunnerInput& in,
                 const Result<runtime::TaskStatus>& status,
                 std::vector<protocol::InstanceReport>* reports);

// `handle` (or why there is none) for the task started with `action.driver`
// on `port` (0 when none could be allocated).
void OnStarted(RunnerState& state, const RunnerInput& in, const RunnerAction& action,
               const Result<std::string>& handle, int port,
               std::vector<protocol::InstanceReport>* reports);

void OnRecovered(RunnerState& state, const RunnerInput& in, const RunnerAction& action,
                 const Result<std::string>& handle, std::vector<protocol::InstanceReport>* reports);

// `stopped`: what Stop said; `after`: what Inspect said after it.
void OnStopped(RunnerState& state, const RunnerInput& in, const RunnerAction& action,
               const Status& stopped, const Result<runtime::TaskStatus>& after,
               std::vector<protocol::InstanceReport>* reports);

void OnProbed(RunnerState& state, const RunnerInput& in, const ProbeResult& result,
              std::vector<protocol::InstanceReport>* reports);

// The task's exit watch fired: look at it.
void OnExitSignal(RunnerState& state);

}  // namespace skiff::agent
