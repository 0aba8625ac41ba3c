// End-to-end through the all-in-one server's edge router: apps answer at their
// domains by Host header, routes follow changes without a restart.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/docker_support.h"
#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"
#include "fakes/io_engines.h"
#include "net/http_client.h"

namespace skiff::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string EdgeAppSpec(const std::string& name, int replicas, const std::string& domains) {
  return TestAppSpec(name, replicas, domains);
}

// What `promtool check metrics` (Debian's prometheus package; scripts/setup.sh
// installs it) says of an exposition: "" when it passes, else its complaints.
std::string PromtoolComplaints(const TempDir& dir, const std::string& name,
                               const std::string& exposition) {
  const std::string path = dir.File(name + ".prom");
  std::ofstream(path) << exposition;
  CommandResult r = RunCommand({"/bin/sh", "-c", "promtool check metrics < '" + path + "'"}, {});
  if (r.exit_code == 0) return "";
  return "exit " + std::to_string(r.exit_code) + ": " + r.output;
}

// The families of an exposition (its # TYPE lines) that have no sample.
std::vector<std::string> FamiliesWithoutSamples(const std::string& exposition) {
  std::vector<std::string> empty;
  std::istringstream lines(exposition);
  std::string line;
  std::string family;
  bool sampled = true;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      if (!sampled) empty.push_back(family);
      family = line.substr(7, line.find(' ', 7) - 7);
      sampled = false;
    } else if (!line.empty() && line[0] != '#' && line.rfind(family, 0) == 0) {
      sampled = true;
    }
  }
  if (!sampled) empty.push_back(family);
  return empty;
}

class EdgeE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }

  void Apply(const std::string& name, const std::string& spec, bool detach = false) {
    std::vector<std::string> args = {"apply", "-f", server_.WriteFile(name + ".yaml", spec)};
    if (detach) args.insert(args.begin() + 1, "--detach");
    CommandResult r = server_.Skiff(args);
    ASSERT_EQ(r.exit_code, 0) << r.output << "\nserver:\n" << server_.Output();
  }

  // A request to the edge with this Host header.
  Result<net::HttpResponse> Edge(const std::string& host, const std::string& path = "/",
                                 net::HttpHeaders headers = {}) {
    headers.emplace_back("Host", host);
    return net::HttpClient("http://" + server_.edge_addr())
        .Do("GET", path, {}, headers, std::chrono::seconds(5));
  }

  // A standalone `skiff edge` named edge-a serving at `listen`, its /metrics at
  // `metrics`, reporting its traffic to the server every 200 ms.
  // It routes with an edge token (`skiff edges token`), not the admin's.
  std::unique_ptr<Subprocess> ReportingEdge(const TempDir& dir, const std::string& listen,
                                            const std::string& metrics,
                                            edge::IoEngine engine = edge::IoEngine::kEpoll) {
    auto made = server_.Api("POST", "/v1/tokens", R"({"name":"edge-a","role":"edge"})");
    EXPECT_TRUE(made && made->status == 201) << (made ? made->body : made.error().ToString());
    const std::string token =
        made ? std::string(boost::json::parse(made->body).at("token").as_string()) : "";
    return std::make_unique<Subprocess>(
        std::vector<std::string>{SKIFF_BIN, "edge", "--server", "http://" + server_.addr(),
                                 "--listen", listen, "--data", dir.File("edge"), "--metrics-listen",
                                 metrics, "--name", "edge-a", "--report-interval", "200ms",
                                 "--io-engine", std::string(edge::IoEngineName(engine))},
        std::map<std::string, std::string>{{"SKIFF_TOKEN", token}}, dir.File("edge.log"));
  }

  SkiffServer server_;
};

