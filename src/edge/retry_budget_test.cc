#include <gtest/gtest.h>

#include "edge/proxy_shared.h"

namespace skiff::edge {
namespace {

using namespace std::chrono_literals;

// Takes retries until the budget says no; how many it gave.
int TakeAll(EdgeProxy::Shared& shared) {
  int taken = 0;
  while (shared.TakeRetry()) ++taken;
  return taken;
}

// Verify that with its bank spent the budget still allows a floor of retries
// per second of the clock, renewed only when the clock reaches the next second.
TEST(RetryBudgetTest, FloorRenewsEachSecondOfTheClock) {
  ManualClock clock;
  EdgeProxy::Shared shared(EdgeOptions{.clock = &clock});
  // A fresh edge banks three retries; the floor adds ten in this second.
  EXPECT_EQ(TakeAll(shared), 3 + 10);
  clock.Advance(999ms - (clock.MonotonicNow().time_since_epoch() % 1s) / 1ms * 1ms);
  EXPECT_EQ(TakeAll(shared), 0);
  clock.Advance(1ms);
  EXPECT_EQ(TakeAll(shared), 10);
  EXPECT_EQ(TakeAll(shared), 0);
}

// Verify that requests earn retries: ten requests bank one.
TEST(RetryBudgetTest, RequestsEarnRetries) {
  ManualClock clock;
  EdgeProxy::Shared shared(EdgeOptions{.clock = &clock});
  TakeAll(shared);
  for (int i = 0; i < 25; ++i) shared.EarnRetry();
  EXPECT_EQ(TakeAll(shared), 2);
  clock.Advance(1s);
  for (int i = 0; i < 1000; ++i) shared.EarnRetry();
  EXPECT_EQ(TakeAll(shared), 10 + 10);  // the bank's cap, then the floor
}

}  // namespace
}  // namespace skiff::edge
