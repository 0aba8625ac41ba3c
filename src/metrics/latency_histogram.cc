#include "metrics/latency_histogram.h"

#include <numeric>

#include "metrics/traffic.h"

namespace skiff::metrics {

uint64_t LatencyHistogram::total() const {
  return std::accumulate(counts.begin(), counts.end(), 0ull);
}

bool LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.total() == 0) return true;
  if (total() == 0) {
    *this = other;
    return true;
  }
  if (bounds != other.bounds || counts.size() != other.counts.size()) return false;
  for (size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  return true;
}

double LatencyHistogram::Quantile(double q) const {
  if (bounds.empty()) return 0;
  std::vector<uint64_t> cumulative;
  uint64_t running = 0;
  for (size_t i = 0; i < bounds.size() && i < counts.size(); ++i) {
    running += counts[i];
    cumulative.push_back(running);
  }
  return HistogramQuantile(q, bounds, cumulative, total());
}

LatencyHistogram LatencyHistogram::Between(const std::vector<double>& bounds,
                                           const std::vector<uint64_t>& cumulative, uint64_t count,
                                           const std::vector<double>& before_bounds,
                                           const std::vector<uint64_t>& before_cumulative,
                                           uint64_t before_count) {
  const bool restarted = before_bounds != bounds || before_cumulative.size() != cumulative.size() ||
                         before_count > count;
  LatencyHistogram out;
  if (bounds.empty()) return out;  // the edge keeps no histogram for the app
  out.bounds = bounds;
  out.counts.assign(bounds.size() + 1, 0);
  uint64_t previous_now = 0;
  uint64_t previous_before = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    const uint64_t now = i < cumulative.size() ? cumulative[i] : count;
    const uint64_t before =
        restarted ? 0 : (i < before_cumulative.size() ? before_cumulative[i] : before_count);
    // Per bucket: the growth of this bucket's cumulative count minus the
    // previous one's; a bucket that went down (not a proper report) counts 0.
    const uint64_t grew_now = now >= previous_now ? now - previous_now : 0;
    const uint64_t grew_before = before >= previous_before ? before - previous_before : 0;
    out.counts[i] = grew_now >= grew_before ? grew_now - grew_before : 0;
    previous_now = now;
    previous_before = before;
  }
  return out;
}

}  // namespace skiff::metrics
