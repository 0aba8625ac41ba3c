#include "store/single_server_lease.h"

#include <algorithm>

namespace skiff::store {

SingleServerLease::SingleServerLease(const Clock* clock)
    : clock_(clock != nullptr ? clock : SystemClock::Get()) {}

Result<LeaderLease::Acquired> SingleServerLease::TryAcquire(const std::string&, Duration) {
  return Acquired{.acquired = true, .epoch = kSingleServerEpoch};
}

Status SingleServerLease::Renew(const std::string&, int64_t epoch, Duration) {
  if (epoch != kSingleServerEpoch) {
    return FailedPrecondition("epoch " + std::to_string(epoch) + " is not the current epoch " +
                              std::to_string(kSingleServerEpoch));
  }
  return OkStatus();
}

Status SingleServerLease::Release(const std::string&, int64_t) { return OkStatus(); }

Status SingleServerLease::Heartbeat(const ServerInfo& server) {
  std::lock_guard lock(mu_);
  seen_ = true;
  server_.id = server.id;
  server_.address = server.address;
  server_.version = server.version;
  server_.last_seen = clock_->Now();
  server_.leader = true;
  server_.epoch = kSingleServerEpoch;
  return OkStatus();
}

Result<std::vector<ServerRecord>> SingleServerLease::ListServers() {
  std::lock_guard lock(mu_);
  if (!seen_) return std::vector<ServerRecord>{};
  ServerRecord server = server_;
  server.silent =
      std::max(Duration(0), std::chrono::duration_cast<Duration>(clock_->Now() - server.last_seen));
  return std::vector<ServerRecord>{server};
}

}  // namespace skiff::store
