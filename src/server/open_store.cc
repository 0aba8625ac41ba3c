#include "server/open_store.h"

#include <algorithm>
#include <filesystem>

#include "common/logging.h"
#include "store/postgres/postgres_leader_lease.h"
#include "store/postgres/postgres_store.h"
#include "store/single_server_lease.h"
#include "store/sqlite/sqlite_store.h"

namespace skiff::server {

Result<std::unique_ptr<store::Store>> OpenStore(const std::string& spec, const std::string& data,
                                                Duration leader_ttl) {
  if (spec == "sqlite") {
    SKIFF_ASSIGN_OR_RETURN(
        auto sqlite, store::SqliteStore::Open((std::filesystem::path(data) / "skiff.db").string()));
    return std::unique_ptr<store::Store>(std::move(sqlite));
  }
  if (!store::IsPostgresUri(spec)) {
    return InvalidArgument(
        "--store: \"sqlite\" or a PostgreSQL connection string "
        "(postgres://USER@HOST/DB, or host=... dbname=...), got \"" +
            spec + "\"",
        "store");
  }
  store::PostgresStore::Options pg;
  pg.idle_in_transaction_timeout =
      std::min(pg.idle_in_transaction_timeout, std::max(leader_ttl, Duration(1000)));
  auto postgres = store::PostgresStore::Open(spec, pg);
  if (!postgres) {
    Error error = postgres.error();
    if (error.code == ErrorCode::kInvalidArgument) {
      error.message +=
          "\n  check: the connection string (--store): postgres://USER@HOST:PORT/DB or "
          "host=... dbname=... (libpq's syntax)";
    } else if (error.code == ErrorCode::kUnavailable) {
      error.message +=
          "\n  check: the connection string (--store), that PostgreSQL runs and accepts "
          "connections from this host (listen_addresses, pg_hba.conf), and the user's "
          "credentials (a password in the URI, PGPASSWORD or ~/.pgpass)";
    }
    return tl::unexpected(std::move(error));
  }
  SKIFF_LOG_INFO("store: PostgreSQL");
  return std::unique_ptr<store::Store>(std::move(*postgres));
}

std::unique_ptr<store::LeaderLease> OpenLease(const std::string& spec, const Clock* clock,
                                              Duration leader_ttl) {
  if (spec == "sqlite") return std::make_unique<store::SingleServerLease>(clock);
  return std::make_unique<store::PostgresLeaderLease>(
      spec, store::PostgresLeaderLease::OptionsFor(leader_ttl));
}

}  // namespace skiff::server
