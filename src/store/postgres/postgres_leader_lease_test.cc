// PostgresLeaderLease on a real PostgreSQL, beyond the contract
// (store/leader_lease_contract_test.cc): what its connections keep apart.
#include "store/postgres/postgres_leader_lease.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fakes/postgres_server.h"
#include "fakes/postgres_session.h"
#include "fakes/testing.h"
#include "store/postgres/postgres_store.h"

namespace skiff::store {
namespace {

using skiff::testing::PollUntil;
using skiff::testing::PostgresServer;
using skiff::testing::PostgresSession;
using skiff::testing::WaitingOnLocks;

constexpr Duration kTtl = std::chrono::seconds(30);

// Verify that a ListServers held up (another session locks the servers'
// table) does not hold up the renewer: Renew returns, and succeeds, while the
// list still waits; the list answers once the lock is gone.
TEST(PostgresLeaderLeaseTest, SlowListDoesNotHoldUpRenewal) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  auto store = PostgresStore::Open(*db);  // migrates
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  // Timeouts far longer than the test: waiting shows as a call that has not
  // returned, whatever the machine's load.
  PostgresLeaderLease lease(*db, {.statement_timeout = std::chrono::seconds(60)});
  auto acquired = lease.TryAcquire("a#1", kTtl);
  ASSERT_TRUE(acquired.has_value()) << acquired.error().ToString();
  ASSERT_TRUE(acquired->acquired);
  ASSERT_TRUE(lease.Heartbeat(ServerInfo{"a", "http://127.0.0.1:7070", "0.1.0"}));

  PostgresSession other(*db);
  ASSERT_TRUE(other.ok()) << other.error();
  ASSERT_EQ(other.Exec("BEGIN"), PGRES_COMMAND_OK);
  ASSERT_EQ(other.Exec("LOCK TABLE servers IN ACCESS EXCLUSIVE MODE"), PGRES_COMMAND_OK);
  std::atomic<bool> listed = false;
  Result<std::vector<ServerRecord>> servers = Unavailable("not yet");
  std::thread list([&] {
    servers = lease.ListServers();
    listed = true;
  });
  const std::string name = PostgresServer::DatabaseOf(*db);
  ASSERT_TRUE(PollUntil([&] { return WaitingOnLocks(*server, name) == 1; }));

  std::atomic<bool> renewed = false;
  std::thread renew([&] { renewed = lease.Renew("a#1", acquired->epoch, kTtl).has_value(); });
  const bool returned = PollUntil([&] { return renewed.load(); });
  EXPECT_TRUE(returned) << "the renewal waited for the list";
  EXPECT_FALSE(listed.load());
  ASSERT_EQ(other.Exec("ROLLBACK"), PGRES_COMMAND_OK);
  list.join();
  renew.join();
  ASSERT_TRUE(servers.has_value()) << servers.error().ToString();
  ASSERT_EQ(servers->size(), 1u);
  EXPECT_TRUE((*servers)[0].leader);
}

// Verify that PruneServers forgets the servers whose last heartbeat is that
// old or older by the database's clock, and keeps the others.
TEST(PostgresLeaderLeaseTest, PruneForgetsServersNotSeenForLong) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  auto store = PostgresStore::Open(*db);  // migrates
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  PostgresLeaderLease lease(*db);
  ASSERT_TRUE(lease.Heartbeat(ServerInfo{"old", "http://127.0.0.1:7070", "0.1.0"}));
  ASSERT_TRUE(lease.Heartbeat(ServerInfo{"new", "http://127.0.0.2:7070", "0.1.0"}));
  const std::string name = PostgresServer::DatabaseOf(*db);
  ASSERT_TRUE(server->Query(
      name, "UPDATE servers SET last_seen = now() - interval '25 hours' WHERE id = 'old'"));
  ASSERT_TRUE(lease.PruneServers(std::chrono::hours(24)));
  auto servers = lease.ListServers();
  ASSERT_TRUE(servers.has_value()) << servers.error().ToString();
  ASSERT_EQ(servers->size(), 1u);
  EXPECT_EQ((*servers)[0].id, "new");
}

}  // namespace
}  // namespace skiff::store
