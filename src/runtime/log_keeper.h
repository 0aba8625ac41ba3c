// Instance logs kept bounded, behind the driver seam: an agent touches the
// machine only through runtime::Driver, its tasks' log files included. The
// drivers an agent gets (DriverSet::ByName) are wrapped in LogKeepingDriver,
// which forwards every call and has one LogKeeper, shared by the drivers of
// the agent's logs directory, rotate the logs as samples are taken and remove
// those of instances gone when orphans are swept.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/clock.h"
#include "runtime/driver.h"

namespace skiff::runtime {

struct LogKeeperOptions {
  // Holds <instance>.log (TaskConfig::log_path) and its rotated copies
  // <instance>.log.1 .. .log.<keep>.
  std::string dir;
  // A log larger than this is rotated (copy + truncate: log_rotate.h); 0 = never.
  int64_t rotate_bytes = 64ll << 20;
  int keep = 3;  // rotated copies kept per instance
  // The directory is looked over at most this often.
  Duration rotate_every = std::chrono::seconds(5);
};

// Thread-safety: every method may be called from any thread.
class LogKeeper {
 public:
  explicit LogKeeper(LogKeeperOptions options);

  // Rotates every log of the directory larger than rotate_bytes, unless the
  // directory was looked over less than rotate_every ago. Errors are logged.
  void MaybeRotate();
  // Removes the logs, rotated copies included, of every instance not in
  // `keep` (nothing will ask for them any more).
  void RemoveExcept(const std::set<std::string>& keep);

 private:
  const LogKeeperOptions options_;
  std::mutex mu_;                                                    // one look-over at a time
  std::optional<std::chrono::steady_clock::time_point> rotated_at_;  // GUARDED_BY(mu_)
};

// A Driver that forwards to `inner` and has `keeper` keep the logs: Sample
// also rotates (MaybeRotate); RemoveOrphans also removes the logs of
// instances not kept (RemoveExcept), whatever the inner sweep answered.
class LogKeepingDriver final : public Driver {
 public:
  // `inner` and `keeper` must outlive this driver.
  LogKeepingDriver(Driver* inner, LogKeeper* keeper) : inner_(inner), keeper_(keeper) {}

  // Driver:
  DriverInfo Info() const override { return inner_->Info(); }
  Result<TaskHandle> Start(const TaskConfig& config) override { return inner_->Start(config); }
  Result<TaskHandle> Recover(const TaskHandle& handle) override { return inner_->Recover(handle); }
  Result<TaskStatus> Inspect(const TaskHandle& handle) override { return inner_->Inspect(handle); }
  Status Stop(const TaskHandle& handle, Duration grace) override {
    return inner_->Stop(handle, grace);
  }
  Result<ResourceSample> Sample(const TaskHandle& handle) override;
  // Forwarded, so the inner driver's own exit watch (a pidfd) and one-pass
  // sampling are kept.
  void WatchExit(const TaskHandle& handle, std::function<void()> on_exit,
                 ExitPoller& poller) override {
    inner_->WatchExit(handle, std::move(on_exit), poller);
  }
  std::map<std::string, ResourceSample> SampleAll(const std::vector<TaskHandle>& handles) override;
  void Release(const TaskHandle& handle) override { inner_->Release(handle); }
  Result<int> RemoveOrphans(const std::string& node_id, const std::set<std::string>& keep) override;

 private:
  Driver* const inner_;
  LogKeeper* const keeper_;
};

}  // namespace skiff::runtime
