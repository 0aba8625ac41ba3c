// Fencing across servers on PostgreSQL (store.h, Txn::Fenced; the contract
// suite checks the single-store rules on every store): a takeover ends the
// old term's writes, and waits for the ones in flight.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "fakes/postgres_server.h"
#include "fakes/testing.h"
#include "store/postgres/postgres_leader_lease.h"
#include "store/postgres/postgres_store.h"
#include "store/store_test_objects.h"

namespace skiff::store {
namespace {

using skiff::testing::PollUntil;
using skiff::testing::PostgresServer;
using testing::MakeApp;

constexpr Duration kTtl = std::chrono::seconds(30);

std::unique_ptr<PostgresStore> MustOpen(const std::string& conninfo) {
  auto store = PostgresStore::Open(conninfo);
  EXPECT_TRUE(store.has_value()) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

int64_t MustAcquire(LeaderLease& lease, const std::string& holder) {
  auto acquired = lease.TryAcquire(holder, kTtl);
  EXPECT_TRUE(acquired.has_value()) << acquired.error().ToString();
  if (!acquired) return 0;
  EXPECT_TRUE(acquired->acquired) << "held by " << acquired->holder;
  return acquired->epoch;
}

// Verify that once server b has taken the lease from a, a's writes fenced at
// its old epoch are refused with kFailedPrecondition and leave nothing, while
// b's, fenced at the new epoch, commit.
TEST(PostgresFencingTest, TakeoverRefusesTheOldEpoch) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  auto store_a = MustOpen(*db);
  auto store_b = MustOpen(*db);
  ASSERT_TRUE(store_a && store_b);
  PostgresLeaderLease lease_a(*db);
  PostgresLeaderLease lease_b(*db);

  const int64_t first = MustAcquire(lease_a, "a");
  ASSERT_TRUE(store_a->Commit(Txn().Put(MakeApp("a1"), kMustNotExist).Fenced(first)));
  ASSERT_TRUE(lease_a.Release("a", first));
  const int64_t second = MustAcquire(lease_b, "b");
  ASSERT_EQ(second, first + 1);

  auto refused = store_a->Commit(Txn().Put(MakeApp("a2"), kMustNotExist).Fenced(first));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition) << refused.error().ToString();
  auto committed = store_b->Commit(Txn().Put(MakeApp("b1"), kMustNotExist).Fenced(second));
  ASSERT_TRUE(committed.has_value()) << committed.error().ToString();
  auto changes = store_b->ChangesSince(0, 10);
  ASSERT_TRUE(changes.has_value());
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ(KeyOf((*changes)[0].object), "a1");
  EXPECT_EQ(KeyOf((*changes)[1].object), "b1");
  // Each change records the term that wrote it; an unfenced write records 0.
  ASSERT_TRUE(store_b->Commit(Txn().Put(MakeApp("c"), kMustNotExist)));
  EXPECT_EQ(server
                ->Query(PostgresServer::DatabaseOf(*db),
                        "SELECT string_agg(epoch::text, ',' ORDER BY revision) FROM changes")
                .value_or(""),
            std::to_string(first) + "," + std::to_string(second) + ",0");
}

// Verify that a takeover waits for a fenced write in flight (one holding the
// leader row FOR SHARE, as a fenced commit does until it ends) and happens
// once it ends: no write of the old term can commit after the new term began.
TEST(PostgresFencingTest, TakeoverWaitsForAFencedWriteInFlight) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  ASSERT_NE(MustOpen(*db), nullptr);  // migrates
  PostgresLeaderLease lease_a(*db);
  PostgresLeaderLease lease_b(*db);
  const int64_t first = MustAcquire(lease_a, "a");
  ASSERT_TRUE(lease_a.Release("a", first));

  // The old term's write in flight, by hand: what a fenced commit holds.
  std::unique_ptr<PGconn, decltype(&PQfinish)> writer(PQconnectdb(db->c_str()), &PQfinish);
  ASSERT_EQ(PQstatus(writer.get()), CONNECTION_OK) << PQerrorMessage(writer.get());
  auto exec = [&](const char* sql) {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(writer.get(), sql), &PQclear);
    return PQresultStatus(r.get());
  };
  ASSERT_EQ(exec("BEGIN"), PGRES_COMMAND_OK);
  ASSERT_EQ(exec("SELECT epoch FROM leader WHERE id = 1 FOR SHARE"), PGRES_TUPLES_OK);

  std::atomic<bool> done = false;
  Result<LeaderLease::Acquired> taken = Unavailable("not yet");
  std::thread takeover([&] {
    taken = lease_b.TryAcquire("b", kTtl);
    done = true;
  });
  const std::string name = PostgresServer::DatabaseOf(*db);
  // The takeover's UPDATE is queued behind the write's row lock.
  EXPECT_TRUE(PollUntil([&] {
    return server
               ->Query(name,
                       "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
               .value_or("") == "1";
  }));
  EXPECT_FALSE(done.load());
  ASSERT_EQ(exec("COMMIT"), PGRES_COMMAND_OK);
  takeover.join();
  ASSERT_TRUE(taken.has_value()) << taken.error().ToString();
  EXPECT_TRUE(taken->acquired);
  EXPECT_EQ(taken->epoch, first + 1);
}

}  // namespace
}  // namespace skiff::store
