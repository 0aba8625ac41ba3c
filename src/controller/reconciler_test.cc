#include "controller/reconciler.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "common/quantity.h"
#include "controller/backoff.h"
#include "controller/reconciler_test_util.h"

namespace skiff::controller {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using test_util::kMi;
using test_util::World;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

// Verify that a fresh app gets its replicas created, placed, and its deployment progressing.
TEST(ReconcilerTest, FreshAppCreatesPlacedInstances) {
  World w;
  w.AddNode("n1");
  w.AddNode("n2");
  w.AddApp("web", 3);
  Actions actions = w.Step();
  EXPECT_THAT(
      w.Describe(actions),
      ElementsAre(
          "create web-1 on n1", "create web-2 on n2", "create web-3 on n1",
          "deployment web/1 -> progressing (0/3 healthy)",
          "event deployment.progressing: revision 1 is rolling out (rolling): 0/3 healthy"));
  const auto& created = std::get<CreateInstance>(actions[0]).instance;
  EXPECT_EQ(created.app, "web");
  EXPECT_EQ(created.revision, 1);
  EXPECT_EQ(created.desired, model::DesiredState::kRun);
  EXPECT_EQ(created.state, model::InstanceState::kPending);
  EXPECT_EQ(created.created_at, w.now);
}

// Verify that once instances are healthy the deployment goes healthy, once, then nothing.
TEST(ReconcilerTest, ConvergesToHealthyAndThenIdle) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 2);
  w.Pass();
  w.Settle();
  EXPECT_THAT(w.Pass(),
              ElementsAre("deployment web/1 -> healthy (2/2 healthy)",
                          "event deployment.healthy: revision 1 is healthy: 2/2 healthy"));
  EXPECT_THAT(w.Pass(), IsEmpty());
}

// Verify that a fresh app placed with the app's constraints and the instance's restart epoch.
TEST(ReconcilerTest, CreatesWithEpochAndConstraints) {
  World w;
  w.AddNode("n1", {}, {{"zone", "b"}});
  w.AddNode("n2", {}, {{"zone", "a"}});
  w.AddApp("web", 1, [](model::AppSpec& s) {
    s.placement.constraints = {{"zone", model::ConstraintOp::kEquals, "a"}};
  });
  w.App("web").restart_epoch = 4;
  Actions actions = w.Step();
  ASSERT_FALSE(actions.empty());
  const auto& created = std::get<CreateInstance>(actions[0]).instance;
  EXPECT_EQ(created.node, "n2");
  EXPECT_EQ(created.restart_epoch, 4);
}

struct ScaleCase {
  std::string name;
  int from;
  int to;
  std::vector<std::string> want;  // actions of the first pass after the scale
};

void PrintTo(const ScaleCase& c, std::ostream* os) { *os << c.name; }

class ScaleTest : public ::testing::TestWithParam<ScaleCase> {};

// Verify that scaling (a revision differing only in replicas) replaces nothing.
TEST_P(ScaleTest, AddsOrStopsWithoutReplacing) {
  const ScaleCase& c = GetParam();
  World w;
  w.AddNode("n1");
  w.AddNode("n2");
  w.AddApp("web", c.from);
  w.Converge();
  w.now += seconds(1);
  w.NewRevision("web", [&](model::AppSpec& s) { s.replicas = c.to; });
  EXPECT_THAT(w.Pass(), ElementsAreArray(c.want));
  w.Settle();
  w.Converge();
  EXPECT_EQ(w.Deployment("web", 2).state, model::DeploymentState::kHealthy);
  EXPECT_EQ(w.Deployment("web", 1).state, model::DeploymentState::kSuperseded);
  EXPECT_EQ(static_cast<int>(w.Wanted("web").size()), c.to);
  EXPECT_EQ(w.Available("web"), c.to);
}

