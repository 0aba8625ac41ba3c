#include "runtime/fake/fake_driver.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "runtime/exit_status.h"
#include "runtime/log_append.h"

namespace skiff::runtime {

FakeDriver::FakeDriver(std::string name, const Clock* clock)
    : name_(std::move(name)), clock_(clock) {}

FakeDriver::~FakeDriver() = default;

DriverInfo FakeDriver::Info() const {
  return DriverInfo{.name = name_,
                    .enforces_limits = false,
                    .notes = "fake: tasks run in memory; cpu/memory limits are not enforced"};
}

FakeDriver::Task* FakeDriver::FindLocked(const std::string& handle_id) {
  auto it = tasks_.find(handle_id);
  // Released is forgotten, as the real drivers forget (or remove) it.
  if (it == tasks_.end() || it->second.vanished || it->second.released) return nullptr;
  return &it->second;
}

const FakeDriver::Task* FakeDriver::LatestLocked(const std::string& instance_id) const {
  auto it = latest_.find(instance_id);
  if (it == latest_.end()) return nullptr;
  auto task = tasks_.find(it->second);
  if (task == tasks_.end() || task->second.vanished || task->second.released) return nullptr;
  return &task->second;
}

Result<TaskHandle> FakeDriver::Start(const TaskConfig& config) {
  std::lock_guard lock(mu_);
  ++counts_.start;
  started_.push_back(config);
  if (auto it = fail_start_.find(config.instance_id); it != fail_start_.end()) {
    return tl::unexpected(it->second);
  }
  if (fail_all_starts_) return tl::unexpected(*fail_all_starts_);
  // What each real driver refuses, in its words (Driver contract: kInvalidArgument).
  if (name_ == "docker" && !model::IsContainer(config.run)) {
    return InvalidArgument("the docker driver runs images, not commands", "run");
  }
  if (name_ != "docker" && !config.run.image.empty()) {
    return InvalidArgument("the process driver cannot run an image", "run.image");
  }
  if (name_ != "docker" && (config.run.command.empty() || config.run.command[0].empty())) {
    return InvalidArgument("empty command", "run.command");
  }
  if (!config.log_path.empty()) {
    // As the real drivers do: the log exists (its directories made) once started.
    std::error_code ignored;
    std::filesystem::create_directories(std::filesystem::path(config.log_path).parent_path(),
                                        ignored);
    AppendToLog(config.log_path, "");
  }
  std::string id = "fake:" + config.instance_id + ":" + std::to_string(next_task_++);
  tasks_[id] = Task{.config = config, .started_at = clock_->Now()};
  latest_[config.instance_id] = id;
  return TaskHandle{id};
}

Result<TaskHandle> FakeDriver::Recover(const TaskHandle& handle) {
  std::lock_guard lock(mu_);
  ++counts_.recover;
  if (fail_recover_) return tl::unexpected(*fail_recover_);
  Task* task = FindLocked(handle.id);
  // Like a process driver, an exited task that nobody waited for is gone.
  if (task == nullptr || !task->running) return NotFound("task " + handle.id + " is gone");
  return handle;
}

Result<TaskStatus> FakeDriver::Inspect(const TaskHandle& handle) {
  std::lock_guard lock(mu_);
  ++counts_.inspect;
  Task* task = FindLocked(handle.id);
  if (task == nullptr) return NotFound("unknown task " + handle.id);
  return TaskStatus{.running = task->running,
                    .exit_code = task->exit_code,
                    .message = task->message,
                    .started_at = task->started_at};
}

Status FakeDriver::Stop(const TaskHandle& handle, Duration grace) {
  std::unique_lock lock(mu_);
  ++counts_.stop;
  Task* task = FindLocked(handle.id);
  stops_.push_back(StopCall{handle, task ? task->config.instance_id : std::string(), grace});
  if (task == nullptr || !task->running) return OkStatus();
  // The task "takes" stop_delay_ to exit after SIGTERM; past the grace it is killed.
  Duration wait = std::min(stop_delay_, grace);
  auto deadline = std::chrono::steady_clock::now() + wait;
  stop_cv_.wait_until(lock, deadline, [&] { return stop_delay_ == Duration(0); });
  task = FindLocked(handle.id);
  if (task != nullptr && task->running) {
    task->running = false;
    bool killed = stop_delay_ > grace;
    task->exit_code = killed ? 128 + 9 : term_exit_code_;
    task->message = ExitMessage(*task->exit_code);
  }
  return OkStatus();
}

Result<ResourceSample> FakeDriver::Sample(const TaskHandle& handle) {
  std::lock_guard lock(mu_);
  ++counts_.sample;
  Task* task = FindLocked(handle.id);
  if (task == nullptr || !task->running) return NotFound("task " + handle.id + " is gone");
  ResourceSample sample;
  if (auto it = samples_.find(task->config.instance_id); it != samples_.end()) sample = it->second;
  sample.at = clock_->Now();
  return sample;
}

void FakeDriver::Release(const TaskHandle& handle) {
  std::lock_guard lock(mu_);
  ++counts_.release;
  if (Task* task = FindLocked(handle.id)) task->released = true;
}

void FakeDriver::WatchExit(const TaskHandle& handle, std::function<void()> on_exit,
                           ExitPoller& poller) {
  {
    std::lock_guard lock(mu_);
    ++counts_.watch_exit;
  }
  Driver::WatchExit(handle, std::move(on_exit), poller);  // it calls Inspect: unlocked
}

std::map<std::string, ResourceSample> FakeDriver::SampleAll(
    const std::vector<TaskHandle>& handles) {
  {
    std::lock_guard lock(mu_);
    ++counts_.sample_all;
  }
  return Driver::SampleAll(handles);  // it calls Sample: unlocked
}

Result<int> FakeDriver::RemoveOrphans(const std::string& node_id,
                                      const std::set<std::string>& keep) {
  std::lock_guard lock(mu_);
  ++counts_.remove_orphans;
  int removed = 0;
  for (auto& [id, task] : tasks_) {
    // Like containers, exited tasks not yet released are leftovers too.
    if (task.vanished || task.released || task.config.node_id != node_id ||
        keep.count(task.config.instance_id)) {
      continue;
    }
    task.running = false;
    task.vanished = true;
    ++removed;
  }
  return removed;
}

bool FakeDriver::Exit(const std::string& instance_id, int code, std::string message) {
  std::lock_guard lock(mu_);
  auto it = latest_.find(instance_id);
  if (it == latest_.end()) return false;
  Task* task = FindLocked(it->second);
  if (task == nullptr || !task->running) return false;
  task->running = false;
  task->exit_code = code;
  task->message = message.empty() ? ExitMessage(code) : std::move(message);
  return true;
}

bool FakeDriver::Print(const std::string& instance_id, std::string_view text) {
  std::string path;
  {
    std::lock_guard lock(mu_);
    const Task* task = LatestLocked(instance_id);
    if (task == nullptr || !task->running) return false;
    path = task->config.log_path;
  }
  AppendToLog(path, text);
  return true;
}

void FakeDriver::SetTermExitCode(int code) {
  std::lock_guard lock(mu_);
  term_exit_code_ = code;
}

bool FakeDriver::Vanish(const std::string& instance_id) {
  std::lock_guard lock(mu_);
  auto it = latest_.find(instance_id);
  if (it == latest_.end()) return false;
  Task* task = FindLocked(it->second);
  if (task == nullptr) return false;
  task->running = false;
  task->vanished = true;
  return true;
}

void FakeDriver::FailStart(const std::string& instance_id, std::optional<Error> error) {
  std::lock_guard lock(mu_);
  if (error) {
    fail_start_[instance_id] = std::move(*error);
  } else {
    fail_start_.erase(instance_id);
  }
}

void FakeDriver::FailRecover(std::optional<Error> error) {
  std::lock_guard lock(mu_);
  fail_recover_ = std::move(error);
}

void FakeDriver::FailAllStarts(std::optional<Error> error) {
  std::lock_guard lock(mu_);
  fail_all_starts_ = std::move(error);
}

void FakeDriver::SetStopDelay(Duration delay) {
  std::lock_guard lock(mu_);
  stop_delay_ = delay;
}

void FakeDriver::ReleaseStops() {
  {
    std::lock_guard lock(mu_);
    stop_delay_ = Duration(0);
  }
  stop_cv_.notify_all();
}

void FakeDriver::SetSample(const std::string& instance_id, ResourceSample sample) {
  std::lock_guard lock(mu_);
  samples_[instance_id] = sample;
}

FakeDriver::Counts FakeDriver::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

std::vector<TaskConfig> FakeDriver::started() const {
  std::lock_guard lock(mu_);
  return started_;
}

std::vector<FakeDriver::StopCall> FakeDriver::stops() const {
  std::lock_guard lock(mu_);
  return stops_;
}

bool FakeDriver::IsRunning(const std::string& instance_id) const {
  std::lock_guard lock(mu_);
  const Task* task = LatestLocked(instance_id);
  return task != nullptr && task->running;
}

int FakeDriver::RunningCount() const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& [id, task] : tasks_) {
    n += (task.running && !task.vanished && !task.released) ? 1 : 0;
  }
  return n;
}

std::optional<TaskHandle> FakeDriver::HandleOf(const std::string& instance_id) const {
  std::lock_guard lock(mu_);
  auto it = latest_.find(instance_id);
  if (it == latest_.end()) return std::nullopt;
  return TaskHandle{it->second};
}

}  // namespace skiff::runtime
