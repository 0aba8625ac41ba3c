// EdgeProxy::Routes: what the edge tells a drain, without any network.
#include <gtest/gtest.h>

#include "edge/edge_proxy.h"

namespace skiff::edge {
namespace {

protocol::RouteSet Cluster(int64_t revision, std::vector<std::string> ids) {
  protocol::AppRoutes app;
  app.name = "web";
  app.domains = {{"web.com", ""}};
  int port = 1;
  for (const std::string& id : ids) {
    app.instances.push_back({id, "127.0.0.1:" + std::to_string(port++)});
  }
  return {revision, {app}};
}

std::shared_ptr<EndpointState> StateOf(const RoutingTable& table, const std::string& id) {
  for (const Endpoint& e : table.Find("web.com", "/")->endpoints) {
    if (e.instance_id == id) return e.state;
  }
  return nullptr;
}

// Verify that an instance that left the table is reported with the requests
// still in flight to it, that it is no longer reported once they end or once
// it is routed again, and that the revision is the current table's.
TEST(EdgeProxyRoutesTest, ReportsRequestsToInstancesThatLeft) {
  EdgeProxy proxy;
  EdgeStates states;
  auto first = RoutingTable::Build(Cluster(5, {"web-1", "web-2"}), &states);
  proxy.SetTable(first);
  EXPECT_EQ(proxy.Routes().revision, 5);
  EXPECT_TRUE(proxy.Routes().leaving.empty());

  // A request to web-1 began on the first table (and holds it), then web-1 left.
  std::shared_ptr<EndpointState> web1 = StateOf(*first, "web-1");
  web1->Open();
  web1->Open();
  StateOf(*first, "web-2")->Open();  // still routed: not reported
  proxy.SetTable(RoutingTable::Build(Cluster(7, {"web-2"}), &states));
  metrics::EdgeRoutes routes = proxy.Routes();
  EXPECT_EQ(routes.revision, 7);
  EXPECT_EQ(routes.leaving, (std::map<std::string, int64_t>{{"web-1", 2}}));
  // A later table without it keeps counting it.
  proxy.SetTable(RoutingTable::Build(Cluster(8, {"web-2"}), &states));
  EXPECT_EQ(proxy.Routes().leaving.at("web-1"), 2);

  web1->Close();
  EXPECT_EQ(proxy.Routes().leaving.at("web-1"), 1);
  web1->Close();
  EXPECT_TRUE(proxy.Routes().leaving.empty());

  // Back in the routes: not leaving, whatever is in flight.
  web1->Open();
  proxy.SetTable(RoutingTable::Build(Cluster(9, {"web-1", "web-2"}), &states));
  EXPECT_TRUE(proxy.Routes().leaving.empty());
  web1->Close();
}

}  // namespace
}  // namespace skiff::edge
