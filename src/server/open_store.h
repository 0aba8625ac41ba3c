// The store and the leader's lease `--store` names, opened as `skiff server`
// opens them: SQLite in the data directory, or PostgreSQL (any number of
// servers sharing it). `skiff keys rotate` opens them the same way.
//
// Thread-safety: free functions; what they return is as thread-safe as its
// class says.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "store/leader_lease.h"
#include "store/store.h"

namespace skiff::server {

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

// The lease of the database `spec` names (store/leader_lease.h): one that
// several servers share on PostgreSQL; with SQLite this server alone leads.
// REQUIRES: `spec` is one OpenStore accepted.
std::unique_ptr<store::LeaderLease> OpenLease(const std::string& spec, const Clock* clock,
                                              Duration leader_ttl);

}  // namespace skiff::server
