// LatencyHistogram: a latency histogram of one span of time (an edge's report
// interval, a minute, a chart's step) as per-bucket counts, so that spans and
// edges add up bucket by bucket. Quantiles over several edges, instances or
// minutes come from the merged histogram, never from averaged quantiles (an
// average of p99s is no p99 of anything).
//
// Thread-safety: a value type; none.
#pragma once

#include <cstdint>
#include <vector>

namespace skiff::metrics {

struct LatencyHistogram {
  // Bucket upper bounds in seconds, increasing; a request at or under
  // bounds[i] and above bounds[i-1] counts in counts[i]. counts has one more
  // entry than bounds: the +Inf bucket.
  std::vector<double> bounds;
  std::vector<uint64_t> counts;

  // The requests counted.
  uint64_t total() const;
  // Adds `other` bucket by bucket. An empty histogram takes other's bounds.
  // Returns false, leaving this unchanged, when both have counts and their
  // bounds differ (every Skiff edge uses the same bounds: an edge of another
  // version is left out rather than mixed in wrongly).
  bool Merge(const LatencyHistogram& other);
  // The q-quantile (0 < q < 1) in seconds, interpolated within its bucket as
  // HistogramQuantile does; 0 when empty.
  double Quantile(double q) const;

  // The observations between two cumulative histograms of one edge (the
  // bounds and cumulative counts of AppTraffic): `before` may be empty (no
  // earlier report) or from before the edge restarted (its count is above
  // `count`, or its bounds differ); then all of `now` counts.
  static LatencyHistogram Between(const std::vector<double>& bounds,
                                  const std::vector<uint64_t>& cumulative, uint64_t count,
                                  const std::vector<double>& before_bounds,
                                  const std::vector<uint64_t>& before_cumulative,
                                  uint64_t before_count);

  friend bool operator==(const LatencyHistogram&, const LatencyHistogram&) = default;
};

}  // namespace skiff::metrics
