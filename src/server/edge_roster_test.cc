#include "server/edge_roster.h"

#include <gtest/gtest.h>

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
// three of its intervals after the start is forgotten, in the file too.
TEST(EdgeRosterTest, RemembersEdgesAcrossARestart) {
  skiff::testing::TempDir dir;
  const Steady t0{};
  {
    auto roster = EdgeRoster::Open(dir.path(), t0);
    ASSERT_TRUE(roster) << roster.error().ToString();
    auto merged = (*roster)->Merge({{"edge-a", Reporting(7)}, {"edge-b", Reporting(7, 1000)}}, t0);
    EXPECT_EQ(merged.size(), 2u);
    EXPECT_EQ(merged["edge-a"].revision, 7);
  }
  // The server restarts: nothing has reported yet.
  const Steady start = t0 + 1h;
  auto roster = EdgeRoster::Open(dir.path(), start);
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

  // An edge reporting no interval is not kept: a file holding a 0 would not
  // open again.
  (*roster)->Merge({{"edge-a", Reporting(9, 2000)}, {"edge-c", Reporting(9, 0)}}, start + 31s);
  auto reopened = EdgeRoster::Open(dir.path(), start);
  ASSERT_TRUE(reopened) << reopened.error().ToString();

  auto file = ReadPrivateFile(dir.File(kEdgeRosterFile), false);
  ASSERT_TRUE(file);
  EXPECT_NE(file->find("edge-a"), std::string::npos);
  EXPECT_EQ(file->find("edge-b"), std::string::npos) << "forgotten";
  EXPECT_EQ(file->find("edge-c"), std::string::npos);
}

// Verify that a damaged file is refused, saying what to do.
TEST(EdgeRosterTest, DamagedFileRefused) {
  skiff::testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File(kEdgeRosterFile), R"({"edge-a":"soon"})"));
  auto roster = EdgeRoster::Open(dir.path(), Steady{});
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
  auto roster = EdgeRoster::Open(dir.path(), start);
  ASSERT_TRUE(roster);
  store::MemoryStore store;
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
