// The LeaderLease contract (store/leader_lease.h), run against PostgreSQL and
// against the fake that the leadership's unit tests use (so the fake keeps
// the SQL's rules). Expiry: the fake's database clock is moved by hand; on
// PostgreSQL the lease is short and the test polls until it has run out.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "fakes/fake_leader_lease.h"
#include "fakes/postgres_server.h"
#include "fakes/testing.h"
#include "store/postgres/postgres_leader_lease.h"
#include "store/postgres/postgres_store.h"

namespace skiff::store {
namespace {

using skiff::testing::PollUntil;

class LeaseHarness {
 public:
  virtual ~LeaseHarness() = default;
  virtual LeaderLease& lease() = 0;
  // A lease's ttl long enough that no test outlives it, even on a loaded
  // machine; a short one, and how to let that run out.
  virtual Duration ttl() const = 0;
  virtual Duration short_ttl() const = 0;
  virtual void LetExpire() = 0;
  virtual std::string missing() const { return ""; }
};

class FakeLeaseHarness final : public LeaseHarness {
 public:
  LeaderLease& lease() override { return lease_; }
  Duration ttl() const override { return std::chrono::seconds(30); }
  Duration short_ttl() const override { return std::chrono::seconds(5); }
  void LetExpire() override { clock_.Advance(short_ttl()); }

 private:
  ManualClock clock_;
  skiff::testing::FakeLeaderLease lease_{&clock_};
};

class PostgresLeaseHarness final : public LeaseHarness {
 public:
  PostgresLeaseHarness() {
    skiff::testing::PostgresServer* server = skiff::testing::PostgresServer::Shared(&missing_);
    if (server == nullptr) return;
    auto database = server->CreateDatabase();
    if (!database) {
      ADD_FAILURE() << database.error().ToString();
      return;
    }
    auto store = PostgresStore::Open(*database);  // migrates
    if (!store) {
      ADD_FAILURE() << store.error().ToString();
      return;
    }
    lease_ = std::make_unique<PostgresLeaderLease>(*database);
    server_ = server;
    database_ = skiff::testing::PostgresServer::DatabaseOf(*database);
  }
  LeaderLease& lease() override { return *lease_; }
  Duration ttl() const override { return std::chrono::seconds(30); }
  Duration short_ttl() const override { return Duration(300); }
  // The database's clock runs on its own: wait until it says the lease ran out.
  void LetExpire() override {
    EXPECT_TRUE(PollUntil(
        [&] {
          return server_->Query(database_, "SELECT expires_at <= now() FROM leader").value_or("") ==
                 "t";
        },
        std::chrono::seconds(10), Duration(20)));
  }
  std::string missing() const override { return missing_; }
  bool opened() const { return lease_ != nullptr; }

 private:
  std::string missing_;
  skiff::testing::PostgresServer* server_ = nullptr;
  std::string database_;
  std::unique_ptr<PostgresLeaderLease> lease_;
};

struct LeaseFactory {
  std::string name;
  std::function<std::unique_ptr<LeaseHarness>()> make;
};
void PrintTo(const LeaseFactory& factory, std::ostream* os) { *os << factory.name; }

class LeaderLeaseContractTest : public ::testing::TestWithParam<LeaseFactory> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    if (const std::string missing = harness_->missing(); !missing.empty()) {
      if (skiff::testing::InCi()) FAIL() << "no PostgreSQL: " << missing;
      GTEST_SKIP() << "no PostgreSQL: " << missing;
    }
    if (auto* pg = dynamic_cast<PostgresLeaseHarness*>(harness_.get())) {
      ASSERT_TRUE(pg->opened()) << "the lease did not open";
    }
  }
  LeaderLease& lease() { return harness_->lease(); }
  Duration ttl() const { return harness_->ttl(); }

  // Acquires for `holder`, which must succeed; returns the epoch.
  int64_t MustAcquire(const std::string& holder) { return MustAcquire(holder, ttl()); }
  int64_t MustAcquire(const std::string& holder, Duration ttl) {
    auto acquired = lease().TryAcquire(holder, ttl);
    EXPECT_TRUE(acquired.has_value()) << acquired.error().ToString();
    if (!acquired) return 0;
    EXPECT_TRUE(acquired->acquired) << "held by " << acquired->holder;
    return acquired->epoch;
  }

