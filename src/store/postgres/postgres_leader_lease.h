// PostgresLeaderLease: the LeaderLease (store/leader_lease.h) of servers that
// share one PostgreSQL database: the row `leader` (holder, epoch, expires_at)
// and the table `servers` (migrations.cc, version 2).
//
// Each method is one statement, so PostgreSQL's now() (the start of that
// statement's transaction) is the one clock that judges it: a lease expired
// when its expires_at <= now(); acquiring or renewing sets expires_at to
// now() + ttl. now() is taken when the statement arrives, after the caller
// sent it, which is what lets the caller (controller/leadership.h) stop acting
// by its own monotonic clock before the lease can be taken. A takeover's
// UPDATE waits for fenced commits that hold the row FOR SHARE
// (PostgresStore's commit), and re-checks its condition against the row they
// leave. Fenced commits read the row last, just before COMMIT, so a renewal
// waits behind one for no more than a COMMIT, and at most the lock timeout.
//
// It has its own connection, apart from the store's: a renewal must not wait
// behind the store's lock (a commit may wait out lock_timeout there). And
// ListServers (the API's GET /v1/servers) has another one of its own: a slow
// list must not hold up the renewer. Their statements are bounded by
// `statement_timeout`, and a lost connection is reopened on the next call.
//
// Thread-safety: all methods are safe to call from any thread (one at a time
// uses each connection).
#pragma once

#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/leader_lease.h"

namespace skiff::store {

namespace postgres {
class Connection;
class Rows;
}  // namespace postgres

class PostgresLeaderLease final : public LeaderLease {
 public:
  struct Options {
    // Longer than this, a lease statement fails (kUnavailable): its answer
    // would come too late to matter. Also the lock timeout: how long a
    // renewal waits for a fenced commit that holds the lease's row.
    Duration statement_timeout = std::chrono::seconds(2);
  };
  // The options of a lease renewed every ttl/3: a statement (and a wait for a
  // lock) ends by min(2 s, ttl/3), so a renewal that cannot be made in time
  // leaves room for the next one within the ttl.
  static Options OptionsFor(Duration ttl);

  // Remembers `conninfo` (a database PostgresStore::Open has migrated);
  // connects on first use.
  explicit PostgresLeaderLease(std::string conninfo);
  PostgresLeaderLease(std::string conninfo, Options options);
  ~PostgresLeaderLease() override;

  // LeaderLease:
  Result<Acquired> TryAcquire(const std::string& holder, Duration ttl) override;
  Status Renew(const std::string& holder, int64_t epoch, Duration ttl) override;
  Status Release(const std::string& holder, int64_t epoch) override;
  Status Heartbeat(const ServerInfo& server) override;
  Result<std::vector<ServerRecord>> ListServers() override;
  Status PruneServers(Duration unseen_for) override;

 private:
  // A connection and the mutex that lets one caller at a time use it.
  struct Session {
    std::mutex mu;
    std::unique_ptr<postgres::Connection> conn;  // GUARDED_BY(mu)
  };
  static Result<postgres::Rows> Run(Session& session, const std::string& name,
                                    std::initializer_list<std::string> params);

  Session lease_;  // the renewer's calls
  Session list_;   // ListServers
};

}  // namespace skiff::store
