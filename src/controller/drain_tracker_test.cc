#include "controller/drain_tracker.h"

#include <gtest/gtest.h>

#include "fakes/counting_store.h"
#include "fakes/testing.h"
#include "store/leader_lease.h"
#include "store/memory/memory_store.h"

namespace skiff::controller {
namespace {

using namespace std::chrono_literals;

// A routes tag that, like the routes document's, changes with the instances
// that may take traffic and not with the revision alone.
std::string TagOf(const store::Snapshot& snapshot) {
  std::string tag = "routes";
  for (const model::Instance& i : snapshot.instances) {
    if (i.desired != model::DesiredState::kStop) tag += ":" + i.id;
  }
  return tag;
}

class DrainTrackerTest : public ::testing::Test {
 protected:
  DrainTrackerTest()
      : tracker_(
            &store_, &clock_,
            [this] {
              ++edge_calls_;
              return edges_;
            },
            TagOf) {}

  // Creates a running instance of app web; returns its version.
  int64_t Put(const std::string& id) {
    model::Instance i;
    i.id = id;
    i.app = "web";
    i.node = "node-1";
    i.state = model::InstanceState::kRunning;
    i.health = model::Health::kHealthy;
    i.address = "127.0.0.1:20001";
    store::Txn txn;
    txn.Put(i, store::kMustNotExist);
    auto revision = store_.Commit(txn);
    EXPECT_TRUE(revision) << revision.error().ToString();
    return *revision;
  }

  // What the controller does: desired stop with a drain of `timeout`
  // (none when zero). Returns the revision of that write.
  int64_t Stop(const std::string& id, Duration timeout = 10s) {
    model::Instance i = *store_.GetInstance(id);
    const int64_t version = i.version;
    i.desired = model::DesiredState::kStop;
    if (timeout > Duration(0)) i.drain_until = clock_.Now() + timeout;
    store::Txn txn;
    txn.Put(i, version);
    return *store_.Commit(txn);
  }

  bool Drained(const std::string& id) { return store_.GetInstance(id)->drained; }

