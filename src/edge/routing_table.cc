#include "edge/routing_table.h"

#include <algorithm>
#include <cctype>
#include <tuple>

namespace skiff::edge {

std::string NormaliseHost(std::string_view host) {
  // "[::1]:8080" keeps its brackets; "example.com:8080" loses the port.
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  std::string out(host);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::shared_ptr<const RoutingTable> RoutingTable::Build(const protocol::RouteSet& routes,
                                                        EdgeStates* states) {
  auto table = std::make_shared<RoutingTable>();
  table->revision_ = routes.revision;
  table->certificates_ = states != nullptr ? states->Certificates(routes.certificates)
                                           : tls::CertTable::Build(routes.certificates);
  for (const protocol::AcmeChallenge& c : routes.challenges) {
    table->challenges_.emplace(c.token, c.key_authorization);
  }
  std::vector<const protocol::AppRoutes*> apps;
  for (const protocol::AppRoutes& app : routes.apps) apps.push_back(&app);
  std::sort(
      apps.begin(), apps.end(),
      [](const protocol::AppRoutes* a, const protocol::AppRoutes* b) { return a->name < b->name; });
  for (const protocol::AppRoutes* app : apps) {
    std::vector<Endpoint> endpoints;
    for (const protocol::RouteInstance& i : app->instances) {
      if (i.address.empty()) continue;
      // Keyed by instance too: a new instance on a reused port starts afresh.
      endpoints.push_back({i.id, i.address,
                           states != nullptr ? states->Endpoint(i.id + "@" + i.address)
                                             : std::make_shared<EndpointState>(),
                           i.traffic});
      table->addresses_.insert(i.address);
    }
    // The groups in the order of model::Traffic: serve, canary, hold.
    std::sort(endpoints.begin(), endpoints.end(), [](const Endpoint& a, const Endpoint& b) {
      return std::tie(a.traffic, a.instance_id) < std::tie(b.traffic, b.instance_id);
    });
    int serve = 0;
    int canary = 0;
    for (const Endpoint& e : endpoints) {
      if (e.traffic == model::Traffic::kServe) ++serve;
      if (e.traffic == model::Traffic::kCanary) ++canary;
    }
    for (const protocol::RouteDomain& domain : app->domains) {
      std::vector<Route>& routes_of_host = table->by_host_[domain.host];
      bool taken = std::any_of(routes_of_host.begin(), routes_of_host.end(),
                               [&](const Route& r) { return r.path_prefix == domain.path_prefix; });
      if (taken) continue;  // an app sorting earlier has it
      Route route;
      route.app = app->name;
      route.host = domain.host;
      route.path_prefix = domain.path_prefix;
      route.endpoints = endpoints;
      route.serve = serve;
      route.canary = canary;
      route.canary_weight = app->canary_weight;
      route.policy = app->edge;
      route.sleeping = app->sleeping;
      if (app->edge.hsts) {
        route.hsts_field =
            "Strict-Transport-Security: max-age=" +
            std::to_string(
                std::chrono::duration_cast<std::chrono::seconds>(*app->edge.hsts).count()) +
            "\r\n";
      }
      route.state = states != nullptr ? states->App(app->name) : std::make_shared<AppState>();
      routes_of_host.push_back(std::move(route));
      ++table->routes_;
    }
  }
  for (auto& [host, routes_of_host] : table->by_host_) {
    std::sort(routes_of_host.begin(), routes_of_host.end(), [](const Route& a, const Route& b) {
      return a.path_prefix.size() > b.path_prefix.size();
    });
  }
  return table;
}

const Route* RoutingTable::Find(std::string_view host, std::string_view path) const {
  auto it = by_host_.find(NormaliseHost(host));
  if (it == by_host_.end()) return nullptr;
  for (const Route& route : it->second) {
    const std::string& prefix = route.path_prefix;
    if (prefix.empty()) return &route;
    if (path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/')) {
      return &route;
    }
  }
  return nullptr;
}

}  // namespace skiff::edge
