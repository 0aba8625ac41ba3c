#include "edge/admission.h"

#include <gtest/gtest.h>

namespace skiff::edge {
namespace {

// Verify each admission decision: the route, or the refusal with its status,
// whether the connection closes, and a 429's Retry-After.
TEST(AdmissionTest, RouteOrRefusal) {
  protocol::AppRoutes web;
  web.name = "web";
  web.domains = {{"web.com", ""}};
  web.instances = {{"web-1", "127.0.0.1:1"}};
  web.edge.max_body = 100;
  protocol::AppRoutes limited = web;
  limited.name = "limited";
  limited.domains = {{"limited.com", ""}};
  limited.edge.rate_limit = model::RateLimit{1, 1};
  protocol::AppRoutes empty = web;
  empty.name = "empty";
  empty.domains = {{"empty.com", ""}};
  empty.instances.clear();
  const auto table = RoutingTable::Build(protocol::RouteSet{.apps = {web, limited, empty}});

  struct Case {
    std::string name;
    std::string host;
    std::string path;
    std::optional<uint64_t> content_length;
    bool whole;
    bool rate_ok;
    std::string app;  // "" for no route
    int status;       // 0: admitted
    bool close;
  } cases[] = {
      {"routed", "web.com", "/x", std::nullopt, true, true, "web", 0, false},
      {"routed, any case and port", "WEB.com:8080", "/", 10, true, true, "web", 0, false},
      {"no app", "other.com", "/x", std::nullopt, true, true, "", 404, false},
      {"no app, body not at hand", "other.com", "/", 50, false, true, "", 404, true},
      {"body at the limit", "web.com", "/", 100, true, true, "web", 0, false},
      {"body over the limit", "web.com", "/", 101, true, true, "web", 413, true},
      {"within the rate", "limited.com", "/", std::nullopt, true, true, "limited", 0, false},
      {"over the rate", "limited.com", "/", std::nullopt, true, false, "limited", 429, false},
      {"over the rate, body streaming", "limited.com", "/", 50, false, false, "limited", 429, true},
      {"rate not asked without a limit", "web.com", "/", std::nullopt, true, false, "web", 0,
       false},
      {"no instance", "empty.com", "/", std::nullopt, true, true, "empty", 503, false},
  };
  for (const Case& c : cases) {
    http1::RequestHead head;
    head.method = "POST";
    head.host = c.host;
    head.path = c.path;
    head.content_length = c.content_length;
    int asked = 0;
    const Admission got =
        Admit(head, c.whole, *table, [&](const Route&, std::chrono::seconds* retry_after) {
          ++asked;
          *retry_after = std::chrono::seconds(7);
          return c.rate_ok;
        });
    EXPECT_EQ(got.route == nullptr ? "" : got.route->app, c.app) << c.name;
    EXPECT_EQ(got.refusal ? got.refusal->status : 0, c.status) << c.name;
    if (got.refusal) {
      EXPECT_EQ(got.refusal->close, c.close) << c.name;
      if (c.status == 429) {
        EXPECT_EQ(got.refusal->retry_after, 7) << c.name;
      }
    }
    EXPECT_EQ(asked, c.app == "limited" ? 1 : 0) << c.name;
  }
}

}  // namespace
}  // namespace skiff::edge