// The standalone edge's tests run on each I/O engine (`skiff edge --io-engine`).
class StandaloneEdgeE2eTest : public EdgeE2eTest,
                              public ::testing::WithParamInterface<edge::IoEngine> {
 protected:
  void SetUp() override {
    SKIFF_REQUIRE_IO_ENGINE(GetParam());
    EdgeE2eTest::SetUp();
  }
  std::string Engine() const { return std::string(edge::IoEngineName(GetParam())); }
};

// Verify that an app answers through the edge at its domain (any case, with a
// port), spread over its instances, with the forwarding headers set; and that
// an unknown host gets 404.
TEST_F(EdgeE2eTest, ServesAppsAtTheirDomains) {
  Apply("web", EdgeAppSpec("web", 2, "[web.example.test]"));
  std::set<std::string> answered_by;
  for (int i = 0; i < 40; ++i) {
    auto r = Edge(i % 2 ? "WEB.example.test:8080" : "web.example.test");
    ASSERT_TRUE(r) << r.error().ToString();
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_THAT(r->body, StartsWith("hello from web-"));
    answered_by.insert(r->body);
    EXPECT_FALSE(r->Header("X-Request-Id").empty());
  }
  EXPECT_EQ(answered_by.size(), 2u) << "both instances take traffic";

  auto seen = Edge("web.example.test", "/headers", {{"X-Request-Id", "abc-123"}});
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->status, 200);
  EXPECT_THAT(seen->body, HasSubstr("X-Forwarded-For: 127.0.0.1\r\n"));
  EXPECT_THAT(seen->body, HasSubstr("X-Forwarded-Host: web.example.test\r\n"));
  EXPECT_THAT(seen->body, HasSubstr("X-Forwarded-Proto: http\r\n"));
  EXPECT_THAT(seen->body, HasSubstr("X-Request-Id: abc-123\r\n"));  // kept, not replaced
  EXPECT_EQ(seen->Header("X-Request-Id"), "abc-123");

  auto unknown = Edge("nobody.example.test");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr("nobody.example.test"));
}

// Verify that a new domain goes live without a restart, and that an app scaled
// to zero answers 503 with Retry-After.
TEST_F(EdgeE2eTest, RoutesFollowChanges) {
  Apply("api", EdgeAppSpec("api", 1, "[api.example.test]"));
  auto before = Edge("new.example.test");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 404);

  Apply("api", EdgeAppSpec("api", 1, "[api.example.test, new.example.test]"));
  ASSERT_TRUE(PollUntil([&] {
    auto r = Edge("new.example.test");
    return r && r->status == 200;
  }));

  CommandResult scale = server_.Skiff({"scale", "api", "0"});
  ASSERT_EQ(scale.exit_code, 0) << scale.output;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = Edge("api.example.test");
        return r && r->status == 503;
      },
      seconds(20)));
  auto r = Edge("api.example.test");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->Header("Retry-After"), "1");
}

// Verify that path-prefix domains route to the app with the longest matching
// prefix, on whole path segments.
TEST_F(EdgeE2eTest, LongestPathPrefixWins) {
  Apply("site", EdgeAppSpec("site", 1, "[shop.example.test]"));
  Apply("cart", EdgeAppSpec("cart", 1, "[shop.example.test/cart]"));
  // The test app answers an unknown path with 404 "not found (<app>)".
  auto Who = [&](const std::string& path) {
    auto r = Edge("shop.example.test", path);
    return r ? r->body : std::string();
  };
  EXPECT_THAT(Who("/"), HasSubstr("hello from site-"));
  EXPECT_THAT(Who("/cart"), HasSubstr("(cart)"));
  EXPECT_THAT(Who("/cart/items"), HasSubstr("(cart)"));
  EXPECT_THAT(Who("/cartography"), HasSubstr("(site)"));
  auto metrics = server_.Api("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("skiff_edge_requests_total{app=\"cart\",code=\"4xx\"} 2"));
}

