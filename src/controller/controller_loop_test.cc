#include "controller/controller_loop.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "controller/app_service.h"
#include "controller/node_service.h"
#include "fakes/counting_store.h"
#include "fakes/testing.h"
#include "store/leader_lease.h"
#include "store/memory/memory_store.h"

namespace skiff::controller {
namespace {

using std::chrono::seconds;

// The loop driven by hand (RunOnce, ManualClock) over a real MemoryStore, with
// the agent's side played by NodeService reports.
class ControllerLoopTest : public ::testing::Test {
 protected:
  ControllerLoopTest() {
    ControllerLoopOptions options;
    options.new_id = [this](const std::string& app) { return fmt::format("{}-{}", app, ++ids_); };
    options.node_timeout = seconds(15);
    loop_ = std::make_unique<ControllerLoop>(&store_, &nodes_, &clock_, options);
    model::Node node;
    node.id = "n1";
    node.name = "n1";
    node.drivers = {"process"};
    node.address = "127.0.0.1";
    EXPECT_TRUE(nodes_.Register(node));
  }

  model::AppSpec Spec(const std::string& name, int replicas) {
    model::AppSpec spec;
    spec.name = name;
    spec.run.command = {"serve"};
    spec.replicas = replicas;
    spec.health.type = model::HealthType::kNone;
    return spec;
  }

  // Runs passes until one writes nothing; returns how many wrote something.
  int Converge() {
    for (int pass = 0; pass < 20; ++pass) {
      auto outcome = loop_->RunOnce();
      EXPECT_TRUE(outcome) << outcome.error().ToString();
      if (!outcome || (outcome->committed == 0 && outcome->conflicts == 0)) return pass;
    }
    ADD_FAILURE() << "no convergence in 20 passes";
    return 20;
  }

  std::vector<model::Instance> Instances(const std::string& app) {
    return store_.ListInstances({.app = app}).value();
  }

  // What the agent says once it started an instance.
  void ReportRunning(const model::Instance& i) {
    protocol::InstanceReport r;
    r.instance_id = i.id;
    r.node_id = i.node;
    r.generation = i.generation;
    r.state = model::InstanceState::kRunning;
    r.health = model::Health::kHealthy;
    r.address = "127.0.0.1:20000";
    ASSERT_TRUE(nodes_.Report(r));
  }

  void ReportExit(const model::Instance& i, model::InstanceState state, int code) {
    protocol::InstanceReport r;
    r.instance_id = i.id;
    r.node_id = i.node;
    r.generation = i.generation;
    r.state = state;
    r.last_exit = code;
    ASSERT_TRUE(nodes_.Report(r));
  }

  bool HasEvent(const std::string& kind) {
    std::vector<model::Event> events = store_.ListEvents({}).value();
    return std::any_of(events.begin(), events.end(),
                       [&](const model::Event& e) { return e.kind == kind; });
  }

  skiff::testing::CountingStore store_;
  ManualClock clock_;
  AppService apps_{&store_, &clock_};
  NodeService nodes_{&store_, &clock_};
  int ids_ = 0;
  std::unique_ptr<ControllerLoop> loop_;
};

// Verify that a loop fenced at the leader's epoch writes, and that a loop of a
// term that is over (another epoch) writes nothing: its pass fails with
// kFailedPrecondition and leaves the store as it was.
TEST_F(ControllerLoopTest, FencedAtAnOldEpochWritesNothing) {
  ASSERT_TRUE(apps_.Apply(Spec("web", 2)));
  const int64_t revision = store_.Revision();
  ControllerLoopOptions options;
  options.fence_epoch = store::kSingleServerEpoch + 1;
  ControllerLoop deposed(&store_, &nodes_, &clock_, options);
  auto refused = deposed.RunOnce();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store_.Revision(), revision);
  EXPECT_TRUE(Instances("web").empty());

