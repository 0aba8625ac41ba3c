// Fencing across servers on PostgreSQL (store.h, Txn::Fenced; the contract
// suite checks the single-store rules on every store): a takeover ends the
// old term's writes, and waits for the ones in flight.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "fakes/postgres_server.h"
#include "fakes/postgres_session.h"
#include "fakes/testing.h"
#include "store/postgres/postgres_leader_lease.h"
#include "store/postgres/postgres_store.h"
#include "store/store_test_objects.h"

namespace skiff::store {
namespace {

using skiff::testing::PollUntil;
using skiff::testing::PostgresServer;
using skiff::testing::PostgresSession;
using skiff::testing::WaitingOnLocks;
using testing::MakeApp;

constexpr Duration kLeaseTtl = std::chrono::seconds(30);

std::unique_ptr<PostgresStore> MustOpenStore(const std::string& conninfo) {
  auto store = PostgresStore::Open(conninfo);
  EXPECT_TRUE(store.has_value()) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

int64_t MustAcquire(LeaderLease& lease, const std::string& holder) {
  auto acquired = lease.TryAcquire(holder, kLeaseTtl);
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
  auto store_a = MustOpenStore(*db);
  auto store_b = MustOpenStore(*db);
  ASSERT_TRUE(store_a && store_b);
  PostgresLeaderLease lease_a(*db);
  PostgresLeaderLease lease_b(*db);

  const int64_t first = MustAcquire(lease_a, "a");
  ASSERT_TRUE(store_a->Commit(Txn().Put(MakeApp("a1"), kMustNotExist).Fenced(first)));
  ASSERT_TRUE(lease_a.Release("a", first));
  const int64_t second = MustAcquire(lease_b, "b");
  ASSERT_GT(second, first);

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
  ASSERT_NE(MustOpenStore(*db), nullptr);  // migrates
  PostgresLeaderLease lease_a(*db);
  PostgresLeaderLease lease_b(*db);
  const int64_t first = MustAcquire(lease_a, "a");
  ASSERT_TRUE(lease_a.Release("a", first));

  // The old term's write in flight, by hand: what a fenced commit holds.
  PostgresSession writer(*db);
  ASSERT_TRUE(writer.ok()) << writer.error();
  ASSERT_EQ(writer.Exec("BEGIN"), PGRES_COMMAND_OK);
  ASSERT_EQ(writer.Exec("SELECT epoch FROM leader WHERE id = 1 FOR SHARE"), PGRES_TUPLES_OK);

  std::atomic<bool> done = false;
  Result<LeaderLease::Acquired> taken = Unavailable("not yet");
  std::thread takeover([&] {
    taken = lease_b.TryAcquire("b", kLeaseTtl);
    done = true;
  });
  const std::string name = PostgresServer::DatabaseOf(*db);
  // The takeover's UPDATE is queued behind the write's row lock.
  EXPECT_TRUE(PollUntil([&] { return WaitingOnLocks(*server, name) == 1; }));
  EXPECT_FALSE(done.load());
  ASSERT_EQ(writer.Exec("COMMIT"), PGRES_COMMAND_OK);
  takeover.join();
  ASSERT_TRUE(taken.has_value()) << taken.error().ToString();
  EXPECT_TRUE(taken->acquired);
  EXPECT_GT(taken->epoch, first);
}

// Verify that a takeover the database lost (an asynchronous standby promoted
// without it: the lease row back at an older term's epoch) does not give its
// epoch to the next term, so the lost term's leader, reconnecting to the new
// primary, is refused: its fenced write fails kFailedPrecondition and leaves
// nothing.
TEST(PostgresFencingTest, LostTakeoverEpochIsNotReused) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  auto store_b = MustOpenStore(*db);
  ASSERT_NE(store_b, nullptr);
  PostgresLeaderLease lease(*db);
  const std::string name = PostgresServer::DatabaseOf(*db);

  const int64_t first = MustAcquire(lease, "a");
  ASSERT_TRUE(lease.Release("a", first));
  const int64_t lost = MustAcquire(lease, "b");
  // The failover: the row as it was before b's takeover, a's term expired.
  ASSERT_TRUE(server->Query(name, "UPDATE leader SET holder = 'a', epoch = " +
                                      std::to_string(first) + ", expires_at = now()"));
  // A new term starts in a later millisecond of the database's clock than the
  // lost one (so a random draw cannot repeat it by chance in this test).
  ASSERT_TRUE(PollUntil([&] {
    return server
               ->Query(name, "SELECT (EXTRACT(EPOCH FROM now()) * 1000)::bigint * 1024 > " +
                                 std::to_string(lost))
               .value_or("") == "t";
  }));
  const int64_t next = MustAcquire(lease, "c");
  EXPECT_NE(next, lost);
  EXPECT_GT(next, first);

  auto refused = store_b->Commit(Txn().Put(MakeApp("b1"), kMustNotExist).Fenced(lost));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition) << refused.error().ToString();
  EXPECT_EQ(store_b->GetApp("b1").error().code, ErrorCode::kNotFound);
}

// Verify that a fenced commit held up in its writes (another session holds
// the row it updates) does not hold up the leader's renewal of its lease: the
// fence is read last, just before COMMIT, so the renewal's UPDATE of the
// lease's row does not wait for the commit (before, it waited until its lock
// timeout and failed). The commit then ends normally.
TEST(PostgresFencingTest, RenewalDoesNotWaitForAFencedCommitInFlight) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  // Lock timeouts far longer than the test, so that waiting shows as a
  // renewal that has not returned, and the commit waits, whatever the
  // machine's load.
  PostgresStore::Options store_options;
  store_options.lock_timeout = std::chrono::seconds(60);
  auto opened = PostgresStore::Open(*db, store_options);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  auto& store = *opened;
  PostgresLeaderLease lease(*db, {.statement_timeout = std::chrono::seconds(60)});
  const int64_t epoch = MustAcquire(lease, "a");
  ASSERT_TRUE(store->Commit(Txn().Put(MakeApp("x"), kMustNotExist).Fenced(epoch)));
  auto app = store->GetApp("x");
  ASSERT_TRUE(app.has_value()) << app.error().ToString();

