#include "agent/instance_runner.h"

#include <filesystem>
#include <utility>

#include "agent/task_config.h"
#include "common/logging.h"
#include "model/cannot_start.h"

namespace skiff::agent {

InstanceRunner::InstanceRunner(const RunnerContext* context, std::string instance_id)
    : context_(context), id_(std::move(instance_id)), exit_link_(std::make_shared<ExitLink>()) {
  exit_link_->runner = this;
  state_.instance_id = id_;
  state_.host = context_->host;
}

InstanceRunner::~InstanceRunner() {
  std::lock_guard lock(exit_link_->mu);
  exit_link_->runner = nullptr;
}

void InstanceRunner::Adopt(const LocalInstance& local, runtime::Driver* driver) {
  (void)driver;  // found again by name when the task is used
  state_.task = RunnerTask{.driver = local.driver,
                           .handle = local.handle,
                           .generation = local.generation,
                           .port = local.port,
                           .started_at = local.started_at,
                           .reported_running = true,
                           .adopted = true};
  state_.recover_tried = true;
  std::lock_guard lock(mu_);
  running_ = Running{DriverOf(local.driver), runtime::TaskHandle{local.handle}, LogPath()};
}

void InstanceRunner::MarkEnded(int64_t generation) {
  state_.ended_generation = std::max(state_.ended_generation, generation);
}

bool InstanceRunner::SetTarget(const model::Instance& instance, const model::AppSpec& spec,
                               const std::map<std::string, std::string>& secrets) {
  bool changed;
  {
    std::lock_guard lock(mu_);
    if (finished_) return false;
    // Every resync hands every runner its target again: only a change is
    // worth a run (a thousand idle instances must cost nothing).
    changed = !target_ || unassigned_ || !(target_->spec == spec) ||
              !(target_->instance == instance) || target_->secrets != secrets;
    target_ = RunnerTarget{instance, spec, secrets};
    unassigned_ = false;
  }
  if (changed) context_->pool->Wake(this);
  return true;
}

void InstanceRunner::Unassign() {
  {
    std::lock_guard lock(mu_);
    if (unassigned_) return;
    unassigned_ = true;
  }
  context_->pool->Wake(this);
}

void InstanceRunner::Shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
}

bool InstanceRunner::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

std::optional<InstanceRunner::Running> InstanceRunner::Snapshot() const {
  std::lock_guard lock(mu_);
  std::optional<Running> running = running_;
  // A new revision is a new instance: the target's spec is the task's.
  if (running && target_) running->resources = target_->spec.resources;
  return running;
}

MonoTime InstanceRunner::RunOnce() {
  const Clock* clock = context_->clock;
  while (true) {
    std::optional<RunnerTarget> target;
    bool unassigned;
    {
      std::lock_guard lock(mu_);
      if (shutdown_ || finished_) return MonoTime::max();
      target = target_;
      unassigned = unassigned_;
      for (const std::string& handle : exits_heard_) {
        if (watched_.empty() || handle != watched_) continue;  // a stale watch's
        watched_.clear();
        OnExitSignal(state_);
      }
      exits_heard_.clear();
    }
    const RunnerInput in{target, unassigned, clock->Now(), clock->MonotonicNow()};
    const std::optional<RunnerTask> before = state_.task;
    RunnerDecision decision = DecideRunner(state_, in);
    for (auto& report : decision.reports) Send(std::move(report));
    const RunnerAction& action = decision.action;
    if (action.kind == RunnerAction::Kind::kWait) {
      Watch();
      return action.wake_at;
    }
    if (action.kind == RunnerAction::Kind::kFinish) {
      std::lock_guard lock(mu_);
      // A SetTarget may have arrived meanwhile: then the instance is ours again.
      if (unassigned_) {
        finished_ = true;
        return MonoTime::max();
      }
      continue;
    }
    std::vector<protocol::InstanceReport> reports;
    Carry(action, in, &reports);
    // Results are stamped with the time they came back.
    Follow(before, in);
    for (auto& report : reports) Send(std::move(report));
  }
}

