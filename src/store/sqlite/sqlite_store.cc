#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <utility>

#include "common/logging.h"
#include "store/object_codec.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/statement.h"
#include "store/txn_plan.h"

namespace skiff::store {
namespace {

using sqlite::ScopedReset;
using sqlite::Statement;

std::string SqliteKindName(Kind kind) { return std::string(ToString(kind)); }
std::string SqliteRecordKindName(RecordKind kind) { return std::string(ToString(kind)); }

// One connection; tables as migrations.cc lays them out. The log state is the
// meta row, read inside every write transaction: another connection to the
// same file (a second process, or a second store in this one) may have
// committed since this one last did.
class SqliteBackend final : public Backend {
 public:
  // Opens, switches to WAL, migrates, prepares and reads the log state.
  static Result<std::unique_ptr<SqliteBackend>> Open(const std::string& path, int busy_timeout_ms);

  ~SqliteBackend() override {
    // Statements must be finalised before the connection closes.
    stmts_ = Statements{};
    sqlite3_close(db_);
  }

  // Backend:
  Result<LogState> BeginWrite() override {
    SKIFF_RETURN_IF_ERROR(stmts_.begin.Run());
    // BEGIN IMMEDIATE holds the write lock, so the row read now stays true
    // until COMMIT.
    Result<LogState> state = ReadLogState();
    if (!state) AbortWrite();
    return state;
  }

  Status Write(const std::vector<Change>& changes, int64_t /*epoch*/) override {
    for (const Change& change : changes) {
      const Kind kind = KindOf(change.object);
      const std::string key = KeyOf(change.object);
      const std::string data = EncodeObject(change.object);
      if (kind == Kind::kEvent) {
        const auto& event = std::get<model::Event>(change.object);
        SKIFF_RETURN_IF_ERROR(
            stmts_.add_event.Bind(1, event.id).Bind(2, event.app).Bind(3, data).Run());
      } else if (change.deleted) {
        SKIFF_RETURN_IF_ERROR(
            stmts_.delete_object.Bind(1, SqliteKindName(kind)).Bind(2, key).Run());
      } else {
        SKIFF_RETURN_IF_ERROR(stmts_.put_object.Bind(1, SqliteKindName(kind))
                                  .Bind(2, key)
                                  .Bind(3, change.revision)
                                  .Bind(4, data)
                                  .Run());
      }
      SKIFF_RETURN_IF_ERROR(stmts_.add_change.Bind(1, change.revision)
                                .Bind(2, SqliteKindName(kind))
                                .Bind(3, key)
                                .Bind(4, int64_t{change.deleted ? 1 : 0})
                                .Bind(5, VersionOf(change.object))
                                .Bind(6, data)
                                .Run());
    }
    return OkStatus();
  }

  Status CompactLog(int64_t upto) override { return stmts_.compact_changes.Bind(1, upto).Run(); }

  Status DropOldestEvents(int64_t count) override {
    return stmts_.trim_events.Bind(1, count).Run();
  }

  Status CommitWrite(const LogState& state) override {
    SKIFF_RETURN_IF_ERROR(stmts_.update_meta.Bind(1, state.revision)
                              .Bind(2, state.compacted)
                              .Bind(3, state.events)
                              .Run());
    return stmts_.commit.Run();
  }

  void AbortWrite() override {
    Status rolled_back = stmts_.rollback.Run();
    // SQLite rolls back by itself after some I/O errors, and then ROLLBACK
    // fails with nothing left to undo; only a transaction still open matters.
    if (!rolled_back && sqlite3_get_autocommit(db_) == 0) {
      SKIFF_LOG_ERROR("sqlite store: ROLLBACK failed, transaction still open: {}",
                      rolled_back.error().ToString());
    }
  }

  // A deferred transaction reads one WAL snapshot from its first read on, so
  // another connection's commit meanwhile is not half seen.
  Status BeginRead() override { return stmts_.begin_read.Run(); }
  void EndRead() override {
    Status ended = stmts_.commit.Run();
    if (!ended) SKIFF_LOG_WARN("sqlite store: ending a read: {}", ended.error().ToString());
  }

  Result<LogState> ReadLogState() override {
    Statement& s = stmts_.read_meta;
    ScopedReset reset(s);
    SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return Internal("sqlite store: meta row missing");
    return LogState{s.ColumnInt64(0), s.ColumnInt64(1), s.ColumnInt64(2)};
  }

