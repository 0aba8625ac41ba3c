// Series: an app's minute roll-ups (rollup.h) re-aggregated into the steps of
// a chart (GET /v1/apps/{app}/metrics): counts summed, latency histograms
// merged and the quantiles taken from the merged histogram, resource figures
// averaged over the minutes that have them. A step without data is kept,
// with nothing in it, so that a chart shows the gap.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "metrics/rollup.h"

namespace skiff::metrics {

struct SeriesPoint {
  Time time;                   // the step's start
  int traffic_minutes = 0;     // minutes of the step some edge reported the app in
  double traffic_seconds = 0;  // their length, the minute going on cut at `until`
  uint64_t requests = 0;
  uint64_t errors = 0;  // 5xx
  uint64_t bytes = 0;
  LatencyHistogram latency;
  int64_t in_flight_max = 0;
  int resource_minutes = 0;        // minutes of the step with instance samples
  int instances = 0;               // the most instances sampled in one of its minutes
  ResourceFigures resources_mean;  // per instance, the mean over those minutes
};

struct InstanceSeriesPoint {
  Time time;
  int minutes = 0;  // minutes of the step with samples (0: no data)
  ResourceFigures mean;
  ResourceFigures max;
};

struct Series {
  Time since;  // the first step's start (a whole minute)
  Time until;
  Duration step{60'000};
  std::vector<SeriesPoint> points;
  std::map<std::string, std::vector<InstanceSeriesPoint>> instances;
};

// The steps of `step` from MinuteOf(since) while before `until`, filled from
// `history`. REQUIRES: step a positive multiple of a minute; since < until.
Series Aggregate(const AppHistory& history, Time since, Time until, Duration step);

// {"app","since","until","step","points":[{"time","requests","errors",
//  "requests_per_second","errors_per_second","p50_ms","p95_ms","p99_ms",
//  "in_flight","cpu_millis","memory_bytes","instances"}],"instances":{...}}
// with null figures where a step has no data (docs/api.md).
boost::json::value ToJson(const std::string& app, const Series& series);

}  // namespace skiff::metrics
