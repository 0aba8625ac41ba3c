#include "edge/routing_table.h"

#include <gtest/gtest.h>

#include "edge/balancer.h"

namespace skiff::edge {
namespace {

model::App App(const std::string& name, std::vector<std::string> domains) {
  model::App app;
  app.name = name;
  app.spec.name = name;
  app.spec.domains = std::move(domains);
  return app;
}

model::Instance Instance(const std::string& id, const std::string& app, int port,
                         model::InstanceState state = model::InstanceState::kRunning,
                         model::Health health = model::Health::kHealthy) {
  model::Instance i;
  i.id = id;
  i.app = app;
  i.state = state;
  i.health = health;
  i.address = "127.0.0.1:" + std::to_string(port);
  return i;
}

// Verify that hosts match without case, port or trailing dot, and that unknown
// hosts find nothing.
TEST(RoutingTableTest, MatchesHostsLoosely) {
  store::Snapshot s;
  s.apps = {App("web", {"web.example.com"})};
  auto table = RoutingTable::Build(s);
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
  store::Snapshot s;
  s.apps = {App("site", {"shop.com"}), App("api", {"shop.com/api"}),
            App("v2", {"shop.com/api/v2"})};
  auto table = RoutingTable::Build(s);
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
  store::Snapshot only_api;
  only_api.apps = {App("api", {"shop.com/api"})};
  EXPECT_EQ(RoutingTable::Build(only_api)->Find("shop.com", "/"), nullptr);
}

// Verify that only running, healthy, wanted instances with an address are
// endpoints, and that deleting apps route nothing.
TEST(RoutingTableTest, EndpointsAreHealthyRunningInstances) {
  store::Snapshot s;
  s.apps = {App("web", {"web.com"}), App("gone", {"gone.com"})};
  s.apps[1].deleting = true;
  model::Instance stopping = Instance("web-4", "web", 4);
  stopping.desired = model::DesiredState::kStop;
  s.instances = {
      Instance("web-1", "web", 1),
      Instance("web-2", "web", 2, model::InstanceState::kRunning, model::Health::kUnhealthy),
      Instance("web-3", "web", 3, model::InstanceState::kStarting),
      stopping,
      Instance("web-5", "web", 5),
      Instance("gone-1", "gone", 6)};
  auto table = RoutingTable::Build(s);
  const Route* r = table->Find("web.com", "/");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->endpoints.size(), 2u);
  EXPECT_EQ(r->endpoints[0].address, "127.0.0.1:1");
  EXPECT_EQ(r->endpoints[1].address, "127.0.0.1:5");
  EXPECT_EQ(table->Find("gone.com", "/"), nullptr);
}

// Verify that a domain two apps claim goes to the one whose name sorts first,
// and that endpoint states are shared through EdgeStates across tables.
TEST(RoutingTableTest, ConflictsAndSharedStates) {
  store::Snapshot s;
  s.apps = {App("zeta", {"x.com"}), App("alpha", {"x.com"})};
  s.instances = {Instance("alpha-1", "alpha", 1)};
  EdgeStates states;
  auto first = RoutingTable::Build(s, &states);
  EXPECT_EQ(first->Find("x.com", "/")->app, "alpha");
  EXPECT_EQ(first->size(), 1u);
  auto second = RoutingTable::Build(s, &states);
  EXPECT_EQ(first->Find("x.com", "/")->endpoints[0].state,
            second->Find("x.com", "/")->endpoints[0].state);
}

model::Instance WithTraffic(model::Instance i, model::Traffic traffic) {
  i.traffic = traffic;
  return i;
}

// Verify that endpoints come in groups (serve, canary, hold, each by id) with
// the app's canary weight, and that every endpoint address is known.
TEST(RoutingTableTest, EndpointsInTrafficGroups) {
  store::Snapshot s;
  s.apps = {App("web", {"web.com"})};
  s.apps[0].spec.update.canary_weight = 25;
  s.instances = {WithTraffic(Instance("web-h", "web", 1), model::Traffic::kHold),
                 WithTraffic(Instance("web-c", "web", 2), model::Traffic::kCanary),
                 Instance("web-b", "web", 3), Instance("web-a", "web", 4)};
  auto table = RoutingTable::Build(s);
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
  store::Snapshot s;
  s.apps = {App("web", {"web.com"})};
  s.instances = {Instance("blue-1", "web", 1), Instance("blue-2", "web", 2),
                 WithTraffic(Instance("green-1", "web", 3), model::Traffic::kHold),
                 WithTraffic(Instance("green-2", "web", 4), model::Traffic::kHold)};
  EdgeStates states;
  auto before = RoutingTable::Build(s, &states);
  for (model::Instance& i : s.instances) {
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
  s.instances.erase(s.instances.begin() + 2, s.instances.end());
  auto only_held = RoutingTable::Build(s, &states);
  const Route* h = only_held->Find("web.com", "/");
  EXPECT_EQ(h->serve + h->canary, 0);
  EXPECT_TRUE(h->endpoints[PickEndpoint(*h, 7, now)].instance_id.starts_with("blue"));
}

}  // namespace
}  // namespace skiff::edge
