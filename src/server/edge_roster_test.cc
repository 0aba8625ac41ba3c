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
using Steady = metrics::TrafficBook::Time;

metrics::EdgeRoutes Reporting(int64_t revision, int64_t interval_ms = 5000) {
  return metrics::EdgeRoutes{.revision = revision, .interval_ms = interval_ms};
}

// Verify that an edge that reported before a restart is waited for after it
// (an entry with no table) until it reports again, and that one silent for
// three of its intervals after the start is forgotten, in the store too.
TEST(EdgeRosterTest, RemembersEdgesAcrossARestart) {
  skiff::testing::TempDir dir;
  store::MemoryStore store;
  const Steady t0{};
  {
    auto roster = EdgeRoster::Open(&store, dir.path(), t0);
    ASSERT_TRUE(roster) << roster.error().ToString();
    auto merged = (*roster)->Merge({{"edge-a", Reporting(7)}, {"edge-b", Reporting(7, 1000)}}, t0);
    EXPECT_EQ(merged.size(), 2u);
    EXPECT_EQ(merged["edge-a"].revision, 7);
  }
  // The server restarts: nothing has reported yet.
  const Steady start = t0 + 1h;
  auto roster = EdgeRoster::Open(&store, dir.path(), start);
  ASSERT_TRUE(roster) << roster.error().ToString();
  auto merged = (*roster)->Merge({}, start + 1s);
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged["edge-a"], metrics::EdgeRoutes{}) << "not caught up with anything";
  EXPECT_EQ(merged["edge-b"], metrics::EdgeRoutes{});

  // edge-a reports; edge-b (1 s interval) stays silent past 3 s.
  merged = (*roster)->Merge({{"edge-a", Reporting(9)}}, start + 4s);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged["edge-a"].revision, 9);
  // edge-a later falls silent: the traffic book stops listing it, and the
  // roster does not bring it back (it reported since the start).
  EXPECT_TRUE((*roster)->Merge({}, start + 30s).empty());

  // An edge reporting no interval is not kept.
  (*roster)->Merge({{"edge-a", Reporting(9, 2000)}, {"edge-c", Reporting(9, 0)}}, start + 31s);
  auto kept = store.ListRecords(store::RecordKind::kEdge);
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->size(), 1u) << "edge-b forgotten, edge-c not kept";
  EXPECT_EQ((*kept)[0], (store::Record{"edge-a", R"({"interval_ms":2000})"}));
}

// Verify that a roster over the same store as another server's knows the
// edges that reported to that one.
TEST(EdgeRosterTest, SharedThroughTheStore) {
  skiff::testing::TempDir a_dir, b_dir;
  store::MemoryStore store;
  auto a = EdgeRoster::Open(&store, a_dir.path(), Steady{});
  auto b = EdgeRoster::Open(&store, b_dir.path(), Steady{});
  ASSERT_TRUE(a && b);
  (*a)->Merge({{"edge-a", Reporting(7)}}, Steady{} + 1s);
  auto merged = (*b)->Merge({}, Steady{} + 2s);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged["edge-a"], metrics::EdgeRoutes{});
}

// Verify that an earlier version's DATA/edges.json is imported once into the
// store and renamed, and that a damaged one is refused, saying what to do.
TEST(EdgeRosterTest, ImportsTheFileOnce) {
  skiff::testing::TempDir dir;
  store::MemoryStore store;
  ASSERT_TRUE(WriteFileAtomically(dir.File(kEdgeRosterFile), R"({"edge-a":5000})"));
  ASSERT_TRUE(EdgeRoster::Open(&store, dir.path(), Steady{}));
  EXPECT_EQ(store.GetRecord(store::RecordKind::kEdge, "edge-a").value_or(""),
            R"({"interval_ms":5000})");
  EXPECT_FALSE(std::filesystem::exists(dir.File(kEdgeRosterFile)));
  EXPECT_TRUE(std::filesystem::exists(dir.File(std::string(kEdgeRosterFile) + ".imported")));

  ASSERT_TRUE(WriteFileAtomically(dir.File(kEdgeRosterFile), R"({"edge-a":"soon"})"));
  auto roster = EdgeRoster::Open(&store, dir.path(), Steady{});
  ASSERT_FALSE(roster);
  EXPECT_EQ(roster.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(roster.error().message.find("delete it"), std::string::npos);
}

// Verify, with the drain tracker, that a remembered edge that has not
// reported since the restart holds a drain, and that its report lets it go.
TEST(EdgeRosterTest, RememberedEdgeHoldsADrainUntilItReports) {
  skiff::testing::TempDir dir;
  const Steady start{};
  ASSERT_TRUE(WriteFileAtomically(dir.File(kEdgeRosterFile), R"({"edge-a":5000})"));
  store::MemoryStore store;
  auto roster = EdgeRoster::Open(&store, dir.path(), start);
  ASSERT_TRUE(roster);
  ManualClock clock;
  std::map<std::string, metrics::EdgeRoutes> reporting;
  controller::DrainTracker tracker(
      &store, &clock, [&] { return (*roster)->Merge(reporting, start + 1s); },
      controller::RoutesTagOf);
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
