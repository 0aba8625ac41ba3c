#include "agent/instance_runner.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "agent/task_config.h"
#include "common/logging.h"
#include "model/cannot_start.h"

namespace skiff::agent {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The grace for stopping a task whose spec this agent never saw (adopted and
// then unassigned before any assignment arrived): the spec default.
const Duration kDefaultGrace = model::AppSpec{}.stop_grace;

bool MayBeAlive(model::InstanceState s) {
  return s == model::InstanceState::kStarting || s == model::InstanceState::kRunning ||
         s == model::InstanceState::kStopping;
}

}  // namespace

InstanceRunner::InstanceRunner(const RunnerContext* context, std::string instance_id)
    : context_(context), id_(std::move(instance_id)) {}

InstanceRunner::~InstanceRunner() { Shutdown(); }

void InstanceRunner::Adopt(const LocalInstance& local, runtime::Driver* driver) {
  Task task;
  task.driver = driver;
  task.driver_name = local.driver;
  task.handle = runtime::TaskHandle{local.handle};
  task.generation = local.generation;
  task.port = local.port;
  task.started_at = local.started_at;
  task.reported_running = true;
  task.adopted = true;
  SetTask(std::move(task));
}

void InstanceRunner::MarkEnded(int64_t generation) {
  ended_generation_ = std::max(ended_generation_, generation);
}

void InstanceRunner::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void InstanceRunner::Shutdown() {
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool InstanceRunner::SetTarget(const model::Instance& instance, const model::AppSpec& spec) {
  {
    std::lock_guard lock(mu_);
    if (finished_) return false;
    target_ = Target{instance, spec};
    unassigned_ = false;
    wake_ = true;
  }
  cv_.notify_all();
  return true;
}

void InstanceRunner::Unassign() {
  {
    std::lock_guard lock(mu_);
    if (unassigned_) return;
    unassigned_ = true;
    wake_ = true;
  }
  cv_.notify_all();
}

bool InstanceRunner::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

std::optional<InstanceRunner::Running> InstanceRunner::Snapshot() const {
  std::lock_guard lock(mu_);
  return running_;
}

void InstanceRunner::Loop() {
  auto next = SteadyClock::now();
  while (true) {
    std::optional<Target> target;
    bool unassigned = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next, [&] { return shutdown_ || wake_; });
      if (shutdown_) return;
      wake_ = false;
      target = target_;
      unassigned = unassigned_;
    }
    Step(target, unassigned);
    if (unassigned && !task_) {
      std::lock_guard lock(mu_);
      // A SetTarget may have arrived meanwhile: then the instance is ours again.
      if (unassigned_) {
        finished_ = true;
        return;
      }
    }
    next = SteadyClock::now() + context_->inspect_interval;
    // No probes while draining (Step returns before them): a probe fallen due
    // must not wake the loop again and again.
    if (task_ && health_ && drain_until_ == Time{}) next = std::min(next, next_probe_);
    if (task_ && drain_until_ != Time{}) {
      // Wake at the drain deadline, whatever the inspect interval.
      const auto left = std::max<std::chrono::nanoseconds>(drain_until_ - context_->clock->Now(),
                                                           std::chrono::nanoseconds(0));
      next = std::min(next, SteadyClock::now() + left);
    }
  }
}

