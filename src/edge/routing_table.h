// The edge's routing table (Flow 4 of DESIGN.md): every app's domains mapped to
// the instances that may take traffic now. Built whole from a RouteSet
// (protocol/routes.h: the server's own edge gets one on every store change,
// a standalone edge from GET /v1/routes) and never changed after: the edge
// swaps in a new table, so requests read one without any lock.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "edge/endpoint_state.h"
#include "edge/tls/cert_table.h"
#include "model/spec.h"
#include "protocol/routes.h"

namespace skiff::edge {

struct Endpoint {
  std::string instance_id;
  std::string address;                              // host:port
  std::shared_ptr<EndpointState> state;             // never null
  model::Traffic traffic = model::Traffic::kServe;  // its group (see Route)
};

struct Route {
  std::string app;
  std::string host;         // lowercase, no port
  std::string path_prefix;  // "" or "/api" (no trailing slash)
  // Running, healthy instances that are wanted: the ones traffic may go to.
  // Empty when the app has none (the edge answers 503). In groups by the
  // instances' traffic (set by the rollout planner), each by instance id:
  // [0, serve) take the normal share, [serve, serve + canary) the canaries'
  // share, the rest are held back (traffic only when the others are empty).
  std::vector<Endpoint> endpoints;
  int serve = 0;
  int canary = 0;
  // Percent of requests that go to the canaries while both groups have
  // endpoints (the app's update.canary_weight).
  int canary_weight = 0;
  model::EdgePolicy policy;  // the app's spec.edge
  // The app scaled to zero and no instance of it takes traffic yet
  // (protocol::AppRoutes::sleeping): its requests are held, not refused.
  bool sleeping = false;
  // "Strict-Transport-Security: max-age=N\r\n" with policy.hsts, else "".
  std::string hsts_field;
  std::shared_ptr<AppState> state;  // never null

  // How many endpoints a request may be sent to: the serve and canary groups,
  // or the held ones when those are empty.
  int routable() const {
    return serve + canary > 0 ? serve + canary : static_cast<int>(endpoints.size());
  }
};

class RoutingTable {
 public:
  // Every domain of every app of `routes`, with the app's instances as
  // endpoints. A domain claimed by two apps (the API refuses that, but a table
  // must not depend on it) goes to the app whose name sorts first. Endpoint
  // and app states come from `states` (so they outlive this table), or are
  // fresh when it is null.
  static std::shared_ptr<const RoutingTable> Build(const protocol::RouteSet& routes,
                                                   EdgeStates* states = nullptr);

  // The route for a request: `host` as in the Host header (any case, an
  // optional :port, an optional trailing dot) and the request path. The longest
  // path prefix that matches whole segments wins ("/api" matches "/api" and
  // "/api/x", not "/apix"). nullptr when no app serves it.
  const Route* Find(std::string_view host, std::string_view path) const;

  // Whether some route sends traffic to `address` (host:port). Off the
  // request path: the edge asks when it returns a connection to its pool.
  bool Routes(std::string_view address) const { return addresses_.contains(address); }

  // Calls `f` with every endpoint of every route (an instance serving several
  // domains comes once per route).
  template <typename F>
  void ForEachEndpoint(F f) const {
    for (const auto& [host, routes] : by_host_) {
      for (const Route& route : routes) {
        for (const Endpoint& e : route.endpoints) f(e);
      }
    }
  }

  // The certificates served by SNI (never null), published with the routes.
  const tls::CertTable& certificates() const { return *certificates_; }
  const std::shared_ptr<const tls::CertTable>& certificates_ptr() const { return certificates_; }
  // The key authorization of a pending ACME HTTP-01 challenge's `token`,
  // null when none is pending.
  const std::string* Challenge(std::string_view token) const {
    auto it = challenges_.find(token);
    return it == challenges_.end() ? nullptr : &it->second;
  }

  size_t size() const { return routes_; }
  int64_t revision() const { return revision_; }

 private:
  // host -> its routes, longest prefix first.
  std::map<std::string, std::vector<Route>, std::less<>> by_host_;
  std::set<std::string, std::less<>> addresses_;  // of every endpoint
  size_t routes_ = 0;
  int64_t revision_ = 0;
  std::shared_ptr<const tls::CertTable> certificates_;
  std::map<std::string, std::string, std::less<>> challenges_;  // token -> key authorization
};

// "Example.COM:8080." -> "example.com": what route hosts are compared with.
std::string NormaliseHost(std::string_view host);

}  // namespace skiff::edge