  std::unique_ptr<LeaseHarness> harness_;
};

// Verify that a free lease is taken in a first term, and that another
// server is then refused, told who holds it and for how much longer.
TEST_P(LeaderLeaseContractTest, FreeLeaseIsAcquired) {
  const int64_t epoch = MustAcquire("a");
  EXPECT_GT(epoch, 0);
  auto refused = lease().TryAcquire("b", ttl());
  ASSERT_TRUE(refused.has_value()) << refused.error().ToString();
  EXPECT_FALSE(refused->acquired);
  EXPECT_EQ(refused->holder, "a");
  EXPECT_EQ(refused->epoch, epoch);
  EXPECT_GT(refused->remaining.count(), 0);
  EXPECT_LE(refused->remaining, ttl());
}

// Verify that only the holder renews, only in its own term, and that a
// refused renewal is kFailedPrecondition.
TEST_P(LeaderLeaseContractTest, RenewOnlyTheHoldersTerm) {
  const int64_t epoch = MustAcquire("a");
  EXPECT_TRUE(lease().Renew("a", epoch, ttl()));
  auto other = lease().Renew("b", epoch, ttl());
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code, ErrorCode::kFailedPrecondition);
  auto wrong_epoch = lease().Renew("a", epoch + 1, ttl());
  ASSERT_FALSE(wrong_epoch.has_value());
  EXPECT_EQ(wrong_epoch.error().code, ErrorCode::kFailedPrecondition);
}

