// The store and the leader's lease `--store` names, opened as `skiff server`
// opens them: SQLite in the data directory, or PostgreSQL (any number of
// servers sharing it). `skiff keys rotate` opens them the same way.
//
// Thread-safety: free functions; what they return is as thread-safe as its
// class says.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "store/leader_lease.h"
#include "store/metrics_history.h"
#include "store/store.h"

namespace skiff::server {

// Whether `spec` names a store: "sqlite" or a PostgreSQL connection string.
// Errors: kInvalidArgument (on field "store") saying what is expected.
Status CheckStoreSpec(const std::string& spec);

// The store of `spec`: "sqlite" (DATA/skiff.db, made when missing) or a
// PostgreSQL connection string or URI. A transaction of this process's left
// idle for longer than `leader_ttl` is ended by PostgreSQL: its process is
// frozen (stopped, paused), and the locks it holds would otherwise keep every
// other server's writes, and a takeover of the lease, waiting.
// Errors: kInvalidArgument (on field "store") when `spec` is neither, or
// libpq refuses the connection string, saying what to check; kUnavailable
// when the database cannot be reached or opened, saying what to check;
// kFailedPrecondition for a database of a newer version.
Result<std::unique_ptr<store::Store>> OpenStore(const std::string& spec, const std::string& data,
                                                Duration leader_ttl);

// The metrics history (store/metrics_history.h) of the database `spec`
// names: its own table in DATA/skiff.db, or in the PostgreSQL database.
// Errors: as OpenStore's. REQUIRES: CheckStoreSpec(spec) is OK.
Result<std::unique_ptr<store::MetricsHistory>> OpenMetricsHistory(const std::string& spec,
                                                                  const std::string& data);

// The lease of the database `spec` names (store/leader_lease.h): one that
// several servers share on PostgreSQL; with SQLite this server alone leads.
// REQUIRES: CheckStoreSpec(spec) is OK.
std::unique_ptr<store::LeaderLease> OpenLease(const std::string& spec, const Clock* clock,
                                              Duration leader_ttl);

// Every key id (crypto/keyring.h) the records of `store` name, each with the
// first record naming it ("secret web/API_KEY"). Every record kind is
// searched, so that a kind sealed later is not overlooked. Used by the
// rotation and by a server about to make a new keyring file.
// Errors: those of Store::ListRecords.
Result<std::map<std::string, std::string>> KeyIdsInStore(store::Store* store);

// `spec` (a --store) fit to print: the user-info of a URI
// (postgres://USER:PASSWORD@HOST) and a password=... field replaced by "***".
std::string MaskStoreSpec(const std::string& spec);

}  // namespace skiff::server
