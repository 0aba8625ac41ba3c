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

}  // namespace
}  // namespace skiff::edge
