#include "api/auth_failure_limiter.h"

#include <gtest/gtest.h>

namespace skiff::api {
namespace {

using Outcome = AuthFailureLimiter::Outcome;
using std::chrono::seconds;

class AuthFailureLimiterTest : public ::testing::Test {
 protected:
  // One request from `address` with `token`, ended with `outcome`; whether
  // it was admitted.
  bool Try(const std::string& address, const std::string& token, Outcome outcome, MonoTime at) {
    const AuthFailureLimiter::Admission admission = limiter_.Admit(address, token, at);
    if (!admission.admitted) {
      retry_after_ = admission.retry_after;
      return false;
    }
    limiter_.Finish(address, admission, outcome, at);
    return true;
  }

  const MonoTime t0_ = MonoTime{} + std::chrono::hours(1);
  AuthFailureLimiter limiter_{{.burst = 3, .per_failure = seconds(10)}};
  seconds retry_after_{0};
};

// Verify that an address may fail `burst` times with distinct tokens, is then
// refused with the wait until one failure drained, may try again after it,
// and that other addresses are not affected.
TEST_F(AuthFailureLimiterTest, BurstThenOneEveryInterval) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Try("10.0.0.1", "guess-" + std::to_string(i), Outcome::kRefused, t0_)) << i;
  }
  EXPECT_FALSE(Try("10.0.0.1", "guess-3", Outcome::kRefused, t0_));
  EXPECT_EQ(retry_after_, seconds(10));
  EXPECT_FALSE(Try("10.0.0.1", "guess-3", Outcome::kRefused, t0_ + seconds(4)));
  EXPECT_EQ(retry_after_, seconds(6));
  EXPECT_TRUE(Try("10.0.0.2", "guess-0", Outcome::kRefused, t0_));

  EXPECT_TRUE(Try("10.0.0.1", "guess-3", Outcome::kRefused, t0_ + seconds(10)));
  EXPECT_FALSE(Try("10.0.0.1", "guess-4", Outcome::kRefused, t0_ + seconds(10)));
  EXPECT_TRUE(Try("10.0.0.1", "guess-5", Outcome::kRefused, t0_ + seconds(40)));
}

// Verify that a refused token retried (a stale credential) counts once, and a
// request with no token not at all.
TEST_F(AuthFailureLimiterTest, RetriesAndMissingTokensDoNotCount) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(Try("10.0.0.1", "stale-credential", Outcome::kRefused, t0_)) << i;
    ASSERT_TRUE(Try("10.0.0.1", "", Outcome::kRefused, t0_)) << i;
  }
  EXPECT_TRUE(Try("10.0.0.1", "guess-1", Outcome::kRefused, t0_));
  EXPECT_TRUE(Try("10.0.0.1", "guess-2", Outcome::kRefused, t0_));
  EXPECT_FALSE(Try("10.0.0.1", "guess-3", Outcome::kRefused, t0_));
}

// Verify that a blocked address still lets through a token that
// authenticated lately (from any address), and only for `good_for`.
TEST_F(AuthFailureLimiterTest, GoodTokensPassABlockedAddress) {
  for (int i = 0; i < 3; ++i) Try("10.0.0.1", "guess-" + std::to_string(i), Outcome::kRefused, t0_);
  EXPECT_FALSE(Try("10.0.0.1", "the-admin-token", Outcome::kAuthenticated, t0_));
  ASSERT_TRUE(Try("10.0.0.9", "the-admin-token", Outcome::kAuthenticated, t0_));
  EXPECT_TRUE(Try("10.0.0.1", "the-admin-token", Outcome::kAuthenticated, t0_ + seconds(1)));
  EXPECT_FALSE(Try("10.0.0.1", "guess-3", Outcome::kRefused, t0_ + seconds(1)));
  // Unused for an hour, it passes a block no more.
  const MonoTime later = t0_ + seconds(2) + std::chrono::hours(1);
  for (int i = 10; i < 13; ++i) {
    ASSERT_TRUE(Try("10.0.0.1", "guess-" + std::to_string(i), Outcome::kRefused, later)) << i;
  }
  EXPECT_FALSE(Try("10.0.0.1", "the-admin-token", Outcome::kAuthenticated, later));
}

