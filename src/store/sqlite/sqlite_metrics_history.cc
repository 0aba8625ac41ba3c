#include "store/sqlite/sqlite_metrics_history.h"

namespace skiff::store {
namespace {

using sqlite::Statement;

// Outside the store's schema versions (sqlite/migrations.cc): the table is
// made here when missing, so a database of an older server simply gains it.
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS metrics_minutes ("
    "  app TEXT NOT NULL, minute INTEGER NOT NULL, instance TEXT NOT NULL, data TEXT NOT NULL,"
    "  PRIMARY KEY (app, minute, instance)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS metrics_minutes_by_minute ON metrics_minutes (minute);";

}  // namespace

Result<std::unique_ptr<SqliteMetricsHistory>> SqliteMetricsHistory::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  std::unique_ptr<SqliteMetricsHistory> history(new SqliteMetricsHistory(db));
  if (rc != SQLITE_OK) return sqlite::SqliteError(db, "open " + path);
  sqlite3_busy_timeout(db, 5'000);
  SKIFF_RETURN_IF_ERROR(sqlite::Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"));
  SKIFF_RETURN_IF_ERROR(sqlite::Exec(db, kSchema));
  SKIFF_RETURN_IF_ERROR(history->Prepare());
  return history;
}

SqliteMetricsHistory::~SqliteMetricsHistory() {
  // Statements first: a connection with statements left does not close.
  begin_ = Statement();
  commit_ = Statement();
  rollback_ = Statement();
  put_ = Statement();
  query_ = Statement();
  prune_ = Statement();
  sqlite3_close(db_);
}

Status SqliteMetricsHistory::Prepare() {
  auto prepare = [this](Statement& s, std::string_view sql) -> Status {
    SKIFF_ASSIGN_OR_RETURN(s, Statement::Prepare(db_, sql));
    return OkStatus();
  };
  SKIFF_RETURN_IF_ERROR(prepare(begin_, "BEGIN IMMEDIATE"));
  SKIFF_RETURN_IF_ERROR(prepare(commit_, "COMMIT"));
  SKIFF_RETURN_IF_ERROR(prepare(rollback_, "ROLLBACK"));
  SKIFF_RETURN_IF_ERROR(prepare(put_,
                                "INSERT OR REPLACE INTO metrics_minutes (app, minute, instance, "
                                "data) VALUES (?1, ?2, ?3, ?4)"));
  SKIFF_RETURN_IF_ERROR(prepare(query_,
                                "SELECT minute, instance, data FROM metrics_minutes WHERE app = ?1 "
                                "AND minute >= ?2 AND minute < ?3 ORDER BY minute, instance"));
  SKIFF_RETURN_IF_ERROR(prepare(prune_, "DELETE FROM metrics_minutes WHERE minute < ?1"));
  return OkStatus();
}

Status SqliteMetricsHistory::Append(const std::vector<MetricsRow>& rows) {
  for (const MetricsRow& row : rows) {
    if (row.app.empty()) return InvalidArgument("metrics row: app is empty", "app");
  }
  std::lock_guard lock(mu_);
  SKIFF_RETURN_IF_ERROR(begin_.Run());
  for (const MetricsRow& row : rows) {
    put_.Bind(1, row.app)
        .Bind(2, HistorySeconds(row.minute))
        .Bind(3, row.instance)
        .Bind(4, row.data);
    if (Status put = put_.Run(); !put) {
      (void)rollback_.Run();
      return put;
    }
  }
  if (Status committed = commit_.Run(); !committed) {
    (void)rollback_.Run();
    return committed;
  }
  return OkStatus();
}

Result<std::vector<MetricsRow>> SqliteMetricsHistory::Query(const std::string& app, Time since,
                                                            Time until) const {
  std::lock_guard lock(mu_);
  sqlite::ScopedReset reset(query_);
  query_.Bind(1, app).Bind(2, HistorySeconds(since)).Bind(3, HistoryCeilSeconds(until));
  // Minutes are whole seconds: the bounds are widened to whole seconds, and
  // rows outside the exact range are left out below.
  std::vector<MetricsRow> out;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool row, query_.Step());
    if (!row) break;
    MetricsRow r;
    r.app = app;
    r.minute = Time(std::chrono::seconds(query_.ColumnInt64(0)));
    r.instance = std::string(query_.ColumnText(1));
    r.data = std::string(query_.ColumnText(2));
    if (r.minute >= since && r.minute < until) out.push_back(std::move(r));
  }
  return out;
}

Result<int64_t> SqliteMetricsHistory::Prune(Time older_than) {
  std::lock_guard lock(mu_);
  prune_.Bind(1, HistoryCeilSeconds(older_than));
  SKIFF_RETURN_IF_ERROR(prune_.Run());
  return static_cast<int64_t>(sqlite3_changes(db_));
}

}  // namespace skiff::store
