#include "controller/leadership.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fakes/fake_leader_lease.h"
#include "fakes/testing.h"

namespace skiff::controller {
namespace {

using skiff::testing::FakeLeaderLease;
using skiff::testing::PollUntil;

constexpr Duration kTtl = std::chrono::seconds(3);
constexpr Duration kStep = std::chrono::milliseconds(50);

// One server's view of the shared lease, which a test can cut off (a frozen
// or partitioned server) while the others still reach it.
class CutLease final : public store::LeaderLease {
 public:
  explicit CutLease(store::LeaderLease* lease) : lease_(lease) {}
  void Cut(bool cut) {
    std::lock_guard lock(mu_);
    cut_ = cut;
  }
  Result<Acquired> TryAcquire(const std::string& holder, Duration ttl) override {
    SKIFF_RETURN_IF_ERROR(Check());
    return lease_->TryAcquire(holder, ttl);
  }
  Status Renew(const std::string& holder, int64_t epoch, Duration ttl) override {
    SKIFF_RETURN_IF_ERROR(Check());
    return lease_->Renew(holder, epoch, ttl);
  }
  Status Release(const std::string& holder, int64_t epoch) override {
    SKIFF_RETURN_IF_ERROR(Check());
    return lease_->Release(holder, epoch);
  }
  Status Heartbeat(const store::ServerInfo& server) override {
    SKIFF_RETURN_IF_ERROR(Check());
    return lease_->Heartbeat(server);
  }
  Result<std::vector<store::ServerRecord>> ListServers() override {
    SKIFF_RETURN_IF_ERROR(Check());
    return lease_->ListServers();
  }
  Status PruneServers(Duration unseen_for) override {
    SKIFF_RETURN_IF_ERROR(Check());
    return lease_->PruneServers(unseen_for);
  }

 private:
  Status Check() {
    std::lock_guard lock(mu_);
    if (cut_) return Unavailable("cut off");
    return OkStatus();
  }
  store::LeaderLease* const lease_;
  std::mutex mu_;
  bool cut_ = false;
};

// A server: its Leadership and what its callbacks saw, stamped with the
// database's clock (the one ManualClock the test drives) and the lease's
// expiry at that moment.
struct Server {
  struct Call {
    bool elected;
    int64_t epoch;
    Time at;
    Time lease_expires;
  };

  Server(const std::string& id, FakeLeaderLease* shared, ManualClock* clock,
         Duration forget_servers_after = Duration(0))
      : lease(shared), clock(clock), fake(shared) {
    leadership = std::make_unique<Leadership>(
        &lease, clock,
        LeadershipOptions{.server = {id, "http://" + id, "test"},
                          .ttl = kTtl,
                          .forget_servers_after = forget_servers_after},
        Leadership::Callbacks{
            .elected = [this](int64_t epoch) { Record(true, epoch); },
            .deposed = [this] { Record(false, 0); },
        });
  }
  void Record(bool elected, int64_t epoch) {
    std::lock_guard lock(mu);
    calls.push_back(Call{elected, epoch, clock->Now(), fake->expires_at()});
  }
  std::vector<Call> Calls() {
    std::lock_guard lock(mu);
    return calls;
  }
  bool Leading() { return leadership->state().leading; }

  CutLease lease;
  ManualClock* clock;
  FakeLeaderLease* fake;
  std::mutex mu;
  std::vector<Call> calls;
  std::unique_ptr<Leadership> leadership;
};

// Moves the clock a step at a time until `done`, for at most `limit` of it.
// A step is taken only once `parked` threads (two per running server: the
// renewer and the actor) wait on the clock, so the clock never runs ahead of
// them however slow the machine: the times they record are exact.
bool AdvanceUntil(ManualClock& clock, const std::function<bool()>& done, Duration limit,
                  int parked) {
  Duration moved{0};
  return PollUntil([&] {
    if (done()) return true;
    if (moved < limit && clock.waiters() >= parked) {
      clock.Advance(kStep);
      moved += kStep;
    }
    return false;
  });
}

// One fake database (its clock the test's) and the servers on it.
class LeadershipTest : public ::testing::Test {
 protected:
  // Starts server a and waits until it leads, then starts server b.
  void StartLeaderAndFollower() {
    a_.leadership->Start();
    ASSERT_TRUE(PollUntil([&] { return a_.Leading(); }));
    b_.leadership->Start();
  }

