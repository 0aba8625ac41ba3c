// MemoryMetricsHistory: MetricsHistory in a map, for tests and the contract
// suite's reference. Nothing survives the process.
#pragma once

#include <map>
#include <mutex>
#include <tuple>

#include "store/metrics_history.h"

namespace skiff::store {

class MemoryMetricsHistory final : public MetricsHistory {
 public:
  // MetricsHistory:
  Status Append(const std::vector<MetricsRow>& rows) override;
  Result<std::vector<MetricsRow>> Query(const std::string& app, Time since,
                                        Time until) const override;
  Result<int64_t> Prune(Time older_than) override;

 private:
  using Key = std::tuple<std::string, int64_t, std::string>;  // app, minute (s), instance
  mutable std::mutex mu_;
  std::map<Key, MetricsRow> rows_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::store