  Result<std::optional<Object>> ReadObject(Kind kind, const std::string& key) override {
    Statement& s = stmts_.get_object;
    ScopedReset reset(s);
    s.Bind(1, SqliteKindName(kind)).Bind(2, key);
    SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<Object>();
    SKIFF_ASSIGN_OR_RETURN(Object object, DecodeObject(kind, s.ColumnText(1), s.ColumnInt64(0)));
    return std::optional<Object>(std::move(object));
  }

  Result<std::vector<Object>> ReadObjects(Kind kind, const std::string& key_prefix) override {
    const std::string end = PrefixEnd(key_prefix);
    Statement& s = end.empty() ? stmts_.list_from : stmts_.list_range;
    ScopedReset reset(s);
    s.Bind(1, SqliteKindName(kind)).Bind(2, key_prefix);
    if (!end.empty()) s.Bind(3, end);
    std::vector<Object> out;
    while (true) {
      SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      SKIFF_ASSIGN_OR_RETURN(Object object, DecodeObject(kind, s.ColumnText(1), s.ColumnInt64(0)));
      out.push_back(std::move(object));
    }
    return out;
  }

  Result<std::vector<model::Event>> ReadEvents(const EventFilter& filter) override {
    Statement& s = filter.oldest_first ? stmts_.list_events_forward : stmts_.list_events;
    ScopedReset reset(s);
    s.Bind(1, filter.after_id).Bind(2, filter.app).Bind(3, ClampLimit(filter.limit));
    std::vector<model::Event> out;
    while (true) {
      SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      SKIFF_ASSIGN_OR_RETURN(Object object,
                             DecodeObject(Kind::kEvent, s.ColumnText(1), s.ColumnInt64(0)));
      out.push_back(std::get<model::Event>(std::move(object)));
    }
    // The newest-N query reads backwards.
    if (!filter.oldest_first) std::reverse(out.begin(), out.end());
    return out;
  }

  Result<std::vector<Change>> ReadChanges(int64_t since, size_t limit) override {
    Statement& s = stmts_.changes_since;
    ScopedReset reset(s);
    s.Bind(1, since).Bind(2, ClampLimit(limit));
    std::vector<Change> out;
    while (true) {
      SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      auto kind = ParseKind(s.ColumnText(1));
      if (!kind) {
        return Internal("change log: unknown kind \"" + std::string(s.ColumnText(1)) + "\"");
      }
      SKIFF_ASSIGN_OR_RETURN(Object object, DecodeObject(*kind, s.ColumnText(4), s.ColumnInt64(3)));
      out.push_back(Change{s.ColumnInt64(0), s.ColumnInt64(2) != 0, std::move(object)});
    }
    return out;
  }

  Result<bool> WriteRecord(RecordKind kind, const std::string& key, const std::string& value,
                           bool replace) override {
    Statement& s = replace ? stmts_.put_record : stmts_.create_record;
    SKIFF_RETURN_IF_ERROR(s.Bind(1, SqliteRecordKindName(kind)).Bind(2, key).Bind(3, value).Run());
    return sqlite3_changes(db_) > 0;
  }

  Result<bool> EraseRecord(RecordKind kind, const std::string& key) override {
    SKIFF_RETURN_IF_ERROR(
        stmts_.delete_record.Bind(1, SqliteRecordKindName(kind)).Bind(2, key).Run());
    return sqlite3_changes(db_) > 0;
  }

  Result<std::optional<std::string>> ReadRecord(RecordKind kind, const std::string& key) override {
    Statement& s = stmts_.get_record;
    ScopedReset reset(s);
    s.Bind(1, SqliteRecordKindName(kind)).Bind(2, key);
    SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(std::string(s.ColumnText(0)));
  }

  // BEGIN IMMEDIATE keeps every other writer of the file out until COMMIT.
  Result<bool> HoldRecord(RecordKind kind, const std::string& key) override {
    SKIFF_ASSIGN_OR_RETURN(std::optional<std::string> value, ReadRecord(kind, key));
    return value.has_value();
  }

  Result<int64_t> AppendAudit(const AuditEntry& e) override {
    SKIFF_RETURN_IF_ERROR(stmts_.add_audit.Bind(1, ToMillis(e.time))
                              .Bind(2, e.who)
                              .Bind(3, e.role)
                              .Bind(4, e.credential)
                              .Bind(5, e.source)
                              .Bind(6, e.method)
                              .Bind(7, e.path)
                              .Bind(8, e.project)
                              .Bind(9, e.app)
                              .Bind(10, e.request_id)
                              .Bind(11, int64_t{e.code})
                              .Bind(12, e.revision)
                              .Run());
    return sqlite3_last_insert_rowid(db_);
  }

