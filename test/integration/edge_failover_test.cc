// The edge against real upstream processes: an instance killed mid-traffic
// costs idempotent requests nothing (retries on another instance, then
// ejection), even before the control plane takes it out of the routes.

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "e2e/subprocess.h"
#include "edge/edge_proxy.h"
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

class EdgeFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::Snapshot snapshot;
    model::App app;
    app.name = "web";
    app.spec.name = "web";
    app.spec.domains = {"web.test"};
    snapshot.apps.push_back(app);
    for (int i = 0; i < 3; ++i) {
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
      snapshot.instances.push_back(instance);
    }
    proxy_.SetTable(RoutingTable::Build(snapshot));
    server_ = std::make_unique<net::HttpServer>(
        io_,
        [this](const net::HttpRequest& r, net::ResponseWriter& w) { return proxy_.Handle(r, w); });
    ASSERT_TRUE(server_->Listen("127.0.0.1:0"));
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    server_->Stop([this] { io_.stop(); });
    if (thread_.joinable()) thread_.join();
  }

  Result<net::HttpResponse> Get(const std::string& method = "GET") {
    return net::HttpClient("http://127.0.0.1:" + std::to_string(server_->port()))
        .Do(method, "/", method == "POST" ? "x" : "", {{"Host", "web.test"}},
            std::chrono::seconds(5));
  }

  skiff::testing::TempDir dir_;
  boost::asio::io_context io_;
  net::UpstreamPool pool_{io_};
  EdgeProxy proxy_{&pool_, nullptr};
  std::vector<std::unique_ptr<Subprocess>> apps_;
  std::unique_ptr<net::HttpServer> server_;
  std::thread thread_;
};

// Verify that killing an instance mid-traffic fails no GET, although the
// routes still name it: connect failures are retried elsewhere and the dead
// instance is ejected.
TEST_F(EdgeFailoverTest, KilledInstanceCostsGetsNothing) {
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
TEST_F(EdgeFailoverTest, PostIsNeverRetried) {
  for (auto& app : apps_) app->Signal(SIGKILL);
  for (auto& app : apps_) app->Wait();
  auto r = Get("POST");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  auto get = Get();
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 502) << "no instance left to retry on";
}

}  // namespace
}  // namespace skiff::edge
