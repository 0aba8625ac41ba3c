// Choosing the instance for a request (per app: edge.lb of the spec).
//   p2c            two instances at random, the one with the lower cost:
//                  latency EWMA x (requests in flight + 1) (Finagle, Envoy)
//   least-request  the one with the fewest requests in flight
//   round-robin    each in turn
// Ejected instances are passed over while any other is left (when all are
// ejected, all are used: a guess beats a certain 503).
//
// First the group (Route): with both serve and canary endpoints, a request
// goes to the canaries with probability canary_weight/100, else to the serve
// group; with one of them, to it; with neither, to the held endpoints. The
// policy then picks within the group; the other of serve and canary stands in
// when every endpoint of the group is excluded or ejected.
#pragma once

#include <cstdint>
#include <vector>

#include "edge/routing_table.h"

namespace skiff::edge {

// The index into route.endpoints to send to, never one in `exclude` (earlier
// attempts of the same request) unless nothing else is left; -1 when the route
// has no endpoints. `random` is a fresh random number (its value mod 100
// chooses the group, the rest the endpoint). Thread-safe (atomics).
int PickEndpoint(const Route& route, uint64_t random, EndpointState::SteadyTime now,
                 const std::vector<int>& exclude = {});

}  // namespace skiff::edge