  options.fence_epoch = store::kSingleServerEpoch;
  ControllerLoop leader(&store_, &nodes_, &clock_, options);
  auto applied = leader.RunOnce();
  ASSERT_TRUE(applied.has_value()) << applied.error().ToString();
  EXPECT_EQ(Instances("web").size(), 2u);
}

// Verify that an applied app gets its instances created and placed on the node,
// and that a converged state makes the next pass write nothing.
TEST_F(ControllerLoopTest, CreatesAndPlacesInstances) {
  ASSERT_TRUE(apps_.Apply(Spec("web", 2)));
  Converge();
  auto instances = Instances("web");
  ASSERT_EQ(instances.size(), 2u);
  for (const auto& i : instances) {
    EXPECT_EQ(i.node, "n1");
    EXPECT_EQ(i.desired, model::DesiredState::kRun);
    EXPECT_EQ(i.revision, 1);
  }
  const int64_t revision = store_.Revision();
  auto outcome = loop_->RunOnce();
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->committed, 0);
  EXPECT_EQ(store_.Revision(), revision);
}

// Verify that the deployment becomes healthy once its instances run, and that a
// crashed instance is restarted in place after its backoff, its restart counted.
TEST_F(ControllerLoopTest, RestartsCrashedInstanceAfterBackoff) {
  ASSERT_TRUE(apps_.Apply(Spec("web", 1)));
  Converge();
  ReportRunning(Instances("web")[0]);
  Converge();
  EXPECT_EQ(store_.GetDeployment("web", 1)->state, model::DeploymentState::kHealthy);

  const model::Instance before = Instances("web")[0];
  ReportExit(before, model::InstanceState::kFailed, 137);
  Converge();
  model::Instance waiting = Instances("web")[0];
  EXPECT_EQ(waiting.state, model::InstanceState::kFailed);
  EXPECT_NE(waiting.restart_at, Time{});
  EXPECT_EQ(waiting.generation, before.generation);

  clock_.Advance(seconds(2));
  Converge();
  model::Instance restarted = Instances("web")[0];
  EXPECT_EQ(restarted.id, before.id);
  EXPECT_EQ(restarted.generation, before.generation + 1);
  EXPECT_EQ(restarted.restarts, 1);
  EXPECT_EQ(restarted.state, model::InstanceState::kPending);
  EXPECT_EQ(restarted.restart_at, Time{});
  EXPECT_EQ(Instances("web").size(), 1u);
}

// Verify that deleting an app stops its instances and, once they stopped,
// removes the instances, the deployments and the app.
TEST_F(ControllerLoopTest, DeleteStopsThenRemoves) {
  ASSERT_TRUE(apps_.Apply(Spec("web", 2)));
  Converge();
  for (const auto& i : Instances("web")) ReportRunning(i);
  ASSERT_TRUE(apps_.Delete("web"));
  Converge();
  for (const auto& i : Instances("web")) {
    EXPECT_EQ(i.desired, model::DesiredState::kStop);
    ReportExit(i, model::InstanceState::kStopped, 0);
  }
  Converge();
  EXPECT_EQ(store_.GetApp("web").error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(Instances("web").empty());
  EXPECT_TRUE(store_.ListDeployments("web")->empty());
  EXPECT_TRUE(HasEvent("app.deleted"));
}

// Verify that a node silent for longer than the timeout is marked down with an
// event, and that its next heartbeat brings it back.
TEST_F(ControllerLoopTest, MarksSilentNodeDownAndBack) {
  clock_.Advance(seconds(10));
  ASSERT_TRUE(loop_->RunOnce());
  EXPECT_EQ(store_.GetNode("n1")->status, model::NodeStatus::kReady);
  clock_.Advance(seconds(10));
  ASSERT_TRUE(loop_->RunOnce());
  EXPECT_EQ(store_.GetNode("n1")->status, model::NodeStatus::kDown);
  EXPECT_TRUE(HasEvent("node.down"));

  ASSERT_TRUE(nodes_.Heartbeat("n1"));
  EXPECT_EQ(store_.GetNode("n1")->status, model::NodeStatus::kReady);
  EXPECT_TRUE(HasEvent("node.ready"));
}

// Verify that the loop finds silent nodes in the state it keeps, not in a
// listing per pass: over passes that mark a node down, the store's nodes are
// never listed and its state is read whole once.
TEST_F(ControllerLoopTest, ChecksNodesWithoutListingThem) {
  const int listed = store_.node_lists();
  for (int pass = 0; pass < 3; ++pass) {
    clock_.Advance(seconds(10));
    ASSERT_TRUE(loop_->RunOnce());
  }
  EXPECT_EQ(store_.GetNode("n1")->status, model::NodeStatus::kDown);
  EXPECT_TRUE(HasEvent("node.down"));
  EXPECT_EQ(store_.node_lists(), listed);
  EXPECT_EQ(store_.whole_reads(), 1);
}

// Verify that a write racing with the pass (an agent report between snapshot
// and commit) is not overwritten: the pass's transaction is refused whole.
TEST_F(ControllerLoopTest, StaleActionsWriteNothing) {
  ASSERT_TRUE(apps_.Apply(Spec("web", 1)));
  Converge();
  store::Snapshot snapshot = store_.GetSnapshot().value();
  ReportRunning(Instances("web")[0]);  // moves the instance's version on
  Actions actions = {StopInstance{snapshot.instances[0].id, "test", snapshot.instances[0].version}};
  auto outcome = ApplyActions(store_, snapshot, actions, clock_.Now());
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->committed, 0);
  EXPECT_EQ(outcome->conflicts, 1);
  EXPECT_EQ(Instances("web")[0].desired, model::DesiredState::kRun);
  EXPECT_EQ(Instances("web")[0].state, model::InstanceState::kRunning);
}

