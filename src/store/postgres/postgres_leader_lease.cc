#include "store/postgres/postgres_leader_lease.h"

#include <algorithm>

#include "store/postgres/connection.h"

namespace skiff::store {
namespace {

using postgres::Connection;
using postgres::Rows;

std::string Ms(Duration d) { return std::to_string(d.count()); }

std::vector<Connection::Statement> LeaseStatements() {
  return {
      // Takes the lease when it is free, expired or the caller's own (a new
      // term each time); the outer SELECT sees the row as it was before the
      // UPDATE (one snapshot), which says who holds it when it was not taken.
      // The new epoch is never one a term had before, even on a primary that
      // lacks the last takeovers (an asynchronous standby promoted): it is
      // above the row's and at least the database's clock in milliseconds
      // times 1024 plus a random 0..1023, so two primaries that diverged pick
      // the same one only by a 1-in-1024 chance within the same millisecond.
      {"try_acquire",
       "WITH taken AS ("
       "  UPDATE leader SET holder = $1,"
       "    epoch = GREATEST(epoch + 1,"
       "      (EXTRACT(EPOCH FROM now()) * 1000)::bigint * 1024 + floor(random() * 1024)::bigint),"
       "    expires_at = now() + $2::bigint * interval '1 millisecond'"
       "  WHERE id = 1 AND (holder = '' OR holder = $1 OR expires_at <= now())"
       "  RETURNING epoch)"
       "SELECT (SELECT epoch FROM taken), holder, epoch,"
       "  GREATEST(0, (EXTRACT(EPOCH FROM (expires_at - now())) * 1000)::bigint)"
       "FROM leader WHERE id = 1"},
      {"renew",
       "UPDATE leader SET expires_at = now() + $3::bigint * interval '1 millisecond' "
       "WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > now() RETURNING epoch"},
      {"release",
       "UPDATE leader SET holder = '', expires_at = now() "
       "WHERE id = 1 AND holder = $1 AND epoch = $2"},
      {"heartbeat",
       "INSERT INTO servers (id, address, version, last_seen) VALUES ($1, $2, $3, now()) "
       "ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, version = EXCLUDED.version,"
       " last_seen = EXCLUDED.last_seen"},
      // Which server leads is told by ServerIdOfHolder (the holder has a
      // nonce after the id).
      {"list_servers",
       "SELECT s.id, s.address, s.version,"
       "  (EXTRACT(EPOCH FROM s.last_seen) * 1000)::bigint,"
       "  l.holder, l.expires_at > now(), l.epoch,"
       "  GREATEST(0, (EXTRACT(EPOCH FROM (now() - s.last_seen)) * 1000)::bigint) "
       "FROM servers s CROSS JOIN leader l WHERE l.id = 1 ORDER BY s.id"},
      {"prune_servers",
       "DELETE FROM servers WHERE last_seen <= now() - $1::bigint * interval '1 millisecond'"},
  };
}

std::string LeaseSessionSetup(const PostgresLeaderLease::Options& options) {
  return "SET statement_timeout = " + Ms(options.statement_timeout) +
         "; SET lock_timeout = " + Ms(options.statement_timeout);
}

}  // namespace

PostgresLeaderLease::Options PostgresLeaderLease::OptionsFor(Duration ttl) {
  return Options{.statement_timeout = std::min<Duration>(std::chrono::seconds(2), ttl / 3)};
}

PostgresLeaderLease::PostgresLeaderLease(std::string conninfo)
    : PostgresLeaderLease(std::move(conninfo), Options{}) {}

PostgresLeaderLease::PostgresLeaderLease(std::string conninfo, Options options) {
  lease_.conn =
      std::make_unique<Connection>(conninfo, LeaseStatements(), LeaseSessionSetup(options));
  list_.conn = std::make_unique<Connection>(std::move(conninfo), LeaseStatements(),
                                            LeaseSessionSetup(options));
}

PostgresLeaderLease::~PostgresLeaderLease() = default;

// Each statement runs on its own (autocommit): a connection lost meanwhile
// leaves nothing half done, and the next call reconnects.
Result<Rows> PostgresLeaderLease::Run(Session& session, const std::string& name,
                                      std::initializer_list<std::string> params) {
  std::lock_guard lock(session.mu);
  SKIFF_RETURN_IF_ERROR(session.conn->EnsureConnected());
  return session.conn->Run(name, params);
}

Result<LeaderLease::Acquired> PostgresLeaderLease::TryAcquire(const std::string& holder,
                                                              Duration ttl) {
  SKIFF_ASSIGN_OR_RETURN(Rows rows, Run(lease_, "try_acquire", {holder, Ms(ttl)}));
  if (rows.size() != 1) return Internal("postgres: the leader row is missing");
  Acquired out;
  if (!rows.Text(0, 0).empty()) {
    out.acquired = true;
    SKIFF_ASSIGN_OR_RETURN(out.epoch, rows.Int(0, 0));
    return out;
  }
  out.holder = std::string(rows.Text(0, 1));
  SKIFF_ASSIGN_OR_RETURN(out.epoch, rows.Int(0, 2));
  SKIFF_ASSIGN_OR_RETURN(int64_t remaining, rows.Int(0, 3));
  out.remaining = Duration(remaining);
  return out;
}

Status PostgresLeaderLease::Renew(const std::string& holder, int64_t epoch, Duration ttl) {
  SKIFF_ASSIGN_OR_RETURN(Rows rows, Run(lease_, "renew", {holder, std::to_string(epoch), Ms(ttl)}));
  if (rows.size() != 1) {
    return FailedPrecondition("the lease of " + holder + " in epoch " + std::to_string(epoch) +
                              " is over");
  }
  return OkStatus();
}

Status PostgresLeaderLease::Release(const std::string& holder, int64_t epoch) {
  SKIFF_RETURN_IF_ERROR(Run(lease_, "release", {holder, std::to_string(epoch)}));
  return OkStatus();
}

Status PostgresLeaderLease::Heartbeat(const ServerInfo& server) {
  SKIFF_RETURN_IF_ERROR(Run(lease_, "heartbeat", {server.id, server.address, server.version}));
  return OkStatus();
}

Result<std::vector<ServerRecord>> PostgresLeaderLease::ListServers() {
  SKIFF_ASSIGN_OR_RETURN(Rows rows, Run(list_, "list_servers", {}));
  std::vector<ServerRecord> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    ServerRecord r;
    r.id = std::string(rows.Text(i, 0));
    r.address = std::string(rows.Text(i, 1));
    r.version = std::string(rows.Text(i, 2));
    SKIFF_ASSIGN_OR_RETURN(int64_t ms, rows.Int(i, 3));
    r.last_seen = Time(std::chrono::milliseconds(ms));
    SKIFF_ASSIGN_OR_RETURN(int64_t silent_ms, rows.Int(i, 7));
    r.silent = Duration(silent_ms);
    r.leader = ServerIdOfHolder(rows.Text(i, 4)) == r.id && rows.Bool(i, 5);
    if (r.leader) {
      SKIFF_ASSIGN_OR_RETURN(r.epoch, rows.Int(i, 6));
    }
    out.push_back(std::move(r));
  }
  return out;
}

Status PostgresLeaderLease::PruneServers(Duration unseen_for) {
  SKIFF_RETURN_IF_ERROR(Run(lease_, "prune_servers", {Ms(unseen_for)}));
  return OkStatus();
}

}  // namespace skiff::store
