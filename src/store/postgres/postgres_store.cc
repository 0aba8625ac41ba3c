#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <utility>

#include "common/logging.h"
#include "store/object_codec.h"
#include "store/postgres/commit_listener.h"
#include "store/postgres/connection.h"
#include "store/postgres/migrations.h"
#include "store/txn_plan.h"

namespace skiff::store {
namespace {

using postgres::Connection;
using postgres::Rows;

std::string KindName(Kind kind) { return std::string(ToString(kind)); }
std::string RecordKindName(RecordKind kind) { return std::string(ToString(kind)); }
std::string Str(int64_t n) { return std::to_string(n); }

// The audit entries after $1, at or after time $2, of who $3 and app $4 (each
// when not ''), ordered and limited by `order`.
std::string AuditQuery(const std::string& order) {
  return std::string("SELECT ") + kAuditColumns +
         " FROM audit WHERE id > $1 AND time_ms >= $2 AND ($3 = '' OR who = $3) "
         "AND ($4 = '' OR app = $4) " +
         order;
}

// Every statement the backend runs, prepared on each connection.
std::vector<Connection::Statement> Statements() {
  return {
      {"read_state", "SELECT revision, compacted, events FROM log_state WHERE id = 1"},
      // The lock that serialises writers across servers (postgres_store.h).
      {"lock_state", "SELECT revision, compacted, events FROM log_state WHERE id = 1 FOR UPDATE"},
      {"update_state",
       "UPDATE log_state SET revision = $1, compacted = $2, events = $3 WHERE id = 1"},
      {"notify", std::string("SELECT pg_notify('") + postgres::kCommitChannel + "', $1)"},
      {"get_object", "SELECT version, data FROM objects WHERE kind = $1 AND key = $2"},
      {"list_from", "SELECT version, data FROM objects WHERE kind = $1 AND key >= $2 ORDER BY key"},
      {"list_range",
       "SELECT version, data FROM objects WHERE kind = $1 AND key >= $2 AND key < $3 ORDER BY key"},
      {"put_object",
       "INSERT INTO objects (kind, key, version, data) VALUES ($1, $2, $3, $4) "
       "ON CONFLICT (kind, key) DO UPDATE SET version = EXCLUDED.version, data = EXCLUDED.data"},
      {"delete_object", "DELETE FROM objects WHERE kind = $1 AND key = $2"},
      {"add_event", "INSERT INTO events (id, app, data) VALUES ($1, $2, $3)"},
      {"list_events",
       "SELECT id, data FROM events WHERE id > $1 AND ($2 = '' OR app = $2) "
       "ORDER BY id DESC LIMIT $3"},
      {"list_events_forward",
       "SELECT id, data FROM events WHERE id > $1 AND ($2 = '' OR app = $2) ORDER BY id LIMIT $3"},
      {"trim_events",
       "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT $1)"},
      {"add_change",
       "INSERT INTO changes (revision, kind, key, deleted, version, data, epoch) "
       "VALUES ($1, $2, $3, $4, $5, $6, $7)"},
      {"changes_since",
       "SELECT revision, kind, deleted, version, data FROM changes WHERE revision > $1 "
       "ORDER BY revision LIMIT $2"},
      {"compact_changes", "DELETE FROM changes WHERE revision <= $1"},
      // FOR SHARE: a takeover's UPDATE of the row waits until this write ends,
      // and a write after the takeover reads the new epoch
      // (postgres_leader_lease.h). Read last, just before COMMIT (TxnEngine),
      // so the lease's renewal (an UPDATE of the row) waits for no more than
      // the COMMIT.
      {"leader_epoch", "SELECT epoch FROM leader WHERE id = 1 FOR SHARE"},
      // Each record statement is its own transaction (autocommit); RETURNING
      // says whether it wrote.
      {"put_record",
       "INSERT INTO records (kind, key, value) VALUES ($1, $2, $3) "
       "ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value RETURNING key"},
      {"create_record",
       "INSERT INTO records (kind, key, value) VALUES ($1, $2, $3) "
       "ON CONFLICT (kind, key) DO NOTHING RETURNING key"},
      {"delete_record", "DELETE FROM records WHERE kind = $1 AND key = $2 RETURNING key"},
      {"get_record", "SELECT value FROM records WHERE kind = $1 AND key = $2"},
      {"list_records", "SELECT key, value FROM records WHERE kind = $1 ORDER BY key"},
      // Inside a write: FOR SHARE holds the row until it ends, so no other
      // server's record call removes or changes it meanwhile.
      {"hold_record", "SELECT 1 FROM records WHERE kind = $1 AND key = $2 FOR SHARE"},
      {"add_audit",
       "INSERT INTO audit (time_ms, who, role, credential, source, method, path, project, app, "
       "request_id, code, revision) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
       "RETURNING id"},
      // These two answer how many rows they changed.
      {"set_audit_code",
       "WITH s AS (UPDATE audit SET code = $2 WHERE request_id = $1 AND code = 0 RETURNING 1) "
       "SELECT count(*) FROM s"},
      {"list_audit", AuditQuery("ORDER BY id DESC LIMIT $5")},
      {"list_audit_forward", AuditQuery("ORDER BY id LIMIT $5")},
      {"prune_audit",
       "WITH d AS (DELETE FROM audit WHERE time_ms < $1 RETURNING 1) SELECT count(*) FROM d"},
  };
}

Result<LogState> ToLogState(const Rows& rows) {
  if (rows.size() != 1) return Internal("postgres store: log_state row missing");
  LogState state;
  SKIFF_ASSIGN_OR_RETURN(state.revision, rows.Int(0, 0));
  SKIFF_ASSIGN_OR_RETURN(state.compacted, rows.Int(0, 1));
  SKIFF_ASSIGN_OR_RETURN(state.events, rows.Int(0, 2));
  return state;
}

// The answer of a "SELECT count(*)".
Result<int64_t> Count(const Rows& rows) {
  if (rows.size() != 1) return Internal("postgres store: a count returned no row");
  return rows.Int(0, 0);
}

// The store's timeouts as the session's settings (in milliseconds).
std::string SessionSetup(const PostgresStore::Options& options) {
  auto ms = [](Duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  return "SET lock_timeout = " + ms(options.lock_timeout) +
         "; SET statement_timeout = " + ms(options.statement_timeout) +
         "; SET idle_in_transaction_session_timeout = " + ms(options.idle_in_transaction_timeout);
}

class PostgresBackend final : public Backend {
 public:
  PostgresBackend(std::string conninfo, const PostgresStore::Options& options)
      : conn_(std::move(conninfo), Statements(), SessionSetup(options)) {}

  // Migrates (on a connection of its own: the statements prepared on conn_
  // need the tables), then connects: what Open checks before the store is
  // handed out.
  Status Open(const std::string& conninfo) {
    {
      Connection migrator(conninfo, {});
      SKIFF_RETURN_IF_ERROR(migrator.EnsureConnected());
      SKIFF_RETURN_IF_ERROR(postgres::Migrate(migrator));
    }
    return conn_.EnsureConnected();
  }

  // Backend:
  Result<LogState> BeginWrite() override {
    SKIFF_RETURN_IF_ERROR(Begin("BEGIN"));
    // Waits for any other server's write to end, then reads its outcome.
    Result<Rows> rows = conn_.Run("lock_state", {});
    Result<LogState> state = rows ? ToLogState(*rows) : tl::unexpected(rows.error());
    if (!state) AbortWrite();
    if (state) begun_ = *state;
    return state;
  }

  Status Write(const std::vector<Change>& changes, int64_t epoch) override {
    for (const Change& change : changes) {
      const Kind kind = KindOf(change.object);
      const std::string key = KeyOf(change.object);
      const std::string data = EncodeObject(change.object);
      if (kind == Kind::kEvent) {
        const auto& event = std::get<model::Event>(change.object);
        SKIFF_RETURN_IF_ERROR(conn_.Run("add_event", {Str(event.id), event.app, data}));
      } else if (change.deleted) {
        SKIFF_RETURN_IF_ERROR(conn_.Run("delete_object", {KindName(kind), key}));
      } else {
        SKIFF_RETURN_IF_ERROR(
            conn_.Run("put_object", {KindName(kind), key, Str(change.revision), data}));
      }
      SKIFF_RETURN_IF_ERROR(
          conn_.Run("add_change",
                    {Str(change.revision), KindName(kind), key, change.deleted ? "true" : "false",
                     Str(VersionOf(change.object)), data, Str(epoch)}));
    }
    return OkStatus();
  }

  Result<int64_t> ReadLeaderEpoch() override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, conn_.Run("leader_epoch", {}));
    if (rows.size() != 1) return Internal("postgres store: the leader row is missing");
    return rows.Int(0, 0);
  }

