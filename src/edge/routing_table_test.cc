#include "edge/routing_table.h"

#include <gtest/gtest.h>

#include "edge/balancer.h"

namespace skiff::edge {
namespace {

protocol::AppRoutes App(const std::string& name, std::vector<protocol::RouteDomain> domains,
                        std::vector<protocol::RouteInstance> instances = {}) {
  protocol::AppRoutes app;
  app.name = name;
  app.domains = std::move(domains);
  app.instances = std::move(instances);
  return app;
}

protocol::RouteInstance Instance(const std::string& id, int port,
                                 model::Traffic traffic = model::Traffic::kServe) {
  return {id, "127.0.0.1:" + std::to_string(port), traffic};
}

protocol::RouteSet Routes(std::vector<protocol::AppRoutes> apps) {
  protocol::RouteSet routes;
  routes.apps = std::move(apps);
  return routes;
}

// Verify that hosts match without case, port or trailing dot, and that unknown
// hosts find nothing.
TEST(RoutingTableTest, MatchesHostsLoosely) {
  auto table = RoutingTable::Build(Routes({App("web", {{"web.example.com", ""}})}));
  for (std::string host : {"web.example.com", "WEB.Example.COM", "web.example.com:8080",
                           "web.example.com.", "Web.Example.Com.:443"}) {
    const Route* r = table->Find(host, "/");
    ASSERT_NE(r, nullptr) << host;
    EXPECT_EQ(r->app, "web");
  }
  EXPECT_EQ(table->Find("other.example.com", "/"), nullptr);
  EXPECT_EQ(table->Find("", "/"), nullptr);
  EXPECT_EQ(table->size(), 1u);
}

// Verify that the longest path prefix wins, on whole segments only.
TEST(RoutingTableTest, LongestPrefixOnSegments) {
  // Listed out of order: the table sorts the prefixes.
  auto table = RoutingTable::Build(
      Routes({App("api", {{"shop.com", "/api"}}), App("site", {{"shop.com", ""}}),
              App("v2", {{"shop.com", "/api/v2"}})}));
  struct Case {
    std::string path;
    std::string app;
  } cases[] = {{"/", "site"},     {"/api", "api"},   {"/api/", "api"},        {"/api/x", "api"},
               {"/apix", "site"}, {"/api/v2", "v2"}, {"/api/v2/users", "v2"}, {"/api/v22", "api"}};
  for (const Case& c : cases) {
    const Route* r = table->Find("shop.com", c.path);
    ASSERT_NE(r, nullptr) << c.path;
    EXPECT_EQ(r->app, c.app) << c.path;
  }
  // Without a catch-all route, a path outside every prefix finds nothing.
  EXPECT_EQ(
      RoutingTable::Build(Routes({App("api", {{"shop.com", "/api"}})}))->Find("shop.com", "/"),
      nullptr);
}

// Verify that an app's domains share its endpoints and policy, that an app
// without instances routes to none, and that an instance without an address
// is no endpoint; the table has the set's revision.
TEST(RoutingTableTest, EndpointsOfEveryDomain) {
  protocol::AppRoutes web = App("web", {{"web.com", ""}, {"web.org", "/shop"}},
                                {Instance("web-1", 1), {"web-2", "", model::Traffic::kServe}});
  web.edge.max_in_flight = 3;
  protocol::RouteSet routes = Routes({web, App("idle", {{"idle.com", ""}})});
  routes.revision = 42;
  auto table = RoutingTable::Build(routes);
  EXPECT_EQ(table->size(), 3u);
  EXPECT_EQ(table->revision(), 42);
  for (const Route* r : {table->Find("web.com", "/"), table->Find("web.org", "/shop/cart")}) {
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->endpoints.size(), 1u);
    EXPECT_EQ(r->endpoints[0].instance_id, "web-1");
    EXPECT_EQ(r->policy.max_in_flight, 3);
  }
  const Route* idle = table->Find("idle.com", "/");
  ASSERT_NE(idle, nullptr);
  EXPECT_TRUE(idle->endpoints.empty());
  EXPECT_EQ(idle->routable(), 0);
}

// Verify that a domain two apps claim goes to the one whose name sorts first,
// and that endpoint states are shared through EdgeStates across tables.
TEST(RoutingTableTest, ConflictsAndSharedStates) {
  const protocol::RouteSet s = Routes(
      {App("zeta", {{"x.com", ""}}), App("alpha", {{"x.com", ""}}, {Instance("alpha-1", 1)})});
  EdgeStates states;
  auto first = RoutingTable::Build(s, &states);
  EXPECT_EQ(first->Find("x.com", "/")->app, "alpha");
  EXPECT_EQ(first->size(), 1u);
  auto second = RoutingTable::Build(s, &states);
  EXPECT_EQ(first->Find("x.com", "/")->endpoints[0].state,
            second->Find("x.com", "/")->endpoints[0].state);
}

// Verify that endpoints come in groups (serve, canary, hold, each by id) with
// the app's canary weight, and that every endpoint address is known.
TEST(RoutingTableTest, EndpointsInTrafficGroups) {
  protocol::AppRoutes web = App(
      "web", {{"web.com", ""}},
      {Instance("web-h", 1, model::Traffic::kHold), Instance("web-c", 2, model::Traffic::kCanary),
       Instance("web-b", 3), Instance("web-a", 4)});
  web.canary_weight = 25;
  auto table = RoutingTable::Build(Routes({web}));
  const Route* r = table->Find("web.com", "/");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->endpoints.size(), 4u);
  std::vector<std::string> ids;
  for (const Endpoint& e : r->endpoints) ids.push_back(e.instance_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"web-a", "web-b", "web-c", "web-h"}));
  EXPECT_EQ(r->serve, 2);
  EXPECT_EQ(r->canary, 1);
  EXPECT_EQ(r->canary_weight, 25);
  EXPECT_EQ(r->routable(), 3);
  EXPECT_TRUE(table->Routes("127.0.0.1:1"));
  EXPECT_TRUE(table->Routes("127.0.0.1:4"));
  EXPECT_FALSE(table->Routes("127.0.0.1:9"));
}

