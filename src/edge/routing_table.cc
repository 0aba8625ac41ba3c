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

std::shared_ptr<const RoutingTable> RoutingTable::Build(const store::Snapshot& snapshot,
                                                        EdgeStates* states) {
  auto table = std::make_shared<RoutingTable>();
  table->revision_ = snapshot.revision;
  std::map<std::string, std::vector<Endpoint>> endpoints;  // app -> endpoints
  for (const model::Instance& i : snapshot.instances) {
    if (i.desired != model::DesiredState::kRun || i.state != model::InstanceState::kRunning ||
        i.health != model::Health::kHealthy || i.address.empty()) {
      continue;
    }
    // Keyed by instance too: a new instance on a reused port starts afresh.
    endpoints[i.app].push_back({i.id, i.address,
                                states != nullptr ? states->Endpoint(i.id + "@" + i.address)
                                                  : std::make_shared<EndpointState>(),
                                i.traffic});
    table->addresses_.insert(i.address);
  }
  std::vector<const model::App*> apps;
  for (const model::App& app : snapshot.apps) apps.push_back(&app);
  std::sort(apps.begin(), apps.end(),
            [](const model::App* a, const model::App* b) { return a->name < b->name; });
  for (const model::App* app : apps) {
    if (app->deleting) continue;
    for (const std::string& domain : app->spec.domains) {
      size_t slash = domain.find('/');
      Route route;
      route.app = app->name;
      route.host = domain.substr(0, slash);
      route.path_prefix = slash == std::string::npos ? "" : domain.substr(slash);
      route.policy = app->spec.edge;
      route.state = states != nullptr ? states->App(app->name) : std::make_shared<AppState>();
      route.canary_weight = app->spec.update.canary_weight;
      if (auto it = endpoints.find(app->name); it != endpoints.end()) {
        route.endpoints = it->second;
        // The groups in the order of model::Traffic: serve, canary, hold.
        std::sort(route.endpoints.begin(), route.endpoints.end(),
                  [](const Endpoint& a, const Endpoint& b) {
                    return std::tie(a.traffic, a.instance_id) < std::tie(b.traffic, b.instance_id);
                  });
        for (const Endpoint& e : route.endpoints) {
          if (e.traffic == model::Traffic::kServe) ++route.serve;
          if (e.traffic == model::Traffic::kCanary) ++route.canary;
        }
      }
      std::vector<Route>& routes = table->by_host_[route.host];
      bool taken = std::any_of(routes.begin(), routes.end(),
                               [&](const Route& r) { return r.path_prefix == route.path_prefix; });
      if (taken) continue;  // an app sorting earlier has it
      routes.push_back(std::move(route));
      ++table->routes_;
    }
  }
  for (auto& [host, routes] : table->by_host_) {
    std::sort(routes.begin(), routes.end(), [](const Route& a, const Route& b) {
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
