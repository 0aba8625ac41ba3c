#include "controller/rollout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/quantity.h"
#include "controller/backoff.h"
#include "controller/reconciler_test_util.h"

namespace skiff::controller {
namespace {

using model::DeploymentState;
using model::Traffic;
using std::chrono::minutes;
using std::chrono::seconds;
using test_util::World;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

void ChangeEnv(model::AppSpec& spec) { spec.env["V"] = "2"; }

// Verify that a rolling update counts a new instance as available only once
// it stayed healthy for min_healthy_time, and that the loop is told when.
TEST(RolloutTest, RollingWaitsForMinHealthyTime) {
  World w;
  w.stamp_healthy_since = true;
  w.AddNode("n1");
  w.AddApp("web", 2);
  w.Pass();
  w.Settle();
  EXPECT_THAT(w.Pass(), IsEmpty());  // healthy, but not for 2s yet
  EXPECT_EQ(w.wake, w.now + seconds(2));
  w.now += seconds(2);
  EXPECT_THAT(w.Pass(),
              ElementsAre("deployment web/1 -> healthy (2/2 healthy)",
                          "event deployment.healthy: revision 1 is healthy: 2/2 healthy"));

  w.NewRevision("web", ChangeEnv);
  EXPECT_THAT(w.Pass(),
              ElementsAre("create web-3 on n1", "deployment web/2 -> progressing (0/2 healthy)",
                          "event deployment.progressing: revision 2 is rolling out "
                          "(rolling): 0/2 healthy"));
  w.Settle();
  EXPECT_THAT(w.Pass(), IsEmpty());  // web-3 not available yet: no old one may go
  EXPECT_EQ(w.wake, w.now + seconds(2));
  w.now += seconds(2);
  EXPECT_THAT(w.Pass(), ElementsAre("stop web-1 (replaced by revision 2)", "create web-4 on n1",
                                    "deployment web/2 -> progressing (1/2 healthy)"));
  w.Settle();
  w.now += seconds(2);
  w.Converge();
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-3@n1", "web-4@n1"));
  EXPECT_EQ(w.Deployment("web", 2).state, DeploymentState::kHealthy);
  EXPECT_EQ(w.Deployment("web", 1).state, DeploymentState::kSuperseded);
  EXPECT_THAT(w.Pass(), IsEmpty());
}

// Verify that with health type none the agent's own wait is enough.
TEST(RolloutTest, HealthNoneCountsAtOnce) {
  World w;
  w.stamp_healthy_since = true;
  w.AddNode("n1");
  w.AddApp("web", 1, [](model::AppSpec& s) { s.health.type = model::HealthType::kNone; });
  w.Pass();
  w.Settle();
  EXPECT_THAT(w.Pass(), Contains("deployment web/1 -> healthy (1/1 healthy)"));
}

// Verify that rolling keeps within max_surge and max_unavailable, with
// availability counted after min_healthy_time.
TEST(RolloutTest, RollingRespectsSurgeAndUnavailable) {
  World w;
  w.stamp_healthy_since = true;
  w.AddNode("n1");
  w.AddApp("web", 4, [](model::AppSpec& s) { s.health.type = model::HealthType::kNone; });
  w.Converge();
  w.NewRevision("web", [](model::AppSpec& s) {
    ChangeEnv(s);
    s.health.type = model::HealthType::kTcp;
    s.update.max_surge = 2;
    s.update.max_unavailable = 1;
  });
  for (int pass = 0; pass < 30; ++pass) {
    Actions actions = w.Step();
    w.Apply(actions);
    int wanted = static_cast<int>(w.Wanted("web").size());
    EXPECT_LE(wanted, 4 + 2);
    int available = 0;
    for (const model::Instance& i : w.snapshot.instances) {
      const model::AppSpec& spec = w.Deployment("web", i.revision).spec;
      available += i.desired == model::DesiredState::kRun && IsAvailable(i, spec, w.now);
    }
    EXPECT_GE(available, 4 - 1) << "pass " << pass;
    w.AgentTick();
    w.now += seconds(1);
  }
  EXPECT_EQ(w.Deployment("web", 2).state, DeploymentState::kHealthy);
  EXPECT_EQ(w.Wanted("web").size(), 4u);
}

// A healthy revision 1 of two instances and a revision 2 whose instance never
// turns healthy, one pass in.
World StalledRollout(bool auto_revert) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 2);
  w.Converge();
  w.NewRevision("web", [&](model::AppSpec& s) {
    ChangeEnv(s);
    s.update.auto_revert = auto_revert;
  });
  w.Pass();  // creates web-3
  w.StartUnhealthy();
  return w;
}

