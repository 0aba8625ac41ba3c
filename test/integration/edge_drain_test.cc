// A graceful stop through the real edge: an instance that gets desired = stop
// leaves the routes at once, yet a slow request already in flight to it
// finishes with 200, and the drain tracker marks it drained only after that;
// idle pooled connections to it are closed.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "controller/drain_tracker.h"
#include "controller/routes.h"
#include "e2e/subprocess.h"
#include "edge/edge_proxy.h"
#include "fakes/io_engines.h"
#include "fakes/testing.h"
#include "net/http_client.h"
#include "server/route_watcher.h"
#include "store/memory/memory_store.h"
#include "store/shared_snapshot_cache.h"

namespace skiff {
namespace {

using namespace std::chrono_literals;
using testing::FreePort;
using testing::PollUntil;
using testing::Subprocess;

// Every test runs on each I/O engine.
class EdgeDrainTest : public ::testing::TestWithParam<edge::IoEngine> {
 protected:
  void SetUp() override { SKIFF_REQUIRE_IO_ENGINE(GetParam()); }
  edge::EdgeOptions Options() const {
    edge::EdgeOptions options;
    options.io_engine = GetParam();
    return options;
  }
};

TEST_P(EdgeDrainTest, RequestInFlightFinishesBeforeTheDrainEnds) {
  testing::TempDir dir;
  store::MemoryStore store;
  store::Txn txn;
  model::App app;
  app.name = app.spec.name = "web";
  app.spec.domains = {"web.test"};
  txn.Put(app, store::kMustNotExist);
  std::vector<std::unique_ptr<Subprocess>> apps;
  for (int i = 0; i < 2; ++i) {
    const int port = FreePort();
    const std::string id = "web-" + std::to_string(i);
    apps.push_back(std::make_unique<Subprocess>(
        std::vector<std::string>{SKIFF_TESTAPP_BIN, "--host", "127.0.0.1", "--port",
                                 std::to_string(port)},
        std::map<std::string, std::string>{{"SKIFF_INSTANCE", id}}, dir.File(id + ".log")));
    net::HttpClient probe("http://127.0.0.1:" + std::to_string(port));
    ASSERT_TRUE(PollUntil([&] {
      auto r = probe.Do("GET", "/health", {}, {}, 1s);
      return r && r->status == 200;
    }));
    model::Instance instance;
    instance.id = id;
    instance.app = "web";
    instance.node = "node-1";
    instance.state = model::InstanceState::kRunning;
    instance.health = model::Health::kHealthy;
    instance.address = "127.0.0.1:" + std::to_string(port);
    txn.Put(instance, store::kMustNotExist);
  }
  ASSERT_TRUE(store.Commit(txn));

  edge::EdgeProxy proxy(Options());
  store::SharedSnapshotCache snapshots(&store);
  server::RouteWatcher watcher(&store, &snapshots, &proxy);
  watcher.Start();
  ASSERT_TRUE(proxy.Listen("127.0.0.1:0"));
  ManualClock clock;
  controller::DrainTracker tracker(
      &store, &clock,
      [&] {
        return std::map<std::string, metrics::EdgeRoutes>{{"edge", proxy.Routes()}};
      },
      [](const store::Snapshot& s) { return controller::RoutesTagOf(s); }, 0, &snapshots);
  const std::string edge_url = "http://127.0.0.1:" + std::to_string(proxy.port());

  // A slow request; find the instance it went to.
  std::optional<Result<net::HttpResponse>> slow;
  std::thread client([&] {
    slow = net::HttpClient(edge_url).Do("GET", "/sleep?ms=3000", {}, {{"Host", "web.test"}}, 30s);
  });
  std::string busy;
  ASSERT_TRUE(PollUntil([&] {
    for (const edge::Endpoint& e : proxy.table()->Find("web.test", "/")->endpoints) {
      if (e.state->in_flight() == 1) busy = e.instance_id;
    }
    return !busy.empty();
  }));

  // The controller stops it, with a drain.
  model::Instance stopping = *store.GetInstance(busy);
  stopping.desired = model::DesiredState::kStop;
  stopping.drain_until = clock.Now() + 10s;
  store::Txn stop;
  stop.Put(stopping, stopping.version);
  auto stopped = store.Commit(stop);
  ASSERT_TRUE(stopped);
  ASSERT_TRUE(PollUntil([&] { return proxy.Routes().revision >= *stopped; }));

  // Out of the routes, with its request still in flight: not drained.
  EXPECT_EQ(proxy.Routes().leaving, (std::map<std::string, int64_t>{{busy, 1}}));
  EXPECT_EQ(tracker.Check(), 1u);
  EXPECT_FALSE(store.GetInstance(busy)->drained);
  // New requests go to the other instance only.
  for (int i = 0; i < 10; ++i) {
    auto r =
        net::HttpClient(edge_url).Do("GET", "/env/SKIFF_INSTANCE", {}, {{"Host", "web.test"}}, 5s);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body, busy);
  }