// Verify that a pass reports when a rollout's timer falls due (an instance
// healthy for min_healthy_time), and that a pass then finishes the rollout.
TEST_F(ControllerLoopTest, NextDueFollowsMinHealthyTime) {
  model::AppSpec spec = Spec("web", 1);
  spec.health.type = model::HealthType::kTcp;  // min_healthy_time counts (2s by default)
  ASSERT_TRUE(apps_.Apply(spec));
  Converge();
  ReportRunning(Instances("web")[0]);
  Converge();
  EXPECT_EQ(store_.GetDeployment("web", 1)->state, model::DeploymentState::kProgressing);
  EXPECT_EQ(loop_->next_due(), clock_.Now() + seconds(2));
  clock_.Advance(seconds(2));
  Converge();
  EXPECT_EQ(store_.GetDeployment("web", 1)->state, model::DeploymentState::kHealthy);
}

// Verify that the running loop wakes by itself when a rollout's timer falls
// due, long before its resync: nothing changes in the store meanwhile.
TEST_F(ControllerLoopTest, RunningLoopWakesForRolloutTimer) {
  ControllerLoopOptions options;
  options.resync_interval = std::chrono::hours(1);
  options.node_timeout = std::chrono::hours(1);
  loop_ = std::make_unique<ControllerLoop>(&store_, &nodes_, &clock_, options);
  model::AppSpec spec = Spec("web", 1);
  spec.health.type = model::HealthType::kTcp;
  spec.update.min_healthy_time = std::chrono::milliseconds(300);
  loop_->Start();
  ASSERT_TRUE(apps_.Apply(spec));
  ASSERT_TRUE(testing::PollUntil([&] { return Instances("web").size() == 1; }));
  ReportRunning(Instances("web")[0]);
  const int64_t passes = loop_->passes();
  ASSERT_TRUE(testing::PollUntil([&] { return loop_->passes() > passes; }));
  clock_.Advance(std::chrono::milliseconds(300));
  EXPECT_TRUE(testing::PollUntil(
      [&] { return store_.GetDeployment("web", 1)->state == model::DeploymentState::kHealthy; }));
  loop_->Stop();
}

// Verify that a rollout past its healthy_deadline is reverted through the
// store (a new revision with the old spec, in the pass's transaction) and that
// the app's status never reads failed on the way back to healthy.
TEST_F(ControllerLoopTest, RevertsStalledRollout) {
  ASSERT_TRUE(apps_.Apply(Spec("web", 1)));
  Converge();
  ReportRunning(Instances("web")[0]);
  Converge();
  model::AppSpec broken = Spec("web", 1);
  broken.env["V"] = "2";
  broken.update.healthy_deadline = seconds(10);
  ASSERT_TRUE(apps_.Apply(broken));
  Converge();  // its instance never reports
  clock_.Advance(seconds(10));
  Converge();
  EXPECT_EQ(store_.GetApp("web")->revision, 3);
  EXPECT_EQ(store_.GetApp("web")->spec, Spec("web", 1));
  EXPECT_EQ(store_.GetDeployment("web", 2)->state, model::DeploymentState::kRolledBack);
  EXPECT_THAT(store_.GetDeployment("web", 2)->message,
              ::testing::HasSubstr("rolled back to revision 1 (as revision 3)"));
  EXPECT_TRUE(HasEvent("deployment.rolled_back"));
  EXPECT_NE(apps_.Get("web")->status.state, "failed");
  for (const auto& i : Instances("web")) {
    if (i.revision == 2) {
      EXPECT_EQ(i.desired, model::DesiredState::kStop);
      ReportExit(i, model::InstanceState::kStopped, 0);
    }
  }
  Converge();
  EXPECT_EQ(apps_.Get("web")->status.state, "healthy");
  EXPECT_EQ(Instances("web").size(), 1u);
}