  skiff::testing::CountingStore store_;
  ManualClock clock_;
  std::map<std::string, metrics::EdgeRoutes> edges_;
  int edge_calls_ = 0;
  DrainTracker tracker_;
};

// Verify that a tracker of a leader's term that is over (fenced at another
// epoch than the store's) marks nothing drained, and one of the current term
// does.
TEST_F(DrainTrackerTest, FencedAtAnOldEpochMarksNothing) {
  Put("web-1");
  const int64_t stopped = Stop("web-1");
  edges_["a"] = metrics::EdgeRoutes{.revision = stopped};
  auto edges = [this] { return edges_; };
  DrainTracker deposed(&store_, &clock_, edges, TagOf, store::kSingleServerEpoch + 1);
  EXPECT_EQ(deposed.Check(), 1u);
  EXPECT_FALSE(Drained("web-1"));
  EXPECT_EQ(store_.Revision(), stopped);
  DrainTracker leader(&store_, &clock_, edges, TagOf, store::kSingleServerEpoch);
  EXPECT_EQ(leader.Check(), 0u);
  EXPECT_TRUE(Drained("web-1"));
}

// Verify that an instance is drained only once the edge's table is at or
// past its stop and the edge has no request in flight to it.
TEST_F(DrainTrackerTest, WaitsForTheTableAndTheRequestsInFlight) {
  Put("web-1");
  const int64_t stopped = Stop("web-1");
  edges_["a"] = metrics::EdgeRoutes{.revision = stopped - 1};
  EXPECT_EQ(tracker_.Check(), 1u);
  EXPECT_FALSE(Drained("web-1")) << "the edge may still route it";

  edges_["a"] = metrics::EdgeRoutes{.revision = stopped, .leaving = {{"web-1", 2}}};
  EXPECT_EQ(tracker_.Check(), 1u);
  EXPECT_FALSE(Drained("web-1")) << "two requests still in flight";

  edges_["a"].leaving = {{"web-2", 1}};  // another instance's requests do not matter
  EXPECT_EQ(tracker_.Check(), 0u);
  EXPECT_TRUE(Drained("web-1"));
}

// Verify that every edge is waited for, and that an edge no longer listed
// (silent too long) is not.
TEST_F(DrainTrackerTest, WaitsForEveryLiveEdge) {
  Put("web-1");
  const int64_t stopped = Stop("web-1");
  edges_["a"] = metrics::EdgeRoutes{.revision = stopped + 5};
  edges_["b"] = metrics::EdgeRoutes{.revision = stopped, .leaving = {{"web-1", 1}}};
  EXPECT_EQ(tracker_.Check(), 1u);
  EXPECT_FALSE(Drained("web-1"));
  edges_.erase("b");
  EXPECT_EQ(tracker_.Check(), 0u);
  EXPECT_TRUE(Drained("web-1"));
}

// Verify that the revision remembered is that of the write first seen
// stopping: later writes (the agent's "draining" report) do not move it.
TEST_F(DrainTrackerTest, RemembersTheFirstStoppingRevision) {
  Put("web-1");
  const int64_t stopped = Stop("web-1");
  edges_["a"] = metrics::EdgeRoutes{.revision = stopped, .leaving = {{"web-1", 1}}};
  EXPECT_EQ(tracker_.Check(), 1u);
  model::Instance i = *store_.GetInstance("web-1");
  i.state = model::InstanceState::kStopping;
  store::Txn txn;
  txn.Put(i, i.version);
  ASSERT_TRUE(store_.Commit(txn));
  edges_["a"].leaving.clear();
  EXPECT_EQ(tracker_.Check(), 0u);
  EXPECT_TRUE(Drained("web-1"));
}

// Verify that a standalone edge whose routes document is the store's current
// one counts as caught up even with an older revision (its document did not
// change when the instance stopped), and that another tag does not.
TEST_F(DrainTrackerTest, CurrentRoutesTagCountsAsCaughtUp) {
  Put("web-1");
  Stop("web-1");
  edges_["a"] = metrics::EdgeRoutes{.revision = 1, .tag = "0123456789abcdef"};
  EXPECT_EQ(tracker_.Check(), 1u);
  EXPECT_FALSE(Drained("web-1"));
  edges_["a"].tag = TagOf(*store_.GetSnapshot());
  EXPECT_EQ(tracker_.Check(), 0u);
  EXPECT_TRUE(Drained("web-1"));
}

// Verify that a tracker given the server's snapshot cache takes the routes'
// tag from it: over rounds in which the store moves on while an instance
// drains, nothing reads the whole state but the cache's first read, and the
// store's current tag still counts as caught up.
TEST_F(DrainTrackerTest, TakesTheRoutesTagFromTheSharedCache) {
  store::SharedSnapshotCache cache(&store_);
  DrainTracker tracker(
      &store_, &clock_, [this] { return edges_; }, TagOf, 0, &cache);
  Put("web-1");
  Stop("web-1");
  edges_["a"] = metrics::EdgeRoutes{.revision = 1, .tag = "0123456789abcdef"};
  EXPECT_EQ(tracker.Check(), 1u);
  EXPECT_EQ(store_.whole_reads(), 1);
  for (int i = 2; i < 6; ++i) {
    Put("web-" + std::to_string(i));
    EXPECT_EQ(tracker.Check(), 1u);
  }
  EXPECT_EQ(store_.whole_reads(), 1);
  edges_["a"].tag = *cache.Read(TagOf);
  EXPECT_EQ(tracker.Check(), 0u);
  EXPECT_TRUE(Drained("web-1"));
  EXPECT_EQ(store_.whole_reads(), 1);
}

// Verify that drains that begin after the first round are found through the
// change log, that a deleted instance stops draining, and that a change log
// compacted past the last round makes the tracker list the instances again.
TEST_F(DrainTrackerTest, FollowsTheChangeLog) {
  Put("web-1");
  Put("web-2");
  edges_["a"] = metrics::EdgeRoutes{.revision = 0};  // never caught up
  EXPECT_EQ(tracker_.Check(), 0u);
  Stop("web-1");
  Stop("web-2");
  EXPECT_EQ(tracker_.Check(), 2u);
  store::Txn remove;
  remove.Delete(*store_.GetInstance("web-2"), store_.GetInstance("web-2")->version);
  ASSERT_TRUE(store_.Commit(remove));
  EXPECT_EQ(tracker_.Check(), 1u);

  store::MemoryStore small(store::MemoryStore::Options{.change_retention = 1});
  DrainTracker tracker(
      &small, &clock_,
      [] {
        return std::map<std::string, metrics::EdgeRoutes>{{"a", {}}};
      },
      TagOf);
  EXPECT_EQ(tracker.Check(), 0u);
  for (const char* id : {"x-1", "x-2"}) {
    model::Instance i;
    i.id = id;
    i.app = "x";
    i.desired = model::DesiredState::kStop;
    i.drain_until = clock_.Now() + 10s;
    store::Txn txn;
    txn.Put(i, store::kMustNotExist);
    ASSERT_TRUE(small.Commit(txn));
  }
  EXPECT_EQ(tracker.Check(), 2u) << "both found though the log kept only the last";
}

// Verify that instances without a drain, running ones and those past their
// deadline are left alone, and that the edges are not even asked then.
TEST_F(DrainTrackerTest, LeavesOtherInstancesAlone) {
  Put("running");
  Put("no-drain");
  Stop("no-drain", Duration(0));
  Put("late");
  Stop("late", 1s);
  clock_.Advance(2s);
  const int64_t revision = store_.Revision();
  EXPECT_EQ(tracker_.Check(), 0u);
  EXPECT_EQ(edge_calls_, 0);
  EXPECT_EQ(store_.Revision(), revision) << "nothing written";
  EXPECT_FALSE(Drained("no-drain"));
  EXPECT_FALSE(Drained("late"));
}

// Verify that without any edge an instance is drained at once, and that a
// drained instance is not written again.
TEST_F(DrainTrackerTest, NoEdgesNoWait) {
  Put("web-1");
  Stop("web-1");
  EXPECT_EQ(tracker_.Check(), 0u);
  EXPECT_TRUE(Drained("web-1"));
  const int64_t revision = store_.Revision();
  EXPECT_EQ(tracker_.Check(), 0u);
  EXPECT_EQ(store_.Revision(), revision);
}

// Verify that the started tracker finds a drain on its own (woken by the
// commit) and marks it once the edge's last request ended (a later round:
// that ending commits nothing).
TEST_F(DrainTrackerTest, StartedTrackerMarksDrains) {
  std::mutex mu;
  metrics::EdgeRoutes edge{.revision = 0, .leaving = {{"web-1", 1}}};
  DrainTracker tracker(
      &store_, &clock_,
      [&] {
        std::lock_guard lock(mu);
        return std::map<std::string, metrics::EdgeRoutes>{{"a", edge}};
      },
      TagOf);
  tracker.Start();
  Put("web-1");
  const int64_t stopped = Stop("web-1");
  {
    std::lock_guard lock(mu);
    edge.revision = stopped;
  }
  const int64_t revision = store_.Revision();
  EXPECT_FALSE(testing::PollUntil([&] { return Drained("web-1"); }, 300ms));
  EXPECT_EQ(store_.Revision(), revision);
  {
    std::lock_guard lock(mu);
    edge.leaving.clear();
  }
  EXPECT_TRUE(testing::PollUntil([&] { return Drained("web-1"); }));
  tracker.Stop();
}

}  // namespace
}  // namespace skiff::controller
