// Choosing the instance for a request (per app: edge.lb of the spec).
//   p2c            two instances at random, the one with the lower cost:
//                  latency EWMA x (requests in flight + 1) (Finagle, Envoy)
//   least-request  the one with the fewest requests in flight
//   round-robin    each in turn
// Ejected instances are passed over while any other is left (when all are
// ejected, all are used: a guess beats a certain 503).
#pragma once

#include <cstdint>
#include <vector>

#include "edge/routing_table.h"

namespace skiff::edge {

// The index into route.endpoints to send to, never one in `exclude` (earlier
// attempts of the same request) unless nothing else is left; -1 when the route
// has no endpoints. `random` is a fresh random number. Thread-safe (atomics).
int PickEndpoint(const Route& route, uint64_t random, EndpointState::SteadyTime now,
                 const std::vector<int>& exclude = {});

}  // namespace skiff::edge
