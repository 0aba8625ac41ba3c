#include "controller/leadership.h"

#include <algorithm>
#include <utility>

#include "common/check.h"
#include "common/ids.h"
#include "common/logging.h"

namespace skiff::controller {

Leadership::Leadership(store::LeaderLease* lease, const Clock* clock, LeadershipOptions options,
                       Callbacks callbacks)
    : lease_(lease),
      clock_(clock),
      options_(std::move(options)),
      holder_(store::LeaseHolder(options_.server.id, RandomHex(8))),
      callbacks_(std::move(callbacks)) {
  SKIFF_CHECK(lease_ != nullptr);
  SKIFF_CHECK(!options_.server.id.empty());
  SKIFF_CHECK(options_.ttl >= Duration(3));
}

Leadership::~Leadership() { Stop(); }

void Leadership::Start() {
  renewer_ = std::thread([this] { Renew(); });
  actor_ = std::thread([this] { Act(); });
}

void Leadership::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (actor_.joinable()) actor_.join();  // deposed: nothing of this server acts any more
  if (renewer_.joinable()) renewer_.join();
  int64_t term = 0;
  {
    std::lock_guard lock(mu_);
    std::swap(term, term_);
  }
  if (term == 0) return;
  if (Status released = lease_->Release(holder_, term); !released) {
    SKIFF_LOG_WARN(
        "leadership: cannot release the lease of epoch {} (another server takes it "
        "when it expires): {}",
        term, released.error().ToString());
  } else {
    SKIFF_LOG_INFO("leadership: released the lease of epoch {}", term);
  }
}

Leadership::State Leadership::state() const {
  std::lock_guard lock(mu_);
  return State{.leading = acting_ != 0, .epoch = acting_};
}

void Leadership::LoseTermLocked(int64_t epoch) {
  if (term_ != epoch) return;
  term_ = 0;
  cv_.notify_all();
}

void Leadership::Renew() {
  const Duration ttl = options_.ttl;
  const Duration period = ttl / 3;
  const Duration forget_after = options_.forget_servers_after > Duration(0)
                                    ? options_.forget_servers_after
                                    : ForgetServersAfter(ttl);
  const std::string& id = options_.server.id;
  const std::string& holder = holder_;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const int64_t term = term_;
    const MonoTime sent = clock_->MonotonicNow();
    const bool live = term != 0 && sent < deadline_;
    if (term != 0 && !live) {
      SKIFF_LOG_WARN("leadership: no renewal of epoch {} in time; no longer acting", term);
      LoseTermLocked(term);
    }
    Duration wait = period;
    lock.unlock();
    if (live) {
      Status renewed = lease_->Renew(holder, term, ttl);
      lock.lock();
      if (renewed) {
        if (term_ == term) deadline_ = std::max(deadline_, sent + ttl - Margin(ttl));
      } else if (renewed.error().code == ErrorCode::kFailedPrecondition) {
        SKIFF_LOG_WARN("leadership: lost the lease of epoch {}: {}", term,
                       renewed.error().ToString());
        LoseTermLocked(term);
      } else {
        SKIFF_LOG_WARN("leadership: cannot renew the lease of epoch {}: {}", term,
                       renewed.error().ToString());
      }
    } else {
      auto acquired = lease_->TryAcquire(holder, ttl);
      lock.lock();
      if (!acquired) {
        SKIFF_LOG_DEBUG("leadership: cannot reach the lease: {}", acquired.error().ToString());
      } else if (acquired->acquired) {
        term_ = acquired->epoch;
        deadline_ = sent + ttl - Margin(ttl);
        SKIFF_LOG_INFO("leadership: {} leads, epoch {}", id, term_);
        cv_.notify_all();
      } else {
        // Again as soon as the holder's lease runs out (the database's
        // reckoning, read after `sent`: never early), or at the next period.
        wait = std::clamp(acquired->remaining, Duration(1), period);
      }
    }
    const bool leading = term_ != 0;
    lock.unlock();
    if (Status beat = lease_->Heartbeat(options_.server); !beat) {
      SKIFF_LOG_DEBUG("leadership: heartbeat: {}", beat.error().ToString());
    }
    // Only the leader forgets servers gone for long (one server does it, and
    // a DELETE that finds nothing costs next to nothing).
    if (leading) {
      if (Status pruned = lease_->PruneServers(forget_after); !pruned) {
        SKIFF_LOG_DEBUG("leadership: pruning the servers' list: {}", pruned.error().ToString());
      }
    }
    lock.lock();
    clock_->WaitUntil(cv_, lock, sent + wait, [&] { return stopping_; });
  }
}

void Leadership::Act() {
  std::unique_lock lock(mu_);
  for (;;) {
    const MonoTime now = clock_->MonotonicNow();
    if (acting_ != 0 && (stopping_ || term_ != acting_ || now >= deadline_)) {
      const int64_t epoch = acting_;
      lock.unlock();
      if (callbacks_.deposed) callbacks_.deposed();
      SKIFF_LOG_INFO("leadership: stopped acting for epoch {}", epoch);
      lock.lock();
      acting_ = 0;
      continue;
    }
    if (stopping_) return;
    if (acting_ == 0 && term_ != 0 && now < deadline_) {
      const int64_t epoch = term_;
      acting_ = epoch;
      lock.unlock();
      if (callbacks_.elected) callbacks_.elected(epoch);
      lock.lock();
      continue;
    }
    // Until the term changes, Stop, or (acting) the deadline as it stands now:
    // a renewal moves it on, and the wait starts again from the new one.
    const int64_t term = term_;
    const MonoTime until = acting_ != 0 ? deadline_ : MonoTime::max();
    clock_->WaitUntil(cv_, lock, until, [&] { return stopping_ || term_ != term; });
  }
}

}  // namespace skiff::controller