INSTANTIATE_TEST_SUITE_P(
    Scale, ScaleTest,
    ::testing::Values(
        ScaleCase{
            "Up",
            2,
            4,
            {"create web-3 on n1", "create web-4 on n2",
             "deployment web/2 -> progressing (2/4 healthy)",
             "event deployment.progressing: revision 2 is rolling out (rolling): 2/4 healthy"}},
        ScaleCase{"Down",
                  3,
                  1,
                  // The newest go first (equal times: the larger id).
                  {"stop web-3 (scaled down)", "stop web-2 (scaled down)",
                   "deployment web/2 -> healthy (1/1 healthy)",
                   "event deployment.healthy: revision 2 is healthy: 1/1 healthy",
                   "deployment web/1 -> superseded (superseded by revision 2)"}},
        ScaleCase{"ToZero",
                  2,
                  0,
                  {"stop web-2 (scaled down)", "stop web-1 (scaled down)",
                   "deployment web/2 -> healthy (0/0 healthy)",
                   "event deployment.healthy: revision 2 is healthy: 0/0 healthy",
                   "deployment web/1 -> superseded (superseded by revision 2)"}}),
    [](const auto& info) { return info.param.name; });

// Verify that scaling down stops unhealthy and unplaced instances before healthy ones.
TEST(ReconcilerTest, ScaleDownStopsUnhealthyFirst) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 3);
  w.AddRunning("web", "n1");                                     // web-1
  w.AddRunning("web", "n1").health = model::Health::kUnhealthy;  // web-2
  w.AddRunning("web", "n1");                                     // web-3
  w.App("web").spec.replicas = 1;
  // Healthy at once: the one wanted instance is healthy and nothing old remains.
  EXPECT_THAT(w.Pass(),
              ElementsAre("stop web-2 (scaled down)", "stop web-3 (scaled down)",
                          "deployment web/1 -> healthy (1/1 healthy)",
                          "event deployment.healthy: revision 1 is healthy: 1/1 healthy"));
}

// Verify that a target of zero with nothing running is healthy "0/0".
TEST(ReconcilerTest, ZeroReplicasIsHealthy) {
  World w;
  w.AddApp("web", 0);
  EXPECT_THAT(w.Pass(),
              ElementsAre("deployment web/1 -> healthy (0/0 healthy)",
                          "event deployment.healthy: revision 1 is healthy: 0/0 healthy"));
  EXPECT_THAT(w.Pass(), IsEmpty());
}

// Verify that a crashed instance is restarted after its backoff, in place, never duplicated.
TEST(ReconcilerTest, CrashSchedulesThenRestarts) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1);
  w.Converge();
  w.Crash("web-1", 3);
  w.Instance("web-1").crash_count = 3;
  EXPECT_THAT(w.Pass(),
              ElementsAre("schedule restart of web-1 at " + FormatTime(w.now + seconds(4))));
  EXPECT_EQ(w.Instance("web-1").restart_at, w.now + RestartBackoff(3));
  w.now += seconds(4) - milliseconds(1);
  EXPECT_THAT(w.Pass(), IsEmpty());
  w.now += milliseconds(1);
  EXPECT_THAT(w.Pass(), ElementsAre("restart web-1"));
  EXPECT_EQ(w.Instance("web-1").state, model::InstanceState::kPending);
  EXPECT_EQ(w.Instance("web-1").restarts, 1);
  EXPECT_EQ(w.Instance("web-1").generation, 2);
  EXPECT_EQ(w.Instance("web-1").message, "restarting");
  w.Settle();
  EXPECT_THAT(w.Pass(), IsEmpty());
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1"));
}

// Verify that a crash loop of starts that fail (no exit code: a failed build, an
// image that cannot be pulled) fails the deployment with the start's own error.
TEST(ReconcilerTest, CrashLoopOfFailedStartsSaysWhy) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1);
  w.Pass();
  w.Settle();
  w.Crash("web-1", 1);
  w.Instance("web-1").last_exit.reset();
  w.Instance("web-1").message = "build of skiff/web:1 failed: COPY failed: no such file";
  w.Instance("web-1").crash_count = kCrashLoopThreshold;
  EXPECT_THAT(w.Pass(), ::testing::Contains(
                            "event deployment.failed: revision 1 failed: crash loop: instance "
                            "web-1 failed: build of skiff/web:1 failed: COPY failed: no such file "
                            "(5 failures in a row)"));
}

