#include "store/postgres/postgres_leader_lease.h"

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
      {"try_acquire",
       "WITH taken AS ("
       "  UPDATE leader SET holder = $1, epoch = epoch + 1,"
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
      {"list_servers",
       "SELECT s.id, s.address, s.version,"
       "  (EXTRACT(EPOCH FROM s.last_seen) * 1000)::bigint,"
       "  l.holder = s.id AND l.expires_at > now(), l.epoch "
       "FROM servers s CROSS JOIN leader l WHERE l.id = 1 ORDER BY s.id"},
  };
}

std::string LeaseSessionSetup(const PostgresLeaderLease::Options& options) {
  return "SET statement_timeout = " + Ms(options.statement_timeout) +
         "; SET lock_timeout = " + Ms(options.statement_timeout);
}

}  // namespace

PostgresLeaderLease::PostgresLeaderLease(std::string conninfo)
    : PostgresLeaderLease(std::move(conninfo), Options{}) {}

PostgresLeaderLease::PostgresLeaderLease(std::string conninfo, Options options)
    : conn_(std::make_unique<Connection>(std::move(conninfo), LeaseStatements(),
                                         LeaseSessionSetup(options))) {}

PostgresLeaderLease::~PostgresLeaderLease() = default;

// Each statement runs on its own (autocommit): a connection lost meanwhile
// leaves nothing half done, and the next call reconnects.
Result<Rows> PostgresLeaderLease::Run(const std::string& name,
                                      std::initializer_list<std::string> params) {
  std::lock_guard lock(mu_);
  SKIFF_RETURN_IF_ERROR(conn_->EnsureConnected());
  return conn_->Run(name, params);
}

Result<LeaderLease::Acquired> PostgresLeaderLease::TryAcquire(const std::string& holder,
                                                              Duration ttl) {
  SKIFF_ASSIGN_OR_RETURN(Rows rows, Run("try_acquire", {holder, Ms(ttl)}));
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
  SKIFF_ASSIGN_OR_RETURN(Rows rows, Run("renew", {holder, std::to_string(epoch), Ms(ttl)}));
  if (rows.size() != 1) {
    return FailedPrecondition("the lease of " + holder + " in epoch " + std::to_string(epoch) +
                              " is over");
  }
  return OkStatus();
}

Status PostgresLeaderLease::Release(const std::string& holder, int64_t epoch) {
  SKIFF_RETURN_IF_ERROR(Run("release", {holder, std::to_string(epoch)}));
  return OkStatus();
}

Status PostgresLeaderLease::Heartbeat(const ServerInfo& server) {
  SKIFF_RETURN_IF_ERROR(Run("heartbeat", {server.id, server.address, server.version}));
  return OkStatus();
}

Result<std::vector<ServerRecord>> PostgresLeaderLease::ListServers() {
  SKIFF_ASSIGN_OR_RETURN(Rows rows, Run("list_servers", {}));
  std::vector<ServerRecord> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    ServerRecord r;
    r.id = std::string(rows.Text(i, 0));
    r.address = std::string(rows.Text(i, 1));
    r.version = std::string(rows.Text(i, 2));
    SKIFF_ASSIGN_OR_RETURN(int64_t ms, rows.Int(i, 3));
    r.last_seen = Time(std::chrono::milliseconds(ms));
    r.leader = rows.Bool(i, 4);
    if (r.leader) {
      SKIFF_ASSIGN_OR_RETURN(r.epoch, rows.Int(i, 5));
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace skiff::store
