#include "api/auth_failure_limiter.h"

#include <gtest/gtest.h>

namespace skiff::api {
namespace {

using std::chrono::seconds;

// Verify that an address may fail `burst` times, is then refused with the
// wait until one failure drained, may try again after it, and that other
// addresses are not affected.
TEST(AuthFailureLimiterTest, BurstThenOneEveryInterval) {
  AuthFailureLimiter limiter({.burst = 3, .per_failure = seconds(10)});
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  seconds retry_after{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.MayTry("10.0.0.1", t0, &retry_after)) << i;
    limiter.NoteFailure("10.0.0.1", t0);
  }
  EXPECT_FALSE(limiter.MayTry("10.0.0.1", t0, &retry_after));
  EXPECT_EQ(retry_after, seconds(10));
  EXPECT_FALSE(limiter.MayTry("10.0.0.1", t0 + seconds(4), &retry_after));
  EXPECT_EQ(retry_after, seconds(6));
  EXPECT_TRUE(limiter.MayTry("10.0.0.2", t0, &retry_after));

  EXPECT_TRUE(limiter.MayTry("10.0.0.1", t0 + seconds(10), &retry_after));
  limiter.NoteFailure("10.0.0.1", t0 + seconds(10));
  EXPECT_FALSE(limiter.MayTry("10.0.0.1", t0 + seconds(10), &retry_after));
  // Fully drained after burst intervals.
  EXPECT_TRUE(limiter.MayTry("10.0.0.1", t0 + seconds(40), &retry_after));
}

// Verify that a Retry-After is never 0 (whole seconds, rounded up).
TEST(AuthFailureLimiterTest, RetryAfterIsAtLeastOneSecond) {
  AuthFailureLimiter limiter({.burst = 1, .per_failure = std::chrono::milliseconds(300)});
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  limiter.NoteFailure("a", t0);
  seconds retry_after{0};
  ASSERT_FALSE(limiter.MayTry("a", t0, &retry_after));
  EXPECT_EQ(retry_after, seconds(1));
}

// Verify that past max_addresses the drained buckets are dropped, and the
// ones still holding failures kept.
TEST(AuthFailureLimiterTest, DrainedAddressesAreDropped) {
  AuthFailureLimiter limiter({.burst = 2, .per_failure = seconds(1), .max_addresses = 3});
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  limiter.NoteFailure("a", t0);
  limiter.NoteFailure("b", t0);
  limiter.NoteFailure("c", t0 + seconds(5));
  EXPECT_EQ(limiter.size(), 3u);
  limiter.NoteFailure("d", t0 + seconds(5));
  EXPECT_EQ(limiter.size(), 2u);  // c and d
}

// Verify the host taken from a peer address.
TEST(AuthFailureLimiterTest, PeerHost) {
  EXPECT_EQ(PeerHost("127.0.0.1:53412"), "127.0.0.1");
  EXPECT_EQ(PeerHost("[::1]:8080"), "::1");
  EXPECT_EQ(PeerHost("::1"), "::1");
  EXPECT_EQ(PeerHost("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(PeerHost(""), "");
}

}  // namespace
}  // namespace skiff::api