// Verify that a rollout without progress for healthy_deadline fails and goes
// back to the last healthy revision as a new revision, whose instances are the
// old ones; then everything settles.
TEST(RolloutTest, DeadlineFailsAndReverts) {
  World w = StalledRollout(/*auto_revert=*/true);
  EXPECT_THAT(w.Pass(), IsEmpty());
  EXPECT_EQ(w.wake, w.now + seconds(60));
  w.now += seconds(59);
  EXPECT_THAT(w.Pass(), IsEmpty());
  w.now += seconds(1);
  const std::string why = "no progress for 1m: 0/2 healthy; web-3 not healthy yet";
  EXPECT_THAT(w.Pass(),
              ElementsAre("deployment web/2 -> rolled_back (" + why +
                              "; rolled back to revision 1 (as revision 3))",
                          "revert app web to revision 1 (auto revert to revision 1: revision 2 "
                          "failed)",
                          "event deployment.failed: revision 2 failed: " + why,
                          "event deployment.rolled_back: revision 2 rolled back to revision 1 (as "
                          "revision 3): " +
                              why));
  EXPECT_EQ(w.App("web").revision, 3);
  EXPECT_EQ(w.App("web").spec, w.Deployment("web", 1).spec);
  w.Converge();
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-2@n1"));
  EXPECT_EQ(w.Deployment("web", 3).state, DeploymentState::kHealthy);
  EXPECT_EQ(w.Deployment("web", 2).state, DeploymentState::kRolledBack);
  EXPECT_EQ(w.Deployment("web", 1).state, DeploymentState::kSuperseded);
  EXPECT_THAT(w.Pass(), IsEmpty());
}

// Verify that without auto_revert the rollout fails and stops: the old
// instances keep serving and nothing more is replaced.
TEST(RolloutTest, DeadlineWithoutAutoRevertKeepsOld) {
  World w = StalledRollout(/*auto_revert=*/false);
  w.now += seconds(60);
  EXPECT_THAT(w.Pass(),
              ElementsAre("deployment web/2 -> failed (no progress for 1m: 0/2 healthy; web-3 "
                          "not healthy yet)",
                          "event deployment.failed: revision 2 failed: no progress for 1m: 0/2 "
                          "healthy; web-3 not healthy yet"));
  w.Settle();  // web-3 turns healthy late: the failed rollout still stays where it is
  EXPECT_THAT(w.Pass(), IsEmpty());
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-2@n1", "web-3@n1"));
  EXPECT_EQ(w.App("web").revision, 2);
}

// Verify that each growth of the healthy count restarts the deadline.
TEST(RolloutTest, ProgressRestartsDeadline) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 3);
  w.Pass();
  w.StartUnhealthy();
  w.now += seconds(50);
  w.Instance("web-1").health = model::Health::kHealthy;
  EXPECT_THAT(w.Pass(), ElementsAre("deployment web/1 -> progressing (1/3 healthy)"));
  EXPECT_EQ(w.Deployment("web", 1).progressed_at, w.now);
  w.now += seconds(59);
  EXPECT_THAT(w.Pass(), IsEmpty());
  w.now += seconds(1);
  EXPECT_THAT(w.Pass(), Contains("deployment web/1 -> failed (no progress for 1m: 1/3 healthy; "
                                 "web-2 not healthy yet; web-3 not healthy yet)"));
}

// Verify that a revision whose domain another app serves by now is not gone
// back to, and the failure says so.
TEST(RolloutTest, RevertSkipsRevisionWhoseDomainIsTaken) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1, [](model::AppSpec& s) { s.domains = {"a.localhost"}; });
  w.Converge();
  w.NewRevision("web", [](model::AppSpec& s) {
    ChangeEnv(s);
    s.domains = {"b.localhost"};
  });
  w.AddApp("other", 0, [](model::AppSpec& s) { s.domains = {"a.localhost"}; });
  w.Pass();
  w.StartUnhealthy();
  w.now += seconds(60);
  EXPECT_THAT(w.Pass(), Contains("deployment web/2 -> failed (no progress for 1m: 0/1 healthy; "
                                 "web-2 not healthy yet; cannot go back to revision 1: a.localhost "
                                 "is served by app other)"));
  EXPECT_EQ(w.App("web").revision, 2);
}

