#include "agent/runner_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

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
    // The next due time is taken before the run is counted, so a test that
    // sees the count and then moves the clock cannot move it in between.
    const MonoTime next =
        every_ == Duration::max() ? MonoTime::max() : clock_->MonotonicNow() + every_;
    ++runs_;
    inside_ = false;
    return next;
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

// A job whose runs block until the test opens its gate (a stop in its grace);
// it counts the runs begun and the most of them inside at once.
class GateJob final : public PoolJob {
 public:
  MonoTime RunOnce() override {
    std::unique_lock lock(mu_);
    ++begun_;
    most_inside_ = std::max(most_inside_, ++inside_);
    cv_.wait(lock, [&] { return open_; });
    --inside_;
    return MonoTime::max();
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int begun() const {
    std::lock_guard lock(mu_);
    return begun_;
  }
  int inside() const {
    std::lock_guard lock(mu_);
    return inside_;
  }
  int most_inside() const {
    std::lock_guard lock(mu_);
    return most_inside_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int begun_ = 0;
  int inside_ = 0;
  int most_inside_ = 0;
};

// A job that runs a function.
class FnJob final : public PoolJob {
 public:
  explicit FnJob(std::function<MonoTime()> fn) : fn_(std::move(fn)) {}
  MonoTime RunOnce() override { return fn_(); }

 private:
  const std::function<MonoTime()> fn_;
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

// Verify that wakes of a job that is running now never start a second run of
// it on another (idle) thread, and that any number of them make one run more
// after it, not more.
TEST(RunnerPoolTest, WakesDuringARunMakeOneRunMore) {
  RunnerPool pool(SystemClock::Get(), RunnerPoolOptions{.min_threads = 4, .max_threads = 4});
  pool.Start();
  GateJob job;
  pool.Add(&job);
  ASSERT_TRUE(PollUntil([&] { return job.inside() == 1; }));
  for (int i = 0; i < 20; ++i) pool.Wake(&job);
  EXPECT_FALSE(PollUntil([&] { return job.begun() > 1; }, 50ms));
  job.Open();
  ASSERT_TRUE(PollUntil([&] { return job.begun() == 2 && job.inside() == 0; }));
  EXPECT_FALSE(PollUntil([&] { return job.begun() > 2; }, 50ms));
  EXPECT_EQ(job.most_inside(), 1);
  pool.Remove(&job);
}

// Verify that a job's due time is kept while every thread is blocked in a
// long run: some thread always waits for the head of the queue.
TEST(RunnerPoolTest, DueTimeKeptWhileAllThreadsBlock) {
  ManualClock clock;
  // Extra threads may end as soon as they are idle: only the rule that the
  // last idle one stays for a queued due time keeps one.
  RunnerPool pool(&clock, RunnerPoolOptions{.min_threads = 2, .idle_exit = Duration(0)});
  pool.Start();
  CountingJob timed(&clock, 10s);
  pool.Add(&timed);
  ASSERT_TRUE(PollUntil([&] { return timed.runs() == 1; }));
  GateJob a, b;
  pool.Add(&a);
  pool.Add(&b);
  ASSERT_TRUE(PollUntil([&] { return a.inside() == 1 && b.inside() == 1; }));
  clock.Advance(10s);
  EXPECT_TRUE(PollUntil([&] { return timed.runs() == 2; }));
  a.Open();
  b.Open();
  pool.Remove(&a);
  pool.Remove(&b);
  pool.Remove(&timed);
}

// Verify that blocked runs do not hold up others however many there are (a
// thousand instances in their stop grace at once), and that the threads
// started for them end once idle and are joined.
TEST(RunnerPoolTest, ManyBlockedRunsAtOnceThenBackToFew) {
  RunnerPool pool(SystemClock::Get(), RunnerPoolOptions{.min_threads = 2, .idle_exit = 10ms});
  pool.Start();
  std::vector<std::unique_ptr<GateJob>> jobs;
  for (int i = 0; i < 100; ++i) {
    jobs.push_back(std::make_unique<GateJob>());
    pool.Add(jobs.back().get());
  }
  EXPECT_TRUE(PollUntil([&] {
    return std::all_of(jobs.begin(), jobs.end(), [](auto& j) { return j->inside() == 1; });
  }));
  for (auto& job : jobs) job->Open();
  for (auto& job : jobs) pool.Remove(job.get());
  EXPECT_TRUE(PollUntil([&] { return pool.threads() == 2; }));
  // And are joined, their stacks given back, with no new thread started.
  EXPECT_TRUE(PollUntil([&] { return pool.unjoined_threads() == 2; }))
      << pool.unjoined_threads() << " threads not joined";
}

// Verify that a wake queues behind a job already due (first in, first out):
// wakes cannot starve timed jobs.
TEST(RunnerPoolTest, WakeQueuesBehindDueJobs) {
  ManualClock clock;
  RunnerPool pool(&clock, RunnerPoolOptions{.min_threads = 1, .max_threads = 1});
  pool.Start();
  std::mutex mu;
  CountingJob timed(&clock, 10s);
  std::vector<int> timed_runs_seen;  // by each run of `woken`
  FnJob woken([&] {
    std::lock_guard lock(mu);
    timed_runs_seen.push_back(timed.runs());
    return MonoTime::max();
  });
  pool.Add(&timed);
  pool.Add(&woken);
  ASSERT_TRUE(PollUntil([&] {
    std::lock_guard lock(mu);
    return timed_runs_seen.size() == 1;
  }));
  GateJob gate;  // holds the only thread
  pool.Add(&gate);
  ASSERT_TRUE(PollUntil([&] { return gate.inside() == 1; }));
  clock.Advance(10s);
  pool.Wake(&woken);
  gate.Open();
  ASSERT_TRUE(PollUntil([&] {
    std::lock_guard lock(mu);
    return timed_runs_seen.size() == 2;
  }));
  // The timed job, due first, ran before the wake.
  std::lock_guard lock(mu);
  EXPECT_EQ(timed_runs_seen, (std::vector<int>{1, 2}));
  pool.Remove(&gate);
  pool.Remove(&woken);
  pool.Remove(&timed);
}

}  // namespace
}  // namespace skiff::agent
