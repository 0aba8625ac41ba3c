#include "store/commit_watcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "fakes/testing.h"
#include "store/memory/memory_store.h"
#include "store/store_test_objects.h"

namespace skiff::store {
namespace {

using namespace std::chrono_literals;

// What the rounds of a watcher saw, safe to read from the test's thread.
class Rounds {
 public:
  // A round that records its revision and asks for `wait`.
  CommitWatcher::Round Record(Duration wait = CommitWatcher::kNoTimer) {
    return [this, wait](int64_t revision) {
      std::lock_guard lock(mu_);
      revisions_.push_back(revision);
      return wait;
    };
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return revisions_.size();
  }
  int64_t last() const {
    std::lock_guard lock(mu_);
    return revisions_.empty() ? -1 : revisions_.back();
  }

 private:
  mutable std::mutex mu_;
  std::vector<int64_t> revisions_;
};

class CommitWatcherTest : public ::testing::Test {
 protected:
  int64_t Commit(const std::string& message = "e") {
    auto r = store_.Commit(Txn().AddEvent(testing::MakeEvent("a", message)));
    EXPECT_TRUE(r.has_value());
    return r.value_or(-1);
  }

  MemoryStore store_;
  Rounds rounds_;
};

// Verify that a started watcher runs a round at once, then one after a commit,
// given the revision of that commit.
TEST_F(CommitWatcherTest, RoundAtStartAndAfterACommit) {
  Commit();
  CommitWatcher watcher(&store_);
  watcher.Start(rounds_.Record());
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return rounds_.count() == 1; }));
  EXPECT_EQ(rounds_.last(), 1);
  const int64_t revision = Commit();
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return rounds_.last() == revision; }));
  EXPECT_EQ(rounds_.count(), 2u);
  watcher.Stop();
}

// Verify that a caller who already handled the store's revision gets no first
// round, but one on the next commit.
TEST_F(CommitWatcherTest, HandledRevisionSkipsTheFirstRound) {
  Commit();
  CommitWatcher watcher(&store_);
  watcher.Start(rounds_.Record(), store_.Revision());
  EXPECT_FALSE(skiff::testing::PollUntil([&] { return rounds_.count() > 0; }, 100ms));
  const int64_t revision = Commit();
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return rounds_.last() == revision; }));
  EXPECT_EQ(rounds_.count(), 1u);
}

// Verify that a commit between the watcher's construction and Start is not
// missed even when the caller says it handled the revision before it.
TEST_F(CommitWatcherTest, CommitBeforeStartIsNotMissed) {
  CommitWatcher watcher(&store_);
  const int64_t handled = store_.Revision();
  const int64_t revision = Commit();
  watcher.Start(rounds_.Record(), handled);
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return rounds_.last() == revision; }));
}

// Verify that commits landing during a round make one round after it, given
// the newest revision.
TEST_F(CommitWatcherTest, BurstDuringARoundMakesOneRound) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> calls{0};
  std::atomic<int64_t> last{-1};
  CommitWatcher watcher(&store_);
  watcher.Start([&](int64_t revision) {
    if (calls++ == 0) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return release; });
    }
    last = revision;
    return CommitWatcher::kNoTimer;
  });
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return calls.load() == 1; }));
  int64_t newest = 0;
  for (int i = 0; i < 10; ++i) newest = Commit();
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return last.load() == newest; }));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_FALSE(skiff::testing::PollUntil([&] { return calls.load() > 2; }, 100ms));
}

// Verify that no commit is missed: after many commits from several threads,
// the last round has seen the store's final revision.
TEST_F(CommitWatcherTest, NeverMissesACommit) {
  CommitWatcher watcher(&store_);
  watcher.Start(rounds_.Record());
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) Commit();
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(store_.Revision(), 800);
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return rounds_.last() == 800; }));
}

// Verify that a round's timer brings the next round with no commit, and that
// without a timer nothing runs until a commit.
TEST_F(CommitWatcherTest, TimerWakesWithoutACommit) {
  CommitWatcher timed(&store_);
  timed.Start(rounds_.Record(10ms));
  EXPECT_TRUE(skiff::testing::PollUntil([&] { return rounds_.count() >= 3; }));
  timed.Stop();
  EXPECT_EQ(rounds_.last(), 0);

  Rounds untimed;
  CommitWatcher watcher(&store_);
  watcher.Start(untimed.Record());
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return untimed.count() == 1; }));
  EXPECT_FALSE(skiff::testing::PollUntil([&] { return untimed.count() > 1; }, 100ms));
}

// Verify that Stop is prompt while the watcher waits on a long timer, that it
// waits for a round in progress, and that it is idempotent.
TEST_F(CommitWatcherTest, StopIsPromptAndWaitsForTheRound) {
  std::atomic<bool> in_round{false};
  std::atomic<bool> round_done{false};
  CommitWatcher watcher(&store_);
  watcher.Start([&](int64_t) {
    if (!round_done) {
      in_round = true;
      std::this_thread::sleep_for(50ms);  // a round that takes a while, not a sync
      round_done = true;
    }
    return Duration(std::chrono::hours(1));
  });
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return in_round.load(); }));
  const auto start = std::chrono::steady_clock::now();
  watcher.Stop();
  EXPECT_TRUE(round_done.load());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  watcher.Stop();
  Commit();
}

// Verify that WaitPast returns at once for a revision already passed, wakes on
// a commit from another thread, times out with the same revision, and returns
// at once after Stop.
TEST_F(CommitWatcherTest, WaitPast) {
  Commit();
  CommitWatcher watcher(&store_);
  EXPECT_EQ(watcher.WaitPast(0, std::chrono::hours(1)), 1);
  EXPECT_EQ(watcher.WaitPast(1, 20ms), 1);
  std::thread writer([&] { Commit(); });
  EXPECT_EQ(watcher.WaitPast(1, std::chrono::seconds(30)), 2);
  writer.join();
  watcher.Stop();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(watcher.WaitPast(2, std::chrono::hours(1)), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

}  // namespace
}  // namespace skiff::store