// Verify that a crash loop fails the deployment once, stably, until fully healthy.
TEST(ReconcilerTest, CrashLoopFailsDeploymentOnce) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 2);
  w.Pass();
  w.Settle();
  w.Crash("web-2", 1);
  w.Instance("web-2").crash_count = kCrashLoopThreshold;
  EXPECT_THAT(w.Pass(),
              ElementsAre("schedule restart of web-2 at " + FormatTime(w.now + seconds(16)),
                          "deployment web/1 -> failed (crash loop: instance web-2 exited with 1 "
                          "(5 failures in a row))",
                          "event deployment.failed: revision 1 failed: crash loop: instance "
                          "web-2 exited with 1 (5 failures in a row)"));
  EXPECT_THAT(w.EventKinds(), ElementsAre("deployment.progressing", "deployment.failed"));
  EXPECT_EQ(w.events[1].details.at("instance"), "web-2");
  EXPECT_THAT(w.Pass(), IsEmpty());
  // Restarted and still not healthy: stays failed, says nothing more.
  w.now += seconds(16);
  EXPECT_THAT(w.Pass(), ElementsAre("restart web-2"));
  // Another crash: a new backoff, but the failed deployment is not rewritten.
  w.Crash("web-2", 2);
  EXPECT_THAT(w.Pass(),
              ElementsAre("schedule restart of web-2 at " + FormatTime(w.now + seconds(32))));
  w.now += seconds(32);
  EXPECT_THAT(w.Pass(), ElementsAre("restart web-2"));
  w.StartUnhealthy();
  EXPECT_THAT(w.Pass(), IsEmpty());
  w.Instance("web-2").health = model::Health::kHealthy;
  w.Instance("web-2").crash_count = 0;
  EXPECT_THAT(w.Pass(),
              ElementsAre("deployment web/1 -> healthy (2/2 healthy)",
                          "event deployment.healthy: revision 1 is healthy: 2/2 healthy"));
}

// Verify that a crash after the rollout finished leaves a healthy deployment healthy.
TEST(ReconcilerTest, HealthyDeploymentStaysHealthyOnCrash) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1);
  w.Converge();
  w.Crash("web-1", 137);
  EXPECT_THAT(w.Pass(),
              ElementsAre("schedule restart of web-1 at " + FormatTime(w.now + seconds(1))));
  EXPECT_EQ(w.Deployment("web", 1).state, model::DeploymentState::kHealthy);
}

struct RolloutCase {
  std::string name;
  int replicas;
  int max_surge;
  int max_unavailable;
  bool new_epoch;  // a `skiff restart` rather than a new revision
};

void PrintTo(const RolloutCase& c, std::ostream* os) { *os << c.name; }

class RolloutTest : public ::testing::TestWithParam<RolloutCase> {};

// Verify that a rolling update replaces every instance within surge/unavailable bounds.
TEST_P(RolloutTest, ReplacesWithinBounds) {
  const RolloutCase& c = GetParam();
  World w;
  w.AddNode("n1");
  w.AddNode("n2");
  w.AddApp("web", c.replicas, [&](model::AppSpec& s) {
    s.update.max_surge = c.max_surge;
    s.update.max_unavailable = c.max_unavailable;
  });
  w.Converge();
  ASSERT_EQ(w.Available("web"), c.replicas);
  std::vector<std::string> before = w.Wanted("web");
  int64_t revision = 1;
  if (c.new_epoch) {
    ++w.App("web").restart_epoch;
  } else {
    w.NewRevision("web", [](model::AppSpec& s) { s.env["V"] = "2"; });
    revision = 2;
  }
  int passes = 0;
  for (; passes < 50; ++passes) {
    std::vector<std::string> done = w.Pass();
    int wanted = static_cast<int>(w.Wanted("web").size());
    EXPECT_LE(wanted, c.replicas + std::max(c.max_surge, 1)) << "pass " << passes;
    bool changed = w.AgentTick();
    EXPECT_GE(w.Available("web"), c.replicas - c.max_unavailable) << "pass " << passes;
    if (done.empty() && !changed) break;
  }
  EXPECT_LT(passes, 50);
  for (const model::Instance& instance : w.snapshot.instances) {
    EXPECT_EQ(instance.revision, revision) << instance.id;
    EXPECT_EQ(instance.restart_epoch, w.App("web").restart_epoch) << instance.id;
  }
  EXPECT_EQ(w.Available("web"), c.replicas);
  for (const std::string& old : before) {
    EXPECT_THAT(w.Wanted("web"), ::testing::Not(::testing::Contains(old)));
  }
  EXPECT_EQ(w.Deployment("web", revision).state, model::DeploymentState::kHealthy);
  if (!c.new_epoch) {
    EXPECT_EQ(w.Deployment("web", 1).state, model::DeploymentState::kSuperseded);
  }
}

