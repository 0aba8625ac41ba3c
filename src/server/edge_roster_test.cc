#include "server/edge_roster.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/files.h"
#include "controller/drain_tracker.h"
#include "controller/routes.h"
#include "fakes/testing.h"
#include "store/memory/memory_store.h"

namespace skiff::server {
namespace {

using namespace std::chrono_literals;

metrics::EdgeRoutes Reporting(int64_t revision, int64_t interval_ms = 5000) {
  return metrics::EdgeRoutes{.revision = revision, .interval_ms = interval_ms};
}

std::unique_ptr<EdgeRoster> MustOpen(store::Store* store, const Clock* clock,
                                     const std::string& dir) {
  auto roster = EdgeRoster::Open(store, clock, dir);
  EXPECT_TRUE(roster) << roster.error().ToString();
  return roster ? std::move(*roster) : nullptr;
}

// Verify that an edge that left is no longer waited for at once, in the store
// too (another server's roster forgets it), and that forgetting one unknown
// is OK; heard again, it is written again at once.
TEST(EdgeRosterTest, ForgetsAnEdgeThatLeft) {
  skiff::testing::TempDir dir;
  store::MemoryStore store;
  ManualClock clock;
  auto roster = MustOpen(&store, &clock, dir.path());
  auto other = MustOpen(&store, &clock, dir.path());
  ASSERT_NE(roster, nullptr);
  ASSERT_NE(other, nullptr);
  roster->Heard("s1:edge", 5000);
  ASSERT_EQ(other->Merge({}).size(), 1u);
  ASSERT_TRUE(roster->Forget("s1:edge"));
  EXPECT_TRUE(other->Merge({}).empty());
  EXPECT_TRUE(roster->Forget("s1:edge"));
  roster->Heard("s1:edge", 5000);
  EXPECT_EQ(other->Merge({}).size(), 1u);
}

// Verify that an edge heard before a restart is waited for after it (an
// entry with no table) until it reports again, and that one not heard for
// three of its intervals is forgotten, in the store too.
TEST(EdgeRosterTest, RemembersEdgesAcrossARestart) {
  skiff::testing::TempDir dir;
  store::MemoryStore store;
  ManualClock clock;
  {
    auto roster = MustOpen(&store, &clock, dir.path());
    ASSERT_NE(roster, nullptr);
    roster->Heard("edge-a", 5000);
    roster->Heard("edge-b", 1000);
    auto merged = roster->Merge({{"edge-a", Reporting(7)}, {"edge-b", Reporting(7, 1000)}});
    EXPECT_EQ(merged.size(), 2u);
    EXPECT_EQ(merged["edge-a"].revision, 7);
  }
  // The server restarts: nothing has reported to it yet.
  clock.Advance(1s);
  auto roster = MustOpen(&store, &clock, dir.path());
  ASSERT_NE(roster, nullptr);
  auto merged = roster->Merge({});
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged["edge-a"], metrics::EdgeRoutes{}) << "not caught up with anything";
  EXPECT_EQ(merged["edge-b"], metrics::EdgeRoutes{});

  // edge-a reports; edge-b (1 s interval) stays silent past 3 s.
  clock.Advance(3s);
  roster->Heard("edge-a", 5000);
  merged = roster->Merge({{"edge-a", Reporting(9)}});
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged["edge-a"].revision, 9);

  // An edge reporting no interval is not kept.
  roster->Heard("edge-c", 0);
  auto kept = store.ListRecords(store::RecordKind::kEdge);
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->size(), 1u) << "edge-b forgotten, edge-c not kept";
  EXPECT_EQ((*kept)[0].key, "edge-a");
}

