#include "metrics/live_series.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "metrics/series.h"

namespace skiff::metrics {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const std::vector<double> kLiveBounds = {0.01, 0.1, 1};

// An edge's cumulative snapshot of app "web": `fast` requests under 10 ms,
// `slow` between 100 ms and 1 s, `errors` of them 5xx.
TrafficSnapshot LiveSnapshot(uint64_t fast, uint64_t slow, uint64_t errors = 0,
                             int64_t in_flight = 0) {
  AppTraffic t;
  t.by_class[2] = fast + slow - errors;
  t.by_class[5] = errors;
  t.bounds = kLiveBounds;
  t.cumulative = {fast, fast, fast + slow};
  t.count = fast + slow;
  t.bytes = 10 * (fast + slow);
  t.in_flight = in_flight;
  TrafficSnapshot s;
  s.apps["web"] = t;
  return s;
}

class LiveSeriesTest : public ::testing::Test {
 protected:
  // Starts on a whole minute.
  ManualClock clock_{Time(seconds(1'700'000'040))};
  LiveSeries live_{&clock_};
};

// Verify that an edge's first report is a baseline only, and each later one
// counts what grew since the one before.
TEST_F(LiveSeriesTest, PointsAreDifferencesOfCumulativeReports) {
  live_.RecordTraffic("a", LiveSnapshot(1000, 0));
  EXPECT_EQ(live_.Window("web", seconds(60)).requests, 0u);
  clock_.Advance(seconds(5));
  live_.RecordTraffic("a", LiveSnapshot(1090, 10, 4));
  clock_.Advance(seconds(5));
  live_.RecordTraffic("a", LiveSnapshot(1190, 10, 4));
  AppWindow w = live_.Window("web", seconds(60));
  EXPECT_TRUE(w.has_traffic);
  EXPECT_EQ(w.requests, 200u);
  EXPECT_EQ(w.errors, 4u);
  EXPECT_EQ(w.collected, seconds(10));
  // Collected for 10 s of a 60 s window: the rate is over the 10 s.
  EXPECT_DOUBLE_EQ(w.requests_per_second, 20);
  ASSERT_TRUE(w.last_request);
  EXPECT_EQ(*w.last_request, clock_.Now());
}

// Verify that a counter that went down (the edge restarted) starts a new
// baseline whose whole count is the interval's.
TEST_F(LiveSeriesTest, EdgeRestartIsNewBaseline) {
  live_.RecordTraffic("a", LiveSnapshot(1000, 0));
  clock_.Advance(seconds(5));
  live_.RecordTraffic("a", LiveSnapshot(30, 0));
  EXPECT_EQ(live_.Window("web", seconds(60)).requests, 30u);
}

// Verify that quantiles over several edges come from their merged
// histograms: one edge all fast, one all slow, p95 is the slow one's.
TEST_F(LiveSeriesTest, QuantilesFromMergedHistograms) {
  live_.RecordTraffic("fast", LiveSnapshot(0, 0));
  live_.RecordTraffic("slow", LiveSnapshot(0, 0));
  clock_.Advance(seconds(5));
  live_.RecordTraffic("fast", LiveSnapshot(90, 0));
  live_.RecordTraffic("slow", LiveSnapshot(0, 10));
  AppWindow w = live_.Window("web", seconds(60));
  EXPECT_EQ(w.requests, 100u);
  // 100 requests: 90 in (0, 10 ms], 10 in (100 ms, 1 s]: the 95th is the
  // 5th of the slow bucket's 10, half way through it.
  EXPECT_NEAR(w.p95_ms, 550, 1e-9);
  EXPECT_NEAR(w.p50_ms, 10.0 * 50 / 90, 1e-9);
}

// Verify that an app no edge reported has no data, not zero traffic, and that
// reports outside the window leave it; the last request is kept.
TEST_F(LiveSeriesTest, NoDataOutsideWindow) {
  EXPECT_FALSE(live_.Window("web", seconds(60)).has_traffic);
  live_.RecordTraffic("a", LiveSnapshot(0, 0));
  clock_.Advance(seconds(5));
  live_.RecordTraffic("a", LiveSnapshot(5, 0));
  const Time last = clock_.Now();
  clock_.Advance(seconds(61));
  AppWindow w = live_.Window("web", seconds(60));
  EXPECT_FALSE(w.has_traffic);
  EXPECT_EQ(w.requests, 0u);
  ASSERT_TRUE(w.last_request);
  EXPECT_EQ(*w.last_request, last);
  // An idle report is traffic data without requests: the last request stays.
  live_.RecordTraffic("a", LiveSnapshot(5, 0));
  w = live_.Window("web", seconds(60));
  EXPECT_TRUE(w.has_traffic);
  EXPECT_EQ(*w.last_request, last);
}

// Verify that resource figures are the mean per instance over the window.
TEST_F(LiveSeriesTest, ResourcesMeanPerInstance) {
  live_.RecordSample("web", "web-1", {.at = clock_.Now(), .cpu_millis = 100, .memory_bytes = 10});
  live_.RecordSample("web", "web-2", {.at = clock_.Now(), .cpu_millis = 300, .memory_bytes = 30});
  clock_.Advance(seconds(5));
  live_.RecordSample("web", "web-1", {.at = clock_.Now(), .cpu_millis = 300, .memory_bytes = 10});
  AppWindow w = live_.Window("web", seconds(60));
  EXPECT_EQ(w.instances_sampled, 2);
  // web-1's mean is 200, web-2's 300.
  EXPECT_DOUBLE_EQ(w.mean_per_instance.cpu_millis, 250);
  EXPECT_DOUBLE_EQ(w.mean_per_instance.memory_bytes, 20);
  LivePoint live = live_.Live("web", seconds(10));
  ASSERT_EQ(live.instances.size(), 2u);
  EXPECT_EQ(live.instances.at("web-1").sample.cpu_millis, 300);
}

// Verify that points older than the kept span are dropped.
TEST(LiveSeriesKeepTest, DropsOldPoints) {
  ManualClock clock;
  LiveSeries live(&clock, minutes(1));
  live.RecordTraffic("a", LiveSnapshot(0, 0));
  clock.Advance(seconds(5));
  live.RecordTraffic("a", LiveSnapshot(5, 0));
  clock.Advance(seconds(70));
  live.RecordTraffic("a", LiveSnapshot(7, 0));
  EXPECT_EQ(live.Window("web", minutes(10)).requests, 2u);
}

// Verify that a minute's roll-up sums the edges' intervals, merges their
// histograms, sums the edges' highest in-flight figures and aggregates the
// instances; and that it survives the history rows' encoding.
TEST_F(LiveSeriesTest, MinuteRollup) {
  const Time minute = clock_.Now();
  live_.RecordTraffic("a", LiveSnapshot(0, 0));
  live_.RecordTraffic("b", LiveSnapshot(0, 0));
  clock_.Advance(seconds(10));
  live_.RecordTraffic("a", LiveSnapshot(10, 0, 0, 3));
  live_.RecordTraffic("b", LiveSnapshot(0, 5, 5, 1));
  live_.RecordSample("web", "web-1", {.at = clock_.Now(), .cpu_millis = 100, .memory_bytes = 50});
  clock_.Advance(seconds(10));
  live_.RecordTraffic("a", LiveSnapshot(20, 0, 0, 2));
  live_.RecordSample("web", "web-1", {.at = clock_.Now(), .cpu_millis = 300, .memory_bytes = 70});
  clock_.Advance(seconds(50));  // into the next minute
  live_.RecordTraffic("a", LiveSnapshot(25, 0));

  std::map<std::string, AppRollup> rollups = live_.Rollup(minute);
  ASSERT_EQ(rollups.size(), 1u);
  const AppRollup& r = rollups.at("web");
  EXPECT_TRUE(r.app.has_traffic);
  EXPECT_EQ(r.app.requests(), 25u);
  EXPECT_EQ(r.app.by_class[5], 5u);
  EXPECT_EQ(r.app.latency.counts, (std::vector<uint64_t>{20, 0, 5, 0}));
  EXPECT_EQ(r.app.in_flight_max, 4);
  EXPECT_EQ(r.app.instances, 1);
  EXPECT_DOUBLE_EQ(r.app.resources_mean.cpu_millis, 200);
  EXPECT_DOUBLE_EQ(r.app.resources_max.cpu_millis, 300);
  ASSERT_EQ(r.instances.size(), 1u);
  EXPECT_EQ(r.instances[0].samples, 2);
  EXPECT_DOUBLE_EQ(r.instances[0].mean.memory_bytes, 60);

  AppHistory back = FromRows(ToRows(rollups));
  EXPECT_EQ(back.skipped, 0);
  ASSERT_EQ(back.minutes.size(), 1u);
  EXPECT_EQ(back.minutes[0], r.app);
  ASSERT_EQ(back.instances.at("web-1").size(), 1u);
  EXPECT_EQ(back.instances.at("web-1")[0], r.instances[0]);
  EXPECT_EQ(live_.Rollup(minute + minutes(1)).at("web").app.requests(), 5u);
  EXPECT_TRUE(live_.Rollup(minute + minutes(2)).empty());
}

// Verify that steps of several minutes sum counts and merge histograms, and
// that a step without data is kept with null figures.
TEST(SeriesTest, StepsSumAndMergeAndKeepGaps) {
  const Time t0{seconds(1'700'000'040)};
  AppHistory h;
  AppMinute a;
  a.minute = t0;
  a.has_traffic = true;
  a.by_class[2] = 90;
  a.latency = LatencyHistogram{.bounds = kLiveBounds, .counts = {90, 0, 0, 0}};
  AppMinute b = a;
  b.minute = t0 + minutes(1);
  b.by_class = {};
  b.by_class[5] = 30;
  b.latency = LatencyHistogram{.bounds = kLiveBounds, .counts = {0, 0, 30, 0}};
  b.instances = 2;
  b.resources_mean.cpu_millis = 40;
  h.minutes = {a, b};
  h.instances["web-1"] = {InstanceMinute{.minute = t0 + minutes(1),
                                         .instance = "web-1",
                                         .samples = 3,
                                         .mean = {.cpu_millis = 40},
                                         .max = {.cpu_millis = 50}}};
  Series s = Aggregate(h, t0 + seconds(10), t0 + minutes(4), minutes(2));
  ASSERT_EQ(s.points.size(), 2u);
  EXPECT_EQ(s.since, t0);
  EXPECT_EQ(s.points[0].requests, 120u);
  EXPECT_EQ(s.points[0].errors, 30u);
  EXPECT_EQ(s.points[0].latency.counts, (std::vector<uint64_t>{90, 0, 30, 0}));
  EXPECT_EQ(s.points[1].traffic_minutes, 0);

  boost::json::value json = ToJson("web", s);
  const boost::json::array& points = json.at("points").as_array();
  EXPECT_EQ(json.at("step").as_int64(), 120);
  EXPECT_DOUBLE_EQ(points[0].at("requests_per_second").as_double(), 1.0);  // 120 over 2 minutes
  EXPECT_DOUBLE_EQ(points[0].at("errors_per_second").as_double(), 0.25);
  EXPECT_DOUBLE_EQ(points[0].at("cpu_millis").as_double(), 40);
  EXPECT_EQ(points[0].at("instances").as_int64(), 2);
  // 120 requests, 90 fast: p95 is in the slow bucket (114th of 120).
  EXPECT_GT(points[0].at("p95_ms").as_double(), 100);
  EXPECT_TRUE(points[1].at("requests_per_second").is_null());
  EXPECT_TRUE(points[1].at("p95_ms").is_null());
  EXPECT_TRUE(points[1].at("cpu_millis").is_null());
  const boost::json::array& instance = json.at("instances").at("web-1").as_array();
  ASSERT_EQ(instance.size(), 2u);
  EXPECT_DOUBLE_EQ(instance[0].at("cpu_millis_max").as_double(), 50);
  EXPECT_TRUE(instance[1].at("cpu_millis").is_null());
}

// Verify that rows that do not decode are skipped and counted.
TEST(SeriesTest, BadRowsAreSkipped) {
  AppHistory h = FromRows({store::MetricsRow{.app = "web", .instance = "", .data = "nope"}});
  EXPECT_EQ(h.skipped, 1);
  EXPECT_TRUE(h.minutes.empty());
}

}  // namespace
}  // namespace skiff::metrics
