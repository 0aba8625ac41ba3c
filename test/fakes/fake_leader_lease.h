// FakeLeaderLease: the LeaderLease contract (store/leader_lease.h) in memory,
// judged by a clock the test drives as the database's (a ManualClock), so
// lease expiry is exact and instant. The lease contract suite
// (store/leader_lease_contract_test.cc) runs it beside PostgresLeaderLease,
// which keeps its rules those of the SQL. A test can make it unreachable
// (every call kUnavailable), as a database that is down.
//
// Thread-safety: all methods are safe to call from any thread.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "store/leader_lease.h"

namespace skiff::testing {

class FakeLeaderLease final : public store::LeaderLease {
 public:
  // `db_clock` is not owned; its Now() is the database's clock.
  explicit FakeLeaderLease(const Clock* db_clock);

  // LeaderLease:
  Result<Acquired> TryAcquire(const std::string& holder, Duration ttl) override;
  Status Renew(const std::string& holder, int64_t epoch, Duration ttl) override;
  Status Release(const std::string& holder, int64_t epoch) override;
  Status Heartbeat(const store::ServerInfo& server) override;
  Result<std::vector<store::ServerRecord>> ListServers() override;
  Status PruneServers(Duration unseen_for) override;

  // While set, every call fails with kUnavailable and changes nothing.
  void SetUnavailable(bool unavailable);
  // The current term's epoch, holder and expiry (by the database's clock).
  int64_t epoch() const;
  std::string holder() const;
  Time expires_at() const;
  // How many renewals succeeded.
  int renewals() const;

 private:
  Status CheckAvailableLocked() const;

  const Clock* const db_clock_;
  mutable std::mutex mu_;
  bool unavailable_ = false;                            // GUARDED_BY(mu_)
  std::string holder_;                                  // GUARDED_BY(mu_); "" when released
  int64_t epoch_ = 0;                                   // GUARDED_BY(mu_)
  Time expires_at_;                                     // GUARDED_BY(mu_)
  int renewals_ = 0;                                    // GUARDED_BY(mu_)
  std::map<std::string, store::ServerRecord> servers_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::testing
