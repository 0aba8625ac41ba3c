// The edge against real upstream processes (the test app): failover when an
// instance dies mid-traffic, and the protections of spec.edge (rate limit,
// circuit breaker, body limit).

#include "edge/edge_proxy.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "e2e/subprocess.h"
#include "edge/routing_table.h"
#include "fakes/testing.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/upstream_pool.h"

namespace skiff::edge {
namespace {

using skiff::testing::FreePort;
using skiff::testing::PollUntil;
using skiff::testing::Subprocess;

class EdgeProxyTest : public ::testing::Test {
 protected:
  // Starts `instances` test apps behind an edge serving app "web" at web.test.
  void Start(int instances = 3, model::EdgePolicy policy = {}) {
    store::Snapshot snapshot;
    model::App app;
    app.name = "web";
    app.spec.name = "web";
    app.spec.domains = {"web.test"};
    app.spec.edge = policy;
    snapshot.apps.push_back(app);
    for (int i = 0; i < instances; ++i) {
      const int port = FreePort();
      apps_.push_back(std::make_unique<Subprocess>(
          std::vector<std::string>{SKIFF_TESTAPP_BIN, "--host", "127.0.0.1", "--port",
                                   std::to_string(port)},
          std::map<std::string, std::string>{{"SKIFF_INSTANCE", "web-" + std::to_string(i)}},
          dir_.File("app" + std::to_string(i) + ".log")));
      net::HttpClient probe("http://127.0.0.1:" + std::to_string(port));
      ASSERT_TRUE(PollUntil([&] {
        auto r = probe.Do("GET", "/health", {}, {}, std::chrono::seconds(1));
        return r && r->status == 200;
      }));
      model::Instance instance;
      instance.id = "web-" + std::to_string(i);
      instance.app = "web";
      instance.state = model::InstanceState::kRunning;
      instance.health = model::Health::kHealthy;
      instance.address = "127.0.0.1:" + std::to_string(port);
      addresses_.push_back(instance.address);
      snapshot.instances.push_back(instance);
    }
    proxy_.SetTable(RoutingTable::Build(snapshot));
    net::HttpServerOptions options;  // as skiff server sets up its edge
    options.max_body_bytes = static_cast<size_t>(model::kMaxEdgeBodyBytes);
    options.body_limit = [this](std::string_view host, std::string_view path) {
      return proxy_.BodyLimit(host, path);
    };
    server_ = std::make_unique<net::HttpServer>(
        io_,
        [this](const net::HttpRequest& r, net::ResponseWriter& w) { return proxy_.Handle(r, w); },
        options);
    ASSERT_TRUE(server_->Listen("127.0.0.1:0"));
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (server_) server_->Stop([this] { io_.stop(); });
    if (thread_.joinable()) thread_.join();
  }

  Result<net::HttpResponse> Get(const std::string& method = "GET", const std::string& path = "/",
                                const std::string& body = "") {
    return net::HttpClient("http://127.0.0.1:" + std::to_string(server_->port()))
        .Do(method, path, method == "POST" && body.empty() ? "x" : body, {{"Host", "web.test"}},
            std::chrono::seconds(5));
  }

