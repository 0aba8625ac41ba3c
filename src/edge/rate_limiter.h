// Token buckets for the edge's rate limits (spec edge.rate_limit), one per
// (app, client address): a client may make `average` requests a second, in
// bursts of up to `burst`; beyond that it gets 429 with Retry-After.
//
// Thread-safety: Allow may be called from any thread. Buckets live in shards
// with a lock each, held for a few arithmetic operations.
#pragma once

#include <array>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "model/spec.h"

namespace skiff::edge {

class RateLimiter {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // Takes a token from `key`'s bucket when it has one. When not, returns false
  // and sets *retry_after to the wait until the next token (at least 1 s, as
  // Retry-After counts whole seconds). REQUIRES: limit.average >= 1, burst >= 1.
  bool Allow(const std::string& key, const model::RateLimit& limit, SteadyTime now,
             std::chrono::seconds* retry_after);

  // Buckets held now (for tests).
  size_t size() const;
  // Passes over a shard to drop refilled buckets so far (for tests).
  size_t prune_passes() const;

 private:
  static constexpr size_t kPruneAbove = 4096;
  static constexpr std::chrono::seconds kPruneEvery{10};
  struct Bucket {
    double tokens = 0;
    SteadyTime last;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;  // GUARDED_BY(mu)
    // Past kPruneAbove buckets the shard drops the ones that refilled (a full
    // bucket is the same as none), so idle clients cost no memory: when it
    // holds twice what its last pass kept, or kPruneEvery after that pass.
    // Not on every arrival: with many busy clients each pass keeps most of
    // them, and a pass per request would cost O(buckets) each.
    size_t prune_above = kPruneAbove;  // GUARDED_BY(mu)
    SteadyTime pruned_at;              // GUARDED_BY(mu)
    size_t passes = 0;                 // GUARDED_BY(mu)
  };
  static constexpr size_t kShards = 16;
  std::array<Shard, kShards> shards_;
};

}  // namespace skiff::edge