// Verify that a crash loop during a rollout reverts too.
TEST(RolloutTest, CrashLoopReverts) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1);
  w.Converge();
  w.NewRevision("web", ChangeEnv);
  w.Pass();
  w.Crash("web-2", 1);
  w.Instance("web-2").crash_count = kCrashLoopThreshold;
  EXPECT_THAT(w.Pass(), Contains("revert app web to revision 1 (auto revert to revision 1: "
                                 "revision 2 failed)"));
  EXPECT_EQ(w.Deployment("web", 2).state, DeploymentState::kRolledBack);
  w.Converge();
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1"));
  EXPECT_EQ(w.Deployment("web", 3).state, DeploymentState::kHealthy);
}

// Verify that an instance whose start can never succeed (a failed image
// build) fails its rollout at once with the build's error, before any crash
// loop.
TEST(RolloutTest, CannotStartFailsRolloutAtOnce) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1, [](model::AppSpec& s) { s.update.auto_revert = false; });
  w.Converge();
  w.NewRevision("web", ChangeEnv);
  w.Pass();  // web-2
  model::Instance& failed = w.Instance("web-2");
  failed.state = model::InstanceState::kFailed;
  failed.crash_count = 1;
  failed.message = "cannot start: build of skiff/web:2 failed: COPY failed: missing-file";
  EXPECT_THAT(w.Pass(), Contains("deployment web/2 -> failed (instance web-2 cannot start: build "
                                 "of skiff/web:2 failed: COPY failed: missing-file)"));
  EXPECT_EQ(w.Deployment("web", 2).state, DeploymentState::kFailed);
}

// Verify that blue-green brings the whole new set up held, switches traffic in
// one pass only once all of it is available, keeps the old set for keep_old,
// then stops it (draining: the app has domains).
TEST(RolloutTest, BlueGreenSwitchesInOnePass) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 2, [](model::AppSpec& s) { s.domains = {"web.localhost"}; });
  w.Converge();
  w.NewRevision("web", [](model::AppSpec& s) {
    ChangeEnv(s);
    s.update.strategy = model::UpdateStrategy::kBlueGreen;
    s.update.max_surge = 0;  // blue-green brings the whole set regardless
    s.update.keep_old = seconds(30);
  });
  Actions actions = w.Step();
  EXPECT_THAT(w.Describe(actions),
              ElementsAre("create web-3 on n1", "create web-4 on n1",
                          "deployment web/2 -> progressing (blue-green: 0/2 of the new set "
                          "healthy; the old set serves until all are)",
                          "event deployment.progressing: revision 2 is rolling out (blue-green): "
                          "blue-green: 0/2 of the new set healthy; the old set serves until all "
                          "are"));
  EXPECT_EQ(std::get<CreateInstance>(actions[0]).instance.traffic, Traffic::kHold);
  w.Apply(actions);
  w.StartUnhealthy();
  w.Instance("web-3").health = model::Health::kHealthy;
  EXPECT_THAT(w.Pass(), ElementsAre("deployment web/2 -> progressing (blue-green: 1/2 of the new "
                                    "set healthy; the old set serves until all are)"));
  w.Instance("web-4").health = model::Health::kHealthy;
  EXPECT_THAT(w.Pass(), ElementsAre("traffic web-3 -> serve", "traffic web-4 -> serve",
                                    "traffic web-1 -> hold", "traffic web-2 -> hold",
                                    "deployment web/2 -> healthy (2/2 healthy)",
                                    "event deployment.healthy: revision 2 is healthy: 2/2 healthy",
                                    "deployment web/1 -> superseded (superseded by revision 2)"));
  EXPECT_EQ(w.Deployment("web", 2).healthy_at, w.now);
  EXPECT_EQ(w.wake, w.now + seconds(30));
  EXPECT_THAT(w.Pass(), IsEmpty());
  w.now += seconds(30);
  const std::string until = FormatTime(w.now + seconds(10));
  EXPECT_THAT(w.Pass(),
              ElementsAre("stop web-1 (replaced by revision 2; drain until " + until + ")",
                          "stop web-2 (replaced by revision 2; drain until " + until + ")"));
  w.Converge();
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-3@n1", "web-4@n1"));
  EXPECT_THAT(w.Pass(), IsEmpty());
}

