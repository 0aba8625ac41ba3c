#include "agent/health_tracker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <vector>

namespace skiff::agent {
namespace {

using namespace std::chrono_literals;
using model::Health;

const Time kStart = Time(std::chrono::seconds(1'700'000'000));

struct Step {
  Duration at;  // since the start
  bool ok;
  std::optional<Health> expect;  // the transition expected, if any
};

struct Case {
  const char* name;
  int healthy_threshold;
  int unhealthy_threshold;
  Duration grace;
  std::vector<Step> steps;
};

// Verify the health state machine against a table of probe sequences.
TEST(HealthTrackerTest, Table) {
  const std::vector<Case> cases = {
      {"first success is the first determination",
       1,
       3,
       0s,
       {{1s, true, Health::kHealthy}, {2s, true, std::nullopt}}},
      {"healthy needs the threshold of consecutive successes",
       3,
       3,
       0s,
       {{1s, true, std::nullopt},
        {2s, true, std::nullopt},
        {3s, false, std::nullopt},
        {4s, true, std::nullopt},
        {5s, true, std::nullopt},
        {6s, true, Health::kHealthy}}},
      {"unhealthy needs the threshold of consecutive failures",
       1,
       3,
       0s,
       {{1s, true, Health::kHealthy},
        {2s, false, std::nullopt},
        {3s, false, std::nullopt},
        {4s, true, std::nullopt},
        {5s, false, std::nullopt},
        {6s, false, std::nullopt},
        {7s, false, Health::kUnhealthy},
        {8s, false, std::nullopt},
        {9s, true, Health::kHealthy}}},
      {"failures inside the grace period do not count",
       1,
       2,
       5s,
       {{1s, false, std::nullopt},
        {2s, false, std::nullopt},
        {3s, false, std::nullopt},
        {6s, false, std::nullopt},
        {7s, false, Health::kUnhealthy}}},
      {"successes inside the grace period count", 1, 1, 5s, {{1s, true, Health::kHealthy}}},
      {"a never-healthy instance turns unhealthy after grace",
       1,
       1,
       2s,
       {{1s, false, std::nullopt}, {2s, false, Health::kUnhealthy}}},
      {"zero thresholds act as one",
       0,
       0,
       0s,
       {{1s, false, Health::kUnhealthy}, {2s, true, Health::kHealthy}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    model::HealthCheck check;
    check.healthy_threshold = c.healthy_threshold;
    check.unhealthy_threshold = c.unhealthy_threshold;
    check.grace = c.grace;
    HealthTracker tracker(check, kStart);
    EXPECT_EQ(tracker.health(), Health::kUnknown);
    for (size_t i = 0; i < c.steps.size(); ++i) {
      SCOPED_TRACE(i);
      const Step& step = c.steps[i];
      auto got = tracker.Observe(kStart + step.at, step.ok, step.ok ? "ok" : "bad");
      ASSERT_EQ(got.has_value(), step.expect.has_value());
      if (got) {
        EXPECT_EQ(got->health, *step.expect);
        EXPECT_EQ(got->message, step.ok ? "ok" : "bad");
        EXPECT_EQ(tracker.health(), *step.expect);
      }
    }
  }
}

}  // namespace
}  // namespace skiff::agent