  Status CompactLog(int64_t upto) override {
    return conn_.Run("compact_changes", {Str(upto)}).map([](auto&&) {});
  }

  Status DropOldestEvents(int64_t count) override {
    return conn_.Run("trim_events", {Str(count)}).map([](auto&&) {});
  }

  Status CommitWrite(const LogState& state) override {
    // A write of records and audit entries alone leaves the log as it was:
    // no other server's listener need wake for it.
    if (!(state == begun_)) {
      SKIFF_RETURN_IF_ERROR(conn_.Run(
          "update_state", {Str(state.revision), Str(state.compacted), Str(state.events)}));
      // Delivered to listeners only if, and when, the transaction commits.
      SKIFF_RETURN_IF_ERROR(conn_.Run("notify", {Str(state.revision)}));
    }
    Result<Rows> committed = conn_.Exec("COMMIT");
    if (!committed) {
      // The engine aborts next; with the connection gone the outcome is unknown.
      return Unavailable(committed.error().message +
                         " (the connection failed during COMMIT: the write may have committed)");
    }
    in_txn_ = false;
    // A transaction that had failed answers COMMIT with ROLLBACK.
    if (committed->Command() != "COMMIT") {
      return Internal("postgres store: COMMIT answered " + std::string(committed->Command()));
    }
    return OkStatus();
  }