void InstanceRunner::Step(const std::optional<Target>& target, bool unassigned) {
  drain_until_ = Time{};
  CheckTask(target);
  if (unassigned) {
    if (task_) StopTask(target ? target->spec.stop_grace : kDefaultGrace, /*report=*/true);
    return;
  }
  // An adopted task waits for the first assignment list to learn its fate.
  if (!target) return;
  const model::Instance& instance = target->instance;

  if (instance.desired == model::DesiredState::kStop) {
    if (task_ && Draining(instance)) {
      // The edges are still letting its requests finish: keep it serving them
      // until they are done (drained) or the drain timeout runs out.
      drain_until_ = instance.drain_until;
      if (!task_->said_draining) {
        task_->said_draining = true;
        Send(protocol::InstanceReport{.instance_id = id_,
                                      .generation = task_->generation,
                                      .state = model::InstanceState::kStopping,
                                      .message = "draining: requests in flight finish first"});
      }
      return;
    }
    if (task_) {
      StopTask(target->spec.stop_grace, /*report=*/true);
    } else if (!reported_stopped_ &&
               (MayBeAlive(instance.state) || instance.state == model::InstanceState::kPending)) {
      // Nothing runs here, but the control plane still thinks something might.
      reported_stopped_ = true;
      Send(protocol::InstanceReport{.instance_id = id_,
                                    .generation = instance.generation,
                                    .state = model::InstanceState::kStopped,
                                    .message = "stopped",
                                    .finished_at = context_->clock->Now()});
    }
    return;
  }
  reported_stopped_ = false;
  if (task_ && task_->said_draining && task_->generation == instance.generation) {
    // Wanted again in the middle of its drain: it never stopped serving.
    task_->said_draining = false;
    Send(protocol::InstanceReport{.instance_id = id_,
                                  .generation = task_->generation,
                                  .state = model::InstanceState::kRunning,
                                  .message = ""});
  }

  if (task_ && task_->generation < instance.generation) {
    // A fresh start was asked for: the old task goes first, never two at once.
    StopTask(target->spec.stop_grace, /*report=*/false);
  }
  if (!task_ && instance.generation > ended_generation_) {
    if (!TryRecoverFromStore(*target)) StartTask(*target);
  }
  if (task_ && task_->adopted && task_->generation == instance.generation) {
    task_->adopted = false;
    if (instance.state != model::InstanceState::kRunning) {
      Send(protocol::InstanceReport{.instance_id = id_,
                                    .generation = task_->generation,
                                    .state = model::InstanceState::kRunning,
                                    .address = Address(task_->port),
                                    .port = task_->port,
                                    .handle = task_->handle.id,
                                    .started_at = task_->started_at});
    }
  }
  if (task_) ProbeIfDue(*target);
}

void InstanceRunner::CheckTask(const std::optional<Target>& target) {
  if (!task_) return;
  const bool wanted_stop = target && target->instance.desired == model::DesiredState::kStop;
  auto status = task_->driver->Inspect(task_->handle);
  if (!status) {
    if (status.error().code != ErrorCode::kNotFound) return;  // transient; ask again later
    runtime::TaskStatus gone;
    gone.message = "task is gone: " + status.error().message;
    Ended(gone, wanted_stop);
    return;
  }
  if (!status->running) {
    Ended(*status, wanted_stop);
    return;
  }
  if (!task_->reported_running) {
    task_->reported_running = true;
    Send(protocol::InstanceReport{.instance_id = id_,
                                  .generation = task_->generation,
                                  .state = model::InstanceState::kRunning,
                                  .health = model::Health::kUnknown});
  }
}

bool InstanceRunner::TryRecoverFromStore(const Target& target) {
  // With no local record (a wiped data dir) the stored handle is the last word
  // on what may still run; adopting it avoids a second task.
  const model::Instance& instance = target.instance;
  if (recover_tried_ || instance.handle.empty() || !MayBeAlive(instance.state)) return false;
  recover_tried_ = true;
  const std::string driver_name = DriverNameFor(target.spec.run);
  auto it = context_->drivers.find(driver_name);
  if (it == context_->drivers.end()) return false;
  const int64_t generation =
      instance.running_generation > 0 ? instance.running_generation : instance.generation;
  auto recovered = it->second->Recover(runtime::TaskHandle{instance.handle});
  if (!recovered) {
    if (generation < instance.generation) return false;  // a restart is wanted anyway
    ended_generation_ = std::max(ended_generation_, generation);
    Send(protocol::InstanceReport{
        .instance_id = id_,
        .generation = generation,
        .state = model::InstanceState::kFailed,
        .message = "lost while no agent watched it: " + recovered.error().message,
        .finished_at = context_->clock->Now()});
    return true;
  }
  Task task;
  task.driver = it->second;
  task.driver_name = driver_name;
  task.handle = *recovered;
  task.generation = generation;
  task.port = instance.port;
  task.started_at = instance.started_at;
  task.reported_running = true;
  context_->ports->Reserve(task.port);
  (void)context_->state->Put(id_, LocalInstance{driver_name, task.handle.id, generation, task.port,
                                                instance.app, instance.revision, task.started_at});
  SetTask(std::move(task));
  health_.emplace(target.spec.health, task_->started_at);
  next_probe_ = SteadyClock::now();
  // Still generation < instance.generation possible: Step stops it next round.
  return true;
}

