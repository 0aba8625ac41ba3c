#include "runtime/exit_poller.h"

#include <utility>

namespace skiff::runtime {

namespace {

// Whether Inspect says the task is no longer running (or is gone).
bool Gone(Driver* driver, const TaskHandle& handle) {
  auto status = driver->Inspect(handle);
  return status ? !status->running : status.error().code == ErrorCode::kNotFound;
}

}  // namespace

void Driver::WatchExit(const TaskHandle& handle, std::function<void()> on_exit,
                       ExitPoller& poller) {
  // A task that already exited is said at once, not a poll later.
  if (Gone(this, handle)) {
    on_exit();
    return;
  }
  poller.Watch(this, handle, std::move(on_exit));
}

std::map<std::string, ResourceSample> Driver::SampleAll(const std::vector<TaskHandle>& handles) {
  std::map<std::string, ResourceSample> samples;
  for (const TaskHandle& handle : handles) {
    if (auto sample = Sample(handle)) samples[handle.id] = *sample;
  }
  return samples;
}

ExitPoller::ExitPoller(const Clock* clock, Duration interval)
    : clock_(clock), interval_(interval) {}

ExitPoller::~ExitPoller() { Stop(); }

void ExitPoller::Start() {
  std::lock_guard lock(mu_);
  if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { Run(); });
}

void ExitPoller::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    watched_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ExitPoller::Watch(Driver* driver, const TaskHandle& handle, std::function<void()> on_exit) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  watched_.push_back(Watched{driver, handle, std::move(on_exit)});
}

size_t ExitPoller::watching() const {
  std::lock_guard lock(mu_);
  return watched_.size();
}

void ExitPoller::Run() {
  std::unique_lock lock(mu_);
  while (!clock_->WaitFor(cv_, lock, interval_, [&] { return stopping_; })) {
    std::vector<Watched> watched;
    watched.swap(watched_);
    lock.unlock();
    std::vector<Watched> still;
    std::vector<std::function<void()>> exited;
    for (Watched& w : watched) {
      {
        // A pass over many slow Inspects must not hold up Stop.
        std::lock_guard check(mu_);
        if (stopping_) return;
      }
      if (Gone(w.driver, w.handle)) {
        exited.push_back(std::move(w.on_exit));
      } else {
        still.push_back(std::move(w));
      }
    }
    for (auto& on_exit : exited) on_exit();
    lock.lock();
    if (stopping_) return;
    for (Watched& w : still) watched_.push_back(std::move(w));
  }
}

}  // namespace skiff::runtime