// Verify that a released lease is taken by another server at once, in a new
// epoch, and that the old term can neither renew nor release the new one.
TEST_P(LeaderLeaseContractTest, ReleaseHandsOverAtOnce) {
  const int64_t first = MustAcquire("a");
  ASSERT_TRUE(lease().Release("a", first));
  const int64_t second = MustAcquire("b");
  EXPECT_GT(second, first);
  auto renewed = lease().Renew("a", first, ttl());
  ASSERT_FALSE(renewed.has_value());
  EXPECT_EQ(renewed.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(lease().Release("a", first));  // its term is over: nothing to do
  EXPECT_TRUE(lease().Renew("b", second, ttl()));
}

// Verify that once a lease has expired by the database's clock another
// server takes it in a new epoch, and the old holder's renewal is refused.
TEST_P(LeaderLeaseContractTest, ExpiredLeaseIsTaken) {
  const int64_t first = MustAcquire("a", harness_->short_ttl());
  harness_->LetExpire();
  auto taken = lease().TryAcquire("b", ttl());
  ASSERT_TRUE(taken.has_value()) << taken.error().ToString();
  ASSERT_TRUE(taken->acquired);
  EXPECT_GT(taken->epoch, first);
  auto renewed = lease().Renew("a", first, ttl());
  ASSERT_FALSE(renewed.has_value());
  EXPECT_EQ(renewed.error().code, ErrorCode::kFailedPrecondition);
}

// Verify that the holder acquiring again starts a new term, which ends the
// old one.
TEST_P(LeaderLeaseContractTest, HolderAcquiringAgainStartsANewTerm) {
  const int64_t first = MustAcquire("a");
  const int64_t second = MustAcquire("a");
  EXPECT_GT(second, first);
  EXPECT_EQ(lease().Renew("a", first, ttl()).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(lease().Renew("a", second, ttl()));
}

// Verify that every server that sent a heartbeat is listed by id, with what
// it said, and that only the holder is the leader, with its epoch.
TEST_P(LeaderLeaseContractTest, ServersAreListed) {
  ASSERT_TRUE(lease().Heartbeat(ServerInfo{"b", "http://127.0.0.2:7070", "0.1.0"}));
  ASSERT_TRUE(lease().Heartbeat(ServerInfo{"a", "http://127.0.0.1:7070", "0.1.0"}));
  ASSERT_TRUE(lease().Heartbeat(ServerInfo{"a", "http://127.0.0.1:7071", "0.1.0"}));
  const int64_t epoch = MustAcquire("a");
  auto servers = lease().ListServers();
  ASSERT_TRUE(servers.has_value()) << servers.error().ToString();
  ASSERT_EQ(servers->size(), 2u);
  EXPECT_EQ((*servers)[0].id, "a");
  EXPECT_EQ((*servers)[0].address, "http://127.0.0.1:7071");
  EXPECT_EQ((*servers)[0].version, "0.1.0");
  EXPECT_TRUE((*servers)[0].leader);
  EXPECT_EQ((*servers)[0].epoch, epoch);
  EXPECT_NE((*servers)[0].last_seen, Time{});
  EXPECT_EQ((*servers)[1].id, "b");
  EXPECT_FALSE((*servers)[1].leader);
  EXPECT_EQ((*servers)[1].epoch, 0);
}

// Verify that the list says how long each server has been silent, by the
// database's clock: at least as long as a lease that ran out since its
// heartbeat, and less again after its next one.
TEST_P(LeaderLeaseContractTest, ServersSayHowLongTheyWereSilent) {
  ASSERT_TRUE(lease().Heartbeat(ServerInfo{"a", "http://127.0.0.1:7070", "0.1.0"}));
  MustAcquire("b", harness_->short_ttl());
  harness_->LetExpire();
  auto servers = lease().ListServers();
  ASSERT_TRUE(servers.has_value()) << servers.error().ToString();
  ASSERT_EQ(servers->size(), 1u);
  EXPECT_GE((*servers)[0].silent, harness_->short_ttl());
  ASSERT_TRUE(lease().Heartbeat(ServerInfo{"a", "http://127.0.0.1:7070", "0.1.0"}));
  servers = lease().ListServers();
  ASSERT_TRUE(servers.has_value()) << servers.error().ToString();
  EXPECT_LT((*servers)[0].silent, harness_->short_ttl());
}

// Verify that holders are told apart by their nonce (two servers under one
// id do not share a term) and that the servers' list shows the holder's
// server id as the leader.
TEST_P(LeaderLeaseContractTest, HoldersOfOneIdAreTwo) {
  const std::string first = LeaseHolder("a", "1f2e");
  const std::string second = LeaseHolder("a", "9c0d");
  EXPECT_EQ(ServerIdOfHolder(first), "a");
  EXPECT_EQ(ServerIdOfHolder(LeaseHolder("a#b", "9c0d")), "a#b");
  EXPECT_EQ(ServerIdOfHolder("a"), "a");
  ASSERT_TRUE(lease().Heartbeat(ServerInfo{"a", "http://127.0.0.1:7070", "0.1.0"}));
  const int64_t epoch = MustAcquire(first);
  auto refused = lease().TryAcquire(second, ttl());
  ASSERT_TRUE(refused.has_value()) << refused.error().ToString();
  EXPECT_FALSE(refused->acquired);
  EXPECT_EQ(refused->holder, first);
  EXPECT_EQ(lease().Renew(second, epoch, ttl()).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(lease().Renew(first, epoch, ttl()));
  auto servers = lease().ListServers();
  ASSERT_TRUE(servers.has_value()) << servers.error().ToString();
  ASSERT_EQ(servers->size(), 1u);
  EXPECT_EQ((*servers)[0].id, "a");
  EXPECT_TRUE((*servers)[0].leader);
  EXPECT_EQ((*servers)[0].epoch, epoch);
}

INSTANTIATE_TEST_SUITE_P(
    Leases, LeaderLeaseContractTest,
    ::testing::Values(LeaseFactory{"Fake", [] { return std::make_unique<FakeLeaseHarness>(); }},
                      LeaseFactory{"Postgres",
                                   [] { return std::make_unique<PostgresLeaseHarness>(); }}),
    [](const ::testing::TestParamInfo<LeaseFactory>& info) { return info.param.name; });

}  // namespace
}  // namespace skiff::store
