#include "store/postgres/migrations.h"

#include <array>
#include <string>

namespace skiff::store::postgres {
namespace {

// Step i (1-based) brings schema_version from i - 1 to i.
//
// Version 1: the SQLite layout (sqlite/migrations.cc says why it is so), with
// PostgreSQL's types:
// - objects.key is COLLATE "C", so ORDER BY and prefix ranges are bytewise as
//   the Backend contract wants, whatever the database's locale.
// - data is text, not jsonb: the stored bytes are the codec's own, as in
//   SQLite (jsonb would reorder keys and drop duplicates), and nothing queries
//   inside them.
// - log_state is the one row every write locks (SELECT ... FOR UPDATE) before
//   it reads anything: that serialises writers across servers, so revisions
//   strictly increase in commit order. It holds the events' count too, which
//   a write must read inside its transaction.
//
// Version 2: leadership (store/leader_lease.h). `leader` is the one lease row:
// its holder's server id ('' when released), the epoch of the current term and
// when it expires, by the database's clock (timestamptz written from now()).
// Fenced commits read its epoch FOR SHARE inside their transaction, so a
// takeover's UPDATE waits for them and a commit after it sees the new epoch.
// `servers` lists every server that sent a heartbeat (last_seen: now()).
// changes.epoch: the term a fenced write was made in (0: not fenced), so
// which leader wrote what can be told afterwards.
//
// Version 3: records (store.h), outside the change log: their writes take no
// revision and never lock log_state, so they do not wait for (or hold up)
// other servers' commits. records.key is COLLATE "C" as objects.key is.
//
// Version 4: the audit trail (store/audit.h; sqlite/migrations.cc says why a
// table of its own and why these indexes). Ids come from the table's
// sequence, which every server shares and which never gives a value twice
// (a rolled-back write's included); an entry written by a Commit is part of
// its transaction. Ids increase in the order servers take them, which under
// concurrency may differ from the order their transactions commit by a few.
constexpr std::array<const char*, 4> kPostgresSteps = {
    R"sql(
CREATE TABLE objects (
  kind text NOT NULL,
  key text COLLATE "C" NOT NULL,
  version bigint NOT NULL,
  data text NOT NULL,
  PRIMARY KEY (kind, key)
);
CREATE TABLE events (
  id bigint PRIMARY KEY,
  app text NOT NULL,
  data text NOT NULL
);
CREATE INDEX events_by_app ON events (app, id);
CREATE TABLE changes (
  revision bigint PRIMARY KEY,
  kind text NOT NULL,
  key text NOT NULL,
  deleted boolean NOT NULL,
  version bigint NOT NULL,
  data text NOT NULL
);
CREATE TABLE log_state (
  id integer PRIMARY KEY CHECK (id = 1),
  revision bigint NOT NULL,
  compacted bigint NOT NULL,
  events bigint NOT NULL
);
INSERT INTO log_state (id, revision, compacted, events) VALUES (1, 0, 0, 0);
)sql",
    R"sql(
CREATE TABLE leader (
  id integer PRIMARY KEY CHECK (id = 1),
  holder text NOT NULL,
  epoch bigint NOT NULL,
  expires_at timestamptz NOT NULL
);
INSERT INTO leader (id, holder, epoch, expires_at) VALUES (1, '', 0, 'epoch');
CREATE TABLE servers (
  id text PRIMARY KEY,
  address text NOT NULL,
  version text NOT NULL,
  last_seen timestamptz NOT NULL
);
ALTER TABLE changes ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
)sql",
    R"sql(
CREATE TABLE records (
  kind text NOT NULL,
  key text COLLATE "C" NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (kind, key)
);
)sql",
    R"sql(
CREATE TABLE audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time_ms bigint NOT NULL,
  who text NOT NULL,
  role text NOT NULL,
  credential text NOT NULL,
  source text NOT NULL,
  method text NOT NULL,
  path text NOT NULL,
  project text NOT NULL,
  app text NOT NULL,
  request_id text NOT NULL,
  code integer NOT NULL,
  revision bigint NOT NULL
);
CREATE INDEX audit_by_time ON audit (time_ms);
CREATE INDEX audit_awaiting_code ON audit (request_id) WHERE code = 0;
)sql",
};

// Any constant of our own: the key of the advisory lock migrations hold.
constexpr const char* kMigrationLock = "7346590201";

Status MigrateInTxn(Connection& c, int target) {
  SKIFF_RETURN_IF_ERROR(
      c.Exec(std::string("SELECT pg_advisory_xact_lock(") + kMigrationLock + ")"));
  SKIFF_RETURN_IF_ERROR(
      c.Exec("CREATE TABLE IF NOT EXISTS schema_version ("
             "id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL);"
             "INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING"));
  SKIFF_ASSIGN_OR_RETURN(Rows rows, c.Exec("SELECT version FROM schema_version WHERE id = 1"));
  if (rows.size() != 1) return Internal("postgres: schema_version row missing");
  SKIFF_ASSIGN_OR_RETURN(int64_t version, rows.Int(0, 0));
  if (version > LatestSchemaVersion()) {
    return FailedPrecondition("postgres: the database's schema version is " +
                              std::to_string(version) + ", newer than the " +
                              std::to_string(LatestSchemaVersion()) +
                              " this build knows: it was written by a later Skiff; run that "
                              "version (or a later one)");
  }
  for (int64_t step = version + 1; step <= target; ++step) {
    SKIFF_RETURN_IF_ERROR(c.Exec(kPostgresSteps[static_cast<size_t>(step - 1)]));
  }
  if (version < target) {
    SKIFF_RETURN_IF_ERROR(
        c.Exec("UPDATE schema_version SET version = " + std::to_string(target) + " WHERE id = 1"));
  }
  return OkStatus();
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(kPostgresSteps.size()); }

Status Migrate(Connection& c) { return MigrateTo(c, LatestSchemaVersion()); }

Status MigrateTo(Connection& c, int version) {
  if (version < 1 || version > LatestSchemaVersion()) {
    return InvalidArgument("postgres: no schema version " + std::to_string(version) +
                           " (this build knows 1 to " + std::to_string(LatestSchemaVersion()) +
                           ")");
  }
  SKIFF_RETURN_IF_ERROR(c.Exec("BEGIN"));
  Status migrated = MigrateInTxn(c, version);
  if (migrated) {
    Result<Rows> committed = c.Exec("COMMIT");
    if (!committed) return tl::unexpected(committed.error());
    return OkStatus();
  }
  if (!c.Exec("ROLLBACK")) c.Drop();
  return migrated;
}

}  // namespace skiff::store::postgres
