#include "metrics/traffic.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace skiff::metrics {
namespace {

using std::chrono::seconds;

AppTraffic Traffic(uint64_t ok, uint64_t errors, std::vector<uint64_t> cumulative) {
  AppTraffic t;
  t.by_class[2] = ok;
  t.by_class[5] = errors;
  t.bounds = {0.01, 0.1, 1};
  t.cumulative = cumulative;
  t.count = ok + errors;
  t.bytes = 100 * (ok + errors);
  return t;
}

TEST(TrafficTest, JsonRoundTrip) {
  TrafficSnapshot s;
  s.apps["web"] = Traffic(10, 2, {5, 11, 12});
  s.apps["web"].in_flight = 3;
  s.apps["web"].sum = 1.25;
  auto back = TrafficFromJson(ToJson(s));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, s);
}

// Verify that an edge's routes state survives JSON, and that bad counts are
// refused naming the field.
TEST(TrafficTest, RoutesRoundTrip) {
  TrafficSnapshot s;
  s.apps["web"] = Traffic(1, 0, {1, 1, 1});
  s.routes =
      EdgeRoutes{.revision = 42, .tag = "00ff", .leaving = {{"web-1", 2}}, .interval_ms = 500};
  auto back = TrafficFromJson(ToJson(s));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, s);
  auto bad =
      TrafficFromJson(boost::json::parse(R"({"apps":{},"routes":{"leaving":{"web-1":-3}}})"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("routes.leaving.web-1"), std::string::npos);
}

// Verify that the book hands out each edge's routes while the edge reports
// within three of its intervals, and forgets a silent one; edges that send
// no routes (older ones) are not listed.
TEST(TrafficTest, RoutesOfLiveEdges) {
  TrafficBook book;
  const TrafficBook::Time t0{seconds(100)};
  TrafficSnapshot with;
  with.routes = EdgeRoutes{.revision = 7, .interval_ms = 1000};
  book.Record("a", with, t0);
  book.Record("old", TrafficSnapshot{}, t0);
  auto routes = book.Routes(t0 + seconds(3));
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes.at("a").revision, 7);
  EXPECT_TRUE(book.Routes(t0 + seconds(4)).empty());
}

TEST(TrafficTest, JsonErrorsNameTheField) {
  auto parse = [](const char* text) { return TrafficFromJson(boost::json::parse(text)); };
  EXPECT_FALSE(parse(R"({})"));
  auto bad = parse(R"({"apps":{"web":{"requests":{"2xx":-1}}}})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("apps.web.requests.2xx"), std::string::npos);
  bad = parse(R"({"apps":{"web":{"latency":{"bounds":[1,0.5],"cumulative":[1,2],"count":2}}}})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("must increase"), std::string::npos);
  bad = parse(R"({"apps":{"web":{"latency":{"bounds":[1],"cumulative":[5],"count":2}}}})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("below its buckets"), std::string::npos);
}

TEST(TrafficTest, QuantileInterpolatesWithinBuckets) {
  // 100 requests: 50 under 10 ms, 40 more under 100 ms, 10 more under 1 s.
  const std::vector<double> bounds = {0.01, 0.1, 1};
  const std::vector<uint64_t> cumulative = {50, 90, 100};
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, bounds, cumulative, 100), 0.01);
  EXPECT_NEAR(HistogramQuantile(0.95, bounds, cumulative, 100), 0.1 + 0.9 * 0.5, 1e-9);
  EXPECT_NEAR(HistogramQuantile(0.25, bounds, cumulative, 100), 0.005, 1e-9);
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.99, bounds, {10, 10, 10}, 20), 1) << "+Inf: the top bound";
  EXPECT_EQ(HistogramQuantile(0.5, bounds, {0, 0, 0}, 0), 0);
}