void InstanceRunner::StartTask(const Target& target) {
  const model::Instance& instance = target.instance;
  auto fail = [&](const std::string& message) {
    ended_generation_ = std::max(ended_generation_, instance.generation);
    SKIFF_LOG_WARN("agent: instance {} failed to start: {}", id_, message);
    Send(protocol::InstanceReport{.instance_id = id_,
                                  .generation = instance.generation,
                                  .state = model::InstanceState::kFailed,
                                  .message = message,
                                  .finished_at = context_->clock->Now()});
  };
  const std::string driver_name = DriverNameFor(target.spec.run);
  auto driver = context_->drivers.find(driver_name);
  if (driver == context_->drivers.end() || driver->second == nullptr) {
    fail("no " + driver_name + " driver on this node");
    return;
  }
  auto port = context_->ports->Allocate();
  if (!port) {
    fail(port.error().message);
    return;
  }
  const std::string app_dir = context_->apps_dir + "/" + instance.app;
  if (target.spec.run.workdir.empty()) {
    std::error_code ignored;  // a failure shows as the driver's "cannot enter work dir"
    std::filesystem::create_directories(app_dir, ignored);
  }
  runtime::TaskConfig config =
      BuildTaskConfig(instance, target.spec, context_->host, *port, LogPath(), app_dir);
  config.node_id = context_->node_id;
  auto handle = driver->second->Start(config);
  if (!handle) {
    context_->ports->Release(*port);
    // kFailedPrecondition: it can never start as it stands (a failed build).
    const bool for_good = handle.error().code == ErrorCode::kFailedPrecondition;
    fail((for_good ? model::kCannotStartPrefix : "") + handle.error().message);
    return;
  }
  Task task;
  task.driver = driver->second;
  task.driver_name = driver_name;
  task.handle = *handle;
  task.generation = instance.generation;
  task.port = *port;
  task.started_at = context_->clock->Now();
  // Recorded before anyone hears of it, so a crash right now still adopts it.
  if (auto saved = context_->state->Put(
          id_, LocalInstance{driver_name, handle->id, task.generation, task.port, instance.app,
                             instance.revision, task.started_at});
      !saved) {
    SKIFF_LOG_ERROR("agent: cannot record instance {}: {}", id_, saved.error().ToString());
  }
  SetTask(task);
  health_.emplace(target.spec.health, task.started_at);
  next_probe_ = SteadyClock::now();
  Send(protocol::InstanceReport{.instance_id = id_,
                                .generation = task.generation,
                                .state = model::InstanceState::kStarting,
                                .health = model::Health::kUnknown,
                                .address = Address(task.port),
                                .port = task.port,
                                .handle = handle->id,
                                .started_at = task.started_at});
  CheckTask(target);
}

bool InstanceRunner::Draining(const model::Instance& instance) const {
  return instance.drain_until != Time{} && !instance.drained &&
         context_->clock->Now() < instance.drain_until;
}

void InstanceRunner::StopTask(Duration grace, bool report) {
  if (report && !task_->said_draining) {
    Send(protocol::InstanceReport{.instance_id = id_,
                                  .generation = task_->generation,
                                  .state = model::InstanceState::kStopping});
  }
  if (auto stopped = task_->driver->Stop(task_->handle, grace); !stopped) {
    // Left as is: the next step inspects it again and retries.
    SKIFF_LOG_WARN("agent: stopping instance {} failed: {}", id_, stopped.error().ToString());
    return;
  }
  runtime::TaskStatus status;
  if (auto inspected = task_->driver->Inspect(task_->handle)) status = *inspected;
  if (status.message.empty()) status.message = "stopped";
  status.running = false;
  if (!report) {
    ended_generation_ = std::max(ended_generation_, task_->generation);
    ForgetTask();
    return;
  }
  Ended(status, /*wanted_stop=*/true);
}

