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
  protocol::AppRoutes sleepy = empty;
  sleepy.name = "sleepy";
  sleepy.domains = {{"sleepy.com", ""}};
  sleepy.sleeping = true;
  sleepy.edge.rate_limit = model::RateLimit{1, 1};
  protocol::AppRoutes woken = web;  // an instance came between two tables
  woken.name = "woken";
  woken.domains = {{"woken.com", ""}};
  woken.sleeping = true;
  const auto table =
      RoutingTable::Build(protocol::RouteSet{.apps = {web, limited, empty, sleepy, woken}});

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
    bool hold = false;
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
      {"sleeping: held", "sleepy.com", "/", std::nullopt, true, true, "sleepy", 0, false, true},
      {"sleeping, body streaming: held", "sleepy.com", "/", 50, false, true, "sleepy", 0, false,
       true},
      {"sleeping, over the rate: refused, not held", "sleepy.com", "/", std::nullopt, true, false,
       "sleepy", 429, false},
      {"sleeping, body over the limit", "sleepy.com", "/", 101, true, true, "sleepy", 413, true},
      {"marked sleeping with an instance: sent", "woken.com", "/", std::nullopt, true, true,
       "woken", 0, false},
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
    EXPECT_EQ(got.hold, c.hold) << c.name;
    if (got.refusal) {
      EXPECT_EQ(got.refusal->close, c.close) << c.name;
      if (c.status == 429) {
        EXPECT_EQ(got.refusal->retry_after, 7) << c.name;
      }
    }
    EXPECT_EQ(asked, c.app == "limited" || c.app == "sleepy" ? 1 : 0) << c.name;
  }
}

// Verify the answers to requests a sleeping app cannot hold: 503 with a
// Retry-After of a few seconds, one line naming the app, the connection kept
// only when the request's body is at hand.
TEST(AdmissionTest, WakeRefusals) {
  Route route;
  route.app = "web";
  route.policy.wake_queue = 7;
  const Refusal full = WakeQueueFull(route, true);
  EXPECT_EQ(full.status, 503);
  EXPECT_EQ(full.retry_after, kWakeRetryAfterSeconds);
  EXPECT_FALSE(full.close);
  EXPECT_EQ(full.message,
            "app web is waking up and 7 requests wait for it already (edge.wake_queue); try again");
  const Refusal late = WakeTimedOut(route, false);
  EXPECT_EQ(late.status, 503);
  EXPECT_EQ(late.retry_after, kWakeRetryAfterSeconds);
  EXPECT_TRUE(late.close);
  EXPECT_EQ(late.message, "app web is waking up; try again");
}

}  // namespace
}  // namespace skiff::edge
