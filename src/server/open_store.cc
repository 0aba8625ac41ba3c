#include "server/open_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "common/logging.h"
#include "crypto/keyring.h"
#include "store/postgres/postgres_leader_lease.h"
#include "store/postgres/postgres_metrics_history.h"
#include "store/postgres/postgres_store.h"
#include "store/single_server_lease.h"
#include "store/sqlite/sqlite_metrics_history.h"
#include "store/sqlite/sqlite_store.h"

namespace skiff::server {

Status CheckStoreSpec(const std::string& spec) {
  if (spec == "sqlite" || store::IsPostgresUri(spec)) return OkStatus();
  return InvalidArgument(
      "--store: \"sqlite\" or a PostgreSQL connection string "
      "(postgres://USER@HOST/DB, or host=... dbname=...), got \"" +
          MaskStoreSpec(spec) + "\"",
      "store");
}

Result<std::unique_ptr<store::Store>> OpenStore(const std::string& spec, const std::string& data,
                                                Duration leader_ttl) {
  if (spec == "sqlite") {
    SKIFF_ASSIGN_OR_RETURN(
        auto sqlite, store::SqliteStore::Open((std::filesystem::path(data) / "skiff.db").string()));
    return std::unique_ptr<store::Store>(std::move(sqlite));
  }
  SKIFF_RETURN_IF_ERROR(CheckStoreSpec(spec));
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

Result<std::unique_ptr<store::MetricsHistory>> OpenMetricsHistory(const std::string& spec,
                                                                  const std::string& data) {
  if (spec == "sqlite") {
    SKIFF_ASSIGN_OR_RETURN(auto sqlite, store::SqliteMetricsHistory::Open(
                                            (std::filesystem::path(data) / "skiff.db").string()));
    return std::unique_ptr<store::MetricsHistory>(std::move(sqlite));
  }
  SKIFF_ASSIGN_OR_RETURN(auto postgres, store::PostgresMetricsHistory::Open(spec));
  return std::unique_ptr<store::MetricsHistory>(std::move(postgres));
}

std::unique_ptr<store::LeaderLease> OpenLease(const std::string& spec, const Clock* clock,
                                              Duration leader_ttl) {
  if (spec == "sqlite") return std::make_unique<store::SingleServerLease>(clock);
  return std::make_unique<store::PostgresLeaderLease>(
      spec, store::PostgresLeaderLease::OptionsFor(leader_ttl));
}

Result<std::map<std::string, std::string>> KeyIdsInStore(store::Store* store) {
  std::map<std::string, std::string> ids;
  for (size_t k = 0; k < store::kRecordKinds; ++k) {
    const auto kind = static_cast<store::RecordKind>(k);
    SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> records, store->ListRecords(kind));
    for (const store::Record& record : records) {
      for (const std::string& id : crypto::KeyIdsNamedIn(record.value)) {
        ids.emplace(id, fmt::format("{} {}", store::ToString(kind), record.key));
      }
    }
  }
  return ids;
}

std::string MaskStoreSpec(const std::string& spec) {
  std::string out = spec;
  // scheme://USER:PASSWORD@HOST: everything before the last '@' of the
  // authority is user-info.
  const size_t scheme = out.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t end = out.find_first_of("/?", start);
  const size_t at = out.rfind('@', end == std::string::npos ? std::string::npos : end);
  if (at != std::string::npos && at >= start) out.replace(start, at - start, "***");
  // key=value form: password=SECRET (up to the next space).
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    const size_t value = p + 9;
    const size_t stop = out.find(' ', value);
    out.replace(value, (stop == std::string::npos ? out.size() : stop) - value, "***");
  }
  return out;
}

}  // namespace skiff::server
