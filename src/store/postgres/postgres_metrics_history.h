// PostgresMetricsHistory: MetricsHistory in the table metrics_minutes of the
// database the servers share (outside the store's change log and its schema
// steps: the table is made on open when missing, under an advisory lock so
// that servers starting together make it once). Only the leader writes
// (server/metrics_rollup.h); every server reads.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/metrics_history.h"
#include "store/postgres/connection.h"

namespace skiff::store {

class PostgresMetricsHistory final : public MetricsHistory {
 public:
  // Connects to the database of `conninfo` and makes the table when missing.
  // Errors: kInvalidArgument for a malformed connection string; kUnavailable
  // when the database cannot be reached.
  static Result<std::unique_ptr<PostgresMetricsHistory>> Open(const std::string& conninfo);

  // MetricsHistory:
  Status Append(const std::vector<MetricsRow>& rows) override;
  Result<std::vector<MetricsRow>> Query(const std::string& app, Time since,
                                        Time until) const override;
  Result<int64_t> Prune(Time older_than) override;

 private:
  explicit PostgresMetricsHistory(const std::string& conninfo);
  // Runs f() once more on a new connection when the first try found the
  // connection lost (a restarted database): nothing was done on it.
  template <typename F>
  Result<postgres::Rows> OnLiveConnection(const F& f) const;

  mutable std::mutex mu_;
  mutable postgres::Connection conn_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::store
