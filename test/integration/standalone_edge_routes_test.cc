// A standalone edge tells the server what a drain waits on: against a fake
// API, its traffic reports carry the revision the routes were answered at,
// the routes document's tag, and its report interval.

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <mutex>
#include <optional>
#include <thread>

#include "e2e/subprocess.h"
#include "edge/routes_document.h"
#include "edge/standalone.h"
#include "fakes/testing.h"
#include "metrics/traffic.h"
#include "net/http_server.h"

namespace skiff {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

TEST(StandaloneEdgeRoutesTest, ReportsCarryTheRoutesRevisionAndTag) {
  store::Snapshot snapshot;
  model::App app;
  app.name = app.spec.name = "web";
  app.spec.run.command = {"serve"};
  app.spec.domains = {"web.test"};
  snapshot.apps = {app};
  const std::string document = edge::RoutesDocument(snapshot);
  const std::string tag = edge::RoutesTag(document);

  std::mutex mu;
  std::optional<metrics::TrafficSnapshot> report;  // GUARDED_BY(mu): the last one
  asio::io_context io;
  net::HttpServer api(
      io,
      [&](const net::HttpRequest& request, net::ResponseWriter& writer) -> asio::awaitable<void> {
        net::HttpResponse response = net::TextResponse(404, "");
        if (request.path == "/v1/routes") {
          if (request.QueryOr("unless") == tag) {
            // Nothing new: a long poll's answer, after a while.
            asio::steady_timer wait(co_await asio::this_coro::executor, 200ms);
            co_await wait.async_wait(asio::use_awaitable);
            response = net::TextResponse(304, "");
          } else {
            response = net::TextResponse(200, document, "application/json");
            response.headers.emplace_back("ETag", tag);
            response.headers.emplace_back("X-Skiff-Revision", "42");
          }
        } else if (request.path == "/v1/edges/edge-a/traffic") {
          auto parsed = metrics::TrafficFromJson(boost::json::parse(request.body));
          if (parsed) {
            std::lock_guard lock(mu);
            report = std::move(*parsed);
          }
          response = net::JsonResponse(200, boost::json::object{});
        }
        co_await writer.Send(std::move(response));
      });
  ASSERT_TRUE(api.Listen("127.0.0.1:0"));
  auto work = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });

  testing::TempDir dir;
  edge::StandaloneOptions options;
  options.server = "http://127.0.0.1:" + std::to_string(api.port());
  options.token = "t";
  options.listen = "127.0.0.1:0";
  options.data_dir = dir.File("edge");
  options.name = "edge-a";
  options.report_interval = 50ms;
  edge::StandaloneEdge standalone(options);
  ASSERT_TRUE(standalone.Start());
  EXPECT_TRUE(testing::PollUntil([&] {
    std::lock_guard lock(mu);
    return report && report->routes && report->routes->revision == 42;
  }));
  {
    std::lock_guard lock(mu);
    ASSERT_TRUE(report && report->routes);
    EXPECT_EQ(report->routes->tag, tag);
    EXPECT_EQ(report->routes->interval_ms, 50);
    EXPECT_TRUE(report->routes->leaving.empty());
  }
  standalone.Shutdown();
  api.Stop([&] { work.reset(); });
  io_thread.join();
}

}  // namespace
}  // namespace skiff
