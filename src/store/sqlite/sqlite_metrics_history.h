// SqliteMetricsHistory: MetricsHistory in its own table (metrics_minutes) of
// the server's SQLite file, on a connection of its own so that a roll-up
// write never waits behind, or holds up, the store's transactions longer than
// SQLite's one-writer lock does. WAL, synchronous=NORMAL: a minute lost to a
// power cut is a gap in a chart, not lost state.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <string>

#include "store/metrics_history.h"
#include "store/sqlite/statement.h"

namespace skiff::store {

class SqliteMetricsHistory final : public MetricsHistory {
 public:
  // Opens (creating if needed) the database at `path` and its table.
  // Errors: kUnavailable when the file cannot be opened or written.
  static Result<std::unique_ptr<SqliteMetricsHistory>> Open(const std::string& path);
  ~SqliteMetricsHistory() override;

  // MetricsHistory:
  Status Append(const std::vector<MetricsRow>& rows) override;
  Result<std::vector<MetricsRow>> Query(const std::string& app, Time since,
                                        Time until) const override;
  Result<int64_t> Prune(Time older_than) override;

 private:
  explicit SqliteMetricsHistory(sqlite3* db) : db_(db) {}
  Status Prepare();

  mutable std::mutex mu_;                              // one statement at a time on db_
  sqlite3* db_;                                        // owned
  sqlite::Statement begin_, commit_, rollback_, put_;  // GUARDED_BY(mu_)
  mutable sqlite::Statement query_;                    // GUARDED_BY(mu_)
  sqlite::Statement prune_;                            // GUARDED_BY(mu_)
};

}  // namespace skiff::store
