// Minute roll-ups: what the server keeps of an app's and its instances'
// figures for each minute (metrics history, --metrics-retention), and their
// encoding as the rows of store::MetricsHistory. Counts add up and
// histograms merge, so minutes re-aggregate into any coarser step
// (series.h) with exact counts and honest quantiles.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "metrics/latency_histogram.h"
#include "model/resources.h"
#include "store/metrics_history.h"

namespace skiff::metrics {

// Resource figures aggregated from model::ResourceSample: a mean or a
// maximum of each of its fields.
struct ResourceFigures {
  double cpu_millis = 0;
  double memory_bytes = 0;
  friend bool operator==(const ResourceFigures&, const ResourceFigures&) = default;
};

// Calls f(name, &model::ResourceSample::field, &ResourceFigures::field) for
// every field aggregated: a new field of ResourceSample is one line here
// (and its member in ResourceFigures); the means, maxima, JSON and history
// rows follow.
template <typename F>
void ForEachResourceField(F&& f) {
  f("cpu_millis", &model::ResourceSample::cpu_millis, &ResourceFigures::cpu_millis);
  f("memory_bytes", &model::ResourceSample::memory_bytes, &ResourceFigures::memory_bytes);
}

// An app's minute.
struct AppMinute {
  Time minute;                         // its start, a whole minute
  bool has_traffic = false;            // an edge reported the app in the minute
  std::array<uint64_t, 6> by_class{};  // requests by status class: [5] is 5xx
  uint64_t bytes = 0;                  // response body bytes
  LatencyHistogram latency;            // merged over the edges and the minute
  int64_t in_flight_max = 0;           // per edge its highest report, summed over edges
  int instances = 0;                   // instances sampled in the minute (0: no figures)
  ResourceFigures resources_mean;      // the mean of the instances' means
  ResourceFigures resources_max;       // the highest sample of any instance
  uint64_t requests() const;
  friend bool operator==(const AppMinute&, const AppMinute&) = default;
};

// One instance's minute.
struct InstanceMinute {
  Time minute;
  std::string instance;
  int samples = 0;
  ResourceFigures mean;
  ResourceFigures max;
  friend bool operator==(const InstanceMinute&, const InstanceMinute&) = default;
};

// An app's minute with its instances', as LiveSeries::Rollup makes them.
struct AppRollup {
  AppMinute app;
  std::vector<InstanceMinute> instances;
};

// The history rows of `rollups` (app name -> its minute): one app row
// (instance "") and one row per instance each.
std::vector<store::MetricsRow> ToRows(const std::map<std::string, AppRollup>& rollups);

// The rows of one app read back, in minute order. Rows that do not decode (a
// newer server's, a damaged one) are skipped and counted in `skipped`.
struct AppHistory {
  std::vector<AppMinute> minutes;
  std::map<std::string, std::vector<InstanceMinute>> instances;  // by instance id
  int skipped = 0;
};
AppHistory FromRows(const std::vector<store::MetricsRow>& rows);

// The whole minute `t` is in.
Time MinuteOf(Time t);

}  // namespace skiff::metrics
