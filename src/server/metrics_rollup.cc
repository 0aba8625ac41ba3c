#include "server/metrics_rollup.h"

#include <algorithm>

#include "common/logging.h"
#include "common/quantity.h"
#include "metrics/rollup.h"

namespace skiff::server {

MetricsRollup::MetricsRollup(Deps deps)
    : deps_(std::move(deps)), next_minute_(metrics::MinuteOf(deps_.clock->Now())) {}

MetricsRollup::~MetricsRollup() { Stop(); }

void MetricsRollup::Start() {
  thread_.emplace([this] { Loop(); });
}

void MetricsRollup::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_) {
    thread_->join();
    thread_.reset();
  }
}

void MetricsRollup::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    RunOnce();
    lock.lock();
    deps_.clock->WaitFor(cv_, lock, deps_.interval, [this] { return stopping_; });
  }
}

int MetricsRollup::RunOnce() {
  const Time now = deps_.clock->Now();
  const Time current = metrics::MinuteOf(now);
  if (deps_.leading && !deps_.leading()) {
    // Another server writes; once this one leads, it writes from then on.
    next_minute_ = current;
    return 0;
  }
  // Minutes the live series no longer holds whole cannot be written.
  next_minute_ =
      std::max(next_minute_, metrics::MinuteOf(deps_.live->Horizon()) + std::chrono::minutes(1));
  int written = 0;
  while (next_minute_ < current) {
    const std::vector<store::MetricsRow> rows = metrics::ToRows(deps_.live->Rollup(next_minute_));
    if (!rows.empty()) {
      if (Status appended = deps_.history->Append(rows); !appended) {
        SKIFF_LOG_WARN(
            "metrics history: cannot write the minute {} ({} rows), trying again in {}: {}",
            FormatTime(next_minute_), rows.size(), FormatDuration(deps_.interval),
            appended.error().ToString());
        break;
      }
      ++written;
    }
    next_minute_ += std::chrono::minutes(1);
  }
  const Time horizon = now - deps_.retention;
  if (auto pruned = deps_.history->Prune(horizon); !pruned) {
    SKIFF_LOG_WARN("metrics history: cannot drop minutes older than {}: {}", FormatTime(horizon),
                   pruned.error().ToString());
  }
  return written;
}

}  // namespace skiff::server
