// End-to-end: traffic through the all-in-one server's edge comes back as the
// app's metrics series (GET /v1/apps/{app}/metrics, `skiff metrics`).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "e2e/skiff_server.h"
#include "net/http_client.h"

namespace skiff::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

// The requests the series holds over its points ("requests" summed), or -1
// when the answer is no series.
int64_t SeriesRequests(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(body, ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("points")) return -1;
  int64_t total = 0;
  for (const boost::json::value& p : doc.at("points").as_array()) {
    const boost::json::value& n = p.at("requests");
    if (!n.is_null()) total += n.to_number<int64_t>();
  }
  return total;
}

// Verify that requests sent through the edge show in the app's series (from
// the minutes the server holds and writes), in `skiff metrics -o json`, and
// that a bad step is refused naming the parameter.
TEST(MetricsE2eTest, TrafficThroughTheEdgeComesBackAsASeries) {
  SkiffServer server;
  ASSERT_TRUE(server.Start());
  CommandResult applied = server.Skiff(
      {"apply", "-f", server.WriteFile("web.yaml", TestAppSpec("web", 1, "[web.metrics.test]"))});
  ASSERT_EQ(applied.exit_code, 0) << applied.output << "\nserver:\n" << server.Output();

  net::HttpClient edge("http://" + server.edge_addr());
  int64_t seen = 0;
  std::string body;
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 10; ++i) {
      auto r = edge.Do("GET", "/", {}, {{"Host", "web.metrics.test"}}, seconds(5));
      ASSERT_TRUE(r) << r.error().ToString();
      ASSERT_EQ(r->status, 200) << r->body;
    }
    auto series = server.Api("GET", "/v1/apps/web/metrics?since=10m");
    ASSERT_TRUE(series) << series.error().ToString();
    ASSERT_EQ(series->status, 200) << series->body;
    body = series->body;
    seen = SeriesRequests(body);
    if (seen > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // traffic, not a sync
  }
  ASSERT_GT(seen, 0) << body << "\nserver:\n" << server.Output();
  EXPECT_THAT(body, HasSubstr("\"p95_ms\":"));

  boost::json::value cli = server.SkiffJson({"metrics", "web", "--since", "10m"});
  ASSERT_TRUE(cli.is_object()) << server.Output();
  EXPECT_EQ(cli.at("app"), "web");
  EXPECT_GT(SeriesRequests(boost::json::serialize(cli)), 0);

  CommandResult bad = server.Skiff({"metrics", "web", "--step", "30s"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.output, HasSubstr("step"));
}

}  // namespace
}  // namespace skiff::testing
