#include "edge/balancer.h"

#include <algorithm>

namespace skiff::edge {
namespace {

// Cost for p2c: the latency EWMA (an unmeasured endpoint counts as fast, so it
// gets tried) times the load it would have.
double Cost(const EndpointState& s) {
  return static_cast<double>(std::max<int64_t>(s.ewma_us(), 1)) * (s.in_flight() + 1);
}

}  // namespace

int PickEndpoint(const Route& route, uint64_t random, EndpointState::SteadyTime now,
                 const std::vector<int>& exclude) {
  const int n = static_cast<int>(route.endpoints.size());
  if (n == 0) return -1;
  struct Group {
    int begin = 0;
    int end = 0;
  };
  const Group serve{0, route.serve};
  const Group canary{route.serve, route.serve + route.canary};
  Group first{route.serve + route.canary, n};  // hold, when serve and canary are empty
  Group second;
  if (route.serve > 0 && route.canary > 0) {
    const bool to_canary = static_cast<int>(random % 100) < route.canary_weight;
    random /= 100;
    first = to_canary ? canary : serve;
    second = to_canary ? serve : canary;
  } else if (route.serve > 0) {
    first = serve;
  } else if (route.canary > 0) {
    first = canary;
  }
  // The candidates: in the group, not excluded and not ejected; failing that,
  // in the other group; then the same without ejection; failing that, all of
  // the group.
  std::vector<int> candidates;
  candidates.reserve(first.end - first.begin);
  auto excluded = [&](int i) {
    return std::find(exclude.begin(), exclude.end(), i) != exclude.end();
  };
  auto gather = [&](Group g, bool skip_ejected) {
    for (int i = g.begin; i < g.end; ++i) {
      if (!excluded(i) && !(skip_ejected && route.endpoints[i].state->ejected(now))) {
        candidates.push_back(i);
      }
    }
  };
  gather(first, true);
  if (candidates.empty()) gather(second, true);
  if (candidates.empty()) gather(first, false);
  if (candidates.empty()) gather(second, false);
  if (candidates.empty()) {
    for (int i = first.begin; i < first.end; ++i) candidates.push_back(i);
  }
  const int m = static_cast<int>(candidates.size());
  switch (route.policy.lb) {
    case model::LoadBalancer::kRoundRobin: {
      uint64_t turn = route.state->cursor.fetch_add(1, std::memory_order_relaxed);
      return candidates[turn % m];
    }
    case model::LoadBalancer::kLeastRequest: {
      // Ties go to a random one of them, so equal instances share the load.
      int best = candidates[random % m];
      for (int i : candidates) {
        if (route.endpoints[i].state->in_flight() < route.endpoints[best].state->in_flight()) {
          best = i;
        }
      }
      return best;
    }
    case model::LoadBalancer::kP2c:
      break;
  }
  if (m == 1) return candidates[0];
  // Two distinct picks: the first at random, the second among the others.
  const int ai = static_cast<int>(random % m);
  const int bi = (ai + 1 + static_cast<int>((random / m) % (m - 1))) % m;
  const int a = candidates[ai];
  const int b = candidates[bi];
  return Cost(*route.endpoints[a].state) <= Cost(*route.endpoints[b].state) ? a : b;
}

}  // namespace skiff::edge