INSTANTIATE_TEST_SUITE_P(Rollouts, RolloutTest,
                         ::testing::Values(RolloutCase{"OneAtATime", 3, 1, 0, false},
                                           RolloutCase{"UnavailableFirst", 3, 0, 1, false},
                                           RolloutCase{"Wide", 4, 2, 1, false},
                                           RolloutCase{"NoSurgeNoUnavailable", 2, 0, 0, false},
                                           RolloutCase{"RestartEpoch", 3, 1, 0, true}),
                         [](const auto& info) { return info.param.name; });

// Verify the first steps of a one-at-a-time rollout exactly.
TEST(ReconcilerTest, RolloutStepsOneAtATime) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 2);
  w.Converge();
  w.NewRevision("web", [](model::AppSpec& s) { s.env["V"] = "2"; });
  EXPECT_THAT(
      w.Pass(),
      ElementsAre(
          "create web-3 on n1", "deployment web/2 -> progressing (0/2 healthy)",
          "event deployment.progressing: revision 2 is rolling out (rolling): 0/2 healthy"));
  w.StartUnhealthy();
  EXPECT_THAT(w.Pass(), IsEmpty());  // web-3 not healthy yet: nothing old may go
  w.AgentTick();
  // web-3 healthy: one old one may go, which makes room for the next new one.
  EXPECT_THAT(w.Pass(), ElementsAre("stop web-1 (replaced by revision 2)", "create web-4 on n1",
                                    "deployment web/2 -> progressing (1/2 healthy)"));
  w.AgentTick();
  EXPECT_THAT(w.Pass(), ElementsAre("remove web-1"));  // web-4 not healthy yet
  w.AgentTick();
  EXPECT_THAT(w.Pass(), ElementsAre("stop web-2 (replaced by revision 2)",
                                    "deployment web/2 -> progressing (2/2 healthy)"));
  w.AgentTick();
  EXPECT_THAT(w.Pass(), ElementsAre("remove web-2", "deployment web/2 -> healthy (2/2 healthy)",
                                    "event deployment.healthy: revision 2 is healthy: 2/2 healthy",
                                    "deployment web/1 -> superseded (superseded by revision 2)"));
  EXPECT_THAT(w.Pass(), IsEmpty());
}

// Verify that a broken new revision without auto_revert never takes healthy old
// instances down: it fails and the rollout stops there.
TEST(ReconcilerTest, BrokenRevisionKeepsOldInstances) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 2);
  w.Converge();
  w.NewRevision("web", [](model::AppSpec& s) {
    s.env["V"] = "broken";
    s.update.auto_revert = false;
  });
  w.Pass();  // creates web-3
  for (int i = 0; i < 6; ++i) {
    w.Crash("web-3", 1);
    w.now += kMaxRestartBackoff;
    w.Pass();
    w.Pass();
  }
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-2@n1", "web-3@n1"));
  EXPECT_EQ(w.Available("web"), 2);
  EXPECT_EQ(w.Deployment("web", 2).state, model::DeploymentState::kFailed);
  EXPECT_THAT(w.EventKinds(), ElementsAre("deployment.progressing", "deployment.healthy",
                                          "deployment.progressing", "deployment.failed"));
}

// Verify that deleting an app stops its instances, removes them, then the app.
TEST(ReconcilerTest, DeleteFlow) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 2);
  w.Converge();
  w.App("web").deleting = true;
  EXPECT_THAT(w.Pass(), ElementsAre("stop web-1 (app deleted)", "stop web-2 (app deleted)"));
  EXPECT_THAT(w.Pass(), IsEmpty());  // still stopping
  w.Settle();
  EXPECT_THAT(w.Pass(), ElementsAre("remove web-1", "remove web-2"));
  EXPECT_THAT(w.Pass(), ElementsAre("remove app web"));
  EXPECT_TRUE(w.snapshot.apps.empty());
  EXPECT_TRUE(w.snapshot.deployments.empty());
  EXPECT_THAT(w.Pass(), IsEmpty());
}

