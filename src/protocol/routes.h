// RouteSet: what an edge routes by (DESIGN.md, Flow 4), as one value that
// stands on its own. The control plane builds it from its store
// (controller/routes.h); later, regions and orchestrators that keep no local
// store produce it too. The edge builds its routing table from it
// (edge/routing_table.h) and never sees where it came from;
// protocol/routes_codec.h is its JSON, the routes document of GET /v1/routes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/resources.h"
#include "model/spec.h"

namespace skiff::protocol {

// An instance that may take an app's traffic now.
struct RouteInstance {
  std::string id;
  std::string address;                              // host:port
  model::Traffic traffic = model::Traffic::kServe;  // its group (serve, canary, hold)
  friend bool operator==(const RouteInstance&, const RouteInstance&) = default;
};

// One of an app's domains: requests for `host` whose path is `path_prefix` or
// below it go to the app.
struct RouteDomain {
  std::string host;         // lowercase, no port
  std::string path_prefix;  // "" or "/api" (no trailing slash)
  friend bool operator==(const RouteDomain&, const RouteDomain&) = default;
};

// An app that serves at least one domain.
struct AppRoutes {
  std::string name;
  std::vector<RouteDomain> domains;
  // Percent of requests that go to the canaries while both the serve and the
  // canary group have instances (the app's update.canary_weight).
  int canary_weight = 0;
  model::EdgePolicy edge;                // the app's spec.edge
  std::vector<RouteInstance> instances;  // empty: the app answers 503
  friend bool operator==(const AppRoutes&, const AppRoutes&) = default;
};

struct RouteSet {
  // What the routes were made from, as a store revision (0: unknown). It is
  // not part of the JSON (equal routes make equal documents whatever the
  // revision); GET /v1/routes sends it beside the document.
  int64_t revision = 0;
  std::vector<AppRoutes> apps;
  friend bool operator==(const RouteSet&, const RouteSet&) = default;
};

}  // namespace skiff::protocol
