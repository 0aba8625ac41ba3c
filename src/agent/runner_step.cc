#include "agent/runner_step.h"

#include <algorithm>

#include "agent/task_config.h"

namespace skiff::agent {
namespace {

using model::InstanceState;
using protocol::InstanceReport;

bool MayBeAlive(InstanceState s) {
  return s == InstanceState::kStarting || s == InstanceState::kRunning ||
         s == InstanceState::kStopping;
}

std::string Address(const RunnerState& state, int port) {
  return state.host + ":" + std::to_string(port);
}

InstanceReport Report(const RunnerState& state, int64_t generation) {
  return InstanceReport{.instance_id = state.instance_id, .generation = generation};
}

// Whether a desired-stop instance still waits for the edges to drain it.
bool Draining(const model::Instance& instance, Time now) {
  return instance.drain_until != Time{} && !instance.drained && now < instance.drain_until;
}

// The monotonic moment of the wall-clock time `at`.
MonoTime MonoOf(const RunnerInput& in, Time at) {
  return in.mono + std::max<std::chrono::nanoseconds>(at - in.now, std::chrono::nanoseconds(0));
}

// The task ended (exit seen, or stopped as wanted): it leaves the state.
void Ended(RunnerState& state, const RunnerInput& in, const runtime::TaskStatus& status,
           bool wanted_stop, std::vector<InstanceReport>* reports) {
  const int64_t generation = state.task->generation;
  state.ended_generation = std::max(state.ended_generation, generation);
  std::string message = status.message;
  if (message.empty()) {
    message = status.exit_code ? "exited with " + std::to_string(*status.exit_code)
                               : "exit status unknown";
  }
  state.task.reset();
  state.health.reset();
  // The stop is said once; a stale target must not make it said again.
  if (wanted_stop) state.reported_stopped = true;
  InstanceReport report = Report(state, generation);
  report.state = wanted_stop ? InstanceState::kStopped : InstanceState::kFailed;
  report.last_exit = status.exit_code;
  report.message = message;
  report.finished_at = in.now;
  reports->push_back(std::move(report));
}

bool WantsStop(const RunnerInput& in) {
  return in.target && in.target->instance.desired == model::DesiredState::kStop;
}

// Whether the task is to be stopped now: unassigned, desired stop with no
// drain left, or an older generation than the target's.
bool StopWanted(const RunnerState& state, const RunnerInput& in) {
  if (in.unassigned) return true;
  if (!in.target || !state.task) return false;
  const model::Instance& instance = in.target->instance;
  if (instance.desired == model::DesiredState::kStop) return !Draining(instance, in.now);
  return state.task->generation < instance.generation;
}

RunnerAction Wait(MonoTime at) {
  return RunnerAction{.kind = RunnerAction::Kind::kWait, .wake_at = at};
}

RunnerAction Stop(RunnerState& state, const RunnerInput& in, Duration grace, bool report) {
  if (in.mono < state.stop_retry_at) return Wait(state.stop_retry_at);
  return RunnerAction{.kind = RunnerAction::Kind::kStop, .grace = grace, .report = report};
}

// The probe step of a running task: a probe to make, or when to look again.
RunnerAction ProbeOrWait(RunnerState& state, const RunnerInput& in,
                         std::vector<InstanceReport>* reports) {
  RunnerTask& task = *state.task;
  if (!task.reported_running) return Wait(MonoTime::max());
  const model::HealthCheck& check = in.target->spec.health;
  if (!state.health) state.health.emplace(check, task.started_at);
  if (in.mono < state.next_probe) return Wait(state.next_probe);
  if (check.type != model::HealthType::kNone) {
    return RunnerAction{.kind = RunnerAction::Kind::kProbe};
  }
  // Without a check, staying up for update.min_healthy_time is what healthy
  // means: a process that dies at once must not pass (nor end a crash loop).
  const Duration min_healthy = in.target->spec.update.min_healthy_time;
  const auto up = in.now - task.started_at;
  if (up < min_healthy) {
    state.next_probe = in.mono + (min_healthy - up);
    return Wait(state.next_probe);
  }
  OnProbed(state, in, ProbeResult{true, "running (no health check)"}, reports);
  return Wait(state.next_probe);
}

}  // namespace

Duration StartupProbeDelay(std::chrono::nanoseconds since_start, Duration interval) {
  const auto quarter = std::chrono::duration_cast<Duration>(since_start) / 4;
  return std::clamp(quarter, std::min(kMinStartupProbeDelay, interval), interval);
}

RunnerDecision DecideRunner(RunnerState& state, const RunnerInput& in) {
  RunnerDecision out;
  auto* reports = &out.reports;
  if (state.task && state.task->check && !(state.task->inspect_failed && StopWanted(state, in))) {
    if (in.mono < state.task->check_at) {
      out.action = Wait(state.task->check_at);
      return out;
    }
    out.action = RunnerAction{.kind = RunnerAction::Kind::kInspect};
    return out;
  }
  if (in.unassigned) {
    if (state.task) {
      out.action = Stop(state, in, in.target ? in.target->spec.stop_grace : kDefaultGrace, true);
    } else {
      out.action = RunnerAction{.kind = RunnerAction::Kind::kFinish};
    }
    return out;
  }
  // An adopted task waits for the first assignment list to learn its fate.
  if (!in.target) {
    out.action = Wait(MonoTime::max());
    return out;
  }
  const model::Instance& instance = in.target->instance;

  if (instance.desired == model::DesiredState::kStop) {
    if (state.task && Draining(instance, in.now)) {
      // The edges are still letting its requests finish: keep it serving them
      // until they are done (drained) or the drain timeout runs out. No
      // probes meanwhile.
      if (!state.task->said_draining) {
        state.task->said_draining = true;
        InstanceReport report = Report(state, state.task->generation);
        report.state = InstanceState::kStopping;
        report.message = "draining: requests in flight finish first";
        reports->push_back(std::move(report));
      }
      out.action = Wait(MonoOf(in, instance.drain_until));
      return out;
    }
    if (state.task) {
      out.action = Stop(state, in, in.target->spec.stop_grace, true);
      return out;
    }
    if (!state.reported_stopped &&
        (MayBeAlive(instance.state) || instance.state == InstanceState::kPending)) {
      // Nothing runs here, but the control plane still thinks something might.
      state.reported_stopped = true;
      InstanceReport report = Report(state, instance.generation);
      report.state = InstanceState::kStopped;
      report.message = "stopped";
      report.finished_at = in.now;
      reports->push_back(std::move(report));
    }
    out.action = Wait(MonoTime::max());
    return out;
  }
  state.reported_stopped = false;
  if (state.task && state.task->said_draining && state.task->generation == instance.generation) {
    // Wanted again in the middle of its drain: it never stopped serving.
    state.task->said_draining = false;
    InstanceReport report = Report(state, state.task->generation);
    report.state = InstanceState::kRunning;
    report.message = "";
    reports->push_back(std::move(report));
  }
  if (state.task && state.task->generation < instance.generation) {
    // A fresh start was asked for: the old task goes first, never two at once.
    out.action = Stop(state, in, in.target->spec.stop_grace, false);
    return out;
  }
  if (!state.task && instance.generation > state.ended_generation) {
    const std::string driver = DriverNameFor(in.target->spec.run);
    // With no local record (a wiped data dir) the stored handle is the last
    // word on what may still run; adopting it avoids a second task.
    if (!state.recover_tried && !instance.handle.empty() && MayBeAlive(instance.state)) {
      state.recover_tried = true;
      out.action =
          RunnerAction{.kind = RunnerAction::Kind::kRecover,
                       .driver = driver,
                       .generation = instance.running_generation > 0 ? instance.running_generation
                                                                     : instance.generation};
      return out;
    }
    out.action = RunnerAction{.kind = RunnerAction::Kind::kStart, .driver = driver};
    return out;
  }
  if (state.task && state.task->adopted && state.task->generation == instance.generation) {
    state.task->adopted = false;
    if (instance.state != InstanceState::kRunning) {
      InstanceReport report = Report(state, state.task->generation);
      report.state = InstanceState::kRunning;
      report.address = Address(state, state.task->port);
      report.port = state.task->port;
      report.handle = state.task->handle;
      report.started_at = state.task->started_at;
      reports->push_back(std::move(report));
    }
  }
  if (!state.task) {
    out.action = Wait(MonoTime::max());
    return out;
  }
  out.action = ProbeOrWait(state, in, reports);
  return out;
}

void OnInspected(RunnerState& state, const RunnerInput& in,
                 const Result<runtime::TaskStatus>& status, std::vector<InstanceReport>* reports) {
  if (!state.task) return;
  RunnerTask& task = *state.task;
  if (!status) {
    if (status.error().code != ErrorCode::kNotFound) {
      task.check_at = in.mono + kRetryDelay;  // transient; ask again later
      task.inspect_failed = true;
      return;
    }
    runtime::TaskStatus gone;
    gone.message = "task is gone: " + status.error().message;
    Ended(state, in, gone, WantsStop(in), reports);
    return;
  }
  if (!status->running) {
    Ended(state, in, *status, WantsStop(in), reports);
    return;
  }
  task.check = false;
  task.inspect_failed = false;
  if (!task.reported_running) {
    task.reported_running = true;
    InstanceReport report = Report(state, task.generation);
    report.state = InstanceState::kRunning;
    report.health = model::Health::kUnknown;
    reports->push_back(std::move(report));
  }
}

void OnStarted(RunnerState& state, const RunnerInput& in, const RunnerAction& action,
               const Result<std::string>& handle, int port, std::vector<InstanceReport>* reports) {
  const model::Instance& instance = in.target->instance;
  if (!handle) {
    state.ended_generation = std::max(state.ended_generation, instance.generation);
    InstanceReport report = Report(state, instance.generation);
    report.state = InstanceState::kFailed;
    report.message = handle.error().message;
    report.finished_at = in.now;
    reports->push_back(std::move(report));
    return;
  }
  state.task = RunnerTask{.driver = action.driver,
                          .handle = *handle,
                          .generation = instance.generation,
                          .port = port,
                          .started_at = in.now};
  // The stored handle can only name this runner's own (older) task from now on.
  state.recover_tried = true;
  state.health.emplace(in.target->spec.health, in.now);
  state.next_probe = in.mono;
  InstanceReport report = Report(state, instance.generation);
  report.state = InstanceState::kStarting;
  report.health = model::Health::kUnknown;
  report.address = Address(state, port);
  report.port = port;
  report.handle = *handle;
  report.started_at = in.now;
  reports->push_back(std::move(report));
}

void OnRecovered(RunnerState& state, const RunnerInput& in, const RunnerAction& action,
                 const Result<std::string>& handle, std::vector<InstanceReport>* reports) {
  const model::Instance& instance = in.target->instance;
  if (!handle) {
    if (action.generation < instance.generation) return;  // a restart is wanted anyway
    state.ended_generation = std::max(state.ended_generation, action.generation);
    InstanceReport report = Report(state, action.generation);
    report.state = InstanceState::kFailed;
    report.message = "lost while no agent watched it: " + handle.error().message;
    report.finished_at = in.now;
    reports->push_back(std::move(report));
    return;
  }
  state.task = RunnerTask{.driver = action.driver,
                          .handle = *handle,
                          .generation = action.generation,
                          .port = instance.port,
                          .started_at = instance.started_at,
                          .reported_running = true,
                          .check = false};
  state.health.emplace(in.target->spec.health, instance.started_at);
  state.next_probe = in.mono;
  // Still generation < instance.generation possible: the next decision stops it.
}

void OnStopped(RunnerState& state, const RunnerInput& in, const RunnerAction& action,
               const Status& stopped, const Result<runtime::TaskStatus>& after,
               std::vector<InstanceReport>* reports) {
  if (!state.task) return;
  if (action.report && !state.task->said_draining) {
    InstanceReport report = Report(state, state.task->generation);
    report.state = InstanceState::kStopping;
    reports->push_back(std::move(report));
    // Said once, whatever the stop's outcome.
    state.task->said_draining = true;
  }
  if (!stopped) {
    // Left as is: looked at again, and the stop retried, a little later.
    state.stop_retry_at = in.mono + kRetryDelay;
    state.task->check = true;
    state.task->check_at = state.stop_retry_at;
    return;
  }
  runtime::TaskStatus status;
  if (after) status = *after;
  if (status.message.empty()) status.message = "stopped";
  status.running = false;
  if (!action.report) {
    state.ended_generation = std::max(state.ended_generation, state.task->generation);
    state.task.reset();
    state.health.reset();
    return;
  }
  Ended(state, in, status, /*wanted_stop=*/true, reports);
}

void OnProbed(RunnerState& state, const RunnerInput& in, const ProbeResult& result,
              std::vector<InstanceReport>* reports) {
  if (!state.task) return;
  const model::HealthCheck& check = in.target->spec.health;
  if (!state.health) state.health.emplace(check, state.task->started_at);
  state.next_probe = in.mono + std::max(check.interval, Duration(1));
  auto transition = state.health->Observe(in.now, result.ok, result.message);
  if (!result.ok && state.health->health() == model::Health::kUnknown) {
    // Still starting up (most apps need a few ms to listen): try again soon
    // rather than a whole interval later, backing off as start-up drags on.
    state.next_probe = in.mono + StartupProbeDelay(in.now - state.task->started_at, check.interval);
  }
  if (check.type == model::HealthType::kNone && state.health->health() == model::Health::kHealthy) {
    // Nothing can change without an exit, which the exit watch tells.
    state.next_probe = MonoTime::max();
  }
  if (!transition) return;
  InstanceReport report = Report(state, state.task->generation);
  report.health = transition->health;
  report.message = transition->message;
  reports->push_back(std::move(report));
}

void OnExitSignal(RunnerState& state) {
  if (state.task) state.task->check = true;
}

}  // namespace skiff::agent
