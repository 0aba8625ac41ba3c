#include "edge/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace skiff::edge {

bool RateLimiter::Allow(const std::string& key, const model::RateLimit& limit, SteadyTime now,
                        std::chrono::seconds* retry_after) {
  Shard& shard = shards_[std::hash<std::string>{}(key) % kShards];
  const double rate = limit.average;  // tokens per second
  const double burst = limit.burst;
  std::lock_guard lock(shard.mu);
  if (shard.buckets.size() > kPruneAbove &&
      (shard.buckets.size() > shard.prune_above || now - shard.pruned_at >= kPruneEvery)) {
    std::erase_if(shard.buckets, [&](const auto& kv) {
      const double elapsed = std::chrono::duration<double>(now - kv.second.last).count();
      return kv.second.tokens + elapsed * rate >= burst;
    });
    shard.prune_above = std::max(kPruneAbove, 2 * shard.buckets.size());
    shard.pruned_at = now;
    ++shard.passes;
  }
  auto [it, fresh] = shard.buckets.try_emplace(key, Bucket{burst, now});
  Bucket& b = it->second;
  if (!fresh) {
    const double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(burst, b.tokens + std::max(0.0, elapsed) * rate);
    b.last = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  const double wait = (1 - b.tokens) / rate;
  *retry_after = std::chrono::seconds(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait))));
  return false;
}

size_t RateLimiter::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.buckets.size();
  }
  return n;
}

size_t RateLimiter::prune_passes() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.passes;
  }
  return n;
}

}  // namespace skiff::edge
