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
// leave.
//
// It has its own connection, apart from the store's: a renewal must not wait
// behind the store's lock (a commit may wait out lock_timeout there). Its
// statements are bounded by `statement_timeout`, and a lost connection is
// reopened on the next call.
//
// Thread-safety: all methods are safe to call from any thread (one at a time
// uses the connection).
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
    // would come too late to matter.
    Duration statement_timeout = std::chrono::seconds(2);
  };

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

 private:
  Result<postgres::Rows> Run(const std::string& name, std::initializer_list<std::string> params);

  std::mutex mu_;
  std::unique_ptr<postgres::Connection> conn_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::store