  Result<int64_t> SetAuditCode(const std::string& request_id, int code) override {
    SKIFF_RETURN_IF_ERROR(stmts_.set_audit_code.Bind(1, request_id).Bind(2, int64_t{code}).Run());
    return sqlite3_changes(db_);
  }

  Result<std::vector<AuditEntry>> ReadAudit(const AuditFilter& filter) override {
    Statement& s = filter.oldest_first ? stmts_.list_audit_forward : stmts_.list_audit;
    ScopedReset reset(s);
    s.Bind(1, filter.after_id)
        .Bind(2, SinceMillis(filter))
        .Bind(3, filter.who)
        .Bind(4, filter.app)
        .Bind(5, ClampLimit(filter.limit));
    std::vector<AuditEntry> out;
    while (true) {
      SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      AuditEntry& e = out.emplace_back();
      e.id = s.ColumnInt64(0);
      e.time = FromMillis(s.ColumnInt64(1));
      std::string* texts[] = {&e.who,  &e.role,    &e.credential, &e.source,    &e.method,
                              &e.path, &e.project, &e.app,        &e.request_id};
      for (int i = 0; i < 9; ++i) *texts[i] = std::string(s.ColumnText(2 + i));
      e.code = static_cast<int>(s.ColumnInt64(11));
      e.revision = s.ColumnInt64(12);
    }
    // The newest-N query reads backwards.
    if (!filter.oldest_first) std::reverse(out.begin(), out.end());
    return out;
  }

  Result<int64_t> PruneAudit(Time before) override {
    SKIFF_RETURN_IF_ERROR(stmts_.prune_audit.Bind(1, ToMillis(before)).Run());
    return sqlite3_changes(db_);
  }

  Result<std::vector<Record>> ReadRecords(RecordKind kind) override {
    Statement& s = stmts_.list_records;
    ScopedReset reset(s);
    s.Bind(1, SqliteRecordKindName(kind));
    std::vector<Record> out;
    while (true) {
      SKIFF_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(Record{std::string(s.ColumnText(0)), std::string(s.ColumnText(1))});
    }
    return out;
  }

 private:
  // Every statement the backend runs, prepared once at Open.
  struct Statements {
    Statement begin;
    Statement begin_read;
    Statement commit;
    Statement rollback;
    Statement get_object;           // (kind, key) -> version, data
    Statement list_from;            // (kind, lo) -> version, data, lo <= key, by key
    Statement list_range;           // (kind, lo, hi) -> version, data, lo <= key < hi, by key
    Statement put_object;           // (kind, key, version, data)
    Statement delete_object;        // (kind, key)
    Statement add_event;            // (id, app, data)
    Statement list_events;          // (after_id, app or '', limit) -> id, data, newest first
    Statement list_events_forward;  // the same, oldest first
    Statement trim_events;          // (count): drops the oldest count events
    Statement add_change;           // (revision, kind, key, deleted, version, data)
    Statement changes_since;        // (since, limit) -> revision, kind, deleted, version, data
    Statement compact_changes;      // (upto): drops revisions <= upto
    Statement update_meta;          // (revision, compacted, events)
    Statement read_meta;            // -> revision, compacted, events
    Statement put_record;           // (kind, key, value): insert or replace
    Statement create_record;        // (kind, key, value): insert if absent
    Statement delete_record;        // (kind, key)
    Statement get_record;           // (kind, key) -> value
    Statement list_records;         // (kind) -> key, value, by key
    Statement add_audit;            // (time_ms, who, ..., request_id, code, revision)
    Statement set_audit_code;       // (request_id, code): where code = 0
    Statement list_audit;           // (after_id, since_ms, who or '', app or '', limit)
                                    // -> kAuditColumns, newest first
    Statement list_audit_forward;   // the same, oldest first
    Statement prune_audit;          // (before_ms)
  };

  explicit SqliteBackend(sqlite3* db) : db_(db) {}
  Status Prepare();

