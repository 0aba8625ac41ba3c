#include "api/auth_failure_limiter.h"

#include <algorithm>
#include <cmath>

namespace skiff::api {

double AuthFailureLimiter::LevelAt(const Bucket& bucket, SteadyTime now) const {
  const double drained = std::chrono::duration<double>(now - bucket.at).count() /
                         std::chrono::duration<double>(options_.per_failure).count();
  return std::max(0.0, bucket.failures - std::max(0.0, drained));
}

bool AuthFailureLimiter::MayTry(const std::string& address, SteadyTime now,
                                std::chrono::seconds* retry_after) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(address);
  if (it == buckets_.end()) return true;
  const double over = LevelAt(it->second, now) + 1 - options_.burst;
  if (over <= 0) return true;
  // Rounded up to whole seconds, less a hair of floating-point noise.
  const double wait = over * std::chrono::duration<double>(options_.per_failure).count();
  *retry_after =
      std::chrono::seconds(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait - 1e-6))));
  return false;
}

void AuthFailureLimiter::NoteFailure(const std::string& address, SteadyTime now) {
  std::lock_guard lock(mu_);
  if (buckets_.size() >= options_.max_addresses && !buckets_.contains(address)) {
    // Drained buckets are the same as none: idle addresses cost nothing.
    std::erase_if(buckets_, [&](const auto& entry) { return LevelAt(entry.second, now) <= 0; });
  }
  Bucket& bucket = buckets_[address];
  bucket.failures = std::min<double>(LevelAt(bucket, now) + 1, options_.burst);
  bucket.at = now;
}

size_t AuthFailureLimiter::size() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

std::string PeerHost(std::string_view remote_address) {
  if (remote_address.starts_with('[')) {
    const size_t close = remote_address.find(']');
    if (close != std::string_view::npos) return std::string(remote_address.substr(1, close - 1));
  }
  const size_t colon = remote_address.rfind(':');
  // One colon: host:port; more: a bare IPv6 address.
  if (colon == std::string_view::npos || remote_address.find(':') != colon) {
    return std::string(remote_address);
  }
  return std::string(remote_address.substr(0, colon));
}

}  // namespace skiff::api
