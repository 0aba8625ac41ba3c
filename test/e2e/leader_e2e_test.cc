// End-to-end: several `skiff server` processes on one PostgreSQL database
// (the test starts it: fakes/postgres_server.h), one leader among them
// (controller/leadership.h): exactly one leads; kill -9 of the leader hands
// the controller to another within the lease's ttl and a bound; a leader
// frozen (SIGSTOP) past its ttl is replaced, and on waking steps down and
// commits nothing of its old term after the new one began.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "e2e/failover_cluster.h"
#include "e2e/skiff_server.h"
#include "fakes/postgres_server.h"
#include "store/postgres/postgres_store.h"
#include "store/store_test_objects.h"

namespace skiff::testing {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

constexpr auto kTtl = std::chrono::seconds(1);
// How long past the ttl a takeover may take: the follower's next try, the new
// loops' start and first pass, the test's polling.
constexpr auto kTakeoverBound = std::chrono::seconds(5);

// The servers sharing the database, as `server` lists them.
json::array ServersOf(const SkiffServer& server) {
  auto r = server.Api("GET", "/v1/servers");
  if (!r || r->status != 200) return {};
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object()) return {};
  return v.at("servers").as_array();
}

class LeaderE2eTest : public ::testing::Test {
 protected:
  // Starts `count` servers s1, s2, ... on one fresh database.
  void StartServers(int count) {
    std::string why;
    pg_ = PostgresServer::Shared(&why);
    if (pg_ == nullptr) {
      if (InCi()) FAIL() << "no PostgreSQL: " << why;
      GTEST_SKIP() << "no PostgreSQL: " << why;
    }
    auto db = pg_->CreateDatabase();
    ASSERT_TRUE(db.has_value()) << db.error().ToString();
    database_ = PostgresServer::DatabaseOf(*db);
    for (int i = 1; i <= count; ++i) {
      auto server = std::make_unique<SkiffServer>();
      server->AddArgs({"--store", pg_->Uri(database_), "--no-agent", "--no-edge", "--server-id",
                       "s" + std::to_string(i), "--leader-ttl", "1s"});
      // The first server makes the admin token, CA and keyring; the others share them.
      if (i > 1) server->JoinClusterOf(*servers_[0]);
      ASSERT_TRUE(server->Start()) << "s" << i;
      servers_.push_back(std::move(server));
    }
  }

  std::string Query(const std::string& sql) { return pg_->Query(database_, sql).value_or("?"); }

  PostgresServer* pg_ = nullptr;
  std::string database_;
  std::vector<std::unique_ptr<SkiffServer>> servers_;
};

// Verify that of three servers exactly one leads, that every server lists all
// three with that one as leader, and that after kill -9 of the leader another
// leads within the ttl and a bound, in a later epoch, and its controller acts
// (creates the instances of a scale-up made through a surviving server).
TEST_F(LeaderE2eTest, KillTheLeaderAndAnotherTakesOver) {
  ASSERT_NO_FATAL_FAILURE(StartServers(3));
  const int leader = WaitForOneLeader(servers_, std::chrono::seconds(10));
  ASSERT_GE(leader, 0) << "no single leader";
  const Leading before = HealthOf(*servers_[leader]);
  const std::string leader_id = "s" + std::to_string(leader + 1);
  ASSERT_TRUE(PollUntil([&] {
    for (const auto& server : servers_) {
      json::array list = ServersOf(*server);
      if (list.size() != 3) return false;
      for (const json::value& s : list) {
        const bool leads = s.at("leader").as_bool();
        if (leads != (s.at("id").as_string() == leader_id)) return false;
        if (leads && s.at("epoch").to_number<int64_t>() != before.epoch) return false;
      }
    }
    return true;
  }));
  const CommandResult table = servers_[0]->Skiff({"servers"});
  EXPECT_EQ(table.exit_code, 0) << table.output;
  EXPECT_THAT(table.output, HasSubstr("LEADER"));

  SkiffServer& survivor = *servers_[(leader + 1) % 3];
  auto applied = survivor.Api("PUT", "/v1/apps/web", SleeperSpec("web", 1));
  ASSERT_TRUE(applied.has_value() && applied->status == 201) << applied->body;
  ASSERT_TRUE(PollUntil([&] { return Instances(survivor, "web").size() == 1; }));

  servers_[leader]->Kill();
  const auto killed = std::chrono::steady_clock::now();
  auto scaled = survivor.Api("POST", "/v1/apps/web/scale", R"({"replicas":3})");
  ASSERT_TRUE(scaled.has_value()) << scaled.error().ToString();
  ASSERT_LT(scaled->status, 300) << scaled->body;
  ASSERT_TRUE(PollUntil([&] { return Instances(survivor, "web").size() == 3; },
                        kTtl + kTakeoverBound, std::chrono::milliseconds(20)))
      << "the new leader's controller did not act";
  const auto took = std::chrono::steady_clock::now() - killed;
  const int next = WaitForOneLeader(servers_, std::chrono::seconds(1), leader);
  ASSERT_GE(next, 0);
  EXPECT_GT(HealthOf(*servers_[next]).epoch, before.epoch);
  std::cout << "kill -9 of the leader -> the new leader's controller acted in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
            << " ms (ttl 1 s)\n";
}

