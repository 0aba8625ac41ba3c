#include "server/peer_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/fake_leader_lease.h"
#include "fakes/testing.h"

namespace skiff::server {
namespace {

using skiff::testing::FakeLeaderLease;
using skiff::testing::PollUntil;
using ::testing::ElementsAre;

constexpr Duration kPeerPoolAlive = std::chrono::seconds(15);

store::ServerRecord Record(std::string id, std::string address, int seen_seconds_ago,
                           bool leader = false) {
  store::ServerRecord r;
  r.id = std::move(id);
  r.address = std::move(address);
  r.last_seen = Time(std::chrono::seconds(1000 - seen_seconds_ago));
  r.leader = leader;
  return r;
}

// Verify the order of the URLs: the own one first, then the leader, then the
// others by id; no repeats, none without an address, and
// none seen longer than `alive` before the newest (a leader always stays).
TEST(PeerUrlsTest, OwnFirstThenTheLeaderThenTheLiving) {
  struct Case {
    const char* name;
    std::vector<store::ServerRecord> servers;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"empty list", {}, {"http://me"}},
      {"own listed",
       {Record("me", "http://me", 0), Record("b", "http://b", 1, true)},
       {"http://me", "http://b"}},
      {"leader first, then by id",
       {Record("d", "http://d", 0), Record("b", "http://b", 2, true), Record("c", "http://c", 1)},
       {"http://me", "http://b", "http://c", "http://d"}},
      {"stale left out",
       {Record("c", "http://c", 0), Record("old", "http://old", 16)},
       {"http://me", "http://c"}},
      {"stale leader kept",
       {Record("c", "http://c", 0), Record("l", "http://l", 20, true)},
       {"http://me", "http://l", "http://c"}},
      {"no address, repeats",
       {Record("x", "", 0), Record("c", "http://c", 0), Record("c2", "http://c", 1)},
       {"http://me", "http://c"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PeerUrls("http://me", c.servers, kPeerPoolAlive), c.want) << c.name;
  }
}

// Verify that a server serving HTTPS leaves out the peers that advertise
// plain http:// off loopback (its agent's credential would cross the network
// in clear) and names them, keeping https:// and loopback http:// peers; a
// plain-HTTP server (--insecure-http) keeps them all.
TEST(PeerUrlsTest, HttpsServerLeavesOutPeersInClear) {
  const std::vector<store::ServerRecord> servers = {Record("a", "http://10.0.0.2:7070", 0, true),
                                                    Record("b", "https://10.0.0.3:7070", 0),
                                                    Record("c", "http://127.0.0.1:7071", 0)};
  std::vector<std::string> in_clear;
  EXPECT_THAT(PeerUrls("https://me:7070", servers, kPeerPoolAlive, &in_clear),
              ElementsAre("https://me:7070", "https://10.0.0.3:7070", "http://127.0.0.1:7071"));
  EXPECT_THAT(in_clear, ElementsAre("a (http://10.0.0.2:7070)"));
  EXPECT_THAT(PeerUrls("http://me:7070", servers, kPeerPoolAlive),
              ElementsAre("http://me:7070", "http://10.0.0.2:7070", "https://10.0.0.3:7070",
                          "http://127.0.0.1:7071"));
}

// Verify that the pool starts with the list read at Start, own URL first, and
// learns of a server that joins at the next read, one interval later.
TEST(PeerPoolTest, ReadsTheServersListAtStartAndEveryInterval) {
  ManualClock clock;
  FakeLeaderLease lease(&clock);
  ASSERT_TRUE(lease.Heartbeat({"a", "http://a:1", "test"}));
  ASSERT_TRUE(lease.TryAcquire("a#1", std::chrono::seconds(5)));
  PeerPool peers(&lease, &clock, "http://me:2", std::chrono::seconds(1), kPeerPoolAlive);
  const net::ServerPool copy = peers.pool();  // what the agent and the edge hold
  peers.Start();
  EXPECT_THAT(copy.urls(), ElementsAre("http://me:2", "http://a:1"));

  ASSERT_TRUE(lease.Heartbeat({"b", "http://b:3", "test"}));
  ASSERT_TRUE(PollUntil([&] { return clock.waiters() > 0; }));
  clock.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(PollUntil([&] { return copy.urls().size() == 3; }));
  EXPECT_THAT(copy.urls(), ElementsAre("http://me:2", "http://a:1", "http://b:3"));
  peers.Stop();
}

// Verify that a list that cannot be read leaves the pool as it was, with
// kUnavailable, and that the next read that works updates it.
TEST(PeerPoolTest, AnUnreadableListKeepsThePool) {
  ManualClock clock;
  FakeLeaderLease lease(&clock);
  ASSERT_TRUE(lease.Heartbeat({"a", "http://a:1", "test"}));
  PeerPool peers(&lease, &clock, "http://me:2", std::chrono::seconds(1), kPeerPoolAlive);
  lease.SetUnavailable(true);
  Status read = peers.Refresh();
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(peers.pool().urls(), ElementsAre("http://me:2"));
  lease.SetUnavailable(false);
  ASSERT_TRUE(peers.Refresh());
  EXPECT_THAT(peers.pool().urls(), ElementsAre("http://me:2", "http://a:1"));
}

}  // namespace
}  // namespace skiff::server
