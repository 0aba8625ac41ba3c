#include "edge/balancer.h"

#include <gtest/gtest.h>

#include <map>

namespace skiff::edge {
namespace {

using std::chrono::microseconds;

Route MakeRoute(int n, model::LoadBalancer lb) {
  Route r;
  r.app = "web";
  r.policy.lb = lb;
  r.state = std::make_shared<AppState>();
  for (int i = 0; i < n; ++i) {
    r.endpoints.push_back({"web-" + std::to_string(i), "127.0.0.1:" + std::to_string(1000 + i),
                           std::make_shared<EndpointState>()});
  }
  r.serve = n;
  return r;
}

// A route of `serve` serve endpoints, then `canary` canaries, then `hold` held
// ones, sending `weight` percent to the canaries.
Route GroupedRoute(int serve, int canary, int hold, int weight, model::LoadBalancer lb) {
  Route r = MakeRoute(serve + canary + hold, lb);
  for (int i = serve; i < serve + canary; ++i) r.endpoints[i].traffic = model::Traffic::kCanary;
  for (int i = serve + canary; i < serve + canary + hold; ++i) {
    r.endpoints[i].traffic = model::Traffic::kHold;
  }
  r.serve = serve;
  r.canary = canary;
  r.canary_weight = weight;
  return r;
}

const auto kNow = EndpointState::SteadyTime(std::chrono::hours(1));

// Verify that an empty route picks nothing and a single endpoint is always picked.
TEST(BalancerTest, EmptyAndSingle) {
  EXPECT_EQ(PickEndpoint(MakeRoute(0, model::LoadBalancer::kP2c), 7, kNow), -1);
  for (auto lb : {model::LoadBalancer::kP2c, model::LoadBalancer::kLeastRequest,
                  model::LoadBalancer::kRoundRobin}) {
    EXPECT_EQ(PickEndpoint(MakeRoute(1, lb), 12345, kNow), 0);
  }
}

// Verify that round-robin takes each endpoint in turn.
TEST(BalancerTest, RoundRobinCycles) {
  Route r = MakeRoute(3, model::LoadBalancer::kRoundRobin);
  std::vector<int> picks;
  for (int i = 0; i < 6; ++i) picks.push_back(PickEndpoint(r, 0, kNow));
  EXPECT_EQ(picks, (std::vector<int>{0, 1, 2, 0, 1, 2}));
}

// Verify that least-request avoids the busy endpoints.
TEST(BalancerTest, LeastRequestPrefersIdle) {
  Route r = MakeRoute(3, model::LoadBalancer::kLeastRequest);
  r.endpoints[0].state->Begin();
  r.endpoints[2].state->Begin();
  r.endpoints[2].state->Begin();
  for (uint64_t random = 0; random < 10; ++random) EXPECT_EQ(PickEndpoint(r, random, kNow), 1);
}

// Verify that p2c never picks the worse of the two it compares: an endpoint
// ten times slower is chosen only when it is compared with itself, which p2c
// never does, so with two endpoints the fast one always wins.
TEST(BalancerTest, P2cPrefersFastAndSpreadsOverEqual) {
  Route r = MakeRoute(2, model::LoadBalancer::kP2c);
  r.endpoints[0].state->Begin();
  r.endpoints[0].state->End(microseconds(10'000), false, kNow);
  r.endpoints[1].state->Begin();
  r.endpoints[1].state->End(microseconds(1'000), false, kNow);
  for (uint64_t random = 0; random < 20; ++random) EXPECT_EQ(PickEndpoint(r, random, kNow), 1);

  Route equal = MakeRoute(4, model::LoadBalancer::kP2c);
  std::map<int, int> counts;
  for (uint64_t random = 0; random < 400; ++random) ++counts[PickEndpoint(equal, random, kNow)];
  EXPECT_EQ(counts.size(), 4u) << "equal endpoints all get traffic";
}

// Verify that failures in a row eject an endpoint for a while, that it comes
// back after the period, and that a route of ejected endpoints still answers.
TEST(BalancerTest, EjectsFailingEndpoints) {
  Route r = MakeRoute(2, model::LoadBalancer::kRoundRobin);
  for (int i = 0; i < EndpointState::kEjectAfterFailures; ++i) {
    r.endpoints[0].state->Begin();
    r.endpoints[0].state->End(microseconds(100), true, kNow);
  }
  EXPECT_TRUE(r.endpoints[0].state->ejected(kNow));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(PickEndpoint(r, 0, kNow), 1);
  const auto later = kNow + EndpointState::kBaseEjection + std::chrono::seconds(1);
  EXPECT_FALSE(r.endpoints[0].state->ejected(later));

  Route single = MakeRoute(1, model::LoadBalancer::kP2c);
  for (int i = 0; i < EndpointState::kEjectAfterFailures; ++i) {
    single.endpoints[0].state->Begin();
    single.endpoints[0].state->End(microseconds(100), true, kNow);
  }
  EXPECT_EQ(PickEndpoint(single, 0, kNow), 0) << "a guess beats a certain 503";
}

// Verify that a retry avoids the endpoints already tried while others are left.
TEST(BalancerTest, RetryAvoidsTriedEndpoints) {
  Route r = MakeRoute(3, model::LoadBalancer::kP2c);
  for (uint64_t random = 0; random < 20; ++random) {
    int pick = PickEndpoint(r, random, kNow, {0, 2});
    EXPECT_EQ(pick, 1);
  }
  EXPECT_NE(PickEndpoint(r, 5, kNow, {0, 1, 2}), -1);
}

// Verify that the canaries get exactly canary_weight percent of 10,000 picks
// with the random numbers 0..9999 (the group takes the value mod 100), under
// every policy, and that the rest goes to the serve group, never to hold.
TEST(BalancerTest, CanaryWeightIsHonoured) {
  for (auto lb : {model::LoadBalancer::kP2c, model::LoadBalancer::kLeastRequest,
                  model::LoadBalancer::kRoundRobin}) {
    Route r = GroupedRoute(3, 2, 1, 10, lb);
    std::map<int, int> per_endpoint;
    int canary = 0;
    int serve = 0;
    for (uint64_t random = 0; random < 10'000; ++random) {
      const int pick = PickEndpoint(r, random, kNow);
      ++per_endpoint[pick];
      const model::Traffic group = r.endpoints[pick].traffic;
      ASSERT_NE(group, model::Traffic::kHold) << "held while others serve";
      (group == model::Traffic::kCanary ? canary : serve)++;
    }
    EXPECT_EQ(canary, 1000) << model::ToString(lb);
    EXPECT_EQ(serve, 9000) << model::ToString(lb);
    EXPECT_EQ(per_endpoint.size(), 5u) << "every serve and canary endpoint gets some";
  }
  Route none = GroupedRoute(2, 1, 0, 0, model::LoadBalancer::kP2c);
  Route all = GroupedRoute(2, 1, 0, 100, model::LoadBalancer::kP2c);
  for (uint64_t random = 0; random < 1000; ++random) {
    EXPECT_EQ(none.endpoints[PickEndpoint(none, random, kNow)].traffic, model::Traffic::kServe);
    EXPECT_EQ(PickEndpoint(all, random, kNow), 2);
  }
}

// Verify that a group alone takes everything whatever the weight, and that
// held endpoints take traffic only when serve and canary are both empty.
TEST(BalancerTest, HoldIsOnlyAFallback) {
  Route canaries_only = GroupedRoute(0, 2, 1, 10, model::LoadBalancer::kRoundRobin);
  Route serve_only = GroupedRoute(2, 0, 1, 90, model::LoadBalancer::kRoundRobin);
  Route held_only = GroupedRoute(0, 0, 2, 10, model::LoadBalancer::kRoundRobin);
  for (uint64_t random = 0; random < 200; ++random) {
    EXPECT_EQ(canaries_only.endpoints[PickEndpoint(canaries_only, random, kNow)].traffic,
              model::Traffic::kCanary);
    EXPECT_EQ(serve_only.endpoints[PickEndpoint(serve_only, random, kNow)].traffic,
              model::Traffic::kServe);
    EXPECT_EQ(held_only.endpoints[PickEndpoint(held_only, random, kNow)].traffic,
              model::Traffic::kHold);
  }
  EXPECT_EQ(canaries_only.routable(), 2);
  EXPECT_EQ(held_only.routable(), 2);
  // Even with every serve endpoint ejected, the held ones wait: ejection is a
  // guess about the instances the planner chose, not a reason to switch.
  for (int i = 0; i < EndpointState::kEjectAfterFailures; ++i) {
    for (int e = 0; e < 2; ++e) {
      serve_only.endpoints[e].state->Begin();
      serve_only.endpoints[e].state->End(microseconds(100), true, kNow);
    }
  }
  for (uint64_t random = 0; random < 20; ++random) {
    EXPECT_LT(PickEndpoint(serve_only, random, kNow), 2);
  }
}

// Verify that retries avoid earlier attempts across groups: a request whose
// canary failed goes to the serve group, and one that tried everything
// routable still gets an answer rather than a held endpoint.
TEST(BalancerTest, RetryAcrossGroups) {
  Route r = GroupedRoute(1, 1, 1, 100, model::LoadBalancer::kP2c);
  EXPECT_EQ(PickEndpoint(r, 0, kNow), 1);       // the canary
  EXPECT_EQ(PickEndpoint(r, 0, kNow, {1}), 0);  // then the serve endpoint
  const int last = PickEndpoint(r, 0, kNow, {0, 1});
  EXPECT_TRUE(last == 0 || last == 1) << last;  // nothing else routable: never hold
  // A canary group that is all ejected hands its share to the serve group.
  for (int i = 0; i < EndpointState::kEjectAfterFailures; ++i) {
    r.endpoints[1].state->Begin();
    r.endpoints[1].state->End(microseconds(100), true, kNow);
  }
  for (uint64_t random = 0; random < 20; ++random) EXPECT_EQ(PickEndpoint(r, random, kNow), 0);
}

}  // namespace
}  // namespace skiff::edge
