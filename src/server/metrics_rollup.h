// MetricsRollup: the loop that writes the live series' complete minutes to
// the metrics history and drops the rows past --metrics-retention
// (docs/metrics.md). With servers sharing a database only the leader hears
// the agents and edges, so only a leading server writes (`leading`); with one
// server it always leads.
//
// Every pass writes each complete minute not yet written, oldest first, one
// small batch per minute; a minute that fails to be written is logged and
// tried again at the next pass, for as long as the live series keeps it.
//
// Thread-safety: Start and Stop from one thread; RunOnce is for tests (not
// together with a started loop).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "common/clock.h"
#include "metrics/live_series.h"
#include "store/metrics_history.h"

namespace skiff::server {

class MetricsRollup {
 public:
  struct Deps {
    const metrics::LiveSeries* live = nullptr;  // required
    store::MetricsHistory* history = nullptr;   // required
    const Clock* clock = nullptr;               // required
    std::function<bool()> leading;              // empty: always
    Duration interval = std::chrono::seconds(60);
    Duration retention = std::chrono::hours(24 * 7);
  };

  // Everything in deps must outlive this. The first minute written is the one
  // the loop is made in.
  explicit MetricsRollup(Deps deps);
  ~MetricsRollup();  // Stops.
  MetricsRollup(const MetricsRollup&) = delete;
  MetricsRollup& operator=(const MetricsRollup&) = delete;

  void Start();
  // Idempotent; joins the thread (a pass in progress ends first).
  void Stop();

  // One pass: writes the complete minutes not yet written (when leading) and
  // prunes. Returns how many minutes it wrote.
  int RunOnce();

 private:
  void Loop();

  const Deps deps_;
  Time next_minute_;  // the first minute not yet written (the loop's)
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::optional<std::thread> thread_;
};

}  // namespace skiff::server
