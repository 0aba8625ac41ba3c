#include "model/resources.h"

#include <gtest/gtest.h>

namespace skiff::model {
namespace {

// Checks that ToString gives `name` and Parse gives back the value.
template <typename E>
void ExpectSpelling(E value, std::string_view name, std::optional<E> (*parse)(std::string_view)) {
  EXPECT_EQ(ToString(value), name);
  EXPECT_EQ(parse(name), value) << name;
}

// Verify the API spellings of every enum and that Parse* inverts ToString.
TEST(ResourcesTest, Spellings) {
  ExpectSpelling(DeploymentState::kPending, "pending", &ParseDeploymentState);
  ExpectSpelling(DeploymentState::kProgressing, "progressing", &ParseDeploymentState);
  ExpectSpelling(DeploymentState::kHealthy, "healthy", &ParseDeploymentState);
  ExpectSpelling(DeploymentState::kFailed, "failed", &ParseDeploymentState);
  ExpectSpelling(DeploymentState::kRolledBack, "rolled_back", &ParseDeploymentState);
  ExpectSpelling(DeploymentState::kSuperseded, "superseded", &ParseDeploymentState);
  ExpectSpelling(InstanceState::kPending, "pending", &ParseInstanceState);
  ExpectSpelling(InstanceState::kStarting, "starting", &ParseInstanceState);
  ExpectSpelling(InstanceState::kRunning, "running", &ParseInstanceState);
  ExpectSpelling(InstanceState::kStopping, "stopping", &ParseInstanceState);
  ExpectSpelling(InstanceState::kStopped, "stopped", &ParseInstanceState);
  ExpectSpelling(InstanceState::kFailed, "failed", &ParseInstanceState);
  ExpectSpelling(Health::kUnknown, "unknown", &ParseHealth);
  ExpectSpelling(Health::kHealthy, "healthy", &ParseHealth);
  ExpectSpelling(Health::kUnhealthy, "unhealthy", &ParseHealth);
  ExpectSpelling(DesiredState::kRun, "run", &ParseDesiredState);
  ExpectSpelling(DesiredState::kStop, "stop", &ParseDesiredState);
  ExpectSpelling(NodeStatus::kReady, "ready", &ParseNodeStatus);
  ExpectSpelling(NodeStatus::kDown, "down", &ParseNodeStatus);
  ExpectSpelling(NodeStatus::kDraining, "draining", &ParseNodeStatus);
  ExpectSpelling(HealthType::kHttp, "http", &ParseHealthType);
  ExpectSpelling(HealthType::kTcp, "tcp", &ParseHealthType);
  ExpectSpelling(HealthType::kNone, "none", &ParseHealthType);
  ExpectSpelling(PlacementStrategy::kSpread, "spread", &ParsePlacementStrategy);
  ExpectSpelling(PlacementStrategy::kBinpack, "binpack", &ParsePlacementStrategy);
  ExpectSpelling(PlacementStrategy::kLeastLoaded, "least-loaded", &ParsePlacementStrategy);
  ExpectSpelling(PlacementStrategy::kRoundRobin, "round-robin", &ParsePlacementStrategy);
  ExpectSpelling(UpdateStrategy::kRolling, "rolling", &ParseUpdateStrategy);
  ExpectSpelling(UpdateStrategy::kBlueGreen, "blue-green", &ParseUpdateStrategy);
  ExpectSpelling(UpdateStrategy::kCanary, "canary", &ParseUpdateStrategy);
}

// Verify that unknown or differently-cased spellings parse to nullopt.
TEST(ResourcesTest, UnknownSpellings) {
  EXPECT_FALSE(ParseDeploymentState("rolled-back"));
  EXPECT_FALSE(ParseInstanceState("Running"));
  EXPECT_FALSE(ParseHealth(""));
  EXPECT_FALSE(ParseDesiredState("start"));
  EXPECT_FALSE(ParseNodeStatus("up"));
  EXPECT_FALSE(ParseHealthType("HTTP"));
  EXPECT_FALSE(ParsePlacementStrategy("least_loaded"));
  EXPECT_FALSE(ParseUpdateStrategy("bluegreen"));
}

// Verify which instance states may have a live process.
TEST(ResourcesTest, IsLive) {
  EXPECT_FALSE(IsLive(InstanceState::kPending));
  EXPECT_TRUE(IsLive(InstanceState::kStarting));
  EXPECT_TRUE(IsLive(InstanceState::kRunning));
  EXPECT_TRUE(IsLive(InstanceState::kStopping));
  EXPECT_FALSE(IsLive(InstanceState::kStopped));
  EXPECT_FALSE(IsLive(InstanceState::kFailed));
}

App AppWithAutoscale(int replicas, std::optional<Autoscale> policy, std::optional<int> autoscaled) {
  App app;
  app.name = "web";
  app.spec.replicas = replicas;
  app.spec.autoscale = policy;
  app.autoscaled_replicas = autoscaled;
  return app;
}

// Verify that the desired count is the spec's without autoscale, the
// autoscaler's with it (the spec's until it decided, within the bounds), and
// 0 while the app is being deleted.
TEST(ResourcesTest, DesiredReplicas) {
  const Autoscale bounds{.min = 2, .max = 5};
  const Autoscale to_zero{.min = 0, .max = 3, .scale_to_zero = true};
  struct Case {
    App app;
    int want;
  } cases[] = {
      {AppWithAutoscale(3, std::nullopt, std::nullopt), 3},
      {AppWithAutoscale(3, std::nullopt, 7), 3},  // left from an earlier autoscaled spec
      {AppWithAutoscale(3, bounds, std::nullopt), 3},
      {AppWithAutoscale(1, bounds, std::nullopt), 2},  // under min: min
      {AppWithAutoscale(9, bounds, std::nullopt), 5},  // over max: max
      {AppWithAutoscale(3, bounds, 4), 4},
      {AppWithAutoscale(3, bounds, 0), 2},  // no scale to zero: never under min
      {AppWithAutoscale(3, bounds, 8), 5},  // max lowered since the autoscaler decided
      {AppWithAutoscale(1, to_zero, 0), 0},
      {AppWithAutoscale(1, to_zero, std::nullopt), 1},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DesiredReplicas(c.app), c.want)
        << "replicas " << c.app.spec.replicas << " autoscaled "
        << c.app.autoscaled_replicas.value_or(-1);
  }
  App deleting = AppWithAutoscale(3, std::nullopt, std::nullopt);
  deleting.deleting = true;
  EXPECT_EQ(DesiredReplicas(deleting), 0);
}

// Verify that only an app scaled to zero under scale_to_zero sleeps.
TEST(ResourcesTest, IsSleeping) {
  const Autoscale to_zero{.min = 0, .max = 3, .scale_to_zero = true};
  EXPECT_TRUE(IsSleeping(AppWithAutoscale(1, to_zero, 0)));
  EXPECT_FALSE(IsSleeping(AppWithAutoscale(1, to_zero, 1)));
  EXPECT_FALSE(IsSleeping(AppWithAutoscale(1, to_zero, std::nullopt)));
  EXPECT_FALSE(IsSleeping(AppWithAutoscale(0, std::nullopt, std::nullopt)));  // scaled by hand
  App deleting = AppWithAutoscale(1, to_zero, 0);
  deleting.deleting = true;
  EXPECT_FALSE(IsSleeping(deleting));
}

}  // namespace
}  // namespace skiff::model