// Verify a blue-green switch between two tables: before it every pick goes to
// the blue set while green is held; after it every pick goes to green, and
// the endpoint states carry over between the tables.
TEST(RoutingTableTest, GroupSwitchBetweenTables) {
  protocol::RouteSet s = Routes({App(
      "web", {{"web.com", ""}},
      {Instance("blue-1", 1), Instance("blue-2", 2), Instance("green-1", 3, model::Traffic::kHold),
       Instance("green-2", 4, model::Traffic::kHold)})});
  EdgeStates states;
  auto before = RoutingTable::Build(s, &states);
  std::vector<protocol::RouteInstance>& instances = s.apps[0].instances;
  for (protocol::RouteInstance& i : instances) {
    i.traffic = i.id.starts_with("green") ? model::Traffic::kServe : model::Traffic::kHold;
  }
  auto after = RoutingTable::Build(s, &states);
  const Route* b = before->Find("web.com", "/");
  const Route* a = after->Find("web.com", "/");
  const auto now = EndpointState::SteadyTime(std::chrono::hours(1));
  for (uint64_t random = 0; random < 100; ++random) {
    EXPECT_TRUE(b->endpoints[PickEndpoint(*b, random, now)].instance_id.starts_with("blue"));
    EXPECT_TRUE(a->endpoints[PickEndpoint(*a, random, now)].instance_id.starts_with("green"));
  }
  EXPECT_EQ(a->endpoints[0].instance_id, "green-1");
  EXPECT_EQ(a->endpoints[0].state, b->endpoints[2].state);
  // With the serve set gone, the held one is the guess that beats a 503.
  instances.erase(instances.begin() + 2, instances.end());
  auto only_held = RoutingTable::Build(s, &states);
  const Route* h = only_held->Find("web.com", "/");
  EXPECT_EQ(h->serve + h->canary, 0);
  EXPECT_TRUE(h->endpoints[PickEndpoint(*h, 7, now)].instance_id.starts_with("blue"));
}

}  // namespace
}  // namespace skiff::edge
