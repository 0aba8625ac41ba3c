// Large bodies through the edge, both ways, compared byte for byte (patterned
// bodies: a lost, repeated or reordered chunk shows), on each I/O engine.

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "edge/edge_proxy.h"
#include "fakes/io_engines.h"
#include "fakes/scripted_upstream.h"
#include "net/http_client.h"

namespace skiff::edge {
namespace {

using skiff::testing::PatternedBytes;
using skiff::testing::ScriptedUpstream;

class EdgeProxyRelayTest : public ::testing::TestWithParam<IoEngine> {
 protected:
  void SetUp() override { SKIFF_REQUIRE_IO_ENGINE(GetParam()); }
  void TearDown() override {
    if (proxy_) proxy_->Stop();
  }
  // An edge serving app "web" at web.test from `upstream`.
  void Start(const ScriptedUpstream& upstream) {
    EdgeOptions options;
    options.io_engine = GetParam();
    proxy_.emplace(options);
    protocol::AppRoutes app;
    app.name = "web";
    app.domains = {{"web.test", ""}};
    app.instances = {{"web-1", upstream.address()}};
    proxy_->SetTable(RoutingTable::Build(protocol::RouteSet{.apps = {app}}));
    ASSERT_TRUE(proxy_->Listen("127.0.0.1:0"));
  }
  Result<net::HttpResponse> Do(const std::string& method, const std::string& body = "") {
    return net::HttpClient("http://127.0.0.1:" + std::to_string(proxy_->port()))
        .Do(method, "/", body, {{"Host", "web.test"}}, std::chrono::seconds(10));
  }

  std::optional<EdgeProxy> proxy_;
};

// Verify that a large answer (relayed as it comes) arrives exactly as sent.
TEST_P(EdgeProxyRelayTest, LargeAnswerArrivesExactly) {
  const std::string body = PatternedBytes(3 << 20);
  ScriptedUpstream upstream(
      [&](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok(body); });
  Start(upstream);
  auto r = Do("GET");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), body.size());
  EXPECT_TRUE(r->body == body) << "the body arrived altered";
}

// Verify that a large request body (streamed, not held) reaches the instance
// exactly as sent.
TEST_P(EdgeProxyRelayTest, LargeRequestBodyArrivesExactly) {
  const std::string body = PatternedBytes(5 << 20);
  ScriptedUpstream upstream(
      [](const ScriptedUpstream::Request&) { return ScriptedUpstream::Ok("ok"); });
  Start(upstream);
  auto r = Do("POST", body);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200) << r->body;
  const std::vector<ScriptedUpstream::Request> seen = upstream.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].body.size(), body.size());
  EXPECT_TRUE(seen[0].body == body) << "the body arrived altered";
}

INSTANTIATE_TEST_SUITE_P(Engines, EdgeProxyRelayTest,
                         ::testing::ValuesIn(skiff::testing::EdgeIoEngines()),
                         [](const auto& info) { return skiff::testing::IoEngineTestName(info); });

}  // namespace
}  // namespace skiff::edge