// Verify that blue-green without keep_old stops the old set in the switch's pass.
TEST(RolloutTest, BlueGreenWithoutKeepOldStopsAtSwitch) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1);
  w.Converge();
  w.NewRevision("web", [](model::AppSpec& s) {
    ChangeEnv(s);
    s.update.strategy = model::UpdateStrategy::kBlueGreen;
  });
  w.Pass();
  w.Settle();
  EXPECT_THAT(w.Pass(),
              ElementsAre("stop web-1 (replaced by revision 2)", "traffic web-2 -> serve",
                          "traffic web-1 -> hold", "deployment web/2 -> healthy (1/1 healthy)",
                          "event deployment.healthy: revision 2 is healthy: 1/1 healthy",
                          "deployment web/1 -> superseded (superseded by revision 2)"));
  w.Converge();
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-2@n1"));
}

// Verify that a first deploy (nothing old serves) serves directly, whatever the strategy.
TEST(RolloutTest, FirstDeployServesDirectly) {
  for (auto strategy : {model::UpdateStrategy::kBlueGreen, model::UpdateStrategy::kCanary}) {
    World w;
    w.AddNode("n1");
    w.AddApp("web", 2, [&](model::AppSpec& s) { s.update.strategy = strategy; });
    Actions actions = w.Step();
    ASSERT_GE(actions.size(), 2u);
    EXPECT_EQ(std::get<CreateInstance>(actions[0]).instance.traffic, Traffic::kServe);
    EXPECT_EQ(std::get<CreateInstance>(actions[1]).instance.traffic, Traffic::kServe);
    w.Apply(actions);
    w.Settle();
    w.Converge();
    EXPECT_EQ(w.Deployment("web", 1).state, DeploymentState::kHealthy);
  }
}

World CanaryRollout(bool auto_promote) {
  World w;
  w.stamp_healthy_since = true;
  w.AddNode("n1");
  w.AddApp("web", 3);
  w.Converge();
  w.now += seconds(2);  // healthy for min_healthy_time
  w.Converge();
  EXPECT_EQ(w.Deployment("web", 1).state, DeploymentState::kHealthy);
  w.now += minutes(1);
  w.NewRevision("web", [&](model::AppSpec& s) {
    ChangeEnv(s);
    s.update.strategy = model::UpdateStrategy::kCanary;
    s.update.auto_promote = auto_promote;
  });
  return w;
}

// Verify that a canary comes up beside the whole old set, waits for a human
// (past healthy_deadline, without failing), and once promoted serves fully
// while the rollout continues as rolling.
TEST(RolloutTest, CanaryWaitsForPromotion) {
  World w = CanaryRollout(/*auto_promote=*/false);
  Actions actions = w.Step();
  const std::string waiting = "taking 10% of traffic; waiting for `skiff promote web`";
  EXPECT_THAT(w.Describe(actions),
              ElementsAre("create web-4 on n1",
                          "deployment web/2 -> progressing (canary: 0/1 healthy, " + waiting + ")",
                          "event deployment.progressing: revision 2 is rolling out (canary): "
                          "canary: 0/1 healthy, " +
                              waiting));
  EXPECT_EQ(std::get<CreateInstance>(actions[0]).instance.traffic, Traffic::kCanary);
  w.Apply(actions);
  w.Settle();
  w.now += seconds(2);
  EXPECT_THAT(w.Pass(), ElementsAre("deployment web/2 -> progressing (canary: 1/1 healthy, " +
                                    waiting + ")"));
  w.now += minutes(10);
  EXPECT_THAT(w.Pass(), IsEmpty());
  EXPECT_EQ(w.wake, Time::max());

  // What AppService::Promote writes.
  w.Deployment("web", 2).promoted = true;
  w.Deployment("web", 2).progressed_at = w.now;
  EXPECT_THAT(w.Pass(),
              ElementsAre("stop web-1 (replaced by revision 2)", "traffic web-4 -> serve",
                          "create web-5 on n1", "deployment web/2 -> progressing (1/3 healthy)"));
  for (int i = 0; i < 10; ++i) {
    w.Settle();
    w.now += seconds(2);
    if (w.Pass().empty()) break;
  }
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-4@n1", "web-5@n1", "web-6@n1"));
  EXPECT_EQ(w.Deployment("web", 2).state, DeploymentState::kHealthy);
  EXPECT_THAT(w.Pass(), IsEmpty());
}