// Verify that instances of an app that no longer exists are stopped, then removed.
TEST(ReconcilerTest, OrphansStopThenRemove) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1);
  model::Instance orphan;
  orphan.id = "ghost-1";
  orphan.app = "ghost";
  orphan.node = "n1";
  orphan.state = model::InstanceState::kRunning;
  w.snapshot.instances.push_back(orphan);
  orphan.id = "ghost-x";
  orphan.node.clear();
  orphan.state = model::InstanceState::kPending;
  w.snapshot.instances.push_back(orphan);
  EXPECT_THAT(
      w.Pass(),
      ElementsAre("create web-1 on n1", "deployment web/1 -> progressing (0/1 healthy)",
                  "event deployment.progressing: revision 1 is rolling out (rolling): 0/1 healthy",
                  "stop ghost-1 (app no longer exists)", "stop ghost-x (app no longer exists)"));
  EXPECT_THAT(w.Pass(), ElementsAre("remove ghost-x"));  // never placed: no agent to wait for
  w.Settle();
  EXPECT_THAT(w.Pass(), ElementsAre("deployment web/1 -> healthy (1/1 healthy)",
                                    "event deployment.healthy: revision 1 is healthy: 1/1 healthy",
                                    "remove ghost-1"));
  EXPECT_THAT(w.Pass(), IsEmpty());
}

// Verify that a pass works through orphaned apps in name order and each app's
// instances in id order, whatever order the snapshot holds them in (a
// snapshot's instances come in no particular order).
TEST(ReconcilerTest, OrphansInNameOrderWhateverTheSnapshotOrder) {
  World w;
  w.AddNode("n1");
  for (const char* id : {"zeta-2", "alpha-2", "zeta-1", "mid-1", "alpha-1"}) {
    model::Instance orphan;
    orphan.id = id;
    orphan.app = std::string(id).substr(0, std::string(id).find('-'));
    orphan.node = "n1";
    orphan.state = model::InstanceState::kRunning;
    w.snapshot.instances.push_back(orphan);
  }
  EXPECT_THAT(
      w.Pass(),
      ElementsAre("stop alpha-1 (app no longer exists)", "stop alpha-2 (app no longer exists)",
                  "stop mid-1 (app no longer exists)", "stop zeta-1 (app no longer exists)",
                  "stop zeta-2 (app no longer exists)"));
}

// Verify that an unplaceable instance says why, once, and is placed when a node fits.
TEST(ReconcilerTest, UnplaceableThenPlacedWhenNodeAppears) {
  World w;
  w.AddNode("small", {0, 64 * kMi});
  w.AddApp("web", 1, [](model::AppSpec& s) { s.resources.memory_bytes = 128 * kMi; });
  const std::string reason = "no node fits: 1 node out of memory (needs 128Mi, 64Mi free)";
  EXPECT_THAT(
      w.Pass(),
      ElementsAre(
          "create web-1 unplaced (" + reason + ")",
          "event instance.unplaceable: 1 instance of web cannot be "
          "placed: " +
              reason,
          "deployment web/1 -> progressing (0/1 healthy)",
          "event deployment.progressing: revision 1 is rolling out (rolling): 0/1 healthy"));
  EXPECT_EQ(w.Instance("web-1").message, reason);
  EXPECT_THAT(w.Pass(), IsEmpty());  // same reason: no news
  w.AddNode("big", {0, 1024 * kMi}).status = model::NodeStatus::kDraining;
  const std::string reason2 =
      "no node fits: 1 node out of memory (needs 128Mi, 64Mi free), 1 node draining";
  EXPECT_THAT(w.Pass(), ElementsAre("message web-1: " + reason2,
                                    "event instance.unplaceable: 1 instance of web cannot be "
                                    "placed: " +
                                        reason2));
  w.snapshot.nodes.back().status = model::NodeStatus::kReady;
  EXPECT_THAT(w.Pass(), ElementsAre("place web-1 on big"));
  EXPECT_TRUE(w.Instance("web-1").message.empty());
  w.Settle();
  w.Converge();
  EXPECT_EQ(w.Deployment("web", 1).state, model::DeploymentState::kHealthy);
}

// Verify that apps placed earlier in a pass take resources from later ones.
TEST(ReconcilerTest, PlacementAccountsEarlierAppsInPass) {
  World w;
  w.AddNode("n1", {1000, 0});
  w.AddApp("a", 1, [](model::AppSpec& s) { s.resources.cpu_millis = 800; });
  w.AddApp("b", 1, [](model::AppSpec& s) { s.resources.cpu_millis = 800; });
  EXPECT_THAT(
      w.Pass(),
      ElementsAre(
          "create a-1 on n1", "deployment a/1 -> progressing (0/1 healthy)",
          "event deployment.progressing: revision 1 is rolling out (rolling): 0/1 healthy",
          "create b-2 unplaced (no node fits: 1 node out of cpu (needs 800m, "
          "200m free))",
          "event instance.unplaceable: 1 instance of b cannot be placed: no node "
          "fits: 1 node out of cpu (needs 800m, 200m free)",
          "deployment b/1 -> progressing (0/1 healthy)",
          "event deployment.progressing: revision 1 is rolling out (rolling): 0/1 healthy"));
}