  sqlite3* db_;  // owned
  Statements stmts_;
};

Result<std::unique_ptr<SqliteBackend>> SqliteBackend::Open(const std::string& path,
                                                           int busy_timeout_ms) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  // From here the backend owns db, even when opening failed (sqlite3_close frees it).
  std::unique_ptr<SqliteBackend> backend(new SqliteBackend(db));
  if (rc != SQLITE_OK) return sqlite::SqliteError(db, "open " + path);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  {
    // journal_mode answers with the mode in force; anything but WAL (e.g. on a
    // file system without shared memory) would silently weaken the guarantees.
    SKIFF_ASSIGN_OR_RETURN(Statement wal, Statement::Prepare(db, "PRAGMA journal_mode=WAL"));
    SKIFF_ASSIGN_OR_RETURN(bool row, wal.Step());
    if (!row || wal.ColumnText(0) != "wal") {
      return Unavailable("sqlite: " + path + ": cannot switch to WAL journal mode");
    }
  }
  // FULL: the WAL is fsynced at every commit, so an acknowledged Commit survives.
  SKIFF_RETURN_IF_ERROR(sqlite::Exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF"));
  SKIFF_RETURN_IF_ERROR(sqlite::Migrate(db));
  SKIFF_RETURN_IF_ERROR(backend->Prepare());
  return backend;
}

Status SqliteBackend::Prepare() {
  auto prepare = [this](Statement& s, std::string_view sql) -> Status {
    SKIFF_ASSIGN_OR_RETURN(s, Statement::Prepare(db_, sql));
    return OkStatus();
  };
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.begin, "BEGIN IMMEDIATE"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.begin_read, "BEGIN DEFERRED"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.commit, "COMMIT"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.rollback, "ROLLBACK"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.get_object, "SELECT version, data FROM objects WHERE kind = ?1 AND key = ?2"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.list_from,
                                "SELECT version, data FROM objects "
                                "WHERE kind = ?1 AND key >= ?2 ORDER BY key"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.list_range,
                                "SELECT version, data FROM objects "
                                "WHERE kind = ?1 AND key >= ?2 AND key < ?3 ORDER BY key"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.put_object,
                                "INSERT OR REPLACE INTO objects (kind, key, version, data) "
                                "VALUES (?1, ?2, ?3, ?4)"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.delete_object, "DELETE FROM objects WHERE kind = ?1 AND key = ?2"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.add_event, "INSERT INTO events (id, app, data) VALUES (?1, ?2, ?3)"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.list_events,
                                "SELECT id, data FROM events WHERE id > ?1 "
                                "AND (?2 = '' OR app = ?2) ORDER BY id DESC LIMIT ?3"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.list_events_forward,
                                "SELECT id, data FROM events WHERE id > ?1 "
                                "AND (?2 = '' OR app = ?2) ORDER BY id LIMIT ?3"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.trim_events,
              "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?1)"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.add_change,
                                "INSERT INTO changes (revision, kind, key, deleted, version, data) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.changes_since,
                                "SELECT revision, kind, deleted, version, data FROM changes "
                                "WHERE revision > ?1 ORDER BY revision LIMIT ?2"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.compact_changes, "DELETE FROM changes WHERE revision <= ?1"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.update_meta,
              "UPDATE meta SET revision = ?1, compacted = ?2, events = ?3 WHERE id = 1"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.read_meta, "SELECT revision, compacted, events FROM meta WHERE id = 1"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.put_record,
                                "INSERT INTO records (kind, key, value) VALUES (?1, ?2, ?3) "
                                "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.create_record,
                                "INSERT INTO records (kind, key, value) VALUES (?1, ?2, ?3) "
                                "ON CONFLICT (kind, key) DO NOTHING"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.delete_record, "DELETE FROM records WHERE kind = ?1 AND key = ?2"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.get_record, "SELECT value FROM records WHERE kind = ?1 AND key = ?2"));
  SKIFF_RETURN_IF_ERROR(
      prepare(stmts_.list_records, "SELECT key, value FROM records WHERE kind = ?1 ORDER BY key"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.add_audit,
                                "INSERT INTO audit (time_ms, who, role, credential, source, "
                                "method, path, project, app, request_id, code, revision) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.set_audit_code,
                                "UPDATE audit SET code = ?2 WHERE request_id = ?1 AND code = 0"));
  const std::string list_audit = std::string("SELECT ") + kAuditColumns +
                                 " FROM audit WHERE id > ?1 AND time_ms >= ?2 "
                                 "AND (?3 = '' OR who = ?3) AND (?4 = '' OR app = ?4) ";
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.list_audit, list_audit + "ORDER BY id DESC LIMIT ?5"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.list_audit_forward, list_audit + "ORDER BY id LIMIT ?5"));
  SKIFF_RETURN_IF_ERROR(prepare(stmts_.prune_audit, "DELETE FROM audit WHERE time_ms < ?1"));
  return OkStatus();
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  return Open(path, Options{});
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, Options options) {
  SKIFF_ASSIGN_OR_RETURN(std::unique_ptr<SqliteBackend> backend,
                         SqliteBackend::Open(path, options.busy_timeout_ms));
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(backend), options));
}

SqliteStore::SqliteStore(std::unique_ptr<Backend> backend, Options options)
    : TxnEngine(std::move(backend), EngineOptions{.change_retention = options.change_retention,
                                                  .event_retention = options.event_retention}) {}

}  // namespace skiff::store
