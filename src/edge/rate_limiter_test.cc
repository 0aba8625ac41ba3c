#include "edge/rate_limiter.h"

#include <gtest/gtest.h>

namespace skiff::edge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const RateLimiter::SteadyTime kStart{std::chrono::hours(1)};
const model::RateLimit kTenPerSecond{.average = 10, .burst = 10};

// `count` clients each take a token at kStart (their buckets not full again
// until a tenth of a second later).
void AddClients(RateLimiter& limiter, int count) {
  seconds wait{0};
  for (int i = 0; i < count; ++i) {
    limiter.Allow("client-" + std::to_string(i), kTenPerSecond, kStart, &wait);
  }
}

// Verify that a client gets its burst at once, then is refused with the wait
// until the next token, and gets tokens back at the average rate.
TEST(RateLimiterTest, BurstThenAverage) {
  RateLimiter limiter;
  const model::RateLimit limit{.average = 2, .burst = 3};
  seconds wait{0};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("web\n1.2.3.4", limit, kStart, &wait));
  EXPECT_FALSE(limiter.Allow("web\n1.2.3.4", limit, kStart, &wait));
  EXPECT_EQ(wait, seconds(1));
  EXPECT_TRUE(limiter.Allow("web\n1.2.3.4", limit, kStart + milliseconds(500), &wait));
  EXPECT_FALSE(limiter.Allow("web\n1.2.3.4", limit, kStart + milliseconds(500), &wait));
  // Long idle refills to the burst, not beyond.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(limiter.Allow("web\n1.2.3.4", limit, kStart + seconds(60), &wait));
  }
  EXPECT_FALSE(limiter.Allow("web\n1.2.3.4", limit, kStart + seconds(60), &wait));
}

// Verify that clients (and apps) have buckets of their own.
TEST(RateLimiterTest, KeysAreIndependent) {
  RateLimiter limiter;
  const model::RateLimit limit{.average = 1, .burst = 1};
  seconds wait{0};
  EXPECT_TRUE(limiter.Allow("web\n1.1.1.1", limit, kStart, &wait));
  EXPECT_FALSE(limiter.Allow("web\n1.1.1.1", limit, kStart, &wait));
  EXPECT_TRUE(limiter.Allow("web\n2.2.2.2", limit, kStart, &wait));
  EXPECT_TRUE(limiter.Allow("api\n1.1.1.1", limit, kStart, &wait));
}

// Verify that a slow rate asks for a longer wait, in whole seconds.
TEST(RateLimiterTest, RetryAfterRoundsUp) {
  RateLimiter limiter;
  const model::RateLimit limit{.average = 1, .burst = 1};
  seconds wait{0};
  ASSERT_TRUE(limiter.Allow("k", limit, kStart, &wait));
  EXPECT_FALSE(limiter.Allow("k", limit, kStart + milliseconds(100), &wait));
  EXPECT_EQ(wait, seconds(1));
}

// Verify that buckets of idle clients are dropped once there are many.
TEST(RateLimiterTest, PrunesRefilledBuckets) {
  RateLimiter limiter;
  AddClients(limiter, 80000);
  EXPECT_EQ(limiter.size(), 80000u);
  // An hour later every bucket is full again: arrivals in each shard prune them.
  seconds wait{0};
  for (int i = 0; i < 500; ++i) {
    limiter.Allow("late-" + std::to_string(i), kTenPerSecond, kStart + std::chrono::hours(1),
                  &wait);
  }
  EXPECT_LE(limiter.size(), 500u);
}

// Verify that clients whose buckets have not refilled cost a pass over their
// shard now and then, not one per request: 80,000 of them arriving at once
// (none to drop) make a few passes, where a pass per arrival past the
// threshold made some 14,000, each over thousands of buckets under the lock.
TEST(RateLimiterTest, ManyLiveClientsDoNotMakeAPassPerRequest) {
  RateLimiter limiter;
  AddClients(limiter, 80000);
  EXPECT_EQ(limiter.size(), 80000u);
  EXPECT_LE(limiter.prune_passes(), 16u * 2);
}

}  // namespace
}  // namespace skiff::edge