// Verify that a leader frozen (SIGSTOP) past its ttl is replaced, and that
// once it wakes (SIGCONT) it steps down, says so, and nothing written in its
// old epoch commits after the new epoch's first write, while a client keeps
// the controller busy throughout.
TEST_F(LeaderE2eTest, FrozenLeaderIsFencedWhenItWakes) {
  ASSERT_NO_FATAL_FAILURE(StartServers(2));
  const int old = WaitForOneLeader(servers_, std::chrono::seconds(10));
  ASSERT_GE(old, 0) << "no single leader";
  SkiffServer& frozen = *servers_[old];
  SkiffServer& other = *servers_[1 - old];
  auto applied = other.Api("PUT", "/v1/apps/web", SleeperSpec("web", 1));
  ASSERT_TRUE(applied.has_value() && applied->status == 201) << applied->body;
  ASSERT_TRUE(PollUntil([&] { return Instances(other, "web").size() == 1; }));
  const int64_t old_epoch = HealthOf(frozen).epoch;
  ASSERT_GT(old_epoch, 0);

  // Work for whichever controller leads: the replica count moves all along.
  std::atomic<bool> done = false;
  std::thread client([&] {
    for (int i = 0; !done; ++i) {
      (void)other.Api("POST", "/v1/apps/web/scale",
                      R"({"replicas":)" + std::to_string(1 + i % 4) + "}");
      std::this_thread::sleep_for(std::chrono::milliseconds(30));  // pacing, not syncing
    }
  });
  struct Join {
    std::atomic<bool>& done;
    std::thread& client;
    ~Join() {
      done = true;
      client.join();
    }
  } join{done, client};

  ASSERT_EQ(::kill(frozen.pid(), SIGSTOP), 0);
  int64_t new_epoch = 0;
  const bool took_over = PollUntil(
      [&] {
        const Leading l = HealthOf(other);
        new_epoch = l.epoch;
        return l.leader && l.epoch > old_epoch;
      },
      kTtl + kTakeoverBound, std::chrono::milliseconds(20));
  // The log as the takeover left it: a write of the old term in flight when
  // it came has ended (the takeover waits for it), and the frozen server
  // writes nothing while stopped. Nothing of the old term may follow.
  const std::string at_takeover = Query("SELECT max(revision) FROM changes");
  ASSERT_EQ(::kill(frozen.pid(), SIGCONT), 0);
  ASSERT_TRUE(took_over) << "no takeover while the leader was stopped";

  // It wakes, finds its term over and steps down.
  EXPECT_TRUE(PollUntil([&] {
    const Leading l = HealthOf(frozen);
    return l.answered && !l.leader;
  }));
  // The new leader's controller keeps acting (its epoch's writes land).
  ASSERT_TRUE(PollUntil([&] {
    return Query("SELECT count(*) FROM changes WHERE epoch = " + std::to_string(new_epoch)) != "0";
  }));
  done = true;
  EXPECT_THAT(frozen.Output(), HasSubstr("stopped acting for epoch " + std::to_string(old_epoch)));
  EXPECT_EQ(Query("SELECT count(*) FROM changes WHERE epoch = " + std::to_string(old_epoch) +
                  " AND revision > " + at_takeover),
            "0");
  // A write fenced at the old epoch, as the woken leader's loops make them,
  // is refused by the database the servers share, and leaves nothing.
  auto store = store::PostgresStore::Open(pg_->ConnInfo(database_));
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  auto stale = (*store)->Commit(
      store::Txn().Put(store::testing::MakeApp("stale"), store::kMustNotExist).Fenced(old_epoch));
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, ErrorCode::kFailedPrecondition) << stale.error().ToString();
  EXPECT_EQ((*store)->GetApp("stale").error().code, ErrorCode::kNotFound);
  // Whatever its loops tried on waking was refused (how many raced the
  // step-down varies: printed, not asserted).
  const int refused = CountOccurrences(frozen.Output(), "fenced:");
  std::cout << "the woken leader's refused fenced writes: " << refused << "\n";
  EXPECT_EQ(HealthOf(other).leader, true);
}

}  // namespace
}  // namespace skiff::testing