// Verify that auto_promote promotes once every canary stayed healthy for min_healthy_time.
TEST(RolloutTest, CanaryAutoPromotes) {
  World w = CanaryRollout(/*auto_promote=*/true);
  w.Pass();
  w.Settle();
  EXPECT_THAT(w.Pass(), IsEmpty());
  EXPECT_EQ(w.wake, w.now + seconds(2));
  w.now += seconds(2);
  EXPECT_THAT(w.Pass(),
              ElementsAre("stop web-1 (replaced by revision 2)", "traffic web-4 -> serve",
                          "create web-5 on n1", "deployment web/2 -> progressing (1/3 healthy)",
                          "event deployment.promoted: revision 2 promoted automatically: 1 canary "
                          "healthy for 2s; the rollout continues"));
  EXPECT_TRUE(w.Deployment("web", 2).promoted);
  EXPECT_EQ(w.Deployment("web", 2).progressed_at, w.now);
}

// Verify that a canary that crash-loops is rolled back and the old set stays whole.
TEST(RolloutTest, CanaryFailureRollsBack) {
  World w = CanaryRollout(/*auto_promote=*/false);
  w.Pass();
  w.Crash("web-4", 1);
  w.Instance("web-4").crash_count = kCrashLoopThreshold;
  EXPECT_THAT(w.Pass(), Contains("revert app web to revision 1 (auto revert to revision 1: "
                                 "revision 2 failed)"));
  w.Converge();
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-2@n1", "web-3@n1"));
  EXPECT_EQ(w.Deployment("web", 2).state, DeploymentState::kRolledBack);
  EXPECT_EQ(w.Deployment("web", 3).state, DeploymentState::kHealthy);
}

// Verify that stops of instances that may have had traffic drain for the
// spec's edge.drain_timeout, and that others (not serving, no domains, lost
// with their node) stop at once.
TEST(RolloutTest, StopsOfRoutedInstancesDrain) {
  World w;
  w.AddNode("n1");
  w.AddNode("n2");
  w.AddApp("web", 3, [](model::AppSpec& s) {
    s.domains = {"web.localhost"};
    s.edge.drain_timeout = seconds(5);
  });
  w.AddApp("job", 2);
  w.Converge();  // job-1, job-2, web-3, web-4, web-5
  w.Instance("web-3").health = model::Health::kUnhealthy;
  w.NewRevision("web", [](model::AppSpec& s) { s.replicas = 1; });
  w.NewRevision("job", [](model::AppSpec& s) { s.replicas = 1; });
  const std::string until = FormatTime(w.now + seconds(5));
  std::vector<std::string> actions = w.Pass();
  EXPECT_THAT(actions, Contains("stop web-3 (scaled down)"));
  EXPECT_THAT(actions, Contains("stop web-5 (scaled down; drain until " + until + ")"));
  EXPECT_THAT(actions, Contains("stop job-2 (scaled down)"));
  w.Converge();
  ASSERT_THAT(w.Wanted("web"), ElementsAre("web-4@n2"));
  w.snapshot.nodes[1].status = model::NodeStatus::kDown;
  EXPECT_THAT(w.Pass(), Contains("stop web-4 (node down)"));
}

// Verify that a newer revision supersedes older ones still in progress at once.
TEST(RolloutTest, NewerRevisionSupersedesOlderInProgress) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1);
  w.NewRevision("web", ChangeEnv);
  EXPECT_THAT(w.Pass(), Contains("deployment web/1 -> superseded (superseded by revision 2)"));
}

// Verify that a crash loop after the rollout finished leaves the deployment
// healthy (the instance shows it) rather than flapping between failed and
// healthy with an event each time.
TEST(RolloutTest, CrashLoopAfterHealthyStaysHealthy) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 2);
  w.Converge();
  ASSERT_EQ(w.Deployment("web", 1).state, DeploymentState::kHealthy);
  w.events.clear();
  for (int round = 0; round < 3; ++round) {
    w.Crash("web-1", 1);
    w.Instance("web-1").crash_count = kCrashLoopThreshold + round;
    w.Pass();
    EXPECT_EQ(w.Deployment("web", 1).state, DeploymentState::kHealthy) << round;
    w.now += RestartBackoff(w.Instance("web-1").crash_count);
    w.Pass();  // restarts it
    w.Settle();
    w.Pass();
    EXPECT_EQ(w.Deployment("web", 1).state, DeploymentState::kHealthy) << round;
  }
  EXPECT_THAT(w.EventKinds(), IsEmpty());
}

