#include "store/memory/memory_metrics_history.h"

namespace skiff::store {

Status MemoryMetricsHistory::Append(const std::vector<MetricsRow>& rows) {
  for (const MetricsRow& row : rows) {
    if (row.app.empty()) return InvalidArgument("metrics row: app is empty", "app");
  }
  std::lock_guard lock(mu_);
  for (const MetricsRow& row : rows) {
    MetricsRow kept = row;
    kept.minute = Time(std::chrono::seconds(HistorySeconds(row.minute)));
    rows_[Key{row.app, HistorySeconds(row.minute), row.instance}] = std::move(kept);
  }
  return OkStatus();
}

Result<std::vector<MetricsRow>> MemoryMetricsHistory::Query(const std::string& app, Time since,
                                                            Time until) const {
  std::lock_guard lock(mu_);
  std::vector<MetricsRow> out;
  for (auto it = rows_.lower_bound(Key{app, HistorySeconds(since), ""});
       it != rows_.end() && std::get<0>(it->first) == app; ++it) {
    if (it->second.minute >= until) break;
    if (it->second.minute >= since) out.push_back(it->second);
  }
  return out;
}

Result<int64_t> MemoryMetricsHistory::Prune(Time older_than) {
  std::lock_guard lock(mu_);
  int64_t dropped = 0;
  for (auto it = rows_.begin(); it != rows_.end();) {
    if (it->second.minute < older_than) {
      it = rows_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

}  // namespace skiff::store
