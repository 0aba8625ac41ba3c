#include "edge/routing_table.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace skiff::edge
