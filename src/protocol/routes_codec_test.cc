#include "protocol/routes_codec.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>

namespace skiff::protocol {
namespace {

namespace json = boost::json;

// Two apps, listed and with instances out of order, using every field.
RouteSet Sample() {
  AppRoutes web;
  web.name = "web";
  web.domains = {{"web.com", ""}, {"web.com", "/api"}};
  web.canary_weight = 25;
  web.edge.lb = model::LoadBalancer::kRoundRobin;
  web.edge.rate_limit = model::RateLimit{10, 20};
  web.edge.drain_timeout = std::chrono::seconds(3);
  web.instances = {{"web-2", "127.0.0.1:2", model::Traffic::kCanary},
                   {"web-1", "127.0.0.1:1", model::Traffic::kServe},
                   {"web-3", "127.0.0.1:3", model::Traffic::kHold}};
  AppRoutes api;
  api.name = "api";
  api.domains = {{"api.com", ""}};
  api.sleeping = true;
  RouteSet set{7, {web, api}};
  set.certificates = {{{"web.com", "*.web.com"}, "WEB-CERT", "WEB-KEY"},
                      {{"api.com"}, "API-CERT", "API-KEY"}};
  set.challenges = {{"tok2", "tok2.thumb"}, {"tok1", "tok1.thumb"}};
  return set;
}

// The same set in canonical order, as a reader gives it back (no revision).
RouteSet Canonical() {
  RouteSet s = Sample();
  s.revision = 0;
  std::swap(s.apps[0], s.apps[1]);
  std::vector<RouteInstance>& i = s.apps[1].instances;
  std::swap(i[0], i[1]);
  std::swap(s.certificates[0], s.certificates[1]);
  std::swap(s.challenges[0], s.challenges[1]);
  return s;
}

// Verify that a route set survives the trip through its document, that the
// document is canonical (apps by name, instances by id, defaults left out)
// and survives a second trip byte for byte.
TEST(RoutesCodecTest, RoundTrips) {
  const std::string doc = RoutesDocument(Sample());
  auto back = ParseRoutesDocument(doc);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, Canonical());
  EXPECT_EQ(RoutesDocument(*back), doc);
  EXPECT_LT(doc.find(R"("name":"api")"), doc.find(R"("name":"web")"));
  EXPECT_NE(doc.find(R"("traffic":"canary")"), std::string::npos);
  EXPECT_EQ(doc.find(R"("traffic":"serve")"), std::string::npos) << "the default is left out";
  EXPECT_NE(doc.find(R"({"host":"web.com"})"), std::string::npos) << "no path: none written";
  EXPECT_EQ(doc.find("revision"), std::string::npos);
  EXPECT_EQ(doc.find(R"("sleeping")"), doc.rfind(R"("sleeping")")) << "awake: none written";
  EXPECT_EQ(RoutesDocument(RouteSet{}), R"({"apps":[]})")
      << "no certificates or challenges: left out";
}

// Verify that the tag follows the content: equal for equal routes in any
// order or revision, different when an instance changes.
TEST(RoutesCodecTest, TagFollowsContent) {
  const std::string tag = RoutesTag(RoutesDocument(Sample()));
  RouteSet reordered = Canonical();
  reordered.revision = 99;
  EXPECT_EQ(RoutesTag(RoutesDocument(reordered)), tag);
  RouteSet changed = Sample();
  changed.apps[0].instances[0].address = "127.0.0.1:9";
  EXPECT_NE(RoutesTag(RoutesDocument(changed)), tag);
  changed = Sample();
  changed.apps[0].instances[0].traffic = model::Traffic::kServe;
  EXPECT_NE(RoutesTag(RoutesDocument(changed)), tag);
}

// Verify that an app of a document from before scale to zero (no
// "sleeping") reads as awake, and one marked sleeping as asleep.
TEST(RoutesCodecTest, SleepingDefaultsToAwake) {
  auto old = ParseRoutesDocument(R"({"apps":[{"name":"a","domains":[{"host":"a.com"}]}]})");
  ASSERT_TRUE(old) << old.error().ToString();
  EXPECT_FALSE(old->apps.at(0).sleeping);
  auto asleep = ParseRoutesDocument(R"({"apps":[{"name":"a","sleeping":true}]})");
  ASSERT_TRUE(asleep) << asleep.error().ToString();
  EXPECT_TRUE(asleep->apps.at(0).sleeping);
}

// Verify that fields a newer server adds, at every level of the document
// (the top, an app, a domain, an instance, the edge policy), are ignored: an
// edge one version behind its server reads the routes it knows.
TEST(RoutesCodecTest, UnknownFieldsIgnored) {
  struct Case {
    std::string name;
    std::function<void(json::object&)> add;
  } cases[] = {
      {"top", [](json::object& d) { d["regions"] = json::array{"fra"}; }},
      {"app",
       [](json::object& d) { d["apps"].as_array()[1].as_object()["sticky"] = json::object{}; }},
      {"domain",
       [](json::object& d) {
         d["apps"].as_array()[1].as_object()["domains"].as_array()[0].as_object()["tls"] = true;
       }},
      {"instance",
       [](json::object& d) {
         d["apps"].as_array()[1].as_object()["instances"].as_array()[2].as_object()["zone"] = "a";
       }},
      {"edge policy",
       [](json::object& d) {
         json::object& edge = d["apps"].as_array()[1].as_object()["edge"].as_object();
         edge["retry_budget"] = 0.2;
         edge["timeouts"].as_object()["idle"] = "5s";
       }},
  };
  for (const Case& c : cases) {
    json::value doc = ToJson(Sample());
    c.add(doc.as_object());
    auto back = ParseRoutesDocument(json::serialize(doc));
    ASSERT_TRUE(back) << c.name << ": " << back.error().ToString();
    EXPECT_EQ(*back, Canonical()) << c.name;
  }
}

// Verify that a document that is not one, or a known field of the wrong type
// or value, is refused with kInvalidArgument naming the field by its path.
TEST(RoutesCodecTest, RejectsMalformedNamingTheField) {
  struct Case {
    std::string text;
    std::string field;
  } cases[] = {
      {"nope", ""},
      {"[]", ""},
      {"{}", "apps"},
      {R"({"apps":{}})", "apps"},
      {R"({"apps":[3]})", "apps[0]"},
      {R"({"apps":[{"domains":[]}]})", "apps[0].name"},
      {R"({"apps":[{"name":7}]})", "apps[0].name"},
      {R"({"apps":[{"name":"a","domains":"a.com"}]})", "apps[0].domains"},
      {R"({"apps":[{"name":"a","domains":[{"path":"/x"}]}]})", "apps[0].domains[0].host"},
      {R"({"apps":[{"name":"a","domains":[{"host":"a.com","path":"x"}]}]})",
       "apps[0].domains[0].path"},
      {R"({"apps":[{"name":"a","canary_weight":"ten"}]})", "apps[0].canary_weight"},
      {R"({"apps":[{"name":"a","sleeping":"yes"}]})", "apps[0].sleeping"},
      {R"({"apps":[{"name":"a","edge":{"max_in_flight":"many"}}]})", "apps[0].edge.max_in_flight"},
      {R"({"apps":[{"name":"a","edge":{"lb":"fastest"}}]})", "apps[0].edge.lb"},
      {R"({"apps":[{"name":"a","edge":[]}]})", "apps[0].edge"},
      {R"({"apps":[{"name":"a","instances":[{"id":"a-1"}]}]})", "apps[0].instances[0].address"},
      {R"({"apps":[{"name":"a","instances":[{"id":1,"address":"h:1"}]}]})",
       "apps[0].instances[0].id"},
      {R"({"apps":[{"name":"a","instances":[{"id":"a-1","address":"h:1","traffic":"most"}]}]})",
       "apps[0].instances[0].traffic"},
      {R"({"apps":[],"certificates":{}})", "certificates"},
      {R"({"apps":[],"certificates":[{"cert":"c","key":"k"}]})", "certificates[0].domains"},
      {R"({"apps":[],"certificates":[{"domains":[""],"cert":"c","key":"k"}]})",
       "certificates[0].domains[0]"},
      {R"({"apps":[],"certificates":[{"domains":["a.com"],"key":"k"}]})", "certificates[0].cert"},
      {R"({"apps":[],"certificates":[{"domains":["a.com"],"cert":"c"}]})", "certificates[0].key"},
      {R"({"apps":[],"challenges":[{"token":"t"}]})", "challenges[0].key_authorization"},
  };
  for (const Case& c : cases) {
    auto routes = ParseRoutesDocument(c.text);
    ASSERT_FALSE(routes) << c.text;
    EXPECT_EQ(routes.error().code, ErrorCode::kInvalidArgument) << c.text;
    EXPECT_EQ(routes.error().field, c.field) << c.text << ": " << routes.error().message;
  }
}

}  // namespace
}  // namespace skiff::protocol
