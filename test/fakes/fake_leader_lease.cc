#include "fakes/fake_leader_lease.h"

namespace skiff::testing {

FakeLeaderLease::FakeLeaderLease(const Clock* db_clock) : db_clock_(db_clock) {}

Status FakeLeaderLease::CheckAvailableLocked() const {
  if (unavailable_) return Unavailable("fake lease: the database is down");
  return OkStatus();
}

Result<store::LeaderLease::Acquired> FakeLeaderLease::TryAcquire(const std::string& holder,
                                                                 Duration ttl) {
  std::lock_guard lock(mu_);
  SKIFF_RETURN_IF_ERROR(CheckAvailableLocked());
  const Time now = db_clock_->Now();
  if (holder_.empty() || holder_ == holder || expires_at_ <= now) {
    holder_ = holder;
    ++epoch_;
    expires_at_ = now + ttl;
    return Acquired{.acquired = true, .epoch = epoch_};
  }
  return Acquired{.acquired = false,
                  .epoch = epoch_,
                  .holder = holder_,
                  .remaining = std::chrono::duration_cast<Duration>(expires_at_ - now)};
}

Status FakeLeaderLease::Renew(const std::string& holder, int64_t epoch, Duration ttl) {
  std::lock_guard lock(mu_);
  SKIFF_RETURN_IF_ERROR(CheckAvailableLocked());
  const Time now = db_clock_->Now();
  if (holder_ != holder || epoch_ != epoch || expires_at_ <= now) {
    return FailedPrecondition("the lease of " + holder + " in epoch " + std::to_string(epoch) +
                              " is over");
  }
  expires_at_ = now + ttl;
  ++renewals_;
  return OkStatus();
}

Status FakeLeaderLease::Release(const std::string& holder, int64_t epoch) {
  std::lock_guard lock(mu_);
  SKIFF_RETURN_IF_ERROR(CheckAvailableLocked());
  if (holder_ == holder && epoch_ == epoch) {
    holder_.clear();
    expires_at_ = db_clock_->Now();
  }
  return OkStatus();
}

Status FakeLeaderLease::Heartbeat(const store::ServerInfo& server) {
  std::lock_guard lock(mu_);
  SKIFF_RETURN_IF_ERROR(CheckAvailableLocked());
  store::ServerRecord& r = servers_[server.id];
  r.id = server.id;
  r.address = server.address;
  r.version = server.version;
  r.last_seen = db_clock_->Now();
  return OkStatus();
}

Result<std::vector<store::ServerRecord>> FakeLeaderLease::ListServers() {
  std::lock_guard lock(mu_);
  SKIFF_RETURN_IF_ERROR(CheckAvailableLocked());
  const Time now = db_clock_->Now();
  std::vector<store::ServerRecord> out;
  for (auto [id, r] : servers_) {
    r.leader = store::ServerIdOfHolder(holder_) == id && expires_at_ > now;
    r.epoch = r.leader ? epoch_ : 0;
    r.silent = std::chrono::duration_cast<Duration>(now - r.last_seen);
    out.push_back(std::move(r));
  }
  return out;
}

Status FakeLeaderLease::PruneServers(Duration unseen_for) {
  std::lock_guard lock(mu_);
  SKIFF_RETURN_IF_ERROR(CheckAvailableLocked());
  const Time now = db_clock_->Now();
  std::erase_if(servers_,
                [&](const auto& entry) { return entry.second.last_seen <= now - unseen_for; });
  return OkStatus();
}

void FakeLeaderLease::SetUnavailable(bool unavailable) {
  std::lock_guard lock(mu_);
  unavailable_ = unavailable;
}

int64_t FakeLeaderLease::epoch() const {
  std::lock_guard lock(mu_);
  return epoch_;
}

std::string FakeLeaderLease::holder() const {
  std::lock_guard lock(mu_);
  return holder_;
}

Time FakeLeaderLease::expires_at() const {
  std::lock_guard lock(mu_);
  return expires_at_;
}

int FakeLeaderLease::renewals() const {
  std::lock_guard lock(mu_);
  return renewals_;
}

}  // namespace skiff::testing
