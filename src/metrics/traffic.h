// Per-app traffic as edges see it, gathered where the control plane can use
// it (the autoscaler scales on requests per second and p95 latency).
//
// Every edge (the all-in-one server's own, and each standalone `skiff edge`,
// which posts to POST /v1/edges/{name}/traffic every few seconds) hands in a
// TrafficSnapshot: its cumulative counters per app. The TrafficBook keeps
// each edge's last two snapshots and turns their difference into rates, so an
// edge that restarts (its counters start over) or stops reporting never skews
// the sums: a counter that went down starts a new baseline, and an edge
// silent for longer than kStaleAfter is left out.
#pragma once

#include <array>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace skiff::metrics {

struct AppTraffic {
  std::array<uint64_t, 6> by_class{};  // requests answered, by status class: [2] is 2xx
  uint64_t bytes = 0;                  // response body bytes sent
  int64_t in_flight = 0;               // now, not cumulative
  // The latency histogram: bucket upper bounds in seconds, and per bound the
  // cumulative count of requests at or under it (+Inf is `count`).
  std::vector<double> bounds;
  std::vector<uint64_t> cumulative;
  double sum = 0;
  uint64_t count = 0;
  friend bool operator==(const AppTraffic&, const AppTraffic&) = default;
};

// What an edge tells of its routing table, so that an instance being stopped
// gets its SIGTERM only once no edge can still send it requests
// (controller/drain_tracker.h).
struct EdgeRoutes {
  int64_t revision = 0;  // the store revision its routing table was built at (0: unknown)
  std::string tag;       // the tag of its routes document (standalone edges), or empty
  // Requests in flight to each instance an earlier table of the edge routed
  // and its current one does not (absent: none).
  std::map<std::string, int64_t> leaving;
  int64_t interval_ms = 0;  // how often the edge reports
  friend bool operator==(const EdgeRoutes&, const EdgeRoutes&) = default;
};

struct TrafficSnapshot {
  std::map<std::string, AppTraffic> apps;
  std::optional<EdgeRoutes> routes;  // absent from edges of older versions
  friend bool operator==(const TrafficSnapshot&, const TrafficSnapshot&) = default;
};

// {"apps":{"web":{"requests":{"1xx":0,"2xx":10,...},"bytes":..,"in_flight":..,
//  "latency":{"bounds":[..],"cumulative":[..],"sum":..,"count":..}}},
//  "routes":{"revision":..,"tag":"..","leaving":{"web-1a2b":2},"interval_ms":5000}}
boost::json::value ToJson(const TrafficSnapshot& snapshot);
// kInvalidArgument naming the field when the document is not one.
Result<TrafficSnapshot> TrafficFromJson(const boost::json::value& json);

// An app's traffic over the last interval, summed over the edges.
struct AppRates {
  double requests_per_second = 0;
  double errors_per_second = 0;  // 5xx answers
  double bytes_per_second = 0;
  // Latency quantiles in seconds over the interval (0 without requests),
  // interpolated within histogram buckets as Prometheus' histogram_quantile does.
  double p50 = 0;
  double p95 = 0;
  double p99 = 0;
  int64_t in_flight = 0;
  int edges = 0;  // edges that reported the app
};

// An app's latency observations since the book was made, over every edge's
// reports: cumulative, so that they serve as a summary's _sum and _count.
struct LatencyTotal {
  double sum = 0;  // seconds
  uint64_t count = 0;
};

// Thread-safe.
class TrafficBook {
 public:
  using Time = std::chrono::steady_clock::time_point;
  static constexpr std::chrono::seconds kStaleAfter{30};

  // Told of every snapshot Record takes (before the book keeps it) and of
  // every edge Forget drops (snapshot null), on the caller's thread, outside
  // the book's lock: the metrics history's live series (live_series.h)
  // listens. REQUIRES: set before the first Record or Forget, once.
  using Listener = std::function<void(const std::string& edge, const TrafficSnapshot* snapshot)>;
  void SetListener(Listener listener) { listener_ = std::move(listener); }

  // Takes `edge`'s snapshot taken at `at`.
  void Record(const std::string& edge, TrafficSnapshot snapshot, Time at);
  // Forgets `edge`'s snapshots (it left): neither its rates nor its routes
  // count from now on; the latency totals keep what it reported.
  void Forget(const std::string& edge);
  // Rates per app, from each fresh edge's last two snapshots.
  std::map<std::string, AppRates> Rates(Time now) const;
  // Per app, the latency observations of every report so far (each edge's
  // growth between its reports; after an edge restarted, its whole count). They
  // never go down while the book lives, even when an edge stops reporting.
  std::map<std::string, LatencyTotal> LatencyTotals() const;
  // Edges that reported within kStaleAfter of `now`.
  std::vector<std::string> Edges(Time now) const;
  // The routes of each edge whose last report had them and came within three
  // of its report intervals of `now` (an edge silent longer is not waited for).
  std::map<std::string, EdgeRoutes> Routes(Time now) const;

 private:
  struct Reports {
    TrafficSnapshot previous;
    Time previous_at{};
    bool has_previous = false;
    TrafficSnapshot latest;
    Time latest_at{};
  };
  Listener listener_;  // set before use, then only read
  mutable std::mutex mu_;
  std::map<std::string, Reports> edges_;         // GUARDED_BY(mu_)
  std::map<std::string, LatencyTotal> latency_;  // GUARDED_BY(mu_)
};

// The q-quantile (0 < q < 1) of a cumulative histogram, linearly interpolated
// within the bucket it falls in; a quantile in the +Inf bucket is the largest
// finite bound. 0 when the histogram is empty.
double HistogramQuantile(double q, const std::vector<double>& bounds,
                         const std::vector<uint64_t>& cumulative, uint64_t count);

}  // namespace skiff::metrics
