#include "common/clock.h"

#include <gtest/gtest.h>

#include <thread>

#include "fakes/testing.h"

namespace skiff {
namespace {

using namespace std::chrono_literals;

// Verify that a wait on a ManualClock ends when the clock is advanced to its
// deadline, and not when it is advanced short of it.
TEST(ManualClockTest, WaitEndsWhenAdvancedToDeadline) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool returned = false;
  bool result = true;
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    result = clock.WaitFor(cv, lock, 10s, [] { return false; });
    returned = true;
  });
  ASSERT_TRUE(testing::PollUntil([&] { return clock.waiters() == 1; }));
  clock.Advance(9s);
  EXPECT_FALSE(testing::PollUntil(
      [&] {
        std::lock_guard lock(mu);
        return returned;
      },
      50ms));
  clock.Advance(1s);
  waiter.join();
  EXPECT_TRUE(returned);
  EXPECT_FALSE(result);
  EXPECT_EQ(clock.waiters(), 0);
}

// Verify that a wait ends early, returning true, when its condition turns
// true and the condition variable is notified.
TEST(ManualClockTest, WaitEndsOnCondition) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool result = false;
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    result = clock.WaitFor(cv, lock, 1h, [&] { return done; });
  });
  ASSERT_TRUE(testing::PollUntil([&] { return clock.waiters() == 1; }));
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_TRUE(result);
}

// Verify that SleepFor on a ManualClock lasts exactly until the clock moves,
// and that Set moves the monotonic time forward but never back.
TEST(ManualClockTest, SleepAndSet) {
  ManualClock clock;
  const MonoTime start = clock.MonotonicNow();
  std::thread sleeper([&] { clock.SleepFor(5s); });
  ASSERT_TRUE(testing::PollUntil([&] { return clock.waiters() == 1; }));
  clock.Set(clock.Now() + 5s);
  sleeper.join();
  EXPECT_EQ(clock.MonotonicNow() - start, 5s);
  clock.Set(clock.Now() - 1h);
  EXPECT_EQ(clock.MonotonicNow() - start, 5s);
}

// Verify that the system clock's wait returns at once when the condition
// already holds, and false after a short deadline otherwise.
TEST(SystemClockTest, WaitHonoursConditionAndDeadline) {
  const Clock* clock = SystemClock::Get();
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lock(mu);
  EXPECT_TRUE(clock->WaitFor(cv, lock, 1h, [] { return true; }));
  const MonoTime before = clock->MonotonicNow();
  EXPECT_FALSE(clock->WaitFor(cv, lock, 20ms, [] { return false; }));
  EXPECT_GE(clock->MonotonicNow() - before, 20ms);
}

}  // namespace
}  // namespace skiff