void InstanceRunner::Carry(const RunnerAction& action, const RunnerInput& decided,
                           std::vector<protocol::InstanceReport>* reports) {
  const Clock* clock = context_->clock;
  auto now = [&] {
    return RunnerInput{decided.target, decided.unassigned, clock->Now(), clock->MonotonicNow()};
  };
  switch (action.kind) {
    case RunnerAction::Kind::kInspect: {
      runtime::Driver* driver = DriverOf(state_.task->driver);
      Result<runtime::TaskStatus> status =
          driver != nullptr ? driver->Inspect(runtime::TaskHandle{state_.task->handle})
                            : Result<runtime::TaskStatus>(tl::unexpected(Error{
                                  ErrorCode::kNotFound, "no " + state_.task->driver + " driver"}));
      OnInspected(state_, now(), status, reports);
      return;
    }
    case RunnerAction::Kind::kRecover: {
      runtime::Driver* driver = DriverOf(action.driver);
      if (driver == nullptr) return;  // nothing to recover with: start afresh
      auto recovered = driver->Recover(runtime::TaskHandle{decided.target->instance.handle});
      Result<std::string> handle = recovered
                                       ? Result<std::string>(recovered->id)
                                       : Result<std::string>(tl::unexpected(recovered.error()));
      OnRecovered(state_, now(), action, handle, reports);
      return;
    }
    case RunnerAction::Kind::kStart: {
      const model::Instance& instance = decided.target->instance;
      const model::AppSpec& spec = decided.target->spec;
      auto fail = [&](const std::string& message) {
        SKIFF_LOG_WARN("agent: instance {} failed to start: {}", id_, message);
        OnStarted(state_, now(), action, tl::unexpected(Error{ErrorCode::kUnavailable, message}), 0,
                  reports);
      };
      runtime::Driver* driver = DriverOf(action.driver);
      if (driver == nullptr) return fail("no " + action.driver + " driver on this node");
      auto port = context_->ports->Allocate();
      if (!port) return fail(port.error().message);
      const std::string app_dir = context_->apps_dir + "/" + instance.app;
      if (spec.run.workdir.empty()) {
        std::error_code ignored;  // a failure shows as the driver's "cannot enter work dir"
        std::filesystem::create_directories(app_dir, ignored);
      }
      runtime::TaskConfig config = BuildTaskConfig(instance, spec, context_->host, *port, LogPath(),
                                                   app_dir, decided.target->secrets);
      config.node_id = context_->node_id;
      auto handle = driver->Start(config);
      if (!handle) {
        context_->ports->Release(*port);
        // kFailedPrecondition: it can never start as it stands (a failed build).
        const bool for_good = handle.error().code == ErrorCode::kFailedPrecondition;
        return fail((for_good ? model::kCannotStartPrefix : "") + handle.error().message);
      }
      OnStarted(state_, now(), action, handle->id, *port, reports);
      return;
    }
    case RunnerAction::Kind::kStop: {
      runtime::Driver* driver = DriverOf(state_.task->driver);
      const runtime::TaskHandle handle{state_.task->handle};
      Status stopped = OkStatus();
      Result<runtime::TaskStatus> after = runtime::TaskStatus{};
      if (driver != nullptr) {
        // Said before the stop, which may take its whole grace.
        if (action.report && !state_.task->said_draining) {
          Send(protocol::InstanceReport{.instance_id = id_,
                                        .generation = state_.task->generation,
                                        .state = model::InstanceState::kStopping});
          state_.task->said_draining = true;
        }
        stopped = driver->Stop(handle, action.grace);
        if (!stopped) {
          SKIFF_LOG_WARN("agent: stopping instance {} failed: {}", id_, stopped.error().ToString());
        } else {
          after = driver->Inspect(handle);
        }
      }
      OnStopped(state_, now(), action, stopped, after, reports);
      return;
    }
    case RunnerAction::Kind::kProbe: {
      const model::HealthCheck& check = decided.target->spec.health;
      const std::string host =
          context_->host.empty() || context_->host == "0.0.0.0" ? "127.0.0.1" : context_->host;
      ProbeResult result = context_->prober->Probe(check, host, state_.task->port);
      OnProbed(state_, now(), result, reports);
      return;
    }
    case RunnerAction::Kind::kWait:
    case RunnerAction::Kind::kFinish:
      return;
  }
}

void InstanceRunner::Follow(const std::optional<RunnerTask>& before, const RunnerInput& in) {
  const std::optional<RunnerTask>& after = state_.task;
  const bool same = before && after && before->handle == after->handle;
  if (before && !same) {
    // It left: release what it held.
    if (runtime::Driver* driver = DriverOf(before->driver)) {
      driver->Release(runtime::TaskHandle{before->handle});
    }
    context_->ports->Release(before->port);
    if (auto removed = context_->state->Remove(id_); !removed) {
      SKIFF_LOG_ERROR("agent: cannot update local state for {}: {}", id_,
                      removed.error().ToString());
    }
    watched_.clear();
  }
  if (after && !same) {
    // It entered (started or recovered): recorded before anyone hears of it,
    // so a crash right now still adopts it.
    context_->ports->Reserve(after->port);
    const model::Instance* instance = in.target ? &in.target->instance : nullptr;
    if (auto saved = context_->state->Put(
            id_, LocalInstance{after->driver, after->handle, after->generation, after->port,
                               instance ? instance->app : "", instance ? instance->revision : 0,
                               after->started_at});
        !saved) {
      SKIFF_LOG_ERROR("agent: cannot record instance {}: {}", id_, saved.error().ToString());
    }
  }
  if (!same) {
    std::lock_guard lock(mu_);
    if (after) {
      running_ = Running{DriverOf(after->driver), runtime::TaskHandle{after->handle}, LogPath()};
    } else {
      running_.reset();
    }
  }
}

void InstanceRunner::Watch() {
  // A task still to be looked at is watched once it was (its Inspect comes
  // first anyway): a driver that cannot tell (Docker's, while its engine
  // errs) calls a watch back at once, which would wake this runner again and
  // again until its retry falls due.
  if (!state_.task || state_.task->check || watched_ == state_.task->handle) return;
  runtime::Driver* driver = DriverOf(state_.task->driver);
  if (driver == nullptr) return;
  watched_ = state_.task->handle;
  std::weak_ptr<ExitLink> link = exit_link_;
  driver->WatchExit(
      runtime::TaskHandle{watched_},
      [link, handle = watched_] {
        auto held = link.lock();
        if (!held) return;
        std::lock_guard lock(held->mu);
        InstanceRunner* runner = held->runner;
        if (runner == nullptr) return;
        {
          std::lock_guard runner_lock(runner->mu_);
          runner->exits_heard_.push_back(handle);
        }
        runner->context_->pool->Wake(runner);
      },
      *context_->exit_poller);
}

void InstanceRunner::Send(protocol::InstanceReport report) {
  report.node_id = context_->node_id;
  context_->reporter->Report(std::move(report));
}

runtime::Driver* InstanceRunner::DriverOf(const std::string& name) const {
  auto it = context_->drivers.find(name);
  return it == context_->drivers.end() ? nullptr : it->second;
}

std::string InstanceRunner::LogPath() const { return context_->logs_dir + "/" + id_ + ".log"; }

}  // namespace skiff::agent