// Verify that a revision superseded before any pass saw it (two quick applies)
// is no target of auto_revert: it was never healthy.
TEST(RolloutTest, RevertSkipsRevisionSupersededWhilePending) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1);
  w.Converge();
  w.NewRevision("web", [](model::AppSpec& s) { s.env["V"] = "2"; });
  w.NewRevision("web", [](model::AppSpec& s) { s.env["V"] = "3"; });
  w.Pass();  // supersedes revision 2, creates web-2
  w.StartUnhealthy();
  w.now += seconds(60);
  EXPECT_THAT(w.Pass(), Contains("revert app web to revision 1 (auto revert to revision 1: "
                                 "revision 3 failed)"));
  EXPECT_EQ(w.App("web").spec, w.Deployment("web", 1).spec);
}

// Verify that a canary rollout that fails goes back to the old instances, which
// serve as they are: the revert is not itself held as a canary waiting for a
// promotion, and no instance is left taking canary traffic.
TEST(RolloutTest, CanaryRevertIsNoCanary) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 3, [](model::AppSpec& s) {
    s.update.strategy = model::UpdateStrategy::kCanary;
    s.update.canary = 2;
  });
  w.Converge();
  ASSERT_EQ(w.Deployment("web", 1).state, DeploymentState::kHealthy);
  w.NewRevision("web", ChangeEnv);
  w.Pass();  // web-4, web-5 as canaries
  w.StartUnhealthy();
  w.Instance("web-4").health = model::Health::kHealthy;
  w.Instance("web-4").healthy_since = w.now;
  w.Pass();
  w.now += seconds(2);
  w.Pass();  // web-4 available: progress
  w.now += seconds(60);
  EXPECT_THAT(w.Pass(), Contains("revert app web to revision 1 (auto revert to revision 1: "
                                 "revision 2 failed)"));
  for (int i = 0; i < 10; ++i) {
    w.Settle();
    w.now += seconds(2);
    if (w.Pass().empty()) break;
  }
  EXPECT_EQ(w.Deployment("web", 3).state, DeploymentState::kHealthy);
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-2@n1", "web-3@n1"));
  for (const model::Instance& i : w.snapshot.instances) {
    if (i.desired == model::DesiredState::kRun) {
      EXPECT_EQ(i.traffic, Traffic::kServe) << i.id;
    }
  }
}

// Verify that a scale during a promoted canary keeps the promotion: the
// rollout goes on as rolling without waiting for another `skiff promote`.
TEST(RolloutTest, ScaleAfterPromotionKeepsPromotion) {
  World w = CanaryRollout(/*auto_promote=*/false);
  w.Pass();
  w.Settle();
  w.now += seconds(2);
  w.Pass();
  w.Deployment("web", 2).promoted = true;  // what AppService::Promote writes
  w.Deployment("web", 2).progressed_at = w.now;
  EXPECT_THAT(w.Pass(), Contains("traffic web-4 -> serve"));
  w.NewRevision("web", [](model::AppSpec& s) { s.replicas = 4; });
  for (int i = 0; i < 10; ++i) {
    w.Settle();
    w.now += seconds(2);
    if (w.Pass().empty()) break;
  }
  EXPECT_EQ(w.Deployment("web", 3).state, DeploymentState::kHealthy);
  EXPECT_EQ(w.Wanted("web").size(), 4u);
  for (const model::Instance& i : w.snapshot.instances) {
    if (i.desired == model::DesiredState::kRun) {
      EXPECT_NE(i.revision, 1) << i.id;
      EXPECT_EQ(i.traffic, Traffic::kServe) << i.id;
    }
  }
}

