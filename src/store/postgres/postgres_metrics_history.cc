#include "store/postgres/postgres_metrics_history.h"

namespace skiff::store {
namespace {

// An advisory lock key of its own ("skfm"), apart from the store's migrations'.
constexpr const char* kMakeTable =
    "BEGIN; SELECT pg_advisory_xact_lock(1936418413);"
    "CREATE TABLE IF NOT EXISTS metrics_minutes ("
    "  app TEXT NOT NULL, minute BIGINT NOT NULL, instance TEXT NOT NULL, data TEXT NOT NULL,"
    "  PRIMARY KEY (app, minute, instance));"
    "CREATE INDEX IF NOT EXISTS metrics_minutes_by_minute ON metrics_minutes (minute);"
    "COMMIT";

std::vector<postgres::Connection::Statement> PostgresHistoryStatements() {
  return {
      {"history_put",
       "INSERT INTO metrics_minutes (app, minute, instance, data) VALUES ($1, $2, $3, $4) "
       "ON CONFLICT (app, minute, instance) DO UPDATE SET data = EXCLUDED.data"},
      {"history_query",
       "SELECT minute, instance, data FROM metrics_minutes WHERE app = $1 AND minute >= $2 "
       "AND minute < $3 ORDER BY minute, instance"},
      {"history_prune", "DELETE FROM metrics_minutes WHERE minute < $1"},
  };
}

}  // namespace

PostgresMetricsHistory::PostgresMetricsHistory(const std::string& conninfo)
    : conn_(conninfo, PostgresHistoryStatements(), "SET statement_timeout = 30000") {}

Result<std::unique_ptr<PostgresMetricsHistory>> PostgresMetricsHistory::Open(
    const std::string& conninfo) {
  {
    // Without the prepared statements: they need the table.
    postgres::Connection maker(conninfo, {});
    SKIFF_RETURN_IF_ERROR(maker.EnsureConnected());
    SKIFF_RETURN_IF_ERROR(maker.Exec(kMakeTable));
  }
  std::unique_ptr<PostgresMetricsHistory> history(new PostgresMetricsHistory(conninfo));
  std::lock_guard lock(history->mu_);
  SKIFF_RETURN_IF_ERROR(history->conn_.EnsureConnected());
  return history;
}

template <typename F>
Result<postgres::Rows> PostgresMetricsHistory::OnLiveConnection(const F& f) const {
  SKIFF_RETURN_IF_ERROR(conn_.EnsureConnected());
  Result<postgres::Rows> first = f();
  if (first || first.error().code != ErrorCode::kUnavailable) return first;
  conn_.Drop();
  SKIFF_RETURN_IF_ERROR(conn_.EnsureConnected());
  return f();
}

Status PostgresMetricsHistory::Append(const std::vector<MetricsRow>& rows) {
  for (const MetricsRow& row : rows) {
    if (row.app.empty()) return InvalidArgument("metrics row: app is empty", "app");
  }
  if (rows.empty()) return OkStatus();
  std::lock_guard lock(mu_);
  SKIFF_RETURN_IF_ERROR(OnLiveConnection([&] { return conn_.Exec("BEGIN"); }));
  for (const MetricsRow& row : rows) {
    auto put = conn_.Run("history_put", {row.app, std::to_string(HistorySeconds(row.minute)),
                                         row.instance, row.data});
    if (!put) {
      conn_.Drop();  // the server rolls the transaction back
      return tl::unexpected(put.error());
    }
  }
  if (auto committed = conn_.Exec("COMMIT"); !committed) {
    conn_.Drop();
    return tl::unexpected(committed.error());
  }
  return OkStatus();
}

Result<std::vector<MetricsRow>> PostgresMetricsHistory::Query(const std::string& app, Time since,
                                                              Time until) const {
  std::lock_guard lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(postgres::Rows rows, OnLiveConnection([&] {
                           return conn_.Run("history_query",
                                            {app, std::to_string(HistorySeconds(since)),
                                             std::to_string(HistoryCeilSeconds(until))});
                         }));
  std::vector<MetricsRow> out;
  for (int i = 0; i < rows.size(); ++i) {
    SKIFF_ASSIGN_OR_RETURN(int64_t minute, rows.Int(i, 0));
    MetricsRow r{.app = app,
                 .instance = std::string(rows.Text(i, 1)),
                 .minute = Time(std::chrono::seconds(minute)),
                 .data = std::string(rows.Text(i, 2))};
    if (r.minute >= since && r.minute < until) out.push_back(std::move(r));
  }
  return out;
}

Result<int64_t> PostgresMetricsHistory::Prune(Time older_than) {
  std::lock_guard lock(mu_);
  SKIFF_ASSIGN_OR_RETURN(postgres::Rows rows, OnLiveConnection([&] {
                           return conn_.Run("history_prune",
                                            {std::to_string(HistoryCeilSeconds(older_than))});
                         }));
  // The command tag: "DELETE n".
  const std::string_view tag = rows.Command();
  const size_t space = tag.rfind(' ');
  return space == std::string_view::npos ? 0 : std::stoll(std::string(tag.substr(space + 1)));
}

}  // namespace skiff::store
