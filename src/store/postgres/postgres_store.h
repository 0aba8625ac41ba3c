// PostgresStore: the Store on PostgreSQL (libpq), which any number of servers
// may share. It is the TxnEngine (txn_engine.h) over a PostgreSQL backend:
// objects as the same codec JSON as SQLite (object_codec.h), a versioned schema
// (postgres/migrations.h).
//
// Across servers: every write transaction first locks the one log_state row
// (SELECT ... FOR UPDATE), so writers are serialised and revisions strictly
// increase in commit order whichever server commits; the transaction NOTIFYs
// its revision as it commits. A CommitListener (its own connection) hears
// those, and after every notification, reconnect or safety interval reads the
// newest revision and tells this store's subscribers: every server's watchers
// learn of every commit, and take the changes from the log (ChangesSince).
// Snapshots read in one REPEATABLE READ transaction. A fenced write
// (Txn::Fenced) reads the leader row's epoch FOR SHARE after it locks
// log_state, so leadership changes wait for it (postgres_leader_lease.h); the
// lease never locks log_state, so the two cannot deadlock.
//
// A lost connection fails the call in progress with kUnavailable (a write
// leaves nothing: PostgreSQL rolls back an unfinished transaction) and is
// reopened on the next call. One exception, as with any networked database:
// when the connection drops while COMMIT is in flight, the write may or may
// not have committed; Commit then answers kUnavailable saying so.
//
// Thread-safety: as Store. One connection, used under the engine's lock,
// serves all calls; the listener has its own.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/clock.h"
#include "store/txn_engine.h"

namespace skiff::store {

namespace postgres {
class CommitListener;
}

class PostgresStore final : public TxnEngine {
 public:
  struct Options {
    // How many of the newest changes ChangesSince can replay (see EngineOptions).
    size_t change_retention = 100'000;
    // How many of the newest events are kept.
    size_t event_retention = 10'000;
    // How often the listener reads the revision when no notification came: the
    // bound on how late a watcher hears of another server's commit if a
    // notification is lost (it never misses one: the log is read).
    Duration safety_interval = std::chrono::seconds(1);
    // Bounds on the store's own connection, so no call waits without limit
    // under the engine's lock: a lock another server holds (kUnavailable
    // after it), one statement, and a transaction left idle (the server ends
    // the session).
    Duration lock_timeout = std::chrono::seconds(5);
    Duration statement_timeout = std::chrono::seconds(30);
    Duration idle_in_transaction_timeout = std::chrono::seconds(60);
  };

  // Connects to `conninfo` (any libpq connection string or URI, several hosts
  // and target_session_attrs included) and migrates the schema.
  // Errors: kInvalidArgument for a malformed connection string; kUnavailable
  // with libpq's message when it cannot connect (refused credentials, an
  // unreachable server); kFailedPrecondition
  // when the database's schema is newer than this build's, naming both.
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& conninfo);
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& conninfo, Options options);

  ~PostgresStore() override;

  // How many times the commit listener has (re)connected: for tests.
  int listener_connects() const;

 private:
  PostgresStore(std::unique_ptr<Backend> backend, Options options);
  void OnRevision(int64_t revision);

  std::unique_ptr<postgres::CommitListener> listener_;
};

// Whether `store` names PostgreSQL ("postgres://", "postgresql://", or a
// key=value connection string) rather than "sqlite".
bool IsPostgresUri(const std::string& store);

}  // namespace skiff::store
