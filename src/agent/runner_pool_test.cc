#include "agent/runner_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "fakes/testing.h"

namespace skiff::agent {
namespace {

using namespace std::chrono_literals;
using skiff::testing::PollUntil;

// A job that counts its runs and asks to run again `every` later.
class CountingJob final : public PoolJob {
 public:
  CountingJob(const Clock* clock, Duration every) : clock_(clock), every_(every) {}
  MonoTime RunOnce() override {
    if (inside_.exchange(true)) overlapped_ = true;
    ++runs_;
    inside_ = false;
    return every_ == Duration::max() ? MonoTime::max() : clock_->MonotonicNow() + every_;
  }
  int runs() const { return runs_; }
  bool overlapped() const { return overlapped_; }

 private:
  const Clock* clock_;
  const Duration every_;
  std::atomic<int> runs_{0};
  std::atomic<bool> inside_{false};
  std::atomic<bool> overlapped_{false};
};

// Verify that a job runs when added, when woken, and when the time it asked
// for comes on the pool's clock, and not otherwise.
TEST(RunnerPoolTest, RunsOnAddWakeAndDueTime) {
  ManualClock clock;
  RunnerPool pool(&clock);
  pool.Start();
  CountingJob job(&clock, 10s);
  pool.Add(&job);
  ASSERT_TRUE(PollUntil([&] { return job.runs() == 1; }));
  pool.Wake(&job);
  ASSERT_TRUE(PollUntil([&] { return job.runs() == 2; }));
  clock.Advance(9s);
  EXPECT_FALSE(PollUntil([&] { return job.runs() > 2; }, 50ms));
  clock.Advance(1s);
  ASSERT_TRUE(PollUntil([&] { return job.runs() == 3; }));
  pool.Remove(&job);
  pool.Wake(&job);
  clock.Advance(1h);
  EXPECT_FALSE(PollUntil([&] { return job.runs() > 3; }, 50ms));
}

// Verify that a job woken again and again runs again but never on two threads
// at once, and that many jobs share the pool's few threads.
TEST(RunnerPoolTest, OneRunAtATimeOnFewThreads) {
  RunnerPool pool(SystemClock::Get(), RunnerPoolOptions{.min_threads = 2, .max_threads = 4});
  pool.Start();
  std::vector<std::unique_ptr<CountingJob>> jobs;
  for (int i = 0; i < 100; ++i) {
    jobs.push_back(std::make_unique<CountingJob>(SystemClock::Get(), Duration::max()));
    pool.Add(jobs.back().get());
  }
  // Wakes of a job still waiting for its run are one wake.
  ASSERT_TRUE(PollUntil([&] {
    return std::all_of(jobs.begin(), jobs.end(), [](auto& j) { return j->runs() >= 1; });
  }));
  for (int round = 0; round < 20; ++round) {
    for (auto& job : jobs) pool.Wake(job.get());
  }
  ASSERT_TRUE(PollUntil([&] {
    return std::all_of(jobs.begin(), jobs.end(), [](auto& j) { return j->runs() >= 2; });
  }));
  EXPECT_LE(pool.threads(), 4);
  for (auto& job : jobs) {
    EXPECT_FALSE(job->overlapped());
    pool.Remove(job.get());
  }
}

}  // namespace
}  // namespace skiff::agent