// Verify that instances on a node that no longer exists are removed and replaced.
TEST(ReconcilerTest, NodeGoneReplacesInstances) {
  World w;
  w.AddNode("n1");
  w.AddNode("n2");
  w.AddApp("web", 2);
  w.Converge();
  std::erase_if(w.snapshot.nodes, [](const model::Node& n) { return n.id == "n2"; });
  EXPECT_THAT(w.Pass(), ElementsAre("remove web-2", "create web-3 on n1"));
  w.Settle();
  EXPECT_THAT(w.Pass(), IsEmpty());
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-3@n1"));
}

// Verify that instances on a draining node are replaced elsewhere before they stop.
TEST(ReconcilerTest, DrainMovesInstancesWithoutDroppingAvailability) {
  World w;
  w.AddNode("n1");
  w.AddNode("n2");
  w.AddApp("web", 2);  // max_surge 1, max_unavailable 0
  w.Converge();
  ASSERT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-2@n2"));
  w.snapshot.nodes[1].status = model::NodeStatus::kDraining;
  EXPECT_THAT(w.Pass(), ElementsAre("create web-3 on n1"));  // healthy stays healthy
  w.AgentTick();
  EXPECT_EQ(w.Available("web"), 2);
  EXPECT_THAT(w.Pass(), IsEmpty());  // web-3 not healthy yet
  w.AgentTick();
  EXPECT_THAT(w.Pass(), ElementsAre("stop web-2 (node draining)"));
  w.AgentTick();
  EXPECT_EQ(w.Available("web"), 2);
  EXPECT_THAT(w.Pass(), ElementsAre("remove web-2"));
  EXPECT_THAT(w.Pass(), IsEmpty());
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-3@n1"));
}

// Verify that the instances of a node that goes down are stopped at once (so
// the edge drops them) and replaced on the other nodes in the same pass, and
// that their records go in the next one.
TEST(ReconcilerTest, NodeLossReplacesElsewhereAtOnce) {
  World w;
  w.AddNode("n1");
  w.AddNode("n2");
  w.AddNode("n3");
  w.AddApp("web", 3);
  w.Converge();
  ASSERT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-2@n2", "web-3@n3"));
  w.snapshot.nodes[1].status = model::NodeStatus::kDown;
  Actions actions = w.Step();
  std::vector<std::string> described = w.Describe(actions);
  EXPECT_THAT(described, ::testing::IsSupersetOf({"stop web-2 (node down)", "create web-4 on n1"}))
      << ::testing::PrintToString(described);
  w.Apply(actions);
  EXPECT_THAT(w.Pass(), ElementsAre("remove web-2"));
  w.Settle();
  w.Converge();
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-3@n3", "web-4@n1"));
  EXPECT_EQ(w.Available("web"), 3);
}

// Verify that the instances of the only node are kept when it goes silent:
// there is nowhere to replace them, and a silent node may still serve.
TEST(ReconcilerTest, LoneDownNodeKeepsItsInstances) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 2);
  w.Converge();
  w.snapshot.nodes[0].status = model::NodeStatus::kDown;
  EXPECT_THAT(w.Pass(), IsEmpty());
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-2@n1"));
}

// Verify that deleting an app whose instance sits on a down node finishes:
// the record that will never report again is removed.
TEST(ReconcilerTest, DeleteFinishesWithInstancesOnADownNode) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1);
  w.Converge();
  w.snapshot.nodes[0].status = model::NodeStatus::kDown;
  w.snapshot.apps[0].deleting = true;
  // No Settle between passes: the node's agent is gone and reports nothing.
  for (int i = 0; i < 5 && !w.Pass().empty();) ++i;
  EXPECT_TRUE(w.snapshot.apps.empty());
  EXPECT_TRUE(w.snapshot.instances.empty());
}

