#include "controller/autoscaler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace skiff::controller {
namespace {

using namespace std::chrono_literals;
using model::Autoscale;

const Time kAutoscalerNow = Time(1'800'000'000s);

// Policies of the tables: one signal each, and all of them together.
const Autoscale kAutoscalerRps{.target_rps_per_replica = 500};
const Autoscale kAutoscalerP95{.max_p95_ms = 250};
const Autoscale kAutoscalerCpu{.target_cpu = 70};
const Autoscale kAutoscalerMemory{.target_memory = 80};
const Autoscale kAutoscalerAll{.target_rps_per_replica = 500, .max_p95_ms = 250, .target_cpu = 70};
const Autoscale kAutoscalerToZero{.min = 0, .target_rps_per_replica = 500, .scale_to_zero = true};

// Signals with everything measured but what a row sets: a request a second
// ago, collected for an hour.
AutoscaleSignals AutoscalerSignals(std::optional<double> rps, std::optional<double> p95_ms,
                                   std::optional<double> cpu = std::nullopt,
                                   std::optional<double> memory = std::nullopt) {
  return AutoscaleSignals{.rps = rps,
                          .p95_ms = p95_ms,
                          .cpu_percent = cpu,
                          .memory_percent = memory,
                          .last_request = kAutoscalerNow - 1s,
                          .observed_for = 1h};
}

AutoscaleState AutoscalerAt(int replicas, std::optional<Duration> up_ago = std::nullopt,
                            std::optional<Duration> down_ago = std::nullopt) {
  AutoscaleState state{.replicas = replicas};
  if (up_ago) state.last_scale_up = kAutoscalerNow - *up_ago;
  if (down_ago) state.last_scale_down = kAutoscalerNow - *down_ago;
  return state;
}

struct AutoscalerCase {
  std::string name;
  Autoscale policy;
  AutoscaleSignals signals;
  AutoscaleState state;
  int want_replicas;
  std::string want_message;  // AutoscaleMessage of the decision, exactly
};

void RunAutoscalerCases(const std::vector<AutoscalerCase>& cases) {
  for (const AutoscalerCase& c : cases) {
    SCOPED_TRACE(c.name);
    AutoscaleDecision d = DecideReplicas(c.policy, c.signals, c.state, kAutoscalerNow);
    EXPECT_EQ(d.current, c.state.replicas);
    EXPECT_EQ(d.replicas, c.want_replicas);
    EXPECT_EQ(d.changed(), c.want_replicas != c.state.replicas);
    EXPECT_EQ(AutoscaleMessage(d), c.want_message);
  }
}

// Verify that each signal alone scales out when above its target by more than
// the out threshold, to what it asks for (proportional, as Kubernetes' HPA),
// and that any one signal above is enough.
TEST(AutoscalerTest, EachSignalScalesOut) {
  RunAutoscalerCases({
      {"rps: ceil(1900 / 500)", kAutoscalerRps, AutoscalerSignals(1900, 40), AutoscalerAt(2), 4,
       "autoscale: 2 → 4: rps 1900 > 1000 (2 × 500) over 60s"},
      {"p95: ceil(2 × 310 / 250)", kAutoscalerP95, AutoscalerSignals(100, 310), AutoscalerAt(2), 3,
       "autoscale: 2 → 3: p95 310 ms > 250 ms over 60s"},
      {"cpu: ceil(3 × 85 / 70)", kAutoscalerCpu, AutoscalerSignals(100, 40, 85), AutoscalerAt(3), 4,
       "autoscale: 3 → 4: cpu 85% > 70% over 60s"},
      {"memory: ceil(2 × 95 / 80)", kAutoscalerMemory, AutoscalerSignals(100, 40, 10, 95),
       AutoscalerAt(2), 3, "autoscale: 2 → 3: memory 95% > 80% over 60s"},
      {"one above of three is enough; the most wanted wins", kAutoscalerAll,
       AutoscalerSignals(800, 100, 90), AutoscalerAt(2), 3,
       "autoscale: 2 → 3: cpu 90% > 70% over 60s"},
      {"two above: both named", kAutoscalerAll, AutoscalerSignals(1900, 400, 50), AutoscalerAt(2),
       4, "autoscale: 2 → 4: rps 1900 > 1000 (2 × 500), p95 400 ms > 250 ms over 60s"},
      {"a signal without data does not stop another from scaling out", kAutoscalerAll,
       AutoscalerSignals(1900, 200, std::nullopt), AutoscalerAt(2), 4,
       "autoscale: 2 → 4: rps 1900 > 1000 (2 × 500) over 60s"},
      {"window named as written", Autoscale{.target_cpu = 70, .window = 2min},
       AutoscalerSignals(1, 1, 85), AutoscalerAt(3), 4, "autoscale: 3 → 4: cpu 85% > 70% over 2m"},
      {"just over the target, no out threshold: one more",
       Autoscale{.max = 20, .target_cpu = 70, .scale_out_threshold = 0},
       AutoscalerSignals(1, 1, 70.4), AutoscalerAt(9), 10,
       "autoscale: 9 → 10: cpu 70.4% > 70% over 60s"},
  });
}

// Verify that scaling in needs every configured signal below its target by
// more than the in threshold, and goes to what the signals ask for.
TEST(AutoscalerTest, ScaleInNeedsEverySignal) {
  RunAutoscalerCases({
      {"cpu within its band holds the others", kAutoscalerAll, AutoscalerSignals(400, 100, 60),
       AutoscalerAt(4), 4,
       "autoscale: holds 4: within target: rps 400 < 2000 (4 × 500), p95 100 ms < 250 ms, "
       "cpu 60% of 70% over 60s"},
      {"all below: to the most any asks for", kAutoscalerAll, AutoscalerSignals(400, 100, 30),
       AutoscalerAt(4), 2,
       "autoscale: 4 → 2: every signal below target: rps 400 < 2000 (4 × 500), p95 100 ms < 250 "
       "ms, cpu 30% < 70% over 60s"},
      {"below, but the count is still needed", kAutoscalerRps, AutoscalerSignals(700, 10),
       AutoscalerAt(2), 2,
       "autoscale: holds 2: still needs 2: every signal below target: rps 700 < 1000 (2 × 500) "
       "over 60s"},
      {"memory alone", kAutoscalerMemory, AutoscalerSignals(1, 1, 1, 20), AutoscalerAt(4), 1,
       "autoscale: 4 → 1: every signal below target: memory 20% < 80% over 60s"},
  });
}

// Verify that a signal between target × (1 - in) and target × (1 + out)
// changes nothing, on both sides of the target, and the thresholds' edges.
TEST(AutoscalerTest, HysteresisBandHolds) {
  RunAutoscalerCases({
      {"above target, inside the out band", kAutoscalerRps, AutoscalerSignals(1100, 10),
       AutoscalerAt(2), 2,
       "autoscale: holds 2: within target: rps 1100 of 1000 (2 × 500) over 60s"},
      {"just past the out band", kAutoscalerRps, AutoscalerSignals(1101, 10), AutoscalerAt(2), 3,
       "autoscale: 2 → 3: rps 1101 > 1000 (2 × 500) over 60s"},
      {"below target, inside the in band", kAutoscalerRps, AutoscalerSignals(800, 10),
       AutoscalerAt(2), 2, "autoscale: holds 2: within target: rps 800 of 1000 (2 × 500) over 60s"},
      {"p95 just under its target", kAutoscalerP95, AutoscalerSignals(10, 240), AutoscalerAt(3), 3,
       "autoscale: holds 3: within target: p95 240 ms of 250 ms over 60s"},
      {"in threshold 100: never in", Autoscale{.target_cpu = 70, .scale_in_threshold = 100},
       AutoscalerSignals(0, 0, 0), AutoscalerAt(5), 5,
       "autoscale: holds 5: within target: cpu 0% of 70% over 60s"},
      {"out threshold 50", Autoscale{.target_cpu = 60, .scale_out_threshold = 50},
       AutoscalerSignals(0, 0, 89), AutoscalerAt(2), 2,
       "autoscale: holds 2: within target: cpu 89% of 60% over 60s"},
  });
}

// Verify that the count never leaves [min, max], that one out of it is
// brought back whatever the signals and cooldowns, and that max_step limits
// each change.
TEST(AutoscalerTest, BoundsAndSteps) {
  RunAutoscalerCases({
      {"above max", kAutoscalerRps, AutoscalerSignals(99999, 10), AutoscalerAt(12, 1s), 10,
       "autoscale: 12 → 10: above max 10"},
      {"below min, in a cooldown", Autoscale{.min = 2, .target_rps_per_replica = 500},
       AutoscalerSignals(0, std::nullopt), AutoscalerAt(1, std::nullopt, 1s), 2,
       "autoscale: 1 → 2: below min 2"},
      {"0 without scale_to_zero", kAutoscalerRps, AutoscalerSignals(0, std::nullopt),
       AutoscalerAt(0), 1, "autoscale: 0 → 1: below min 1"},
      {"out stops at max", Autoscale{.max = 5, .target_rps_per_replica = 500},
       AutoscalerSignals(5000, 10), AutoscalerAt(4), 5,
       "autoscale: 4 → 5: rps 5000 > 2000 (4 × 500) over 60s (wants 10, max 5)"},
      {"at max holds", kAutoscalerRps, AutoscalerSignals(9000, 10), AutoscalerAt(10), 10,
       "autoscale: holds 10: at max 10; rps 9000 > 5000 (10 × 500) over 60s"},
      {"out by max_step", Autoscale{.max = 20, .target_rps_per_replica = 500},
       AutoscalerSignals(5000, 10), AutoscalerAt(2), 6,
       "autoscale: 2 → 6: rps 5000 > 1000 (2 × 500) over 60s (wants 10, max_step 4)"},
      {"max_step 1", Autoscale{.target_rps_per_replica = 500, .max_step = 1},
       AutoscalerSignals(5000, 10), AutoscalerAt(2), 3,
       "autoscale: 2 → 3: rps 5000 > 1000 (2 × 500) over 60s (wants 10, max_step 1)"},
      {"in by max_step", kAutoscalerRps, AutoscalerSignals(100, 10), AutoscalerAt(10), 6,
       "autoscale: 10 → 6: every signal below target: rps 100 < 5000 (10 × 500) over 60s "
       "(wants 1, max_step 4)"},
      {"in stops at min", Autoscale{.min = 3, .target_rps_per_replica = 500},
       AutoscalerSignals(100, 10), AutoscalerAt(5), 3,
       "autoscale: 5 → 3: every signal below target: rps 100 < 2500 (5 × 500) over 60s"},
      {"at min holds", kAutoscalerRps, AutoscalerSignals(10, 10), AutoscalerAt(1), 1,
       "autoscale: holds 1: at min 1; every signal below target: rps 10 < 500 (1 × 500) over 60s"},
  });
}

// Verify the cooldowns: no scale out within cooldown_up of the last scale out
// (a scale in does not start it), no scale in within cooldown_down of the last
// change either way.
TEST(AutoscalerTest, Cooldowns) {
  const AutoscaleSignals high = AutoscalerSignals(1900, 10);
  const AutoscaleSignals low = AutoscalerSignals(100, 10);
  RunAutoscalerCases({
      {"up: 12s left", kAutoscalerRps, high, AutoscalerAt(2, 18s), 2,
       "autoscale: holds 2: cooldown_up: 12s left; rps 1900 > 1000 (2 × 500) over 60s"},
      {"up: a fraction of a second left counts as 1s", kAutoscalerRps, high,
       AutoscalerAt(2, 29'999ms), 2,
       "autoscale: holds 2: cooldown_up: 1s left; rps 1900 > 1000 (2 × 500) over 60s"},
      {"up: over", kAutoscalerRps, high, AutoscalerAt(2, 30s), 4,
       "autoscale: 2 → 4: rps 1900 > 1000 (2 × 500) over 60s"},
      {"up: a scale in just now does not hold a scale out", kAutoscalerRps, high,
       AutoscalerAt(2, 1h, 1s), 4, "autoscale: 2 → 4: rps 1900 > 1000 (2 × 500) over 60s"},
      {"up: a clock gone back leaves the whole cooldown", kAutoscalerRps, high,
       AutoscalerAt(2, -1h), 2,
       "autoscale: holds 2: cooldown_up: 30s left; rps 1900 > 1000 (2 × 500) over 60s"},
      {"down after a scale out", kAutoscalerRps, low, AutoscalerAt(3, 100s), 3,
       "autoscale: holds 3: cooldown_down: 20s left; every signal below target: rps 100 < 1500 "
       "(3 × 500) over 60s"},
      {"down after a scale in; the later change counts", kAutoscalerRps, low,
       AutoscalerAt(3, 1h, 30s), 3,
       "autoscale: holds 3: cooldown_down: 90s left; every signal below target: rps 100 < 1500 "
       "(3 × 500) over 60s"},
      {"down: long cooldowns read in minutes",
       Autoscale{.target_rps_per_replica = 500, .cooldown_down = 10min}, low,
       AutoscalerAt(3, std::nullopt, 30s), 3,
       "autoscale: holds 3: cooldown_down: 9m30s left; every signal below target: rps 100 < 1500 "
       "(3 × 500) over 60s"},
      {"down: over", kAutoscalerRps, low, AutoscalerAt(3, 10min, 120s), 1,
       "autoscale: 3 → 1: every signal below target: rps 100 < 1500 (3 × 500) over 60s"},
      {"no cooldowns at all",
       Autoscale{.target_rps_per_replica = 500, .cooldown_up = 0s, .cooldown_down = 0s}, low,
       AutoscalerAt(3, 0s, 0s), 1,
       "autoscale: 3 → 1: every signal below target: rps 100 < 1500 (3 × 500) over 60s"},
  });
}

// Verify that a configured signal without data holds the count and is named,
// and that a p95 without data while the edges reported zero requests counts
// as below its target.
TEST(AutoscalerTest, NoDataHolds) {
  RunAutoscalerCases({
      {"cpu unmeasured", kAutoscalerCpu, AutoscalerSignals(100, 10, std::nullopt), AutoscalerAt(3),
       3, "autoscale: holds 3: no data for cpu over 60s"},
      {"cpu unmeasured while the others are low", kAutoscalerAll,
       AutoscalerSignals(10, 10, std::nullopt), AutoscalerAt(3), 3,
       "autoscale: holds 3: no data for cpu over 60s"},
      {"no edge reported: rps and p95", kAutoscalerAll,
       AutoscalerSignals(std::nullopt, std::nullopt, 10), AutoscalerAt(3), 3,
       "autoscale: holds 3: no data for rps, p95 over 60s"},
      {"a negative or NaN value is no data", Autoscale{.target_cpu = 70, .target_memory = 80},
       AutoscalerSignals(1, 1, -5, std::nan("")), AutoscalerAt(3), 3,
       "autoscale: holds 3: no data for cpu, memory over 60s"},
      {"zero requests: p95 is satisfied", kAutoscalerP95, AutoscalerSignals(0, std::nullopt),
       AutoscalerAt(3), 1,
       "autoscale: 3 → 1: every signal below target: p95 none (no requests) over 60s"},
      {"zero requests with rps and p95",
       Autoscale{.target_rps_per_replica = 500, .max_p95_ms = 250},
       AutoscalerSignals(0, std::nullopt), AutoscalerAt(3), 1,
       "autoscale: 3 → 1: every signal below target: rps 0 < 1500 (3 × 500), p95 none (no "
       "requests) over 60s"},
      {"some requests but no p95 yet", kAutoscalerP95, AutoscalerSignals(0.5, std::nullopt),
       AutoscalerAt(3), 3, "autoscale: holds 3: no data for p95 over 60s"},
      {"small rates read with a decimal", kAutoscalerRps, AutoscalerSignals(0.5, 3),
       AutoscalerAt(1), 1,
       "autoscale: holds 1: at min 1; every signal below target: rps 0.5 < 500 (1 × 500) over "
       "60s"},
  });
}

// Verify scale to zero: no request for `idle` (or none seen in as long) goes
// to 0 after cooldown_down; shorter, or observed for less, the signals rule
// down to 1; asleep at 0, the count stays (a request wakes the app elsewhere).
TEST(AutoscalerTest, ScaleToZero) {
  AutoscaleSignals idle = AutoscalerSignals(0, std::nullopt);
  idle.last_request = kAutoscalerNow - 11min;
  AutoscaleSignals not_yet = idle;
  not_yet.last_request = kAutoscalerNow - 9min;
  AutoscaleSignals never_long = idle;
  never_long.last_request.reset();
  never_long.observed_for = 10min;
  AutoscaleSignals never_short = never_long;
  never_short.observed_for = 5min;
  AutoscaleSignals busy = AutoscalerSignals(5000, 100);
  AutoscaleSignals no_edge = idle;
  no_edge.rps.reset();
  no_edge.p95_ms.reset();
  AutoscaleSignals streaming = idle;
  streaming.in_flight = 1;
  RunAutoscalerCases({
      {"idle: to 0", kAutoscalerToZero, idle, AutoscalerAt(2), 0, "autoscale: 2 → 0: idle for 10m"},
      {"idle, longer policy", Autoscale{.min = 0, .scale_to_zero = true, .idle = 90min},
       AutoscaleSignals{.rps = 0, .observed_for = 2h}, AutoscalerAt(1), 0,
       "autoscale: 1 → 0: idle for 90m"},
      {"idle but no edge reported: no data, stays up", kAutoscalerToZero, no_edge, AutoscalerAt(1),
       1, "autoscale: holds 1: no data for rps over 60s"},
      {"idle but a request in flight: stays up", kAutoscalerToZero, streaming, AutoscalerAt(1), 1,
       "autoscale: holds 1: at 1 until idle for 10m; every signal below target: rps 0 < 500 "
       "(1 × 500) over 60s"},
      {"idle in a cooldown", kAutoscalerToZero, idle, AutoscalerAt(1, 60s), 1,
       "autoscale: holds 1: cooldown_down: 60s left; idle for 10m"},
      {"not idle yet: the signals go down to 1", kAutoscalerToZero, not_yet, AutoscalerAt(3), 1,
       "autoscale: 3 → 1: every signal below target: rps 0 < 1500 (3 × 500) over 60s"},
      {"not idle yet, at 1", kAutoscalerToZero, not_yet, AutoscalerAt(1), 1,
       "autoscale: holds 1: at 1 until idle for 10m; every signal below target: rps 0 < 500 "
       "(1 × 500) over 60s"},
      {"no request seen, observed long enough", kAutoscalerToZero, never_long, AutoscalerAt(1), 0,
       "autoscale: 1 → 0: idle for 10m"},
      {"no request seen, observed too short", kAutoscalerToZero, never_short, AutoscalerAt(1), 1,
       "autoscale: holds 1: at 1 until idle for 10m; every signal below target: rps 0 < 500 "
       "(1 × 500) over 60s"},
      {"asleep stays asleep, whatever the load", kAutoscalerToZero, busy, AutoscalerAt(0), 0,
       "autoscale: holds 0: asleep at 0: a request wakes it"},
      {"scale_to_zero without min 0 never goes to 0 (a stored policy)",
       Autoscale{.min = 1, .target_rps_per_replica = 500, .scale_to_zero = true}, idle,
       AutoscalerAt(1), 1,
       "autoscale: holds 1: at min 1; every signal below target: rps 0 < 500 (1 × 500) over 60s"},
      {"only scale_to_zero, not idle", Autoscale{.min = 0, .scale_to_zero = true}, not_yet,
       AutoscalerAt(2), 2,
       "autoscale: holds 2: no signal configured: goes to 0 only when idle for 10m"},
      {"no signal at all (a stored policy)", Autoscale{}, busy, AutoscalerAt(2), 2,
       "autoscale: holds 2: no signal configured"},
  });
}

// Verify over a grid of loads, counts, bounds and steps that the result stays
// in [min, max] (0 only by idleness or asleep), changes by at most max_step
// once inside the bounds, and moves only the way the signals point.
TEST(AutoscalerTest, InvariantsOverAGrid) {
  for (int min : {1, 2}) {
    for (int max : {2, 5, 30}) {
      if (min > max) continue;
      for (int step : {1, 3}) {
        const Autoscale policy{.min = min,
                               .max = max,
                               .target_rps_per_replica = 100,
                               .target_cpu = 50,
                               .max_step = step};
        for (int current = 0; current <= 35; ++current) {
          for (double rps : {0.0, 10.0, 150.0, 1000.0, 9000.0}) {
            for (double cpu : {0.0, 45.0, 60.0, 200.0}) {
              SCOPED_TRACE(::testing::Message()
                           << "min " << min << " max " << max << " step " << step << " at "
                           << current << " rps " << rps << " cpu " << cpu);
              AutoscaleDecision d = DecideReplicas(policy, AutoscalerSignals(rps, 5, cpu),
                                                   AutoscalerAt(current), kAutoscalerNow);
              EXPECT_GE(d.replicas, min);
              EXPECT_LE(d.replicas, max);
              EXPECT_FALSE(d.reason.empty());
              if (current >= min && current <= max) {
                EXPECT_LE(std::abs(d.replicas - current), step);
                const bool above = rps > 110.0 * current || cpu > 55;
                if (d.replicas > current) {
                  EXPECT_TRUE(above);
                }
                if (d.replicas < current) {
                  EXPECT_TRUE(rps < 80.0 * current && cpu < 40);
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace skiff::controller
