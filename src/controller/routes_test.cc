#include "controller/routes.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace skiff::controller {
namespace {

model::App App(const std::string& name, std::vector<std::string> domains) {
  model::App app;
  app.name = name;
  app.spec.name = name;
  app.spec.domains = std::move(domains);
  return app;
}

// A running, healthy, wanted instance with an address: one that takes traffic.
model::Instance Serving(const std::string& id, const std::string& app, int port) {
  model::Instance i;
  i.id = id;
  i.app = app;
  i.state = model::InstanceState::kRunning;
  i.health = model::Health::kHealthy;
  i.address = "127.0.0.1:" + std::to_string(port);
  return i;
}

// Verify which instances take traffic: only wanted, running, healthy ones with
// an address, of an app that is in the routes, each in its traffic group.
TEST(RoutesTest, InstancesThatTakeTraffic) {
  struct Case {
    std::string name;
    std::function<void(model::Instance&)> change;
    bool routed;
  } cases[] = {
      {"serving", [](model::Instance&) {}, true},
      {"unhealthy", [](model::Instance& i) { i.health = model::Health::kUnhealthy; }, false},
      {"health unknown", [](model::Instance& i) { i.health = model::Health::kUnknown; }, false},
      {"starting", [](model::Instance& i) { i.state = model::InstanceState::kStarting; }, false},
      {"stopping", [](model::Instance& i) { i.state = model::InstanceState::kStopping; }, false},
      {"being stopped", [](model::Instance& i) { i.desired = model::DesiredState::kStop; }, false},
      {"no address", [](model::Instance& i) { i.address.clear(); }, false},
      {"of an app without domains", [](model::Instance& i) { i.app = "worker"; }, false},
      {"of an app being deleted", [](model::Instance& i) { i.app = "gone"; }, false},
      {"of no app", [](model::Instance& i) { i.app = "nobody"; }, false},
      {"canary", [](model::Instance& i) { i.traffic = model::Traffic::kCanary; }, true},
      {"held", [](model::Instance& i) { i.traffic = model::Traffic::kHold; }, true},
  };
  for (const Case& c : cases) {
    store::Snapshot s;
    s.apps = {App("web", {"web.com"}), App("worker", {}), App("gone", {"gone.com"})};
    s.apps[2].deleting = true;
    model::Instance i = Serving("x-1", "web", 1);
    c.change(i);
    s.instances = {i};
    const protocol::RouteSet routes = BuildRoutes(s);
    ASSERT_EQ(routes.apps.size(), 1u) << c.name;
    const std::vector<protocol::RouteInstance>& got = routes.apps[0].instances;
    if (!c.routed) {
      EXPECT_TRUE(got.empty()) << c.name;
      continue;
    }
    ASSERT_EQ(got.size(), 1u) << c.name;
    EXPECT_EQ(got[0], (protocol::RouteInstance{i.id, i.address, i.traffic})) << c.name;
  }
}

// Verify the apps of the routes: by name, each domain split into host and
// path prefix, with the app's canary weight and edge policy, its instances
// by id; the set has the snapshot's revision; apps claiming one domain are
// all there (the routing table decides).
TEST(RoutesTest, AppsWithTheirDomainsAndPolicies) {
  store::Snapshot s;
  s.revision = 42;
  s.apps = {App("web", {"web.com", "shop.com/api/v2"}), App("alpha", {"web.com"})};
  s.apps[0].spec.update.canary_weight = 30;
  s.apps[0].spec.edge.max_in_flight = 5;
  s.apps[0].spec.edge.lb = model::LoadBalancer::kLeastRequest;
  s.instances = {Serving("web-b", "web", 2), Serving("alpha-1", "alpha", 3),
                 Serving("web-a", "web", 1)};
  const protocol::RouteSet routes = BuildRoutes(s);
  EXPECT_EQ(routes.revision, 42);
  ASSERT_EQ(routes.apps.size(), 2u);
  EXPECT_EQ(routes.apps[0].name, "alpha");
  const protocol::AppRoutes& web = routes.apps[1];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.domains,
            (std::vector<protocol::RouteDomain>{{"web.com", ""}, {"shop.com", "/api/v2"}}));
  EXPECT_EQ(web.canary_weight, 30);
  EXPECT_EQ(web.edge, s.apps[0].spec.edge);
  ASSERT_EQ(web.instances.size(), 2u);
  EXPECT_EQ(web.instances[0].id, "web-a");
  EXPECT_EQ(web.instances[1].id, "web-b");
  EXPECT_TRUE(BuildRoutes(store::Snapshot{}).apps.empty());
}

