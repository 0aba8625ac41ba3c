#include "store/sqlite/migrations.h"

#include <array>
#include <string>

#include "store/sqlite/statement.h"

namespace skiff::store::sqlite {
namespace {

// Step i (1-based) brings user_version from i - 1 to i.
//
// Layout, version 1:
// - objects: apps, deployments, instances and nodes in one table keyed by
//   (kind, key), the object as codec JSON. One table rather than one per kind
//   because every kind is read whole or by key and filtered lists (instances by
//   app/node) are small enough to filter after decoding; a new kind needs no
//   schema change. `version` is a column so concurrency checks need no decode.
// - events: apart, because they are append-only, by far the most numerous, and
//   read by id range and app: an INTEGER PRIMARY KEY (numeric order, unlike a
//   text key) plus an (app, id) index serve ListEvents directly.
// - changes: the watch log, one row per revision; compaction deletes a prefix.
// - meta: one row with the current revision and the compaction floor (the
//   newest revision deleted from changes), kept in step with every commit.
constexpr std::array<const char*, 4> kSqliteSteps = {
    R"sql(
CREATE TABLE objects (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  app TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX events_by_app ON events (app, id);
CREATE TABLE changes (
  revision INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  version INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE TABLE meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  revision INTEGER NOT NULL,
  compacted INTEGER NOT NULL
);
INSERT INTO meta (id, revision, compacted) VALUES (1, 0, 0);
)sql",
    // Version 2: the events' count joins the meta row, so a write reads the
    // whole log state inside its transaction (another connection may have
    // written since) without counting the events table each time.
    R"sql(
ALTER TABLE meta ADD COLUMN events INTEGER NOT NULL DEFAULT 0;
UPDATE meta SET events = (SELECT COUNT(*) FROM events);
)sql",
    // Version 3: records (store.h), outside the change log, so none of their
    // writes takes a revision or touches meta.
    R"sql(
CREATE TABLE records (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (kind, key)
) WITHOUT ROWID;
)sql",
    // Version 4: the audit trail (store/audit.h), a table of its own: neither
    // records (it is appended to and read by time and id, not by key) nor
    // events (no count bounds it, only PruneAudit by time). AUTOINCREMENT so
    // that an id is never given again, not even once the newest entries were
    // pruned: readers page by id. Times in milliseconds, as events keep them.
    // request_id is indexed only where the code is not yet known, the rows
    // SetAuditCode looks for.
    R"sql(
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  who TEXT NOT NULL,
  role TEXT NOT NULL,
  credential TEXT NOT NULL,
  source TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  project TEXT NOT NULL,
  app TEXT NOT NULL,
  request_id TEXT NOT NULL,
  code INTEGER NOT NULL,
  revision INTEGER NOT NULL
);
CREATE INDEX audit_by_time ON audit (time_ms);
CREATE INDEX audit_awaiting_code ON audit (request_id) WHERE code = 0;
)sql",
};

Result<int> UserVersion(sqlite3* db) {
  SKIFF_ASSIGN_OR_RETURN(Statement s, Statement::Prepare(db, "PRAGMA user_version"));
  SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Internal("PRAGMA user_version returned no row");
  return static_cast<int>(s.ColumnInt64(0));
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(kSqliteSteps.size()); }

Status Migrate(sqlite3* db) {
  SKIFF_ASSIGN_OR_RETURN(int version, UserVersion(db));
  if (version > LatestSchemaVersion()) {
    return FailedPrecondition("database schema version " + std::to_string(version) +
                              " is newer than this build's " +
                              std::to_string(LatestSchemaVersion()));
  }
  for (int step = version + 1; step <= LatestSchemaVersion(); ++step) {
    SKIFF_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
    // Another process may have migrated between our read and our write lock.
    auto now = UserVersion(db);
    if (now && *now >= step) {
      SKIFF_RETURN_IF_ERROR(Exec(db, "COMMIT"));
      continue;
    }
    Status applied = now ? Exec(db, kSqliteSteps[static_cast<size_t>(step - 1)])
                         : Status(tl::unexpected(now.error()));
    if (applied) applied = Exec(db, "PRAGMA user_version = " + std::to_string(step));
    if (applied) applied = Exec(db, "COMMIT");
    if (!applied) {
      (void)Exec(db, "ROLLBACK");
      return tl::unexpected(applied.error());
    }
  }
  return OkStatus();
}

}  // namespace skiff::store::sqlite