// Verify that a revert claims the old spec's domains in its commit: when
// another app took one of them after the pass's snapshot, the revert writes
// nothing (a conflict, computed again) and the domain stays the other app's.
TEST_F(ControllerLoopTest, RevertLosesToDomainClaimedSinceSnapshot) {
  model::AppSpec first = Spec("web", 1);
  first.domains = {"web.test", "old.test"};
  ASSERT_TRUE(apps_.Apply(first));
  Converge();
  ReportRunning(Instances("web")[0]);
  Converge();
  model::AppSpec second = Spec("web", 1);
  second.domains = {"web.test"};
  second.env["V"] = "2";
  ASSERT_TRUE(apps_.Apply(second));
  store::Snapshot snapshot = store_.GetSnapshot().value();
  const model::App web = store_.GetApp("web").value();
  model::AppSpec other = Spec("other", 1);
  other.domains = {"old.test"};
  ASSERT_TRUE(apps_.Apply(other));  // allowed: web's revision 2 let it go

  Actions actions = {RevertApp{"web", 1, web.revision, "test revert", web.version}};
  auto outcome = ApplyActions(store_, snapshot, actions, clock_.Now());
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->committed, 0);
  EXPECT_EQ(outcome->conflicts, 1);
  EXPECT_EQ(store_.GetApp("web")->revision, 2);
  EXPECT_EQ(store_.GetApp("web")->spec.domains, std::vector<std::string>{"web.test"});
  EXPECT_EQ(store_.GetApp("other")->spec.domains, std::vector<std::string>{"old.test"});
}

// Verify that stopping an instance the edge may route to sets its drain
// deadline (edge.drain_timeout) and resets drained.
TEST_F(ControllerLoopTest, ScaleDownDrainsRoutedInstance) {
  model::AppSpec spec = Spec("web", 2);
  spec.domains = {"web.localhost"};
  spec.edge.drain_timeout = seconds(7);
  ASSERT_TRUE(apps_.Apply(spec));
  Converge();
  for (const auto& i : Instances("web")) ReportRunning(i);
  Converge();
  ASSERT_TRUE(apps_.Scale("web", 1));
  Converge();
  int stopped = 0;
  for (const auto& i : Instances("web")) {
    if (i.desired != model::DesiredState::kStop) continue;
    ++stopped;
    EXPECT_EQ(i.drain_until, clock_.Now() + seconds(7));
    EXPECT_FALSE(i.drained);
  }
  EXPECT_EQ(stopped, 1);
}