// Verify that with health checks off "running" alone is not available: the
// revision waits for the agent's healthy (it reports that once the instance
// stayed up for update.min_healthy_time), so a process that dies at once never
// makes it healthy.
TEST(ReconcilerTest, HealthNoneWaitsForReportedHealth) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1, [](model::AppSpec& s) { s.health.type = model::HealthType::kNone; });
  w.Pass();
  w.StartUnhealthy();
  EXPECT_THAT(w.Pass(), IsEmpty());
  EXPECT_EQ(w.Deployment("web", 1).state, model::DeploymentState::kProgressing);
  w.Instance("web-1").health = model::Health::kHealthy;
  EXPECT_THAT(w.Pass(),
              ElementsAre("deployment web/1 -> healthy (1/1 healthy)",
                          "event deployment.healthy: revision 1 is healthy: 1/1 healthy"));
}

// Verify that a failed old instance is stopped at once (it serves nothing), then removed.
TEST(ReconcilerTest, FailedOldInstanceGoesFirst) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 2);
  w.Converge();
  w.Crash("web-2", 1);
  w.NewRevision("web", [](model::AppSpec& s) { s.env["V"] = "2"; });
  EXPECT_THAT(
      w.Pass(),
      ElementsAre(
          "stop web-2 (replaced by revision 2)", "create web-3 on n1", "create web-4 on n1",
          "deployment web/2 -> progressing (0/2 healthy)",
          "event deployment.progressing: revision 2 is rolling out (rolling): 0/2 healthy"));
  EXPECT_THAT(w.Pass(), ElementsAre("remove web-2"));
  EXPECT_EQ(w.Available("web"), 1);  // web-1 stays until a new one is healthy
}

// Verify that round-robin continues after the node of the app's newest instance.
TEST(ReconcilerTest, RoundRobinResumesAfterNewestInstance) {
  World w;
  w.AddNode("n1");
  w.AddNode("n2");
  w.AddNode("n3");
  w.AddApp("web", 2,
           [](model::AppSpec& s) { s.placement.strategy = model::PlacementStrategy::kRoundRobin; });
  w.AddRunning("web", "n3").created_at = w.now - seconds(10);
  w.AddRunning("web", "n1");
  w.App("web").spec.replicas = 3;
  w.Deployment("web", 1).spec.replicas = 3;
  EXPECT_THAT(
      w.Pass(),
      ElementsAre(
          "create web-3 on n2", "deployment web/1 -> progressing (2/3 healthy)",
          "event deployment.progressing: revision 1 is rolling out (rolling): 2/3 healthy"));
}

// Verify that older deployments become superseded only once the current one is healthy.
TEST(ReconcilerTest, SupersedesOlderOnlyWhenHealthy) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1);
  w.Converge();
  w.NewRevision("web", [](model::AppSpec& s) { s.env["V"] = "2"; });
  w.Pass();
  EXPECT_EQ(w.Deployment("web", 1).state, model::DeploymentState::kHealthy);
  w.Settle();
  w.Converge();
  EXPECT_EQ(w.Deployment("web", 1).state, model::DeploymentState::kSuperseded);
  EXPECT_EQ(w.Deployment("web", 1).message, "superseded by revision 2");
  EXPECT_EQ(w.Deployment("web", 2).message, "1/1 healthy");
}

// Verify that several apps and orphans converge and then stay idle.
TEST(ReconcilerTest, MixedClusterConvergesIdempotently) {
  World w;
  w.AddNode("n1", {4000, 4096 * kMi}, {{"zone", "a"}});
  w.AddNode("n2", {4000, 4096 * kMi}, {{"zone", "b"}});
  w.AddApp("api", 3, [](model::AppSpec& s) {
    s.resources = {500, 256 * kMi};
    s.placement.strategy = model::PlacementStrategy::kBinpack;
  });
  w.AddApp("web", 4, [](model::AppSpec& s) {
    s.resources = {250, 128 * kMi};
    s.placement.constraints = {{"zone", model::ConstraintOp::kEquals, "b"}};
  });
  w.AddApp("idle", 0);
  w.Converge();
  EXPECT_THAT(w.Pass(), IsEmpty());
  EXPECT_EQ(w.Available("api"), 3);
  EXPECT_EQ(w.Available("web"), 4);
  for (const std::string& placed : w.Wanted("web")) EXPECT_THAT(placed, ::testing::EndsWith("@n2"));
}

}  // namespace
}  // namespace skiff::controller
