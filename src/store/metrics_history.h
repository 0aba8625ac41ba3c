// MetricsHistory: the minute roll-ups of apps' and instances' figures, kept
// in the server's database for --metrics-retention, outside the change log:
// no revision is bumped and no watcher hears of them (a write a minute per
// app must not wake every agent and edge). Rows are opaque here: the metrics
// layer encodes them (metrics/rollup.h).
//
// Implementations by technology: MemoryMetricsHistory (tests, and a server
// without a database), SqliteMetricsHistory (its own tables in the server's
// SQLite file, on a connection of its own), PostgresMetricsHistory (tables in
// the shared database). One contract suite (metrics_history_contract_test.cc)
// runs against each.
//
// Thread-safety: every implementation is safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace skiff::store {

struct MetricsRow {
  std::string app;
  std::string instance;  // empty: the app's own row
  Time minute;           // the minute's start (whole seconds are kept)
  std::string data;      // the encoded figures
  friend bool operator==(const MetricsRow&, const MetricsRow&) = default;
};

// A time as the backends keep a minute: whole seconds since the epoch,
// rounded down; and rounded up, for a range's end or a prune's bound (one that
// is not a whole second still takes every row before it).
inline int64_t HistorySeconds(Time t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
inline int64_t HistoryCeilSeconds(Time t) {
  const int64_t s = HistorySeconds(t);
  return Time(std::chrono::seconds(s)) < t ? s + 1 : s;
}

class MetricsHistory {
 public:
  virtual ~MetricsHistory() = default;

  // Writes `rows` in one transaction: all or none. A row with the same (app,
  // instance, minute) as a kept one replaces it, so a minute written again
  // (a retry after a failure that did commit) is kept once.
  // Errors: kUnavailable when the database cannot be written (retry later);
  // kInvalidArgument for a row without an app.
  virtual Status Append(const std::vector<MetricsRow>& rows) = 0;

  // The rows of `app` whose minute is in [since, until), ordered by minute
  // then instance (the app's row first). Errors: kUnavailable.
  virtual Result<std::vector<MetricsRow>> Query(const std::string& app, Time since,
                                                Time until) const = 0;

  // Drops every row whose minute is before `older_than`; returns how many.
  // Errors: kUnavailable.
  virtual Result<int64_t> Prune(Time older_than) = 0;
};

}  // namespace skiff::store