// Verify that rates come from the difference of an edge's last two snapshots,
// summed over edges, and that a stale edge is left out.
TEST(TrafficTest, RatesSumEdgesOverTheInterval) {
  TrafficBook book;
  const TrafficBook::Time t0{seconds(1000)};
  TrafficSnapshot a0, a1, b0, b1;
  a0.apps["web"] = Traffic(100, 0, {100, 100, 100});
  a1.apps["web"] = Traffic(150, 10, {140, 160, 160});  // +50 ok, +10 errors in 5 s
  b0.apps["web"] = Traffic(0, 0, {0, 0, 0});
  b1.apps["web"] = Traffic(40, 0, {0, 40, 40});  // +40 in 5 s, all 10-100 ms
  book.Record("a", a0, t0);
  book.Record("b", b0, t0);
  EXPECT_EQ(book.Rates(t0)["web"].requests_per_second, 0) << "one snapshot is no interval";
  book.Record("a", a1, t0 + seconds(5));
  book.Record("b", b1, t0 + seconds(5));
  AppRates r = book.Rates(t0 + seconds(6))["web"];
  EXPECT_DOUBLE_EQ(r.requests_per_second, (60 + 40) / 5.0);
  EXPECT_DOUBLE_EQ(r.errors_per_second, 10 / 5.0);
  EXPECT_EQ(r.edges, 2);
  // 100 requests in the interval: 40 under 10 ms, 60 in 10-100 ms.
  EXPECT_NEAR(r.p50, 0.01 + 0.09 * (10.0 / 60), 1e-9);
  EXPECT_GT(r.p95, r.p50);

  // Edge b goes silent: after kStaleAfter only a counts.
  book.Record("a", a1, t0 + seconds(40));
  r = book.Rates(t0 + seconds(40))["web"];
  EXPECT_EQ(r.edges, 1);
  EXPECT_EQ(book.Edges(t0 + seconds(40)), std::vector<std::string>{"a"});
}

// Verify that an edge whose counters start over (it restarted) counts its new
// totals, never a negative or huge difference.
TEST(TrafficTest, RestartedEdgeStartsANewBaseline) {
  TrafficBook book;
  const TrafficBook::Time t0{seconds(1000)};
  TrafficSnapshot before, after;
  before.apps["web"] = Traffic(1000, 0, {1000, 1000, 1000});
  after.apps["web"] = Traffic(20, 0, {20, 20, 20});
  book.Record("a", before, t0);
  book.Record("a", after, t0 + seconds(10));
  AppRates r = book.Rates(t0 + seconds(10))["web"];
  EXPECT_DOUBLE_EQ(r.requests_per_second, 2);
  EXPECT_GT(r.p95, 0);
  EXPECT_LE(r.p95, 0.01);
}

// Verify that latency totals add each edge's growth between its reports, take
// a restarted edge's whole new count, and keep what a silent edge reported.
TEST(TrafficTest, LatencyTotalsOnlyGrow) {
  TrafficBook book;
  const TrafficBook::Time t0{seconds(1000)};
  auto with = [](uint64_t count, double sum) {
    TrafficSnapshot s;
    s.apps["web"] = Traffic(count, 0, {count, count, count});
    s.apps["web"].sum = sum;
    return s;
  };
  book.Record("a", with(10, 1.0), t0);
  book.Record("b", with(5, 0.5), t0);
  book.Record("a", with(30, 2.0), t0 + seconds(5));  // +20, +1 s
  EXPECT_EQ(book.LatencyTotals().at("web").count, 35u);
  EXPECT_DOUBLE_EQ(book.LatencyTotals().at("web").sum, 2.5);
  book.Record("a", with(4, 0.25), t0 + seconds(10));  // restarted: 4 new
  EXPECT_EQ(book.LatencyTotals().at("web").count, 39u);
  EXPECT_DOUBLE_EQ(book.LatencyTotals().at("web").sum, 2.75);
  // b stays silent past kStaleAfter: its 5 stay counted.
  book.Record("a", with(4, 0.25), t0 + seconds(60));
  EXPECT_EQ(book.LatencyTotals().at("web").count, 39u);
  EXPECT_DOUBLE_EQ(book.LatencyTotals().at("web").sum, 2.75);
  EXPECT_EQ(book.Rates(t0 + seconds(60)).at("web").edges, 1);
}

}  // namespace
}  // namespace skiff::metrics