  skiff::testing::TempDir dir_;
  boost::asio::io_context io_;
  net::UpstreamPool pool_{io_};
  EdgeProxy proxy_{&pool_, nullptr};
  std::vector<std::unique_ptr<Subprocess>> apps_;
  std::vector<std::string> addresses_;  // of the instances, in start order
  std::unique_ptr<net::HttpServer> server_;
  std::thread thread_;
};

// Verify that killing an instance mid-traffic fails no GET, although the
// routes still name it: connect failures are retried elsewhere and the dead
// instance is ejected.
TEST_F(EdgeProxyTest, KilledInstanceCostsGetsNothing) {
  Start();
  int failures = 0;
  for (int i = 0; i < 300; ++i) {
    if (i == 100) apps_[1]->Signal(SIGKILL);
    auto r = Get();
    if (!r || r->status != 200) {
      ++failures;
      ADD_FAILURE() << "request " << i << ": "
                    << (r ? std::to_string(r->status) + " " + r->body : r.error().ToString());
    }
  }
  EXPECT_EQ(failures, 0);
}

// Verify that a POST is never retried: with every instance gone, it fails with
// 502 after exactly one attempt (the others are not tried).
TEST_F(EdgeProxyTest, PostIsNeverRetried) {
  Start();
  for (auto& app : apps_) app->Signal(SIGKILL);
  for (auto& app : apps_) app->Wait();
  auto r = Get("POST");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  auto get = Get();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 502) << "no instance left to retry on";
}

// Verify that a client over the app's rate limit gets 429 with Retry-After,
// after its burst went through.
TEST_F(EdgeProxyTest, RateLimitAnswers429) {
  Start(1, {.rate_limit = model::RateLimit{.average = 1, .burst = 3}});
  for (int i = 0; i < 3; ++i) {
    auto r = Get();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "request " << i << " is within the burst";
  }
  auto refused = Get();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(refused->Header("Retry-After"), "1");
}

// Verify that the circuit breaker answers 503 while the app has max_in_flight
// requests in flight, and lets requests through again once they finished.
TEST_F(EdgeProxyTest, CircuitBreakerAnswers503) {
  Start(1, {.max_in_flight = 1});
  // The slow request may itself meet one of the probes below in the slot: it
  // tries until it got in.
  std::thread slow([this] {
    EXPECT_TRUE(PollUntil([&] {
      auto r = Get("GET", "/sleep?ms=1000");
      return r && r->status == 200;
    }));
  });
  // While the slow request holds the only slot, others are refused at once.
  EXPECT_TRUE(PollUntil([&] {
    auto r = Get();
    return r && r->status == 503;
  }));
  slow.join();
  auto after = Get();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

// Verify that a body over the app's edge.max_body is refused with 413 before
// it reaches an instance, and one within it goes through.
TEST_F(EdgeProxyTest, BodyLimitAnswers413) {
  Start(1, {.max_body = 1024});
  auto big = Get("POST", "/", std::string(2048, 'x'));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  auto small = Get("POST", "/", std::string(512, 'x'));
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
}

// Verify what the instance is told: X-Forwarded-For keeps earlier proxies in
// order and adds the client, no Expect or hop-by-hop header passes, and a HEAD
// answer keeps the length the GET would have.
TEST_F(EdgeProxyTest, ForwardsHeadersFaithfully) {
  Start(1);
  net::HttpClient client("http://127.0.0.1:" + std::to_string(server_->port()));
  auto seen = client.Do("GET", "/headers", {},
                        {{"Host", "web.test"},
                         {"X-Forwarded-For", "10.0.0.1"},
                         {"X-Forwarded-For", "10.0.0.2"},
                         {"Expect", "100-continue"},
                         {"Connection", "close, X-Secret"},
                         {"X-Secret", "hop"}},
                        std::chrono::seconds(5));
  ASSERT_TRUE(seen);
  ASSERT_EQ(seen->status, 200);
  EXPECT_NE(seen->body.find("X-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.1\r\n"),
            std::string::npos)
      << seen->body;
  EXPECT_EQ(seen->body.find("Expect:"), std::string::npos) << seen->body;
  EXPECT_EQ(seen->body.find("X-Secret"), std::string::npos) << seen->body;

  auto get = client.Do("GET", "/", {}, {{"Host", "web.test"}}, std::chrono::seconds(5));
  auto head = client.Do("HEAD", "/", {}, {{"Host", "web.test"}}, std::chrono::seconds(5));
  ASSERT_TRUE(get && head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("Content-Length"), std::to_string(get->body.size()));
  EXPECT_TRUE(head->body.empty());
}

// Verify that a streamed response (server-sent events) reaches the client as
// it comes: the instance sends its last piece only once told to, after the
// client saw the first — an edge that buffered answers would never deliver it.
TEST_F(EdgeProxyTest, StreamsResponsesAsTheyCome) {
  Start(1);
  std::string received;
  bool released = false;
  net::HttpClient edge("http://127.0.0.1:" + std::to_string(server_->port()));
  auto status = edge.Stream(
      "GET", "/stream", {{"Host", "web.test"}},
      [&](std::string_view chunk) {
        received += chunk;
        if (!released && received.find("first\n") != std::string::npos) {
          released = true;
          auto r = net::HttpClient("http://" + addresses_[0])
                       .Do("GET", "/release", {}, {}, std::chrono::seconds(5));
          EXPECT_TRUE(r && r->status == 200);
        }
        return true;
      },
      std::chrono::seconds(10));
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(*status, 200);
  EXPECT_TRUE(released);
  EXPECT_EQ(received, "first\nlast\n");
}

// Verify that a large sized response (relayed as it comes, not held whole)
// arrives complete, and that a small one is still answered with its length.
TEST_F(EdgeProxyTest, RelaysLargeResponsesWhole) {
  Start(1);
  auto big = Get("GET", "/big?kb=3072");
  ASSERT_TRUE(big) << big.error().ToString();
  EXPECT_EQ(big->status, 200);
  EXPECT_EQ(big->body.size(), 3072u * 1024);
  EXPECT_EQ(big->body.find_first_not_of('x'), std::string::npos);
  auto small = Get("GET", "/big?kb=1");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->Header("Content-Length"), "1024");
}

}  // namespace
}  // namespace skiff::edge
