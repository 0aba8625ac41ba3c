// Scale to zero at the edge through real sockets: requests for an app that
// sleeps are held, the edge asks for a wake, and the held requests go to the
// first instance a new routing table brings, each once; the queue's and the
// wait's limits answer 503 with Retry-After; a client that leaves is dropped.
// The held requests and the refusals show in the edge's metrics.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edge/edge_proxy.h"
#include "fakes/io_engines.h"
#include "fakes/scripted_upstream.h"
#include "fakes/testing.h"
#include "metrics/registry.h"

namespace skiff::edge {
namespace {

using testing::PollUntil;
using testing::ScriptedUpstream;

using testing::RecvUntil;

// A client connection to the edge that has sent `request`.
int WakeSend(const EdgeProxy& proxy, std::string_view request) {
  const int client = testing::ConnectLoopback(proxy.port());
  EXPECT_GE(client, 0);
  EXPECT_EQ(send(client, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  return client;
}

std::string WakeGet(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: web.test\r\n\r\n";
}

// App "web" asleep (no instance, sleeping), or awake at `address`.
protocol::RouteSet WakeRoutes(int64_t revision, const std::string& address,
                              const model::EdgePolicy& policy) {
  protocol::AppRoutes app;
  app.name = "web";
  app.domains = {{"web.test", ""}};
  app.edge = policy;
  if (address.empty()) {
    app.sleeping = true;
  } else {
    app.instances = {{"web-1", address}};
  }
  return {revision, {app}};
}

// Every test runs on each I/O engine, with the wakes the edge asks for counted.
class EdgeProxyWakeTest : public ::testing::TestWithParam<IoEngine> {
 protected:
  void SetUp() override { SKIFF_REQUIRE_IO_ENGINE(GetParam()); }
  EdgeOptions Options() {
    EdgeOptions options;
    options.io_engine = GetParam();
    options.threads = 2;  // held requests on several threads, one queue
    options.metrics = &registry_;
    options.wake = [this](const std::string& app) {
      std::lock_guard lock(mu_);
      ++wakes_[app];
    };
    return options;
  }
  // An edge serving app "web" asleep with `policy`; null (a test failure)
  // when it cannot listen.
  std::unique_ptr<EdgeProxy> Asleep(const model::EdgePolicy& policy) {
    auto proxy = std::make_unique<EdgeProxy>(Options());
    proxy->SetTable(RoutingTable::Build(WakeRoutes(1, "", policy), &states_));
    if (Status listening = proxy->Listen("127.0.0.1:0"); !listening) {
      ADD_FAILURE() << listening.error().ToString();
      return nullptr;
    }
    return proxy;
  }
  // An instance answering "served METHOD PATH".
  static ScriptedUpstream::Action Echo(const ScriptedUpstream::Request& r) {
    return ScriptedUpstream::Ok("served " + r.line.substr(0, r.line.find(" HTTP")) + "\n");
  }
  // Whether the edge's exposition has `line` (a sample, "name{labels} value")
  // within PollUntil's deadline: the metrics move after held_count() and the
  // answer do, on the worker's thread.
  bool Exposed(const std::string& line) {
    return PollUntil([&] { return registry_.Render().find(line + "\n") != std::string::npos; });
  }
  int Wakes(const std::string& app) {
    std::lock_guard lock(mu_);
    return wakes_[app];
  }

  metrics::Registry registry_;
  EdgeStates states_;  // as the edge's route watchers build tables: states shared
  std::mutex mu_;
  std::map<std::string, int> wakes_;  // GUARDED_BY(mu_)
};

// Verify that requests for a sleeping app are held (none answered) while the
// edge asks for a wake, and that once a table gives the app an instance each
// held request, a POST with its body too, reaches it exactly once and is
// answered.
TEST_P(EdgeProxyWakeTest, HeldThenServedOnceWhenAnInstanceArrives) {
  ScriptedUpstream upstream(Echo);
  model::EdgePolicy policy;
  std::unique_ptr<EdgeProxy> edge = Asleep(policy);
  ASSERT_NE(edge, nullptr);
  EdgeProxy& proxy = *edge;

  std::vector<int> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(WakeSend(proxy, WakeGet("/" + std::to_string(i))));
  clients.push_back(WakeSend(proxy,
                             "POST /form HTTP/1.1\r\nHost: web.test\r\nContent-Length: 5\r\n\r\n"
                             "hello"));
  ASSERT_TRUE(PollUntil([&] { return proxy.held_count() == 4; }));
  ASSERT_TRUE(PollUntil([&] { return Wakes("web") >= 1; }));
  EXPECT_EQ(upstream.accepted(), 0);
  EXPECT_TRUE(Exposed("skiff_edge_held_requests{app=\"web\"} 4"));

  proxy.SetTable(RoutingTable::Build(WakeRoutes(2, upstream.address(), policy), &states_));
  for (int i = 0; i < 3; ++i) {
    std::string got;
    EXPECT_TRUE(RecvUntil(clients[i], "served GET /" + std::to_string(i) + "\n", &got)) << got;
    EXPECT_TRUE(got.starts_with("HTTP/1.1 200")) << got;
  }
  std::string got;
  EXPECT_TRUE(RecvUntil(clients[3], "served POST /form\n", &got)) << got;
  for (int fd : clients) close(fd);

  const std::vector<ScriptedUpstream::Request> seen = upstream.requests();
  std::map<std::string, int> per_line;
  for (const auto& r : seen) ++per_line[r.line];
  EXPECT_EQ(seen.size(), 4u);
  for (const auto& [line, count] : per_line) EXPECT_EQ(count, 1) << line;
  for (const auto& r : seen) {
    if (r.line.starts_with("POST")) {
      EXPECT_EQ(r.body, "hello");
    }
  }
  EXPECT_EQ(proxy.held_count(), 0);
  EXPECT_TRUE(Exposed("skiff_edge_held_requests{app=\"web\"} 0"));
  EXPECT_TRUE(Exposed("skiff_edge_wake_refusals_total{app=\"web\",reason=\"timeout\"} 0"));
  EXPECT_TRUE(Exposed("skiff_edge_wake_refusals_total{app=\"web\",reason=\"queue_full\"} 0"));
}

// Verify that past edge.wake_queue held requests the next one is answered
// 503 at once with Retry-After, naming the limit, and counted as a refusal
// (queue_full), and that the held ones are still served.
TEST_P(EdgeProxyWakeTest, QueueFullAnswers503) {
  ScriptedUpstream upstream(Echo);
  model::EdgePolicy policy;
  policy.wake_queue = 2;
  std::unique_ptr<EdgeProxy> edge = Asleep(policy);
  ASSERT_NE(edge, nullptr);
  EdgeProxy& proxy = *edge;

  const int first = WakeSend(proxy, WakeGet("/a"));
  const int second = WakeSend(proxy, WakeGet("/b"));
  ASSERT_TRUE(PollUntil([&] { return proxy.held_count() == 2; }));
  const int third = WakeSend(proxy, WakeGet("/c"));
  std::string refused;
  EXPECT_TRUE(RecvUntil(third, "try again\n", &refused)) << refused;
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 503")) << refused;
  EXPECT_NE(refused.find("Retry-After: 5\r\n"), std::string::npos) << refused;
  EXPECT_NE(refused.find("(edge.wake_queue)"), std::string::npos) << refused;
  EXPECT_TRUE(Exposed("skiff_edge_wake_refusals_total{app=\"web\",reason=\"queue_full\"} 1"));
  EXPECT_TRUE(Exposed("skiff_edge_held_requests{app=\"web\"} 2"));

  proxy.SetTable(RoutingTable::Build(WakeRoutes(2, upstream.address(), policy), &states_));
  for (int fd : {first, second}) {
    std::string got;
    EXPECT_TRUE(RecvUntil(fd, "served GET /", &got)) << got;
    close(fd);
  }
  close(third);
  EXPECT_EQ(upstream.requests().size(), 2u);
}

// Verify that a request held edge.wake_timeout is answered 503 with
// Retry-After and the one line saying the app is waking, leaves the queue,
// and is counted as a refusal (timeout).
TEST_P(EdgeProxyWakeTest, WaitOverAnswers503WithRetryAfter) {
  model::EdgePolicy policy;
  policy.wake_timeout = std::chrono::milliseconds(300);
  std::unique_ptr<EdgeProxy> edge = Asleep(policy);
  ASSERT_NE(edge, nullptr);
  EdgeProxy& proxy = *edge;

  const int client = WakeSend(proxy, WakeGet("/"));
  std::string got;
  EXPECT_TRUE(RecvUntil(client, "app web is waking up; try again\n", &got)) << got;
  EXPECT_TRUE(got.starts_with("HTTP/1.1 503")) << got;
  EXPECT_NE(got.find("Retry-After: 5\r\n"), std::string::npos) << got;
  EXPECT_TRUE(PollUntil([&] { return proxy.held_count() == 0; }));
  EXPECT_GE(Wakes("web"), 1);
  EXPECT_TRUE(Exposed("skiff_edge_held_requests{app=\"web\"} 0"));
  EXPECT_TRUE(Exposed("skiff_edge_wake_refusals_total{app=\"web\",reason=\"timeout\"} 1"));
  EXPECT_TRUE(Exposed("skiff_edge_wake_refusals_total{app=\"web\",reason=\"queue_full\"} 0"));
  close(client);
}

// Verify that a client that closes its connection while held is dropped:
// it leaves the queue, and its request never reaches the instance that
// comes later (the next request does).
TEST_P(EdgeProxyWakeTest, ClientGoneWhileHeldIsDropped) {
  ScriptedUpstream upstream(Echo);
  model::EdgePolicy policy;
  std::unique_ptr<EdgeProxy> edge = Asleep(policy);
  ASSERT_NE(edge, nullptr);
  EdgeProxy& proxy = *edge;

  const int gone = WakeSend(proxy, WakeGet("/gone"));
  ASSERT_TRUE(PollUntil([&] { return proxy.held_count() == 1; }));
  close(gone);
  ASSERT_TRUE(PollUntil([&] { return proxy.held_count() == 0; }));
  EXPECT_TRUE(Exposed("skiff_edge_held_requests{app=\"web\"} 0"));

  proxy.SetTable(RoutingTable::Build(WakeRoutes(2, upstream.address(), policy), &states_));
  const int next = WakeSend(proxy, WakeGet("/next"));
  std::string got;
  EXPECT_TRUE(RecvUntil(next, "served GET /next\n", &got)) << got;
  close(next);
  const std::vector<ScriptedUpstream::Request> seen = upstream.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].line, "GET /next HTTP/1.1");
}

// Verify that a request held for an app that a new table no longer has is
// answered at once, not after edge.wake_timeout: 404 as for any host no app
// serves when the app was deleted, 503 when another app took its host; both
// counted as refusals (app_gone), none as a timeout.
TEST_P(EdgeProxyWakeTest, AppGoneWhileHeldIsAnsweredAtOnce) {
  model::EdgePolicy policy;
  policy.wake_timeout = std::chrono::minutes(5);
  std::unique_ptr<EdgeProxy> edge = Asleep(policy);
  ASSERT_NE(edge, nullptr);
  EdgeProxy& proxy = *edge;

  const int deleted = WakeSend(proxy, WakeGet("/deleted"));
  ASSERT_TRUE(PollUntil([&] { return proxy.held_count() == 1; }));
  proxy.SetTable(RoutingTable::Build(protocol::RouteSet{2, {}}, &states_));
  std::string got;
  EXPECT_TRUE(RecvUntil(deleted, "no app is served at web.test/deleted\n", &got)) << got;
  EXPECT_TRUE(got.starts_with("HTTP/1.1 404")) << got;
  close(deleted);

  proxy.SetTable(RoutingTable::Build(WakeRoutes(3, "", policy), &states_));
  const int replaced = WakeSend(proxy, WakeGet("/replaced"));
  ASSERT_TRUE(PollUntil([&] { return proxy.held_count() == 1; }));
  protocol::RouteSet shop = WakeRoutes(4, "", policy);
  shop.apps[0].name = "shop";
  proxy.SetTable(RoutingTable::Build(shop, &states_));
  got.clear();
  EXPECT_TRUE(RecvUntil(replaced, "app web was replaced while it woke; try again\n", &got)) << got;
  EXPECT_TRUE(got.starts_with("HTTP/1.1 503")) << got;
  close(replaced);

  EXPECT_EQ(proxy.held_count(), 0);
  EXPECT_TRUE(Exposed("skiff_edge_held_requests{app=\"web\"} 0"));
  EXPECT_TRUE(Exposed("skiff_edge_wake_refusals_total{app=\"web\",reason=\"app_gone\"} 2"));
  EXPECT_TRUE(Exposed("skiff_edge_wake_refusals_total{app=\"web\",reason=\"timeout\"} 0"));
}

INSTANTIATE_TEST_SUITE_P(Engines, EdgeProxyWakeTest,
                         ::testing::ValuesIn(skiff::testing::EdgeIoEngines()),
                         [](const auto& info) { return skiff::testing::IoEngineTestName(info); });

}  // namespace
}  // namespace skiff::edge