// Verify when an app's routes say it sleeps: an app that scales to zero,
// asleep or woken without an instance that takes traffic yet; not once one
// does, and never an app that does not scale to zero.
TEST(RoutesTest, SleepingAppsThatScaleToZero) {
  struct Case {
    std::string name;
    bool scale_to_zero;
    std::optional<int> autoscaled;
    bool serving;
    bool sleeping;
  } cases[] = {
      {"asleep", true, 0, false, true},
      {"woken, starting", true, 1, false, true},
      {"woken, serving", true, 1, true, false},
      {"no decision yet, serving", true, std::nullopt, true, false},
      {"autoscaled without scale to zero, no instance", false, 1, false, false},
  };
  for (const Case& c : cases) {
    store::Snapshot s;
    s.apps = {App("web", {"web.com"})};
    model::Autoscale policy;
    policy.min = c.scale_to_zero ? 0 : 1;
    policy.scale_to_zero = c.scale_to_zero;
    s.apps[0].spec.autoscale = policy;
    s.apps[0].autoscaled_replicas = c.autoscaled;
    if (c.serving) s.instances = {Serving("web-1", "web", 1)};
    const protocol::RouteSet routes = BuildRoutes(s);
    ASSERT_EQ(routes.apps.size(), 1u) << c.name;
    EXPECT_EQ(routes.apps[0].sleeping, c.sleeping) << c.name;
  }
}

// Verify that the routes carry the certificates of the domains some app
// serves (exactly or under a wildcard), and not those of a domain no app
// serves, nor of an app being deleted.
TEST(RoutesTest, CertificatesOfServedDomainsOnly) {
  store::Snapshot s;
  s.apps = {App("web", {"web.com", "a.shop.com/api"}), App("gone", {"gone.com"})};
  s.apps[1].deleting = true;
  const std::vector<protocol::RouteCertificate> kept = {{{"*.shop.com"}, "cert-shop", "key-shop"},
                                                        {{"gone.com"}, "cert-gone", "key-gone"},
                                                        {{"other.com"}, "cert-other", "key-other"},
                                                        {{"web.com"}, "cert-web", "key-web"},
                                                        {{"*.web.com"}, "cert-wild", "key-wild"}};
  const protocol::RouteSet routes = BuildRoutes(s, kept);
  EXPECT_EQ(routes.certificates, (std::vector<protocol::RouteCertificate>{kept[0], kept[3]}));
  EXPECT_NE(RoutesTagOf(s, kept), RoutesTagOf(s));
  EXPECT_TRUE(BuildRoutes(s).certificates.empty());
}

// Verify that the routes carry every pending ACME challenge, by token
// whatever order they were listed in, and that they change the tag.
TEST(RoutesTest, ChallengesByToken) {
  store::Snapshot s;
  s.apps = {App("web", {"web.com"})};
  const std::vector<protocol::AcmeChallenge> listed = {{"tok-b", "tok-b.thumb"},
                                                       {"tok-a", "tok-a.thumb"}};
  const protocol::RouteSet routes = BuildRoutes(s, {}, listed);
  EXPECT_EQ(routes.challenges, (std::vector<protocol::AcmeChallenge>{listed[1], listed[0]}));
  EXPECT_EQ(RoutesTagOf(s, {}, listed), RoutesTagOf(s, {}, {listed[1], listed[0]}));
  EXPECT_NE(RoutesTagOf(s, {}, listed), RoutesTagOf(s));
}

}  // namespace
}  // namespace skiff::controller