  PostgresSession other(*db);
  ASSERT_TRUE(other.ok()) << other.error();
  ASSERT_EQ(other.Exec("BEGIN"), PGRES_COMMAND_OK);
  ASSERT_EQ(other.Exec("SELECT * FROM objects WHERE kind = 'app' AND key = 'x' FOR UPDATE"),
            PGRES_TUPLES_OK);
  Result<int64_t> committed = Unavailable("not yet");
  std::thread commit(
      [&] { committed = store->Commit(Txn().Put(*app, app->version).Fenced(epoch)); });
  const std::string name = PostgresServer::DatabaseOf(*db);
  ASSERT_TRUE(PollUntil([&] { return WaitingOnLocks(*server, name) == 1; }));

  std::atomic<bool> renewed = false;
  std::thread renew([&] { renewed = lease.Renew("a", epoch, kLeaseTtl).has_value(); });
  // The renewal returns (and succeeds) while the commit still waits.
  const bool returned = PollUntil([&] { return renewed.load(); });
  EXPECT_TRUE(returned) << "the renewal waited for the fenced commit";
  EXPECT_EQ(WaitingOnLocks(*server, name), 1);
  ASSERT_EQ(other.Exec("ROLLBACK"), PGRES_COMMAND_OK);
  commit.join();
  renew.join();
  EXPECT_TRUE(committed.has_value()) << committed.error().ToString();
}

// Verify that a renewal held up by a fenced commit that is slow to end (the
// lease's row held FOR SHARE) returns at the lease's lock timeout
// (kUnavailable, the term kept), and the next renewal after it succeeds: a
// commit stops renewals for no longer than that bound, min(2 s, TTL/3).
TEST(PostgresFencingTest, RenewalWaitsForAFencedCommitNoLongerThanItsTimeout) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  ASSERT_NE(MustOpenStore(*db), nullptr);  // migrates
  const PostgresLeaderLease::Options options = PostgresLeaderLease::OptionsFor(Duration(900));
  EXPECT_EQ(options.statement_timeout, Duration(300));
  EXPECT_EQ(PostgresLeaderLease::OptionsFor(std::chrono::seconds(30)).statement_timeout,
            std::chrono::seconds(2));
  PostgresLeaderLease lease(*db, options);
  const int64_t epoch = MustAcquire(lease, "a");

  PostgresSession commit(*db);
  ASSERT_TRUE(commit.ok()) << commit.error();
  ASSERT_EQ(commit.Exec("BEGIN"), PGRES_COMMAND_OK);
  ASSERT_EQ(commit.Exec("SELECT epoch FROM leader WHERE id = 1 FOR SHARE"), PGRES_TUPLES_OK);
  auto blocked = lease.Renew("a", epoch, kLeaseTtl);
  ASSERT_FALSE(blocked.has_value());
  EXPECT_EQ(blocked.error().code, ErrorCode::kUnavailable) << blocked.error().ToString();
  ASSERT_EQ(commit.Exec("COMMIT"), PGRES_COMMAND_OK);
  EXPECT_TRUE(lease.Renew("a", epoch, kLeaseTtl));
}

}  // namespace
}  // namespace skiff::store
