#include "api/router.h"

#include <gtest/gtest.h>

#include "api/auth.h"

namespace skiff::api {
namespace {

Handler Noop() {
  return [](const net::HttpRequest&, const PathParams&, const auth::Identity&,
            net::ResponseWriter&) -> asio::awaitable<void> { co_return; };
}

// Verify that placeholders capture one segment and literals must match exactly.
TEST(RouterTest, MatchesPatterns) {
  Router r;
  r.Add("GET", "/v1/apps", Permission::kAppsRead, Noop());
  r.Add("GET", "/v1/apps/{name}", Permission::kAppsRead, Noop());
  r.Add("POST", "/v1/apps/{name}/scale", Permission::kAppsRead, Noop());
  Router::Match m = r.Find("GET", "/v1/apps/hello");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/v1/apps/{name}");
  EXPECT_EQ(m.params.at("name"), "hello");
  m = r.Find("POST", "/v1/apps/hello/scale");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("name"), "hello");
  EXPECT_NE(r.Find("GET", "/v1/apps/").route, nullptr);  // trailing slash tolerated
  EXPECT_EQ(r.Find("GET", "/v1/apps/hello/scale/x").route, nullptr);
  EXPECT_EQ(r.Find("GET", "/v2/apps").route, nullptr);
}

// Verify that a path known under other methods reports them, for a 405 with Allow.
TEST(RouterTest, ReportsAllowedMethods) {
  Router r;
  r.Add("GET", "/v1/apps/{name}", Permission::kAppsRead, Noop());
  r.Add("PUT", "/v1/apps/{name}", Permission::kAppsRead, Noop());
  Router::Match m = r.Find("POST", "/v1/apps/x");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allowed, "GET, PUT");
  EXPECT_TRUE(r.Find("POST", "/nowhere").allowed.empty());
}

// Verify that SplitPath drops empty segments.
TEST(RouterTest, SplitPath) {
  EXPECT_EQ(SplitPath("/a//b/"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(SplitPath("/").empty());
}

// Verify that only a Bearer header for a known token is accepted.
TEST(AuthTest, TokenAuthenticator) {
  TokenAuthenticator auth({"abc"});
  net::HttpRequest r;
  EXPECT_EQ(auth.Identify(r).error().code, ErrorCode::kUnauthenticated);
  r.headers = {{"Authorization", "Basic abc"}};
  EXPECT_EQ(auth.Identify(r).error().code, ErrorCode::kUnauthenticated);
  r.headers = {{"Authorization", "Bearer abd"}};
  EXPECT_EQ(auth.Identify(r).error().code, ErrorCode::kUnauthenticated);
  r.headers = {{"Authorization", "Bearer abc"}};
  ASSERT_TRUE(auth.Identify(r));
  EXPECT_TRUE(auth.Identify(r)->admin());
  TokenAuthenticator none({});
  EXPECT_FALSE(none.Identify(r));
  EXPECT_EQ(BearerToken(r), "abc");
}

}  // namespace
}  // namespace skiff::api
