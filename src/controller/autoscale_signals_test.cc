#include "controller/autoscale_signals.h"

#include <gtest/gtest.h>

namespace skiff::controller {
namespace {

// Verify that the window's figures become signals: rps and p95 only with an
// edge's report (p95 only with requests), cpu and memory as percent of the
// reservation only with samples and a reservation.
TEST(AutoscaleSignalsTest, FromWindow) {
  model::AppSpec spec;
  spec.resources.cpu_millis = 500;
  spec.resources.memory_bytes = 1000;
  metrics::AppWindow w;
  w.collected = std::chrono::seconds(90);
  AutoscaleSignals none = SignalsFromWindow(w, spec);
  EXPECT_FALSE(none.rps);
  EXPECT_FALSE(none.p95_ms);
  EXPECT_FALSE(none.cpu_percent);
  EXPECT_FALSE(none.memory_percent);
  EXPECT_EQ(none.observed_for, std::chrono::seconds(90));

  w.has_traffic = true;
  w.requests_per_second = 0;
  AutoscaleSignals quiet = SignalsFromWindow(w, spec);
  EXPECT_EQ(quiet.rps, 0.0);
  EXPECT_FALSE(quiet.p95_ms) << "no request: no latency";

  w.requests = 120;
  w.requests_per_second = 2;
  w.p95_ms = 310;
  w.in_flight = 3;
  w.instances_sampled = 2;
  w.mean_per_instance.cpu_millis = 425;
  w.mean_per_instance.memory_bytes = 250;
  w.last_request = Time(std::chrono::seconds(1'700'000'000));
  AutoscaleSignals busy = SignalsFromWindow(w, spec);
  EXPECT_EQ(busy.rps, 2.0);
  EXPECT_EQ(busy.p95_ms, 310.0);
  EXPECT_EQ(busy.in_flight, 3);
  EXPECT_DOUBLE_EQ(*busy.cpu_percent, 85.0);
  EXPECT_DOUBLE_EQ(*busy.memory_percent, 25.0);
  EXPECT_EQ(busy.last_request, w.last_request);

  spec.resources = {};
  AutoscaleSignals unreserved = SignalsFromWindow(w, spec);
  EXPECT_FALSE(unreserved.cpu_percent) << "no reservation to take a percent of";
  EXPECT_FALSE(unreserved.memory_percent);
}

}  // namespace
}  // namespace skiff::controller
