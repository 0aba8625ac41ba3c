// LiveSeries: the server's recent figures of every app and instance, in
// memory, at the granularity they are reported (an edge's traffic report
// every few seconds, an agent's samples every --sample-interval), for about
// fifteen minutes. What the autoscaler decides on (Window), the live view
// shows (Live), and the minute roll-ups are made of (Rollup).
//
// Fed with every edge's CUMULATIVE traffic snapshots (TrafficBook's input):
// each report becomes one point per app, the difference from that edge's
// previous report (requests by class, bytes, the latency histogram's bucket
// counts); a counter that went down is an edge that restarted, whose report
// starts a new baseline (the whole count is the interval's). An edge's first
// report is only a baseline. Fed with instances' resource samples likewise.
//
// Figures over several edges, instances or reports add counts and merge
// histograms; quantiles come from the merged histogram.
//
// With servers sharing a database only the leader hears agents and edges
// (non-leaders answer 503 to their reports): its LiveSeries alone has data.
//
// Thread-safety: thread-safe; every method may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "metrics/latency_histogram.h"
#include "metrics/rollup.h"
#include "metrics/traffic.h"
#include "model/resources.h"

namespace skiff::metrics {

// An app's figures over [now - window, now] (LiveSeries::Window): the
// autoscaler's input.
struct AppWindow {
  Time now;
  Duration window{0};
  // Some edge reported the app in the window: the traffic figures mean
  // something (without, hold: no data is not zero traffic).
  bool has_traffic = false;
  uint64_t requests = 0;
  uint64_t errors = 0;  // 5xx answers
  // Over the window, or over the time data has been collected when shorter.
  double requests_per_second = 0;
  double errors_per_second = 0;
  // Latency quantiles in milliseconds from the histograms merged over the
  // window's edges and reports; 0 without requests.
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
  int64_t in_flight = 0;  // each edge's latest report in the window, summed
  // Instances with a sample in the window, and the mean of their mean
  // figures (cpu_millis, memory_bytes, ...): per instance, not summed.
  int instances_sampled = 0;
  ResourceFigures mean_per_instance;
  // The end of the last report interval with requests (empty: none heard
  // since this server started); kept beyond the fifteen minutes.
  std::optional<Time> last_request;
  // How long this server has collected the app's figures (since its first
  // report or sample): a window longer than that is not yet full.
  Duration collected{0};
};

// An instance's latest sample.
struct InstanceLive {
  Time at;
  model::ResourceSample sample;
};

// The live view of an app: its figures over the last few seconds, and each
// instance's latest sample among them.
struct LivePoint {
  AppWindow app;
  std::map<std::string, InstanceLive> instances;  // by instance id
};

class LiveSeries {
 public:
  static constexpr Duration kDefaultKeep = std::chrono::minutes(15);

  // `clock` (not owned) stamps what arrives: reports are placed in time where
  // this server heard them, so an edge's or an agent's clock does not matter.
  explicit LiveSeries(const Clock* clock, Duration keep = kDefaultKeep);
  LiveSeries(const LiveSeries&) = delete;
  LiveSeries& operator=(const LiveSeries&) = delete;

  // Takes `edge`'s cumulative snapshot, heard now.
  void RecordTraffic(const std::string& edge, const TrafficSnapshot& snapshot);
  // Forgets `edge`'s baseline (it left): its next report is a baseline.
  void ForgetEdge(const std::string& edge);
  // Takes a resource sample of `instance` of `app`, heard now.
  void RecordSample(const std::string& app, const std::string& instance,
                    const model::ResourceSample& sample);

  // `app`'s figures over [now - window, now]. An unknown app has no data
  // (has_traffic false, instances_sampled 0).
  AppWindow Window(const std::string& app, Duration window) const;
  // `app`'s live point: Window(app, span) with the instances sampled in it.
  LivePoint Live(const std::string& app, Duration span = std::chrono::seconds(10)) const;
  // Every app's and instance's minute starting at `minute` (a whole minute),
  // of what is still kept (apps without a point in it are left out).
  std::map<std::string, AppRollup> Rollup(Time minute) const;
  // `app`'s minute starting at `minute`, when it has a point in it.
  std::optional<AppRollup> RollupOf(const std::string& app, Time minute) const;
  // The oldest time whose figures may still be kept (now - keep).
  Time Horizon() const;

 private:
  struct TrafficPoint {
    Time at;  // the end of the interval (when the report was heard)
    std::string edge;
    std::array<uint64_t, 6> by_class{};
    uint64_t bytes = 0;
    int64_t in_flight = 0;
    LatencyHistogram latency;
  };
  struct SamplePoint {
    Time at;
    std::string instance;
    model::ResourceSample sample;
  };
  struct AppState {
    std::deque<TrafficPoint> traffic;  // oldest first
    std::deque<SamplePoint> samples;   // oldest first
    Time first_seen;
    std::optional<Time> last_request;
  };

  AppState& StateOf(const std::string& app, Time now);  // REQUIRES: mu_ held
  void Trim(AppState& state, Time now);                 // REQUIRES: mu_ held
  static std::optional<AppRollup> RollupLocked(const AppState& state, Time minute);
  AppWindow WindowLocked(const AppState& state, Time now, Duration window) const;

  const Clock* const clock_;
  const Duration keep_;
  mutable std::mutex mu_;
  std::map<std::string, AppState> apps_;              // GUARDED_BY(mu_)
  std::map<std::string, TrafficSnapshot> baselines_;  // by edge. GUARDED_BY(mu_)
};

}  // namespace skiff::metrics