// Verify that `skiff restart` of a failed deployment replaces its instances
// (the old revision's stay while it is failed): a crash-looping app restarted
// by hand is not left dead, nor a failed rollout's instances unrestarted.
TEST(RolloutTest, RestartOfFailedDeploymentReplacesItsInstances) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1, [](model::AppSpec& s) { s.update.auto_revert = false; });
  w.Converge();
  w.NewRevision("web", ChangeEnv);
  w.Pass();  // web-2
  w.Crash("web-2", 1);
  w.Instance("web-2").crash_count = kCrashLoopThreshold;
  EXPECT_THAT(w.Pass(), Contains("deployment web/2 -> failed (crash loop: instance web-2 exited "
                                 "with 1 (5 failures in a row))"));
  ++w.App("web").restart_epoch;  // what AppService::Restart writes
  EXPECT_THAT(w.Pass(), ElementsAre("stop web-2 (restarted)", "create web-3 on n1"));
  w.Settle();
  w.Converge();
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-3@n1"));
  EXPECT_EQ(w.Instance("web-3").revision, 2);
  EXPECT_EQ(w.Deployment("web", 2).state, DeploymentState::kFailed);
}

// Verify that old instances failing their health checks for a moment (still
// running) during a blue-green rollout neither switch the traffic to a new
// set that is not all available nor get stopped as if dead.
TEST(RolloutTest, BlueGreenOldSetUnhealthyForAMomentDoesNotSwitch) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 2);
  w.Converge();
  w.NewRevision("web", [](model::AppSpec& s) {
    ChangeEnv(s);
    s.update.strategy = model::UpdateStrategy::kBlueGreen;
  });
  w.Pass();  // web-3, web-4 held
  w.StartUnhealthy();
  w.Instance("web-3").health = model::Health::kHealthy;
  w.Pass();
  w.Instance("web-1").health = model::Health::kUnhealthy;
  w.Instance("web-2").health = model::Health::kUnhealthy;
  EXPECT_THAT(w.Pass(), IsEmpty());
  EXPECT_EQ(w.Instance("web-3").traffic, Traffic::kHold);
  EXPECT_EQ(w.Instance("web-4").traffic, Traffic::kHold);
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-2@n1", "web-3@n1", "web-4@n1"));
}

// Verify that a canary that crashes once after a long wait for its promotion
// gets healthy_deadline to recover, counted from the crash, not from when it
// first turned healthy.
TEST(RolloutTest, CanaryCrashAfterLongWaitGetsItsDeadline) {
  World w = CanaryRollout(/*auto_promote=*/false);
  w.Pass();
  w.Settle();
  w.now += seconds(2);
  w.Pass();  // web-4 available
  w.now += minutes(10);
  EXPECT_THAT(w.Pass(), IsEmpty());
  w.Crash("web-4", 1);
  w.Pass();  // schedules its restart
  EXPECT_EQ(w.Deployment("web", 2).state, DeploymentState::kProgressing);
  EXPECT_EQ(w.App("web").revision, 2);
  w.now += seconds(30);
  w.Pass();  // restarts it
  w.Settle();
  w.now += seconds(2);
  w.Pass();
  EXPECT_EQ(w.Deployment("web", 2).state, DeploymentState::kProgressing);
  EXPECT_EQ(w.App("web").revision, 2);
}

// Verify that auto_revert never goes back to a revision that runs the same
// instances as the failing one (they differ only in replicas), nor to one
// whose instances failed since: a crash-looping instance made a scale revert
// back and forth between two scales of one template, a revision each pass.
TEST(RolloutTest, RevertNeverLoopsBetweenScales) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1);
  w.Converge();
  w.NewRevision("web", [](model::AppSpec& s) { s.replicas = 2; });
  w.Converge();
  ASSERT_EQ(w.Deployment("web", 2).state, DeploymentState::kHealthy);
  w.Crash("web-1", 1);
  w.Instance("web-1").crash_count = kCrashLoopThreshold;
  w.NewRevision("web", [](model::AppSpec& s) { s.replicas = 3; });
  for (int i = 0; i < 5; ++i) w.Pass();
  EXPECT_EQ(w.App("web").revision, 3);
  EXPECT_EQ(w.Deployment("web", 3).state, DeploymentState::kFailed);
  EXPECT_THAT(w.Deployment("web", 3).message,
              ::testing::EndsWith("no earlier healthy revision to go back to"));
}