// Verify that requests in flight hold room: parallel guesses cannot all be
// admitted before the first fails.
TEST_F(AuthFailureLimiterTest, RequestsInFlightHoldRoom) {
  std::vector<AuthFailureLimiter::Admission> in_flight;
  for (int i = 0; i < 3; ++i) {
    in_flight.push_back(limiter_.Admit("10.0.0.1", "guess-" + std::to_string(i), t0_));
    ASSERT_TRUE(in_flight.back().admitted) << i;
  }
  const AuthFailureLimiter::Admission busy = limiter_.Admit("10.0.0.1", "guess-3", t0_);
  EXPECT_FALSE(busy.admitted);
  EXPECT_EQ(busy.retry_after, seconds(1));  // room comes back as requests end
  // One ends with nothing learned of its token (a 404): its room comes back.
  limiter_.Finish("10.0.0.1", in_flight[0], Outcome::kNeither, t0_);
  EXPECT_TRUE(limiter_.Admit("10.0.0.1", "guess-4", t0_).admitted);
}

// Verify that a Retry-After is never 0 (whole seconds, rounded up).
TEST(AuthFailureLimiterRoundingTest, RetryAfterIsAtLeastOneSecond) {
  AuthFailureLimiter limiter({.burst = 1, .per_failure = std::chrono::milliseconds(300)});
  const MonoTime t0 = MonoTime{} + std::chrono::hours(1);
  limiter.Finish("a", limiter.Admit("a", "guess", t0), Outcome::kRefused, t0);
  const AuthFailureLimiter::Admission refused = limiter.Admit("a", "other", t0);
  ASSERT_FALSE(refused.admitted);
  EXPECT_EQ(refused.retry_after, seconds(1));
}

// Verify that the table of addresses is bounded: past max_addresses the
// drained buckets go, then the emptiest.
TEST(AuthFailureLimiterBoundsTest, AddressesAreBounded) {
  AuthFailureLimiter limiter({.burst = 5, .per_failure = seconds(1), .max_addresses = 3});
  const MonoTime t0 = MonoTime{} + std::chrono::hours(1);
  auto fail = [&](const std::string& address, MonoTime at) {
    limiter.Finish(address, limiter.Admit(address, "guess-" + address, at), Outcome::kRefused, at);
  };
  fail("a", t0);
  fail("b", t0);
  fail("c", t0 + seconds(5));
  EXPECT_EQ(limiter.size(), 3u);
  fail("d", t0 + seconds(5));
  EXPECT_EQ(limiter.size(), 2u);  // a and b drained
  fail("e", t0 + seconds(5));
  fail("f", t0 + seconds(5));
  EXPECT_EQ(limiter.size(), 3u);  // never more
}

// Verify that a bucket with requests in flight is never evicted, and that a
// new address is refused when every bucket is busy.
TEST(AuthFailureLimiterBoundsTest, BusyBucketsAreKept) {
  AuthFailureLimiter limiter({.burst = 5, .per_failure = seconds(1), .max_addresses = 2});
  const MonoTime t0 = MonoTime{} + std::chrono::hours(1);
  const AuthFailureLimiter::Admission a = limiter.Admit("a", "guess", t0);
  const AuthFailureLimiter::Admission b = limiter.Admit("b", "guess", t0);
  ASSERT_TRUE(a.admitted && b.admitted);
  const AuthFailureLimiter::Admission c = limiter.Admit("c", "guess", t0);
  EXPECT_FALSE(c.admitted);
  EXPECT_TRUE(c.table_full);
  limiter.Finish("a", a, Outcome::kNeither, t0);
  EXPECT_TRUE(limiter.Admit("c", "guess", t0).admitted);  // a, idle and empty, went
  EXPECT_EQ(limiter.size(), 2u);
  // b's room is still held: b may have four more in flight, not five.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.Admit("b", "g" + std::to_string(i), t0).admitted);
  EXPECT_FALSE(limiter.Admit("b", "g4", t0).admitted);
}

// Verify the key an address is limited by.
TEST(AddressKeyTest, HostsAndPrefixes) {
  EXPECT_EQ(AddressKey("127.0.0.1:53412"), "127.0.0.1");
  EXPECT_EQ(AddressKey("[::1]:8080"), "::/64");
  EXPECT_EQ(AddressKey("[::ffff:10.1.2.3]:80"), "10.1.2.3");
  EXPECT_EQ(AddressKey("[2001:db8:1:2::7]:80"), "2001:db8:1:2::/64");
  EXPECT_EQ(AddressKey("[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:80"), "2001:db8:1:2::/64");
  EXPECT_EQ(AddressKey("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(AddressKey("not-an-ip:80"), "not-an-ip");
  EXPECT_EQ(AddressKey(""), "");
}

}  // namespace
}  // namespace skiff::api
