// The edge's routing table (Flow 4 of DESIGN.md): every app's domains mapped to
// the instances that may take traffic now. Built whole from a store snapshot
// and never changed after: the edge swaps in a new table when the store
// changes, so requests read one without any lock.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edge/endpoint_state.h"
#include "model/spec.h"
#include "store/store.h"

namespace skiff::edge {

struct Endpoint {
  std::string instance_id;
  std::string address;                   // host:port
  std::shared_ptr<EndpointState> state;  // never null
};

struct Route {
  std::string app;
  std::string host;         // lowercase, no port
  std::string path_prefix;  // "" or "/api" (no trailing slash)
  // Running, healthy instances that are wanted: the ones traffic may go to.
  // Empty when the app has none (the edge answers 503).
  std::vector<Endpoint> endpoints;
  model::EdgePolicy policy;         // the app's spec.edge
  std::shared_ptr<AppState> state;  // never null
};

class RoutingTable {
 public:
  // Every domain of every app that is not being deleted. A domain claimed by two
  // apps (the API refuses that, but a table must not depend on it) goes to the
  // app whose name sorts first. Endpoint and app states come from `states`
  // (so they outlive this table), or are fresh when it is null.
  static std::shared_ptr<const RoutingTable> Build(const store::Snapshot& snapshot,
                                                   EdgeStates* states = nullptr);

  // The route for a request: `host` as in the Host header (any case, an
  // optional :port, an optional trailing dot) and the request path. The longest
  // path prefix that matches whole segments wins ("/api" matches "/api" and
  // "/api/x", not "/apix"). nullptr when no app serves it.
  const Route* Find(std::string_view host, std::string_view path) const;

  size_t size() const { return routes_; }
  int64_t revision() const { return revision_; }

 private:
  // host -> its routes, longest prefix first.
  std::map<std::string, std::vector<Route>, std::less<>> by_host_;
  size_t routes_ = 0;
  int64_t revision_ = 0;
};

// "Example.COM:8080." -> "example.com": what route hosts are compared with.
std::string NormaliseHost(std::string_view host);

}  // namespace skiff::edge