  client.join();
  ASSERT_TRUE(slow.has_value() && *slow) << (slow ? slow->error().ToString() : "no answer");
  EXPECT_EQ((*slow)->status, 200);
  EXPECT_EQ((*slow)->body, "slept 3000ms\n");
  // The edge counts the request done once it has sent the answer, which the
  // client may have read before that.
  EXPECT_TRUE(PollUntil([&] { return proxy.Routes().leaving.empty(); }));
  EXPECT_EQ(tracker.Check(), 0u);
  EXPECT_TRUE(store.GetInstance(busy)->drained);

  proxy.Stop();
  watcher.Stop();
}

// A keep-alive upstream on a raw socket: answers every request on a
// connection with "ok" and counts the connections it accepted and those the
// other side closed.
class KeepAliveUpstream {
 public:
  KeepAliveUpstream() {
    fd_ = testing::ListenLoopback(&port_);
    EXPECT_GE(fd_, 0);
    thread_ = std::thread([this] {
      while (true) {
        const int conn = accept(fd_, nullptr, nullptr);
        if (conn < 0) return;
        ++accepted;
        serving_.emplace_back([this, conn] { Serve(conn); });
      }
    });
  }
  ~KeepAliveUpstream() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    for (std::thread& t : serving_) t.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  std::atomic<int> accepted{0};
  std::atomic<int> closed{0};

 private:
  void Serve(int conn) {
    std::string got;
    char buf[4096];
    while (true) {
      const ssize_t n = recv(conn, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
      for (size_t end; (end = got.find("\r\n\r\n")) != std::string::npos;) {
        got.erase(0, end + 4);
        constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        send(conn, kOk.data(), kOk.size(), MSG_NOSIGNAL);
      }
    }
    ++closed;
    close(conn);
  }

  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::vector<std::thread> serving_;
};

// Verify that the edge keeps an idle connection to a routed instance for
// reuse, and closes it once the instance leaves the routes.
TEST_P(EdgeDrainTest, IdleConnectionsToALeavingInstanceAreClosed) {
  KeepAliveUpstream upstream;
  protocol::AppRoutes app;
  app.name = "web";
  app.domains = {{"web.test", ""}};
  app.instances = {{"web-1", upstream.address()}};
  protocol::RouteSet routes{.apps = {app}};
  edge::EdgeProxy proxy(Options());
  proxy.SetTable(edge::RoutingTable::Build(routes));
  ASSERT_TRUE(proxy.Listen("127.0.0.1:0"));
  const std::string edge_url = "http://127.0.0.1:" + std::to_string(proxy.port());
  for (int i = 0; i < 3; ++i) {
    auto r = net::HttpClient(edge_url).Do("GET", "/", {}, {{"Host", "web.test"}}, 5s);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->body, "ok");
  }
  EXPECT_EQ(upstream.accepted, 1) << "one pooled connection, reused";
  EXPECT_EQ(upstream.closed, 0);

  routes.apps[0].instances.clear();  // it is being stopped
  proxy.SetTable(edge::RoutingTable::Build(routes));
  EXPECT_TRUE(PollUntil([&] { return upstream.closed == 1; }));
  proxy.Stop();
}

INSTANTIATE_TEST_SUITE_P(Engines, EdgeDrainTest,
                         ::testing::ValuesIn(skiff::testing::EdgeIoEngines()),
                         [](const auto& info) { return skiff::testing::IoEngineTestName(info); });

}  // namespace
}  // namespace skiff