// Verify that the running loop reacts to a change by itself (no RunOnce).
TEST_F(ControllerLoopTest, LoopReactsToChanges) {
  loop_->Start();
  ASSERT_TRUE(apps_.Apply(Spec("web", 3)));
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (Instances("web").size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  loop_->Stop();
  EXPECT_EQ(Instances("web").size(), 3u);
  EXPECT_GT(loop_->passes(), 0);
}

// Sets the autoscaler's count as its loop would (controller/autoscale_loop.h).
void SetAutoscaledForTest(store::Store& store, const std::string& name, int replicas) {
  model::App app = store.GetApp(name).value();
  const int64_t expected = app.version;
  app.autoscaled_replicas = replicas;
  store::Txn txn;
  txn.Put(app, expected);
  ASSERT_TRUE(store.Commit(txn));
}

// Verify that an autoscaled app runs the autoscaler's count within its
// bounds (min until it decided one), that the count changes what runs
// without a new revision, and that scaling it by hand is refused, naming
// the field.
TEST_F(ControllerLoopTest, AutoscaledCountRunsWithoutRevision) {
  model::AppSpec spec = Spec("web", 1);
  spec.autoscale = model::Autoscale{.min = 2, .max = 5};
  spec.autoscale->target_rps_per_replica = 100;
  ASSERT_TRUE(apps_.Apply(spec));
  Converge();
  EXPECT_EQ(Instances("web").size(), 2u) << "replicas under min start at min";

  SetAutoscaledForTest(store_, "web", 4);
  Converge();
  EXPECT_EQ(Instances("web").size(), 4u);
  EXPECT_EQ(store_.GetApp("web")->revision, 1);
  EXPECT_EQ(store_.ListDeployments("web")->size(), 1u);

  auto refused = apps_.Scale("web", 3);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(refused.error().field, "replicas");
  EXPECT_THAT(refused.error().message, ::testing::HasSubstr("autoscaled (2\u20135 replicas)"));

  // Without a policy the spec's replicas count again, and the old count is
  // forgotten.
  spec.autoscale.reset();
  spec.replicas = 1;
  ASSERT_TRUE(apps_.Apply(spec));
  EXPECT_FALSE(store_.GetApp("web")->autoscaled_replicas.has_value());
  Converge();
  int running = 0;
  for (const auto& i : Instances("web")) running += i.desired == model::DesiredState::kRun;
  EXPECT_EQ(running, 1);
}

// Verify that an app scaled to zero stops every instance and says
// "sleeping", and that a wake brings one back with an event naming who
// asked, once however many ask.
TEST_F(ControllerLoopTest, SleepingAppStopsAndWakes) {
  model::AppSpec spec = Spec("web", 1);
  spec.autoscale = model::Autoscale{.min = 0, .max = 3, .scale_to_zero = true};
  ASSERT_TRUE(apps_.Apply(spec));
  Converge();
  ASSERT_EQ(Instances("web").size(), 1u);
  auto not_asleep = apps_.Wake("web", "edge e1");
  ASSERT_TRUE(not_asleep);
  EXPECT_FALSE(*not_asleep);

  SetAutoscaledForTest(store_, "web", 0);
  Converge();
  for (const auto& i : Instances("web")) EXPECT_EQ(i.desired, model::DesiredState::kStop);
  auto view = apps_.Get("web");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->status.state, "sleeping");
  EXPECT_EQ(view->status.desired, 0);

  auto woken = apps_.Wake("web", "edge e1");
  ASSERT_TRUE(woken) << woken.error().ToString();
  EXPECT_TRUE(*woken);
  auto again = apps_.Wake("web", "edge e2");
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again) << "the first wake did it";
  const model::App app = store_.GetApp("web").value();
  EXPECT_EQ(app.autoscaled_replicas, 1);
  EXPECT_EQ(app.woken_at, clock_.Now());
  EXPECT_EQ(app.scaled_up_at, Time{}) << "a wake starts no cooldown_up";
  EXPECT_EQ(app.revision, 1);
  std::vector<model::Event> events = store_.ListEvents({}).value();
  auto waking = std::find_if(events.begin(), events.end(),
                             [](const model::Event& e) { return e.kind == "app.waking"; });
  ASSERT_NE(waking, events.end());
  EXPECT_EQ(waking->message, "autoscale: 0 \u2192 1: a request arrived (edge e1)");
  Converge();
  int running = 0;
  for (const auto& i : Instances("web")) running += i.desired == model::DesiredState::kRun;
  EXPECT_EQ(running, 1);

  // Asleep again, a new template wakes it: its rollout runs on instances.
  SetAutoscaledForTest(store_, "web", 0);
  spec.run.command = {"serve", "--v2"};
  ASSERT_TRUE(apps_.Apply(spec));
  EXPECT_EQ(store_.GetApp("web")->autoscaled_replicas, 1);
  spec.domains = {"web.test"};  // the same template: stays asleep
  SetAutoscaledForTest(store_, "web", 0);
  ASSERT_TRUE(apps_.Apply(spec));
  EXPECT_EQ(store_.GetApp("web")->autoscaled_replicas, 0);

  auto missing = apps_.Wake("nope", "edge e1");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace skiff::controller
