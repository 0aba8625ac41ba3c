#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

namespace skiff::metrics {
namespace {

// Verify that a counter family with labels renders HELP, TYPE and one line per series.
TEST(RegistryTest, CounterWithLabels) {
  Registry r;
  CounterFamily* requests =
      r.AddCounter("skiff_http_requests_total", "HTTP requests served.", {"method", "code"});
  requests->With({"GET", "200"}).Inc();
  requests->With({"GET", "200"}).Inc(2);
  requests->With({"PUT", "201"}).Inc();
  EXPECT_EQ(r.Render(),
            "# HELP skiff_http_requests_total HTTP requests served.\n"
            "# TYPE skiff_http_requests_total counter\n"
            "skiff_http_requests_total{method=\"GET\",code=\"200\"} 3\n"
            "skiff_http_requests_total{method=\"PUT\",code=\"201\"} 1\n");
}

// Verify that a gauge without labels renders as a bare name, and fractional values keep digits.
TEST(RegistryTest, GaugeWithoutLabels) {
  Registry r;
  GaugeFamily* g = r.AddGauge("skiff_store_revision", "Last store revision.");
  g->With().Set(1234);
  GaugeFamily* f = r.AddGauge("a_ratio", "A ratio.");
  f->With().Set(0.25);
  EXPECT_EQ(r.Render(),
            "# HELP a_ratio A ratio.\n"
            "# TYPE a_ratio gauge\n"
            "a_ratio 0.25\n"
            "# HELP skiff_store_revision Last store revision.\n"
            "# TYPE skiff_store_revision gauge\n"
            "skiff_store_revision 1234\n");
}

// Verify that a histogram renders cumulative buckets with le last, +Inf, _sum and _count.
TEST(RegistryTest, HistogramExposition) {
  Registry r;
  HistogramFamily* h = r.AddHistogram("req_seconds", "Latency.", {"route"}, {0.1, 0.5, 1});
  Histogram& s = h->With({"/x"});
  s.Observe(0.05);
  s.Observe(0.1);  // on the bound: counted in le="0.1"
  s.Observe(0.7);
  s.Observe(3);
  EXPECT_EQ(r.Render(),
            "# HELP req_seconds Latency.\n"
            "# TYPE req_seconds histogram\n"
            "req_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
            "req_seconds_bucket{route=\"/x\",le=\"0.5\"} 2\n"
            "req_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
            "req_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
            "req_seconds_sum{route=\"/x\"} 3.85\n"
            "req_seconds_count{route=\"/x\"} 4\n");
}

// Verify that a histogram without labels puts le alone in the braces.
TEST(RegistryTest, HistogramWithoutLabels) {
  Registry r;
  HistogramFamily* h = r.AddHistogram("d", "D.", {}, {1});
  h->With().Observe(2);
  EXPECT_EQ(r.Render(),
            "# HELP d D.\n"
            "# TYPE d histogram\n"
            "d_bucket{le=\"1\"} 0\n"
            "d_bucket{le=\"+Inf\"} 1\n"
            "d_sum 2\n"
            "d_count 1\n");
}

// Verify that a summary renders its quantiles with the quantile label last, then _sum and
// _count, and a series never set reads as empty (no quantiles, zero sum and count).
TEST(RegistryTest, SummaryExposition) {
  Registry r;
  SummaryFamily* f = r.AddSummary("lat_seconds", "Latency.", {"app"});
  f->With({"web"}).Set({.quantiles = {{0.5, 0.02}, {0.99, std::nan("")}}, .sum = 1.5, .count = 30});
  f->With({"x"});
  SummaryFamily* bare = r.AddSummary("bare_seconds", "Bare.");
  bare->With().Set({.quantiles = {{0.95, 0.1}}, .sum = 0.1, .count = 1});
  EXPECT_EQ(r.Render(),
            "# HELP bare_seconds Bare.\n"
            "# TYPE bare_seconds summary\n"
            "bare_seconds{quantile=\"0.95\"} 0.1\n"
            "bare_seconds_sum 0.1\n"
            "bare_seconds_count 1\n"
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds summary\n"
            "lat_seconds{app=\"web\",quantile=\"0.5\"} 0.02\n"
            "lat_seconds{app=\"web\",quantile=\"0.99\"} NaN\n"
            "lat_seconds_sum{app=\"web\"} 1.5\n"
            "lat_seconds_count{app=\"web\"} 30\n"
            "lat_seconds_sum{app=\"x\"} 0\n"
            "lat_seconds_count{app=\"x\"} 0\n");
}

// Verify that label values escape backslash, quote and newline, and HELP escapes backslash and
// newline.
TEST(RegistryTest, Escaping) {
  Registry r;
  CounterFamily* c = r.AddCounter("c_total", "line1\nback\\slash \"quoted\"", {"v"});
  c->With({"a\\b\"c\nd"}).Inc();
  EXPECT_EQ(r.Render(),
            "# HELP c_total line1\\nback\\\\slash \"quoted\"\n"
            "# TYPE c_total counter\n"
            "c_total{v=\"a\\\\b\\\"c\\nd\"} 1\n");
}

// Verify that special values are spelled as Prometheus expects.
TEST(RegistryTest, FormatValue) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(-1.5), "-1.5");
  EXPECT_EQ(FormatValue(0.005), "0.005");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

// Verify that collect hooks run before rendering, so gauges mirror outside state.
TEST(RegistryTest, CollectHookRefreshesGauges) {
  Registry r;
  GaugeFamily* g = r.AddGauge("apps", "Apps.");
  int apps = 1;
  r.AddCollectHook([&] { g->With().Set(apps); });
  EXPECT_NE(r.Render().find("apps 1\n"), std::string::npos);
  apps = 7;
  EXPECT_NE(r.Render().find("apps 7\n"), std::string::npos);
}

// Verify that removed series stop rendering, RetainOnly keeps exactly the
// listed ones, and a series asked for again starts afresh.
TEST(RegistryTest, SeriesCanBeRemoved) {
  Registry r;
  GaugeFamily* g = r.AddGauge("up_things", "Things.", {"thing"});
  g->With({"a"}).Set(1);
  g->With({"b"}).Set(2);
  g->With({"c"}).Set(3);
  g->Remove({"b"});
  g->Remove({"nothing"});
  EXPECT_EQ(r.Render(),
            "# HELP up_things Things.\n"
            "# TYPE up_things gauge\n"
            "up_things{thing=\"a\"} 1\n"
            "up_things{thing=\"c\"} 3\n");
  g->RetainOnly({{"c"}, {"d"}});
  EXPECT_EQ(r.Render(),
            "# HELP up_things Things.\n"
            "# TYPE up_things gauge\n"
            "up_things{thing=\"c\"} 3\n");
  EXPECT_EQ(g->With({"a"}).Value(), 0);
  g->RetainOnly({});
  EXPECT_EQ(r.Render(), "# HELP up_things Things.\n# TYPE up_things gauge\n");
}

// Verify that a counter ignores negative steps and counts concurrent increments exactly.
TEST(RegistryTest, CounterConcurrentAndMonotonic) {
  Registry r;
  Counter& c = r.AddCounter("n_total", "N.")->With();
  c.Inc(-5);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) c.Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 4000);
}

// Verify that registering a duplicate name or a bad label name is a programmer error.
TEST(RegistryDeathTest, RejectsBadRegistrations) {
  Registry r;
  r.AddCounter("x_total", "X.");
  EXPECT_DEATH(r.AddCounter("x_total", "again"), "");
  EXPECT_DEATH(r.AddGauge("1bad", "bad"), "");
  EXPECT_DEATH(r.AddHistogram("h", "H.", {"le"}, {1}), "");
  EXPECT_DEATH(r.AddHistogram("h2", "H.", {}, {2, 1}), "");
  EXPECT_DEATH(r.AddSummary("s", "S.", {"quantile"}), "");
  Summary& s = r.AddSummary("s2", "S.")->With();
  EXPECT_DEATH(s.Set({.quantiles = {{0.9, 1}, {0.5, 1}}}), "");
  EXPECT_DEATH(s.Set({.quantiles = {{1.5, 1}}}), "");
}

}  // namespace
}  // namespace skiff::metrics