// Verify that a standalone `skiff edge` serves with routes from the server,
// follows a change, keeps serving when the server is killed, and starts while
// the server is down from the routes it kept on disk.
TEST_P(StandaloneEdgeE2eTest, ServesThroughOutages) {
  Apply("far", EdgeAppSpec("far", 1, "[far.example.test]"));
  TempDir dir;
  const std::string listen = "127.0.0.1:" + std::to_string(FreePort());
  auto start_edge = [&] {
    return std::make_unique<Subprocess>(
        std::vector<std::string>{SKIFF_BIN, "edge", "--server", "http://" + server_.addr(),
                                 "--listen", listen, "--data", dir.File("edge"), "--io-engine",
                                 Engine()},
        std::map<std::string, std::string>{{"SKIFF_TOKEN", server_.token()}}, dir.File("edge.log"));
  };
  auto get = [&](const std::string& host) {
    auto r = net::HttpClient("http://" + listen)
                 .Do("GET", "/", {}, {{"Host", host}}, std::chrono::seconds(2));
    return r ? r->status : 0;
  };
  auto edge = start_edge();
  ASSERT_TRUE(PollUntil([&] { return get("far.example.test") == 200; }, seconds(20)))
      << edge->Output();

  Apply("far", EdgeAppSpec("far", 1, "[far.example.test, near.example.test]"));
  ASSERT_TRUE(PollUntil([&] { return get("near.example.test") == 200; })) << edge->Output();

  server_.Kill();  // the control plane is gone; the app's instance still runs
  for (int i = 0; i < 10; ++i) EXPECT_EQ(get("far.example.test"), 200);

  edge->Signal(SIGKILL);
  edge->Wait();
  edge = start_edge();  // the server is still down: routes come from disk
  ASSERT_TRUE(PollUntil([&] { return get("near.example.test") == 200; }, seconds(20)))
      << edge->Output();
  EXPECT_THAT(edge->Output(), HasSubstr("serving 2 routes from"));
}

// Verify that a standalone edge serves its own /metrics and reports its
// per-app traffic to the server, where GET /v1/traffic shows the rate.
TEST_P(StandaloneEdgeE2eTest, ReportsTraffic) {
  Apply("far", EdgeAppSpec("far", 1, "[far.example.test]"));
  TempDir dir;
  const std::string listen = "127.0.0.1:" + std::to_string(FreePort());
  const std::string metrics = "127.0.0.1:" + std::to_string(FreePort());
  std::unique_ptr<Subprocess> edge = ReportingEdge(dir, listen, metrics, GetParam());
  net::HttpClient client("http://" + listen);
  auto ok = [&] {
    auto r = client.Do("GET", "/", {}, {{"Host", "far.example.test"}}, std::chrono::seconds(2));
    return r && r->status == 200;
  };
  ASSERT_TRUE(PollUntil(ok, seconds(20))) << edge->Output();
  net::HttpClient api("http://" + server_.addr());
  const net::HttpHeaders auth = {{"Authorization", "Bearer " + server_.token()}};
  std::string traffic;
  // Requests keep coming while the server gathers two reports of them.
  ASSERT_TRUE(PollUntil(
      [&] {
        for (int i = 0; i < 20; ++i) EXPECT_TRUE(ok());
        auto r = api.Do("GET", "/v1/traffic", {}, auth, std::chrono::seconds(2));
        traffic = r ? r->body : "";
        return traffic.find("\"edge-a\"") != std::string::npos &&
               traffic.find("\"far\":{\"requests_per_second\":0,") == std::string::npos &&
               traffic.find("\"far\"") != std::string::npos;
      },
      seconds(20)))
      << traffic << "\n"
      << edge->Output();
  EXPECT_THAT(traffic, HasSubstr("\"latency_ms\""));
  auto scraped = net::HttpClient("http://" + metrics).Do("GET", "/metrics");
  ASSERT_TRUE(scraped);
  EXPECT_THAT(scraped->body, HasSubstr("skiff_edge_requests_total{app=\"far\",code=\"2xx\"}"));
  auto server_metrics = api.Do("GET", "/metrics", {}, auth);
  ASSERT_TRUE(server_metrics);
  EXPECT_THAT(server_metrics->body, HasSubstr("skiff_app_requests_per_second{app=\"far\"}"));
}

