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

}  // namespace
}  // namespace skiff::model
