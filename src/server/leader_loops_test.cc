#include "server/leader_loops.h"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "controller/leadership.h"
#include "controller/routes.h"
#include "fakes/fake_leader_lease.h"
#include "fakes/testing.h"
#include "store/memory/memory_store.h"

namespace skiff::server {
namespace {

using skiff::testing::FakeLeaderLease;
using skiff::testing::PollUntil;

constexpr Duration kTtl = std::chrono::seconds(3);

// A Leadership driving LeaderLoops as the server wires them, on a fake lease
// and a ManualClock, recording at each callback which loops run.
class LeaderLoopsTest : public ::testing::Test {
 protected:
  struct Seen {
    bool elected;
    int64_t epoch;    // Elected's argument; 0 for Deposed
    int64_t running;  // loops_.epoch() after the callback
  };

  LeaderLoopsTest()
      : loops_(LeaderLoops::Deps{
            .store = &store_,
            .clock = &clock_,
            .edges = [] { return std::map<std::string, metrics::EdgeRoutes>{}; },
            .routes_tag = [](const store::Snapshot& s) { return controller::RoutesTagOf(s); },
        }),
        leadership_(&lease_, &clock_,
                    controller::LeadershipOptions{.server = {"a", "http://a", "test"}, .ttl = kTtl},
                    controller::Leadership::Callbacks{
                        .elected =
                            [this](int64_t epoch) {
                              loops_.Elected(epoch);
                              Record(true, epoch);
                            },
                        .deposed =
                            [this] {
                              loops_.Deposed();
                              Record(false, 0);
                            },
                    }) {}

  void Record(bool elected, int64_t epoch) {
    std::lock_guard lock(mu_);
    seen_.push_back(Seen{elected, epoch, loops_.epoch()});
  }
  std::vector<Seen> SeenSoFar() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  // Moves the clock on until `done` (the leader's threads and the loops'
  // wait on it; how fast it moves does not matter to what is checked).
  bool AdvanceUntil(const std::function<bool()>& done) {
    return PollUntil([&] {
      if (done()) return true;
      clock_.Advance(std::chrono::milliseconds(100));
      return false;
    });
  }

  ManualClock clock_;
  FakeLeaderLease lease_{&clock_};
  store::MemoryStore store_;
  LeaderLoops loops_;
  std::mutex mu_;
  std::vector<Seen> seen_;
  controller::Leadership leadership_;  // last: stopped first
};

// Verify that the loops run while this server leads, fenced at its term's
// epoch; stop when it loses the lease, before any next term; and that a
// term regained runs new loops at the new epoch.
TEST_F(LeaderLoopsTest, LoopsRunPerTerm) {
  EXPECT_EQ(loops_.epoch(), 0);
  leadership_.Start();
  ASSERT_TRUE(PollUntil([&] { return loops_.epoch() != 0; }));
  const int64_t first = lease_.epoch();
  EXPECT_EQ(loops_.epoch(), first);
  EXPECT_EQ(loops_.health(), "ok");

  lease_.SetUnavailable(true);  // the database is gone: the term is lost
  ASSERT_TRUE(AdvanceUntil([&] { return !leadership_.state().leading; }));
  EXPECT_EQ(loops_.epoch(), 0);

  lease_.SetUnavailable(false);
  ASSERT_TRUE(AdvanceUntil([&] { return loops_.epoch() != 0; }));
  const int64_t second = loops_.epoch();
  EXPECT_GT(second, first);
  EXPECT_EQ(second, lease_.epoch());

  leadership_.Stop();
  EXPECT_EQ(loops_.epoch(), 0);
  const std::vector<Seen> seen = SeenSoFar();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_TRUE(seen[0].elected);
  EXPECT_EQ(seen[0].epoch, first);
  EXPECT_EQ(seen[0].running, first);
  EXPECT_FALSE(seen[1].elected);
  EXPECT_EQ(seen[1].running, 0);  // stopped before the next term began
  EXPECT_TRUE(seen[2].elected);
  EXPECT_EQ(seen[2].epoch, second);
  EXPECT_EQ(seen[2].running, second);
  EXPECT_FALSE(seen[3].elected);
  EXPECT_EQ(seen[3].running, 0);
}

}  // namespace
}  // namespace skiff::server
