// The change log across servers, under faults: two PostgresStores (two
// servers) on one database, a stream of commits through both, their
// connections terminated and PostgreSQL restarted meanwhile. Every watcher
// must see every revision exactly once, in order, and revisions must strictly
// increase in commit order whichever server commits.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fakes/postgres_server.h"
#include "fakes/testing.h"
#include "store/commit_watcher.h"
#include "store/postgres/postgres_store.h"
#include "store/store_test_objects.h"

namespace skiff::store {
namespace {

using skiff::testing::PollUntil;
using skiff::testing::PostgresServer;
using testing::MakeApp;

// A watcher as the server's loops have one: woken by a CommitWatcher, it reads
// the log after the last revision it took (ChangesSince) and keeps what it saw.
class LogFollower {
 public:
  explicit LogFollower(Store* store) : store_(store), watcher_(store) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~LogFollower() {
    stopping_ = true;
    watcher_.Stop();
    thread_.join();
  }
  std::vector<int64_t> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  int64_t last() { return last_.load(); }

 private:
  void Loop() {
    while (!stopping_) {
      // No re-read of its own: only the CommitWatcher (the store's
      // subscribers, so its listener's NOTIFY for the other server's
      // commits) wakes it.
      watcher_.WaitPast(last_, std::chrono::hours(1));
      if (stopping_) return;
      auto changes = store_->ChangesSince(last_, 1000);
      if (!changes) {
        // PostgreSQL is down or restarting: back off a little, then read again.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      std::lock_guard lock(mu_);
      for (const Change& change : *changes) seen_.push_back(change.revision);
      if (!changes->empty()) last_ = changes->back().revision;
    }
  }

  Store* const store_;
  CommitWatcher watcher_;
  std::atomic<bool> stopping_ = false;
  std::atomic<int64_t> last_ = 0;
  std::mutex mu_;
  std::vector<int64_t> seen_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

// Commits `count` new apps through `store`, retrying through outages; keeps
// the revision of each commit it saw succeed. With `hold`, waits before commit
// number `hold_at` while *hold is true (so a fast machine cannot finish the
// stream before the test's outage hits it).
class Writer {
 public:
  Writer(Store* store, std::string prefix, int count, const std::atomic<bool>* hold = nullptr,
         int hold_at = 0) {
    thread_ = std::thread([this, store, prefix, count, hold, hold_at] {
      for (int i = 0; i < count; ++i) {
        while (hold != nullptr && i == hold_at && hold->load()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        const model::App app = MakeApp(prefix + std::to_string(i));
        bool retried = false;
        while (true) {
          auto committed = store->Commit(Txn().Put(app, kMustNotExist));
          if (committed) {
            std::lock_guard lock(mu_);
            revisions_.push_back(*committed);
            break;
          }
          // A commit whose connection died during COMMIT may have landed.
          if (retried && committed.error().code == ErrorCode::kAlreadyExists) break;
          if (committed.error().code != ErrorCode::kUnavailable) {
            std::lock_guard lock(mu_);
            errors_.push_back(committed.error().ToString());
            break;
          }
          retried = true;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));  // back off
        }
        ++done_;
      }
    });
  }
  ~Writer() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  int done() const { return done_.load(); }
  std::vector<int64_t> revisions() {
    std::lock_guard lock(mu_);
    return revisions_;
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  std::atomic<int> done_ = 0;
  std::mutex mu_;
  std::vector<int64_t> revisions_;
  std::vector<std::string> errors_;
  std::thread thread_;
};

// Verify that with two servers writing one database, their connections
// terminated and PostgreSQL restarted under the stream, each server's watcher
// sees every revision exactly once and in order, and each server's commits
// take strictly increasing revisions none of the other's takes.
TEST(PostgresWatchTest, EveryWatcherSeesEveryRevisionOnceInOrder) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  PostgresStore::Options options;
  // Only a NOTIFY (or a reconnect) wakes a listener: a broken one fails.
  options.safety_interval = std::chrono::hours(1);
  auto a = PostgresStore::Open(*db, options);
  auto b = PostgresStore::Open(*db, options);
  ASSERT_TRUE(a.has_value()) << a.error().ToString();
  ASSERT_TRUE(b.has_value()) << b.error().ToString();
  const std::string database = PostgresServer::DatabaseOf(*db);

  constexpr int kPerWriter = 300;
  LogFollower follow_a(a->get());
  LogFollower follow_b(b->get());
  // Counted after the first connects, so a reconnect is what moves them.
  ASSERT_TRUE(
      PollUntil([&] { return (*a)->listener_connects() >= 1 && (*b)->listener_connects() >= 1; }));
  const int connects_a = (*a)->listener_connects();
  const int connects_b = (*b)->listener_connects();
  {
    // Held at three quarters until PostgreSQL has restarted.
    std::atomic<bool> hold = true;
    Writer write_a(a->get(), "a", kPerWriter, &hold, kPerWriter * 3 / 4);
    Writer write_b(b->get(), "b", kPerWriter, &hold, kPerWriter * 3 / 4);

    ASSERT_TRUE(PollUntil([&] { return write_a.done() + write_b.done() >= kPerWriter / 4; },
                          std::chrono::seconds(60)));
    auto terminated = server->TerminateConnections(database);
    ASSERT_TRUE(terminated.has_value()) << terminated.error().ToString();
    EXPECT_GE(*terminated, 2);  // at least the two listeners'
    EXPECT_TRUE(PollUntil([&] {
      return (*a)->listener_connects() > connects_a && (*b)->listener_connects() > connects_b;
    }));

    ASSERT_TRUE(PollUntil([&] { return write_a.done() + write_b.done() >= kPerWriter / 2; },
                          std::chrono::seconds(60)));
    // The restart must hit the stream, not follow it.
    EXPECT_LT(write_a.done() + write_b.done(), 2 * kPerWriter);
    const int before_restart_a = (*a)->listener_connects();
    const int before_restart_b = (*b)->listener_connects();
    const Status restarted = server->Restart();
    hold = false;
    ASSERT_TRUE(restarted.has_value()) << restarted.error().ToString();
    EXPECT_TRUE(PollUntil(
        [&] {
          return (*a)->listener_connects() > before_restart_a &&
                 (*b)->listener_connects() > before_restart_b;
        },
        std::chrono::seconds(30)));

    write_a.Join();
    write_b.Join();
    EXPECT_EQ(write_a.errors(), std::vector<std::string>{});
    EXPECT_EQ(write_b.errors(), std::vector<std::string>{});
    std::vector<int64_t> all;
    for (Writer* w : {&write_a, &write_b}) {
      const std::vector<int64_t> mine = w->revisions();
      for (size_t i = 1; i < mine.size(); ++i) EXPECT_LT(mine[i - 1], mine[i]);
      all.insert(all.end(), mine.begin(), mine.end());
    }
    std::sort(all.begin(), all.end());
    EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a revision taken twice";
  }

  // Each store's Revision() reaches the other's last commit once its
  // listener heard of it.
  // A last commit through b alone: only a NOTIFY tells a's listener of it
  // (nothing of a's own wakes a's watcher after it).
  auto last = (*b)->Commit(Txn().Put(MakeApp("last"), kMustNotExist));
  ASSERT_TRUE(last.has_value()) << last.error().ToString();
  const int64_t final_revision = 2 * kPerWriter + 1;
  EXPECT_EQ(*last, final_revision);
  EXPECT_TRUE(PollUntil([&] { return (*a)->Revision() == final_revision; }));
  EXPECT_TRUE(PollUntil([&] { return (*b)->Revision() == final_revision; }));
  std::vector<int64_t> expected;
  for (int64_t r = 1; r <= final_revision; ++r) expected.push_back(r);
  for (LogFollower* f : {&follow_a, &follow_b}) {
    EXPECT_TRUE(PollUntil([&] { return f->last() >= final_revision; }, std::chrono::seconds(30)));
    EXPECT_EQ(f->seen(), expected);
  }
}

}  // namespace
}  // namespace skiff::store
