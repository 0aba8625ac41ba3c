// A standalone edge against a fake API: it tells the server what a drain
// waits on (its traffic reports carry the revision the routes were answered
// at, the routes document's tag, and its report interval), and it follows a
// server one version newer (fields it does not know; a document it cannot
// read leaves its table as it was and is not fetched again at once).

#include <gtest/gtest.h>
#include <sys/stat.h>

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
#include "edge/remote_routes.h"
#include "edge/standalone.h"
#include "fakes/testing.h"
#include "metrics/traffic.h"
#include "net/http_server.h"
#include "protocol/routes_codec.h"

namespace skiff {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// Verify that the edge's reports carry the revision and tag of the routes it
// serves, and that it keeps the document readable by its user alone (0600 in
// a 0700 directory).
TEST(StandaloneEdgeRoutesTest, ReportsCarryTheRoutesRevisionAndTag) {
  protocol::AppRoutes app;
  app.name = "web";
  app.domains = {{"web.test", ""}};
  const std::string document = protocol::RoutesDocument(protocol::RouteSet{.apps = {app}});
  const std::string tag = protocol::RoutesTag(document);

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
  // The document it keeps may carry certificate keys: its own user's alone.
  struct stat file;
  ASSERT_TRUE(
      testing::PollUntil([&] { return ::stat(dir.File("edge/routes.json").c_str(), &file) == 0; }));
  EXPECT_EQ(file.st_mode & 0777, 0600u);
  struct stat folder;
  ASSERT_EQ(::stat(dir.File("edge").c_str(), &folder), 0);
  EXPECT_EQ(folder.st_mode & 0777, 0700u);
  standalone.Shutdown();
  api.Stop([&] { work.reset(); });
  io_thread.join();
}

// Verify that an edge reads a newer server's document (a field it does not
// know), that a document it cannot read keeps the table it has, and that it
// then waits for the next change (its poll names the bad document's tag)
// instead of fetching the same document again and again.
TEST(StandaloneEdgeRoutesTest, FollowsANewerServer) {
  protocol::AppRoutes app;
  app.name = "web";
  app.domains = {{"web.test", ""}};
  app.instances = {{"web-1", "127.0.0.1:1"}};
  boost::json::value newer = protocol::ToJson(protocol::RouteSet{.apps = {app}});
  newer.as_object()["apps"].as_array()[0].as_object()["sticky_sessions"] = true;
  const std::string good = boost::json::serialize(newer);
  const std::string good_tag = protocol::RoutesTag(good);
  const std::string bad = R"({"apps":[{"name":"web","canary_weight":"most"}]})";

  std::mutex mu;
  std::vector<std::string> polls;  // GUARDED_BY(mu): the `unless` of each
  asio::io_context io;
  net::HttpServer api(
      io,
      [&](const net::HttpRequest& request, net::ResponseWriter& writer) -> asio::awaitable<void> {
        const std::string unless = request.QueryOr("unless");
        {
          std::lock_guard lock(mu);
          polls.push_back(unless);
        }
        net::HttpResponse response = net::TextResponse(304, "");
        if (unless.empty()) {
          response = net::TextResponse(200, good, "application/json");
          response.headers.emplace_back("ETag", good_tag);
        } else if (unless == good_tag) {
          response = net::TextResponse(200, bad, "application/json");
          response.headers.emplace_back("ETag", "bad");
        } else {
          asio::steady_timer wait(co_await asio::this_coro::executor, 200ms);
          co_await wait.async_wait(asio::use_awaitable);
        }
        co_await writer.Send(std::move(response));
      });
  ASSERT_TRUE(api.Listen("127.0.0.1:0"));
  auto work = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });

  edge::EdgeProxy proxy;
  edge::RemoteRoutes routes(
      {.server = "http://127.0.0.1:" + std::to_string(api.port()), .token = "t", .wait = 1s},
      &proxy);
  routes.Start();
  EXPECT_TRUE(testing::PollUntil([&] {
    std::lock_guard lock(mu);
    return polls.size() >= 3;
  }));
  routes.Stop();
  {
    std::lock_guard lock(mu);
    ASSERT_GE(polls.size(), 3u);
    EXPECT_EQ(polls[1], good_tag);
    EXPECT_EQ(polls[2], "bad") << "the bad document was fetched again at once";
  }
  EXPECT_EQ(routes.tag(), good_tag);
  const edge::Route* route = proxy.table()->Find("web.test", "/");
  ASSERT_NE(route, nullptr) << "the good document's table was kept";
  EXPECT_EQ(route->endpoints.size(), 1u);
  api.Stop([&] { work.reset(); });
  io_thread.join();
}

}  // namespace
}  // namespace skiff