INSTANTIATE_TEST_SUITE_P(Engines, StandaloneEdgeE2eTest,
                         ::testing::ValuesIn(skiff::testing::EdgeIoEngines()),
                         [](const auto& info) { return skiff::testing::IoEngineTestName(info); });

// Verify that the server's /metrics and a standalone edge's pass `promtool check
// metrics` (well-formed, HELP and TYPE on every family, counters ending in
// _total, quantiles only in summaries) once traffic has flowed through both
// edges and the instance was sampled, with a sample in every family.
TEST_F(EdgeE2eTest, MetricsPassPromtool) {
  if (RunCommand({"/bin/sh", "-c", "command -v promtool"}, {}).exit_code != 0) {
    if (InCi()) FAIL() << "no promtool: scripts/setup.sh installs Debian's prometheus package";
    GTEST_SKIP() << "no promtool (Debian package prometheus)";
  }
  Apply("web", EdgeAppSpec("web", 1, "[web.example.test]"));
  TempDir dir;
  const std::string listen = "127.0.0.1:" + std::to_string(FreePort());
  const std::string metrics = "127.0.0.1:" + std::to_string(FreePort());
  std::unique_ptr<Subprocess> edge = ReportingEdge(dir, listen, metrics);
  net::HttpClient standalone("http://" + listen);
  auto through_both = [&] {
    auto far = standalone.Do("GET", "/", {}, {{"Host", "web.example.test"}}, seconds(2));
    auto near = Edge("web.example.test");
    return far && far->status == 200 && near && near->status == 200;
  };
  ASSERT_TRUE(PollUntil(through_both, seconds(20))) << edge->Output();
  // Unrouted requests, at both edges.
  auto unrouted = Edge("nobody.example.test");
  ASSERT_TRUE(unrouted);
  EXPECT_EQ(unrouted->status, 404);
  auto far_unrouted = standalone.Do("GET", "/", {}, {{"Host", "nobody.example.test"}}, seconds(2));
  ASSERT_TRUE(far_unrouted);
  EXPECT_EQ(far_unrouted->status, 404);
  // Requests keep coming until the server has the app's latency over an
  // interval (two reports of the standalone edge): the quantiles are numbers.
  std::string exposition;
  ASSERT_TRUE(PollUntil(
      [&] {
        for (int i = 0; i < 5; ++i) EXPECT_TRUE(through_both());
        auto r = server_.Api("GET", "/metrics");
        exposition = r ? r->body : "";
        // And the agent has sampled the app's instance (every 5 s).
        return exposition.find("skiff_instance_memory_working_set_bytes{app=\"web\"") !=
                   std::string::npos &&
               exposition.find(
                   "skiff_app_request_latency_seconds{app=\"web\",quantile=\"0.5\"} NaN") ==
                   std::string::npos &&
               exposition.find("skiff_app_request_latency_seconds{app=\"web\",quantile=\"0.5\"}") !=
                   std::string::npos;
      },
      seconds(20)))
      << exposition;
  EXPECT_EQ(PromtoolComplaints(dir, "server", exposition), "") << exposition;
  EXPECT_THAT(FamiliesWithoutSamples(exposition), ::testing::IsEmpty()) << exposition;

  auto scraped = net::HttpClient("http://" + metrics).Do("GET", "/metrics");
  ASSERT_TRUE(scraped);
  ASSERT_EQ(scraped->status, 200);
  EXPECT_EQ(PromtoolComplaints(dir, "edge", scraped->body), "") << scraped->body;
  EXPECT_THAT(FamiliesWithoutSamples(scraped->body), ::testing::IsEmpty()) << scraped->body;
}

}  // namespace
}  // namespace skiff::testing