void InstanceRunner::Ended(const runtime::TaskStatus& status, bool wanted_stop) {
  const int64_t generation = task_->generation;
  ended_generation_ = std::max(ended_generation_, generation);
  std::string message = status.message;
  if (message.empty()) {
    message = status.exit_code ? "exited with " + std::to_string(*status.exit_code)
                               : "exit status unknown";
  }
  ForgetTask();
  // The stop is said once; a stale target must not make Step say it again.
  if (wanted_stop) reported_stopped_ = true;
  Send(protocol::InstanceReport{
      .instance_id = id_,
      .generation = generation,
      .state = wanted_stop ? model::InstanceState::kStopped : model::InstanceState::kFailed,
      .last_exit = status.exit_code,
      .message = message,
      .finished_at = context_->clock->Now()});
}

void InstanceRunner::ForgetTask() {
  task_->driver->Release(task_->handle);
  context_->ports->Release(task_->port);
  if (auto removed = context_->state->Remove(id_); !removed) {
    SKIFF_LOG_ERROR("agent: cannot update local state for {}: {}", id_, removed.error().ToString());
  }
  health_.reset();
  SetTask(std::nullopt);
}

Duration StartupProbeDelay(std::chrono::nanoseconds since_start, Duration interval) {
  const auto quarter = std::chrono::duration_cast<Duration>(since_start) / 4;
  return std::clamp(quarter, std::min(kMinStartupProbeDelay, interval), interval);
}

void InstanceRunner::ProbeIfDue(const Target& target) {
  if (!task_->reported_running || SteadyClock::now() < next_probe_) return;
  const model::HealthCheck& check = target.spec.health;
  if (!health_) health_.emplace(check, task_->started_at);
  next_probe_ = SteadyClock::now() + std::max(check.interval, Duration(1));
  ProbeResult result;
  if (check.type == model::HealthType::kNone) {
    // Without a check, staying up for update.min_healthy_time is what healthy
    // means: a process that dies at once must not pass (nor end a crash loop).
    // Until then there is nothing to observe.
    if (context_->clock->Now() - task_->started_at < target.spec.update.min_healthy_time) return;
    result = ProbeResult{true, "running (no health check)"};
  } else {
    const std::string host =
        context_->host.empty() || context_->host == "0.0.0.0" ? "127.0.0.1" : context_->host;
    result = context_->prober->Probe(check, host, task_->port);
  }
  const Time now = context_->clock->Now();
  auto transition = health_->Observe(now, result.ok, result.message);
  if (!result.ok && health_->health() == model::Health::kUnknown) {
    // Still starting up (most apps need a few ms to listen): try again soon
    // rather than a whole interval later, backing off as start-up drags on.
    next_probe_ = SteadyClock::now() + StartupProbeDelay(now - task_->started_at, check.interval);
  }
  if (!transition) return;
  Send(protocol::InstanceReport{.instance_id = id_,
                                .generation = task_->generation,
                                .health = transition->health,
                                .message = transition->message});
}

void InstanceRunner::Send(protocol::InstanceReport report) {
  report.node_id = context_->node_id;
  context_->reporter->Report(std::move(report));
}

void InstanceRunner::SetTask(std::optional<Task> task) {
  task_ = std::move(task);
  // The stored handle can only name this runner's own (older) task from now on.
  if (task_) recover_tried_ = true;
  std::lock_guard lock(mu_);
  if (task_) {
    running_ = Running{task_->driver, task_->handle, LogPath()};
  } else {
    running_.reset();
  }
}

std::string InstanceRunner::LogPath() const { return context_->logs_dir + "/" + id_ + ".log"; }

std::string InstanceRunner::Address(int port) const {
  return context_->host + ":" + std::to_string(port);
}

}  // namespace skiff::agent
