// SingleServerLease: the LeaderLease of a store that one server owns (SQLite
// under its data directory, or memory). That server is always the leader, in
// the one term kSingleServerEpoch, and is the only server listed.
//
// Why not a lease row in SQLite too: no second server can share the store
// (SQLite is the embedded one-server default; its file lives in one server's
// data directory), so there is nobody to elect or to fence against, and SQLite
// has no clock of its own: a lease "judged by the database's clock" would be
// judged by this process's clock anyway. The stores' fencing still checks the
// epoch (TxnEngine, Backend::ReadLeaderEpoch), so a write fenced at another
// epoch is refused alike on every store.
//
// Thread-safety: all methods are safe to call from any thread.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "store/leader_lease.h"

namespace skiff::store {

class SingleServerLease final : public LeaderLease {
 public:
  // `clock` (not owned; null: the system clock) stamps heartbeats.
  explicit SingleServerLease(const Clock* clock = nullptr);

  // LeaderLease:
  // Always acquired, at kSingleServerEpoch: acquiring again is the same term.
  Result<Acquired> TryAcquire(const std::string& holder, Duration ttl) override;
  // OK for kSingleServerEpoch; kFailedPrecondition for any other epoch.
  Status Renew(const std::string& holder, int64_t epoch, Duration ttl) override;
  Status Release(const std::string& holder, int64_t epoch) override;
  Status Heartbeat(const ServerInfo& server) override;
  Result<std::vector<ServerRecord>> ListServers() override;
  // Nothing to forget: the one server is this one, alive.
  Status PruneServers(Duration) override { return OkStatus(); }

 private:
  const Clock* const clock_;
  std::mutex mu_;
  bool seen_ = false;    // GUARDED_BY(mu_): a heartbeat came
  ServerRecord server_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::store