  void AbortWrite() override { EndTxn("ROLLBACK"); }

  Status BeginRead() override { return Begin("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); }
  void EndRead() override { EndTxn("COMMIT"); }

  Result<LogState> ReadLogState() override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, Read("read_state", {}));
    return ToLogState(rows);
  }

  Result<std::optional<Object>> ReadObject(Kind kind, const std::string& key) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, Read("get_object", {KindName(kind), key}));
    if (rows.size() == 0) return std::optional<Object>();
    SKIFF_ASSIGN_OR_RETURN(int64_t version, rows.Int(0, 0));
    SKIFF_ASSIGN_OR_RETURN(Object object, DecodeObject(kind, rows.Text(0, 1), version));
    return std::optional<Object>(std::move(object));
  }

  Result<std::vector<Object>> ReadObjects(Kind kind, const std::string& key_prefix) override {
    const std::string end = PrefixEnd(key_prefix);
    Result<Rows> rows = end.empty() ? Read("list_from", {KindName(kind), key_prefix})
                                    : Read("list_range", {KindName(kind), key_prefix, end});
    if (!rows) return tl::unexpected(rows.error());
    std::vector<Object> out;
    out.reserve(static_cast<size_t>(rows->size()));
    for (int i = 0; i < rows->size(); ++i) {
      SKIFF_ASSIGN_OR_RETURN(int64_t version, rows->Int(i, 0));
      SKIFF_ASSIGN_OR_RETURN(Object object, DecodeObject(kind, rows->Text(i, 1), version));
      out.push_back(std::move(object));
    }
    return out;
  }

  Result<std::vector<model::Event>> ReadEvents(const EventFilter& filter) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows,
                           Read(filter.oldest_first ? "list_events_forward" : "list_events",
                                {Str(filter.after_id), filter.app, Str(ClampLimit(filter.limit))}));
    std::vector<model::Event> out;
    out.reserve(static_cast<size_t>(rows.size()));
    for (int i = 0; i < rows.size(); ++i) {
      SKIFF_ASSIGN_OR_RETURN(int64_t id, rows.Int(i, 0));
      SKIFF_ASSIGN_OR_RETURN(Object object, DecodeObject(Kind::kEvent, rows.Text(i, 1), id));
      out.push_back(std::get<model::Event>(std::move(object)));
    }
    // The newest-N query reads backwards.
    if (!filter.oldest_first) std::reverse(out.begin(), out.end());
    return out;
  }

  Result<std::vector<Change>> ReadChanges(int64_t since, size_t limit) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, Read("changes_since", {Str(since), Str(ClampLimit(limit))}));
    std::vector<Change> out;
    out.reserve(static_cast<size_t>(rows.size()));
    for (int i = 0; i < rows.size(); ++i) {
      auto kind = ParseKind(rows.Text(i, 1));
      if (!kind) {
        return Internal("change log: unknown kind \"" + std::string(rows.Text(i, 1)) + "\"");
      }
      SKIFF_ASSIGN_OR_RETURN(int64_t revision, rows.Int(i, 0));
      SKIFF_ASSIGN_OR_RETURN(int64_t version, rows.Int(i, 3));
      SKIFF_ASSIGN_OR_RETURN(Object object, DecodeObject(*kind, rows.Text(i, 4), version));
      out.push_back(Change{revision, rows.Bool(i, 2), std::move(object)});
    }
    return out;
  }

  // A record write that the connection lost is retried once as a read is: a
  // put is idempotent, and a create whose first try committed unseen answers
  // "exists", as it would to any later caller.
  Result<bool> WriteRecord(RecordKind kind, const std::string& key, const std::string& value,
                           bool replace) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, Read(replace ? "put_record" : "create_record",
                                           {RecordKindName(kind), key, value}));
    return rows.size() > 0;
  }

  Result<bool> EraseRecord(RecordKind kind, const std::string& key) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, Read("delete_record", {RecordKindName(kind), key}));
    return rows.size() > 0;
  }

  Result<std::optional<std::string>> ReadRecord(RecordKind kind, const std::string& key) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, Read("get_record", {RecordKindName(kind), key}));
    if (rows.size() == 0) return std::optional<std::string>();
    return std::optional<std::string>(std::string(rows.Text(0, 0)));
  }

  Result<std::vector<Record>> ReadRecords(RecordKind kind) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, Read("list_records", {RecordKindName(kind)}));
    std::vector<Record> out;
    out.reserve(static_cast<size_t>(rows.size()));
    for (int i = 0; i < rows.size(); ++i) {
      out.push_back(Record{std::string(rows.Text(i, 0)), std::string(rows.Text(i, 1))});
    }
    return out;
  }

  Result<bool> HoldRecord(RecordKind kind, const std::string& key) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, conn_.Run("hold_record", {RecordKindName(kind), key}));
    return rows.size() > 0;
  }

  // Outside a write, retried once on a lost connection as a record write is:
  // should the first try have committed unseen, the entry is there twice,
  // which an audit trail tolerates better than a gap.
  Result<int64_t> AppendAudit(const AuditEntry& e) override {
    SKIFF_ASSIGN_OR_RETURN(
        Rows rows,
        Read("add_audit", {Str(ToMillis(e.time)), e.who, e.role, e.credential, e.source, e.method,
                           e.path, e.project, e.app, e.request_id, Str(e.code), Str(e.revision)}));
    if (rows.size() != 1) return Internal("postgres store: an audit insert returned no id");
    return rows.Int(0, 0);
  }

  Result<int64_t> SetAuditCode(const std::string& request_id, int code) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, Read("set_audit_code", {request_id, Str(code)}));
    return Count(rows);
  }

  Result<std::vector<AuditEntry>> ReadAudit(const AuditFilter& filter) override {
    SKIFF_ASSIGN_OR_RETURN(
        Rows rows, Read(filter.oldest_first ? "list_audit_forward" : "list_audit",
                        {Str(filter.after_id), Str(SinceMillis(filter)), filter.who, filter.app,
                         Str(ClampLimit(filter.limit))}));
    std::vector<AuditEntry> out;
    out.reserve(static_cast<size_t>(rows.size()));
    for (int i = 0; i < rows.size(); ++i) {
      AuditEntry& e = out.emplace_back();
      SKIFF_ASSIGN_OR_RETURN(e.id, rows.Int(i, 0));
      SKIFF_ASSIGN_OR_RETURN(int64_t ms, rows.Int(i, 1));
      e.time = FromMillis(ms);
      std::string* texts[] = {&e.who,  &e.role,    &e.credential, &e.source,    &e.method,
                              &e.path, &e.project, &e.app,        &e.request_id};
      for (int c = 0; c < 9; ++c) *texts[c] = std::string(rows.Text(i, 2 + c));
      SKIFF_ASSIGN_OR_RETURN(int64_t code, rows.Int(i, 11));
      e.code = static_cast<int>(code);
      SKIFF_ASSIGN_OR_RETURN(e.revision, rows.Int(i, 12));
    }
    // The newest-N query reads backwards.
    if (!filter.oldest_first) std::reverse(out.begin(), out.end());
    return out;
  }

  Result<int64_t> PruneAudit(Time before) override {
    SKIFF_ASSIGN_OR_RETURN(Rows rows, Read("prune_audit", {Str(ToMillis(before))}));
    return Count(rows);
  }

 private:
  // Runs a read. Inside a transaction a lost connection fails it (the
  // transaction is gone, not to be replaced); outside one the read is retried
  // once on a new connection: a connection found dead on its first use after
  // PostgreSQL restarted or terminated it is not an error for the caller.
  Result<Rows> Read(const std::string& name, std::initializer_list<std::string> params) {
    if (in_txn_) return conn_.Run(name, params);
    return OnLiveConnection([&] { return conn_.Run(name, params); });
  }

  // Starts a transaction, retried once on a new connection likewise (nothing
  // was done on the dead one).
  Status Begin(const std::string& sql) {
    SKIFF_RETURN_IF_ERROR(OnLiveConnection([&] { return conn_.Exec(sql); }));
    in_txn_ = true;
    return OkStatus();
  }

  template <typename F>
  Result<Rows> OnLiveConnection(const F& f) {
    SKIFF_RETURN_IF_ERROR(conn_.EnsureConnected());
    Result<Rows> first = f();
    if (first || first.error().code != ErrorCode::kUnavailable) return first;
    conn_.Drop();
    SKIFF_RETURN_IF_ERROR(conn_.EnsureConnected());
    return f();
  }

  // Ends the transaction with `sql`; when that fails, the connection is
  // dropped, so the server rolls back whatever was open and the next call
  // starts afresh on a new one.
  void EndTxn(const std::string& sql) {
    if (!in_txn_) return;
    in_txn_ = false;
    Result<Rows> ended = conn_.Exec(sql);
    if (!ended) {
      SKIFF_LOG_WARN("postgres store: {} failed, dropping the connection: {}", sql,
                     ended.error().ToString());
      conn_.Drop();
    }
  }

  Connection conn_;
  bool in_txn_ = false;
  LogState begun_;  // as the write in progress found it
};

}  // namespace

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& conninfo) {
  return Open(conninfo, Options{});
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& conninfo,
                                                           Options options) {
  auto backend = std::make_unique<PostgresBackend>(conninfo, options);
  SKIFF_RETURN_IF_ERROR(backend->Open(conninfo));
  std::unique_ptr<PostgresStore> store(new PostgresStore(std::move(backend), options));
  store->listener_ = std::make_unique<postgres::CommitListener>(
      conninfo, options.safety_interval, [s = store.get()](int64_t r) { s->OnRevision(r); });
  return store;
}

PostgresStore::PostgresStore(std::unique_ptr<Backend> backend, Options options)
    : TxnEngine(std::move(backend), EngineOptions{.change_retention = options.change_retention,
                                                  .event_retention = options.event_retention}) {}

// The listener goes first: it calls into the engine.
PostgresStore::~PostgresStore() { listener_.reset(); }

int PostgresStore::listener_connects() const { return listener_ ? listener_->connects() : 0; }

void PostgresStore::OnRevision(int64_t revision) { NotifyCommitted(revision); }

bool IsPostgresUri(const std::string& store) {
  return store.starts_with("postgres://") || store.starts_with("postgresql://") ||
         store.find('=') != std::string::npos;
}

}  // namespace skiff::store