// Verify that after a revert that failed too, the revision that failed before
// is not gone back to: two templates that both fail now do not alternate.
TEST(RolloutTest, RevertNeverGoesBackToATemplateThatFailedSince) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 1);
  w.Converge();  // revision 1: template A
  w.NewRevision("web", ChangeEnv);
  w.Converge();  // revision 2: template B
  w.NewRevision("web", [](model::AppSpec& s) { s.env.erase("V"); });
  w.Pass();  // revision 3: template A again, web-3
  w.Crash("web-3", 1);
  w.Instance("web-3").crash_count = kCrashLoopThreshold;
  EXPECT_THAT(w.Pass(), Contains("revert app web to revision 2 (auto revert to revision 2: "
                                 "revision 3 failed)"));
  // Revision 4 (template B) fails as well: A failed since revision 1.
  w.Crash("web-2", 1);
  w.Instance("web-2").crash_count = kCrashLoopThreshold;
  for (int i = 0; i < 5; ++i) w.Pass();
  EXPECT_EQ(w.App("web").revision, 4);
  EXPECT_EQ(w.Deployment("web", 4).state, DeploymentState::kFailed);
}

// Verify that canaries replaced during the canary stage (`skiff restart`, or
// a newer canary revision) go at once rather than staying beside the new ones
// in the canary share until a promotion.
TEST(RolloutTest, ReplacedCanariesGo) {
  World w = CanaryRollout(/*auto_promote=*/false);
  w.Pass();
  w.Settle();
  w.now += seconds(2);
  w.Pass();  // web-4 is the available canary
  ++w.App("web").restart_epoch;
  EXPECT_THAT(w.Pass(), ::testing::IsSupersetOf({"stop web-4 (restarted)", "create web-5 on n1"}));
  w.Settle();
  w.now += seconds(2);
  w.Pass();
  w.NewRevision("web", [](model::AppSpec& s) { s.env["V"] = "3"; });
  EXPECT_THAT(w.Pass(), Contains("stop web-5 (replaced by revision 3)"));
  w.Settle();
  w.now += seconds(2);
  w.Pass();
  int canaries = 0;
  for (const model::Instance& i : w.snapshot.instances) {
    canaries += i.desired == model::DesiredState::kRun && i.traffic == Traffic::kCanary;
  }
  EXPECT_EQ(canaries, 1);
  EXPECT_THAT(w.Wanted("web"), ElementsAre("web-1@n1", "web-2@n1", "web-3@n1", "web-6@n1"));
}

// Verify that a replaced canary that is all that serves (the old set died)
// stays until its replacement is up.
TEST(RolloutTest, ReplacedCanaryThatAloneServesStays) {
  World w = CanaryRollout(/*auto_promote=*/false);
  w.Pass();
  w.Settle();
  w.now += seconds(2);
  w.Pass();  // web-4 is the available canary
  for (const char* id : {"web-1", "web-2", "web-3"}) w.Crash(id, 1);
  ++w.App("web").restart_epoch;
  std::vector<std::string> actions = w.Pass();
  EXPECT_THAT(actions, ::testing::Not(Contains(::testing::StartsWith("stop web-4"))));
  EXPECT_THAT(w.Wanted("web"), Contains("web-4@n1"));
}

// Verify that a scale right after a blue-green switch keeps the old set for
// keep_old all the same (an autoscaler scales often).
TEST(RolloutTest, ScaleKeepsTheOldSetForKeepOld) {
  World w;
  w.AddNode("n1");
  w.AddApp("web", 2);
  w.Converge();
  w.NewRevision("web", [](model::AppSpec& s) {
    ChangeEnv(s);
    s.update.strategy = model::UpdateStrategy::kBlueGreen;
    s.update.keep_old = seconds(30);
  });
  w.Pass();
  w.Settle();
  EXPECT_THAT(w.Pass(), Contains("traffic web-1 -> hold"));
  w.now += seconds(10);
  w.NewRevision("web", [](model::AppSpec& s) { s.replicas = 3; });
  w.Converge();
  EXPECT_THAT(w.Wanted("web"), Contains("web-1@n1"));
  EXPECT_EQ(w.wake, w.now + seconds(20));
  w.now += seconds(20);
  EXPECT_THAT(w.Pass(), ElementsAre("stop web-1 (replaced by revision 3)",
                                    "stop web-2 (replaced by revision 3)"));
}

}  // namespace
}  // namespace skiff::controller
