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
  // The candidates: not excluded and not ejected; failing that, not excluded;
  // failing that, all.
  std::vector<int> candidates;
  candidates.reserve(n);
  auto excluded = [&](int i) {
    return std::find(exclude.begin(), exclude.end(), i) != exclude.end();
  };
  for (int i = 0; i < n; ++i) {
    if (!excluded(i) && !route.endpoints[i].state->ejected(now)) candidates.push_back(i);
  }
  if (candidates.empty()) {
    for (int i = 0; i < n; ++i) {
      if (!excluded(i)) candidates.push_back(i);
    }
  }
  if (candidates.empty()) {
    for (int i = 0; i < n; ++i) candidates.push_back(i);
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
