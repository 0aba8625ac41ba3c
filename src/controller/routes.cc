#include "controller/routes.h"

#include <algorithm>
#include <map>

#include "crypto/domain_name.h"
#include "protocol/routes_codec.h"

namespace skiff::controller {

namespace {

bool TakesTraffic(const model::Instance& i) {
  return i.desired == model::DesiredState::kRun && i.state == model::InstanceState::kRunning &&
         i.health == model::Health::kHealthy && !i.address.empty();
}

// "shop.com/api" -> {shop.com, /api}; the spec's validation made the host
// lowercase and the prefix free of a trailing slash.
protocol::RouteDomain SplitDomain(const std::string& domain) {
  const size_t slash = domain.find('/');
  if (slash == std::string::npos) return {domain, ""};
  return {domain.substr(0, slash), domain.substr(slash)};
}

}  // namespace

protocol::RouteSet BuildRoutes(const store::Snapshot& snapshot,
                               const std::vector<protocol::RouteCertificate>& certificates,
                               const std::vector<protocol::AcmeChallenge>& challenges) {
  protocol::RouteSet routes;
  routes.revision = snapshot.revision;
  std::map<std::string, protocol::AppRoutes> apps;  // by name
  for (const model::App& app : snapshot.apps) {
    if (app.deleting || app.spec.domains.empty()) continue;
    protocol::AppRoutes& out = apps[app.name];
    out.name = app.name;
    for (const std::string& domain : app.spec.domains) out.domains.push_back(SplitDomain(domain));
    out.canary_weight = app.spec.update.canary_weight;
    out.edge = app.spec.edge;
  }
  for (const model::Instance& i : snapshot.instances) {
    auto app = apps.find(i.app);
    if (app == apps.end() || !TakesTraffic(i)) continue;
    app->second.instances.push_back({i.id, i.address, i.traffic});
  }
  for (const model::App& app : snapshot.apps) {
    auto out = apps.find(app.name);
    if (out == apps.end()) continue;
    // Asleep, or woken with no instance taking traffic yet: either way the
    // edges hold its requests rather than refuse them. Another instance-less
    // autoscaled app (all crashed, say) answers 503 as ever.
    const bool scales_to_zero = app.spec.autoscale && app.spec.autoscale->scale_to_zero;
    out->second.sleeping =
        model::IsSleeping(app) || (scales_to_zero && out->second.instances.empty());
  }
  for (auto& [name, app] : apps) {
    std::sort(app.instances.begin(), app.instances.end(),
              [](const protocol::RouteInstance& a, const protocol::RouteInstance& b) {
                return a.id < b.id;
              });
    routes.apps.push_back(std::move(app));
  }
  for (const protocol::RouteCertificate& certificate : certificates) {
    const auto served = [&](const std::string& name) {
      return std::any_of(routes.apps.begin(), routes.apps.end(), [&](const protocol::AppRoutes& a) {
        return std::any_of(a.domains.begin(), a.domains.end(), [&](const protocol::RouteDomain& d) {
          return crypto::DomainCovers(name, d.host);
        });
      });
    };
    if (std::any_of(certificate.domains.begin(), certificate.domains.end(), served)) {
      routes.certificates.push_back(certificate);
    }
  }
  routes.challenges = challenges;
  // By token: the document's tag must not depend on the order they were listed in.
  std::sort(routes.challenges.begin(), routes.challenges.end(),
            [](const protocol::AcmeChallenge& a, const protocol::AcmeChallenge& b) {
              return a.token < b.token;
            });
  return routes;
}

std::string RoutesTagOf(const store::Snapshot& snapshot,
                        const std::vector<protocol::RouteCertificate>& certificates,
                        const std::vector<protocol::AcmeChallenge>& challenges) {
  return protocol::RoutesTag(
      protocol::RoutesDocument(BuildRoutes(snapshot, certificates, challenges)));
}

}  // namespace skiff::controller
