// The p-quantile (0..1) of a sample, nearest rank; 0 for an empty one. Shared
// by the benchmarks' printed figures.
#pragma once

#include <algorithm>
#include <vector>

inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}
