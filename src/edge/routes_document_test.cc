#include "edge/routes_document.h"

#include <gtest/gtest.h>

#include "edge/routing_table.h"

namespace skiff::edge {
namespace {

store::Snapshot Cluster() {
  store::Snapshot s;
  model::App web;
  web.name = "web";
  web.spec.name = "web";
  web.spec.run.command = {"serve"};
  web.spec.domains = {"web.com", "web.com/api"};
  web.spec.edge.lb = model::LoadBalancer::kRoundRobin;
  model::App hidden = web;  // no domains: not in the document
  hidden.name = hidden.spec.name = "hidden";
  hidden.spec.domains.clear();
  s.apps = {web, hidden};
  for (auto [id, app, healthy] : {std::tuple{"web-2", "web", true},
                                  {"web-1", "web", true},
                                  {"web-3", "web", false},
                                  {"hidden-1", "hidden", true}}) {
    model::Instance i;
    i.id = id;
    i.app = app;
    i.state = model::InstanceState::kRunning;
    i.health = healthy ? model::Health::kHealthy : model::Health::kUnhealthy;
    i.address = std::string("127.0.0.1:") + (id[4] == '1' ? "1" : "2");
    s.instances.push_back(i);
  }
  return s;
}

// Verify that the document carries what routing needs, and that a table built
// from it routes like one built from the store.
TEST(RoutesDocumentTest, RoundTripsToTheSameRoutes) {
  const std::string doc = RoutesDocument(Cluster());
  auto snapshot = SnapshotFromRoutesDocument(doc);
  ASSERT_TRUE(snapshot) << snapshot.error().ToString();
  ASSERT_EQ(snapshot->apps.size(), 1u);
  EXPECT_EQ(snapshot->apps[0].spec.edge.lb, model::LoadBalancer::kRoundRobin);
  ASSERT_EQ(snapshot->instances.size(), 2u);      // the unhealthy and the hidden app's are left out
  EXPECT_EQ(snapshot->instances[0].id, "web-1");  // sorted
  auto table = RoutingTable::Build(*snapshot);
  const Route* api = table->Find("web.com", "/api/x");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->path_prefix, "/api");
  EXPECT_EQ(api->endpoints.size(), 2u);
  EXPECT_EQ(RoutesDocument(*snapshot), doc) << "a document survives the trip unchanged";
}

// Verify that the tag follows the content: equal for equal routes, different
// when an endpoint changes, and blind to what routing does not read.
TEST(RoutesDocumentTest, TagFollowsContent) {
  store::Snapshot s = Cluster();
  const std::string tag = RoutesTag(RoutesDocument(s));
  s.instances[0].restarts = 7;  // not part of routing
  s.instances[0].version = 99;
  EXPECT_EQ(RoutesTag(RoutesDocument(s)), tag);
  s.instances[0].health = model::Health::kUnhealthy;
  EXPECT_NE(RoutesTag(RoutesDocument(s)), tag);
}

// Verify that each instance's traffic group survives the trip (a missing
// field reads as serve) and that an unknown group is refused naming it.
TEST(RoutesDocumentTest, CarriesTrafficGroups) {
  store::Snapshot s = Cluster();
  s.instances[0].traffic = model::Traffic::kCanary;  // web-2
  const std::string doc = RoutesDocument(s);
  EXPECT_NE(doc.find(R"("traffic":"canary")"), std::string::npos);
  EXPECT_EQ(doc.find(R"("traffic":"serve")"), std::string::npos) << "the default is left out";
  auto snapshot = SnapshotFromRoutesDocument(doc);
  ASSERT_TRUE(snapshot) << snapshot.error().ToString();
  EXPECT_EQ(snapshot->instances[0].traffic, model::Traffic::kServe);   // web-1
  EXPECT_EQ(snapshot->instances[1].traffic, model::Traffic::kCanary);  // web-2
  const Route* r = RoutingTable::Build(*snapshot)->Find("web.com", "/");
  EXPECT_EQ(r->serve, 1);
  EXPECT_EQ(r->canary, 1);
  auto bad = SnapshotFromRoutesDocument(
      R"({"apps":[],"instances":[{"id":"a","app":"b","address":"c","traffic":"most"}]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "instances[0].traffic");
}

// Verify that malformed documents are refused naming what is wrong.
TEST(RoutesDocumentTest, RejectsMalformed) {
  EXPECT_EQ(SnapshotFromRoutesDocument("nope").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(SnapshotFromRoutesDocument(R"({"apps":[]})").error().field, "instances");
  EXPECT_EQ(SnapshotFromRoutesDocument(R"({"apps":[{"name":"x"}],"instances":[]})").error().field,
            "apps[0]");
  EXPECT_EQ(
      SnapshotFromRoutesDocument(R"({"apps":[],"instances":[{"id":"a","app":"b"}]})").error().field,
      "instances[0]");
}

}  // namespace
}  // namespace skiff::edge