  ManualClock clock_;
  FakeLeaderLease lease_{&clock_};
  Server a_{"a", &lease_, &clock_};
  Server b_{"b", &lease_, &clock_};
};

// Verify that a lone server is elected at once in epoch 1, renews about every
// ttl/3, and keeps leading while it does.
TEST_F(LeadershipTest, ElectedAndRenewing) {
  Server& a = a_;
  a.leadership->Start();
  ASSERT_TRUE(PollUntil([&] { return a.Leading(); }));
  EXPECT_EQ(a.leadership->state().epoch, 1);
  // Three ttls pass: renewed about nine times, never deposed.
  ASSERT_TRUE(AdvanceUntil(
      clock_, [&] { return lease_.renewals() >= 9; }, 3 * kTtl + kStep, 2));
  EXPECT_TRUE(a.Leading());
  const std::vector<Server::Call> calls = a.Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_TRUE(calls[0].elected);
  EXPECT_EQ(calls[0].epoch, 1);
}

// Verify that of two servers exactly one leads, and that when it stops it
// releases the lease and the other leads at once (no time passes), in the
// next epoch.
TEST_F(LeadershipTest, OneLeaderAndHandOverOnStop) {
  Server& a = a_;
  Server& b = b_;
  ASSERT_NO_FATAL_FAILURE(StartLeaderAndFollower());
  ASSERT_TRUE(AdvanceUntil(
      clock_, [&] { return lease_.renewals() >= 6; }, 2 * kTtl + kStep, 4));
  EXPECT_TRUE(a.Leading());
  EXPECT_FALSE(b.Leading());
  EXPECT_TRUE(b.Calls().empty());

  const Time stopped_at = clock_.Now();
  a.leadership->Stop();
  const std::vector<Server::Call> a_calls = a.Calls();
  ASSERT_EQ(a_calls.size(), 2u);
  EXPECT_FALSE(a_calls[1].elected);
  // b was told when a's lease runs out; the release is noticed at its next
  // try, within ttl/3 (it waits at most that long).
  ASSERT_TRUE(AdvanceUntil(
      clock_, [&] { return b.Leading(); }, kTtl / 3 + kStep, 2));
  EXPECT_EQ(b.leadership->state().epoch, 2);
  const std::vector<Server::Call> b_calls = b.Calls();
  ASSERT_FALSE(b_calls.empty());
  EXPECT_LE(b_calls[0].at - stopped_at, kTtl / 3 + kStep);
}

// Verify that two servers started under one id (by mistake) are two holders:
// the first leads and keeps leading, the second stays a follower and does not
// take the lease as its own, and the servers' list shows the id leading.
TEST_F(LeadershipTest, TwoServersUnderOneIdOneLeads) {
  Server first("a", &lease_, &clock_);
  Server second("a", &lease_, &clock_);
  first.leadership->Start();
  ASSERT_TRUE(PollUntil([&] { return first.Leading(); }));
  const int64_t epoch = first.leadership->state().epoch;
  second.leadership->Start();
  ASSERT_TRUE(AdvanceUntil(
      clock_, [&] { return lease_.renewals() >= 6; }, 2 * kTtl + kStep, 4));
  EXPECT_TRUE(first.Leading());
  EXPECT_EQ(first.leadership->state().epoch, epoch);
  EXPECT_EQ(first.Calls().size(), 1u);
  EXPECT_FALSE(second.Leading());
  EXPECT_TRUE(second.Calls().empty());
  EXPECT_EQ(store::ServerIdOfHolder(lease_.holder()), "a");
  auto servers = lease_.ListServers();
  ASSERT_TRUE(servers.has_value()) << servers.error().ToString();
  ASSERT_EQ(servers->size(), 1u);
  EXPECT_EQ((*servers)[0].id, "a");
  EXPECT_TRUE((*servers)[0].leader);
  EXPECT_EQ((*servers)[0].epoch, epoch);
}

// Verify that the leader forgets a server not seen for forget_servers_after
// (and not before), and keeps the ones that send heartbeats; and that by
// default that is the longer of 10 ttls and a day.
TEST_F(LeadershipTest, LeaderForgetsServersGoneForLong) {
  EXPECT_EQ(Leadership::ForgetServersAfter(kTtl), std::chrono::hours(24));
  EXPECT_EQ(Leadership::ForgetServersAfter(std::chrono::hours(3)), std::chrono::hours(30));
  constexpr Duration kForget = 2 * kTtl;
  Server leader("a", &lease_, &clock_, kForget);
  Server& gone = b_;
  leader.leadership->Start();
  ASSERT_TRUE(PollUntil([&] { return leader.Leading(); }));
  gone.leadership->Start();
  auto listed = [&](const std::string& id) {
    auto servers = lease_.ListServers();
    return servers && std::any_of(servers->begin(), servers->end(),
                                  [&](const store::ServerRecord& r) { return r.id == id; });
  };
  ASSERT_TRUE(PollUntil([&] { return listed("b"); }));
  gone.leadership->Stop();
  const Time last_seen = clock_.Now();  // no heartbeat of b after Stop
  ASSERT_TRUE(AdvanceUntil(
      clock_, [&] { return !listed("b"); }, 2 * kForget, 2));
  EXPECT_GE(clock_.Now() - last_seen, kForget);
  EXPECT_LE(clock_.Now() - last_seen, kForget + kTtl / 3 + kStep);
  EXPECT_TRUE(listed("a"));
}

// Verify that a leader cut off from the database stops acting before its
// lease expires by the database's clock, that another server takes over only
// after that expiry, within a step of it, and that the cut-off one is elected
// again (a new epoch) once it reaches the database and the lease is free.
TEST_F(LeadershipTest, CutOffLeaderStopsBeforeTakeover) {
  Server& a = a_;
  Server& b = b_;
  ASSERT_NO_FATAL_FAILURE(StartLeaderAndFollower());
  ASSERT_TRUE(AdvanceUntil(
      clock_, [&] { return lease_.renewals() >= 2; }, kTtl, 4));

  a.lease.Cut(true);
  ASSERT_TRUE(AdvanceUntil(
      clock_, [&] { return b.Leading(); }, 2 * kTtl, 4));
  const auto a_calls = a.Calls();
  ASSERT_EQ(a_calls.size(), 2u);
  const Server::Call& deposed = a_calls[1];
  ASSERT_FALSE(deposed.elected);
  // a stopped at least the margin, less a step, before its lease ran out.
  EXPECT_LE(deposed.at + Leadership::Margin(kTtl) - kStep, deposed.lease_expires);
  const std::vector<Server::Call> b_calls = b.Calls();
  ASSERT_FALSE(b_calls.empty());
  const Server::Call& elected = b_calls[0];
  EXPECT_TRUE(elected.elected);
  EXPECT_EQ(elected.epoch, 2);
  EXPECT_GT(elected.at, deposed.at);
  // b took over once a's lease expired (the fake's expiry is a's last one)
  // and soon after: it was told when to try.
  EXPECT_GE(elected.at, deposed.lease_expires);
  EXPECT_LE(elected.at - deposed.lease_expires, 2 * kStep);

  // b leads and renews; a, back, stays a follower until b goes.
  a.lease.Cut(false);
  const int renewed = lease_.renewals();
  ASSERT_TRUE(AdvanceUntil(
      clock_, [&] { return lease_.renewals() >= renewed + 3; }, kTtl + kStep, 4));
  EXPECT_FALSE(a.Leading());
  b.leadership->Stop();
  ASSERT_TRUE(AdvanceUntil(
      clock_, [&] { return a.Leading(); }, kTtl / 3 + kStep, 2));
  EXPECT_EQ(a.leadership->state().epoch, 3);
  const std::vector<Server::Call> again = a.Calls();
  ASSERT_EQ(again.size(), 3u);
  EXPECT_TRUE(again[2].elected);
}

// Verify that a lone leader whose database goes away stops acting, and acts
// again in a new epoch once the database is back.
TEST_F(LeadershipTest, DatabaseLostAndBack) {
  Server& a = a_;
  a.leadership->Start();
  ASSERT_TRUE(PollUntil([&] { return a.Leading(); }));
  lease_.SetUnavailable(true);
  ASSERT_TRUE(AdvanceUntil(
      clock_, [&] { return !a.Leading(); }, 2 * kTtl, 2));
  lease_.SetUnavailable(false);
  ASSERT_TRUE(AdvanceUntil(
      clock_, [&] { return a.Leading(); }, kTtl, 2));
  EXPECT_EQ(a.leadership->state().epoch, 2);
  const auto calls = a.Calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_TRUE(calls[0].elected);
  EXPECT_FALSE(calls[1].elected);
  EXPECT_TRUE(calls[2].elected);
  EXPECT_EQ(calls[2].epoch, 2);
}

}  // namespace
}  // namespace skiff::controller