// Verify that servers sharing the store keep each other's edges: an edge
// heard by one (the leader, every interval) is waited for by another however
// long that one has run, and is forgotten only three intervals after the last
// time a server heard it; a server writes when it heard an edge at most once
// per interval of the edge.
TEST(EdgeRosterTest, ServersSharingTheStoreKeepEachOthersEdges) {
  skiff::testing::TempDir a_dir, b_dir;
  store::MemoryStore store;
  ManualClock clock;
  auto a = MustOpen(&store, &clock, a_dir.path());
  auto b = MustOpen(&store, &clock, b_dir.path());
  ASSERT_TRUE(a && b);
  auto record = [&] { return store.GetRecord(store::RecordKind::kEdge, "edge-a").value_or(""); };

  a->Heard("edge-a", 5000);
  const std::string first = record();
  ASSERT_FALSE(first.empty());
  clock.Advance(4s);
  a->Heard("edge-a", 5000);
  EXPECT_EQ(record(), first) << "heard again within its interval: not written";
  clock.Advance(1s);
  a->Heard("edge-a", 5000);
  EXPECT_NE(record(), first) << "an interval later: written";

  // a hears edge-a every interval for ten intervals; b, which never hears
  // it, keeps waiting for it the whole time.
  for (int i = 0; i < 10; ++i) {
    clock.Advance(5s);
    a->Heard("edge-a", 5000);
    auto merged = b->Merge({});
    ASSERT_EQ(merged.size(), 1u) << "interval " << i;
    EXPECT_EQ(merged["edge-a"], metrics::EdgeRoutes{});
  }
  // edge-a goes silent: still waited for three intervals after a heard it last.
  clock.Advance(15s);
  EXPECT_EQ(b->Merge({}).size(), 1u);
  clock.Advance(1ms);
  EXPECT_TRUE(b->Merge({}).empty());
  EXPECT_EQ(store.GetRecord(store::RecordKind::kEdge, "edge-a").error().code, ErrorCode::kNotFound);
}

// Verify that an earlier version's DATA/edges.json is imported once into the
// store (heard at the import) and renamed, and that a damaged one is refused,
// saying what to do.
TEST(EdgeRosterTest, ImportsTheFileOnce) {
  skiff::testing::TempDir dir;
  store::MemoryStore store;
  ManualClock clock;
  ASSERT_TRUE(WriteFileAtomically(dir.File(kEdgeRosterFile), R"({"edge-a":5000})"));
  auto roster = MustOpen(&store, &clock, dir.path());
  ASSERT_NE(roster, nullptr);
  EXPECT_EQ(store.GetRecord(store::RecordKind::kEdge, "edge-a").value_or(""),
            R"({"interval_ms":5000,"reported_at":1700000000000})");
  EXPECT_FALSE(std::filesystem::exists(dir.File(kEdgeRosterFile)));
  EXPECT_TRUE(std::filesystem::exists(dir.File(std::string(kEdgeRosterFile) + ".imported")));
  clock.Advance(15s);
  EXPECT_EQ(roster->Merge({}).size(), 1u) << "waited for three intervals after the import";

  ASSERT_TRUE(WriteFileAtomically(dir.File(kEdgeRosterFile), R"({"edge-a":"soon"})"));
  auto damaged = EdgeRoster::Open(&store, &clock, dir.path());
  ASSERT_FALSE(damaged);
  EXPECT_EQ(damaged.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(damaged.error().message.find("delete it"), std::string::npos);
}

// Verify, with the drain tracker, that a remembered edge that has not
// reported since the restart holds a drain, and that its report lets it go.
TEST(EdgeRosterTest, RememberedEdgeHoldsADrainUntilItReports) {
  skiff::testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File(kEdgeRosterFile), R"({"edge-a":5000})"));
  store::MemoryStore store;
  ManualClock clock;
  auto roster = MustOpen(&store, &clock, dir.path());
  ASSERT_NE(roster, nullptr);
  std::map<std::string, metrics::EdgeRoutes> reporting;
  controller::DrainTracker tracker(
      &store, &clock, [&] { return roster->Merge(reporting); },
      [](const store::Snapshot& s) { return controller::RoutesTagOf(s); });
  model::Instance i;
  i.id = "web-1";
  i.app = "web";
  i.node = "node-1";
  i.state = model::InstanceState::kRunning;
  i.health = model::Health::kHealthy;
  store::Txn put;
  put.Put(i, store::kMustNotExist);
  ASSERT_TRUE(store.Commit(put));
  i = *store.GetInstance("web-1");
  const int64_t version = i.version;
  i.desired = model::DesiredState::kStop;
  i.drain_until = clock.Now() + 10s;
  store::Txn stop;
  stop.Put(i, version);
  const int64_t stopped = *store.Commit(stop);

  EXPECT_EQ(tracker.Check(), 1u);
  EXPECT_FALSE(store.GetInstance("web-1")->drained) << "edge-a may still route it";
  reporting["edge-a"] = Reporting(stopped);
  EXPECT_EQ(tracker.Check(), 0u);
  EXPECT_TRUE(store.GetInstance("web-1")->drained);
}

}  // namespace
}  // namespace skiff::server
