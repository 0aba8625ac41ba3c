#include "controller/autoscale_loop.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "controller/app_service.h"
#include "fakes/testing.h"
#include "store/leader_lease.h"
#include "store/memory/memory_store.h"

namespace skiff::controller {
namespace {

using std::chrono::seconds;

// The loop driven by hand (RunOnce, ManualClock) over a MemoryStore, with
// the signals a test sets.
class AutoscaleLoopTest : public ::testing::Test {
 protected:
  AutoscaleLoopTest() { loop_ = MakeLoop(0); }

  std::unique_ptr<AutoscaleLoop> MakeLoop(int64_t epoch, Duration sample_interval = Duration(0)) {
    return std::make_unique<AutoscaleLoop>(
        &store_, &clock_,
        [this](const model::App& app, Duration window, Time) {
          asked_window_ = window;
          asked_app_ = app.name;
          return signals_;
        },
        AutoscaleLoop::Options{
            .interval = seconds(5), .fence_epoch = epoch, .sample_interval = sample_interval});
  }

  // Writes `app` as it is (stored data a test sets up).
  void PutApp(model::App app) {
    store::Txn txn;
    txn.Put(app, app.version);
    ASSERT_TRUE(store_.Commit(txn));
  }

  model::AppSpec RpsSpec(const std::string& name) {
    model::AppSpec spec;
    spec.name = name;
    spec.run.command = {"serve"};
    spec.health.type = model::HealthType::kNone;
    spec.autoscale = model::Autoscale{.min = 2, .max = 10, .target_rps_per_replica = 500};
    return spec;
  }

  // Scaled to zero after 10 minutes without a request, with no cooldown.
  model::AppSpec SleepySpec(const std::string& name) {
    model::AppSpec spec = RpsSpec(name);
    spec.autoscale = model::Autoscale{.min = 0,
                                      .max = 3,
                                      .target_rps_per_replica = 100,
                                      .cooldown_down = seconds(0),
                                      .scale_to_zero = true,
                                      .idle = seconds(600)};
    return spec;
  }

  // Marks the app's current deployment `state`, as the rollout planner would.
  void SetRolloutState(const std::string& name, model::DeploymentState state) {
    const model::App app = store_.GetApp(name).value();
    model::Deployment d = store_.GetDeployment(name, app.revision).value();
    d.state = state;
    d.updated_at = clock_.Now();
    if (state == model::DeploymentState::kHealthy) d.healthy_at = clock_.Now();
    store::Txn txn;
    txn.Put(d, d.version);
    ASSERT_TRUE(store_.Commit(txn));
  }
  // Its rollout over: the autoscaler may scale it in and put it to sleep.
  void Settle(const std::string& name) { SetRolloutState(name, model::DeploymentState::kHealthy); }

  std::vector<model::Event> EventsOf(const std::string& kind) {
    std::vector<model::Event> out;
    const std::vector<model::Event> all = store_.ListEvents({}).value();
    for (const model::Event& e : all) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }

  store::MemoryStore store_;
  ManualClock clock_;
  AppService apps_{&store_, &clock_};
  AutoscaleSignals signals_;
  Duration asked_window_{0};
  std::string asked_app_;
  std::unique_ptr<AutoscaleLoop> loop_;
};

// Verify that a decision changes the app's count without a revision, records
// when it scaled up, and leaves an event with the reason.
TEST_F(AutoscaleLoopTest, ScalesOutWithEventAndNoRevision) {
  ASSERT_TRUE(apps_.Apply(RpsSpec("web")));
  signals_.rps = 1900;  // 4 replicas' worth
  auto scaled = loop_->RunOnce();
  ASSERT_TRUE(scaled) << scaled.error().ToString();
  EXPECT_EQ(*scaled, 1);
  const model::App app = store_.GetApp("web").value();
  EXPECT_EQ(app.autoscaled_replicas, 4);
  EXPECT_EQ(model::DesiredReplicas(app), 4);
  EXPECT_EQ(app.revision, 1);
  EXPECT_EQ(app.scaled_up_at, clock_.Now());
  EXPECT_EQ(asked_app_, "web");
  EXPECT_EQ(asked_window_, seconds(60));
  auto events = EventsOf("app.autoscaled");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0].message, ::testing::StartsWith("autoscale: 2 \u2192 4: rps 1900 > 1000"));
  EXPECT_EQ(events[0].details.at("from"), "2");
  EXPECT_EQ(events[0].details.at("to"), "4");

  // Within cooldown_up nothing more happens, and nothing is written.
  signals_.rps = 4000;
  const int64_t revision = store_.Revision();
  clock_.Advance(seconds(10));
  EXPECT_EQ(loop_->RunOnce().value(), 0);
  EXPECT_EQ(store_.Revision(), revision);
  clock_.Advance(seconds(30));
  EXPECT_EQ(loop_->RunOnce().value(), 1);
  EXPECT_EQ(store_.GetApp("web")->autoscaled_replicas, 8);
}

// Verify that a holding decision records the count once (so that a later
// spec's replicas no longer move it) and writes no event.
TEST_F(AutoscaleLoopTest, HoldRecordsCountOnceWithoutEvent) {
  ASSERT_TRUE(apps_.Apply(RpsSpec("web")));
  signals_.rps = 800;  // within the band around 2 × 500
  EXPECT_EQ(loop_->RunOnce().value(), 0);
  EXPECT_EQ(store_.GetApp("web")->autoscaled_replicas, 2);
  const int64_t revision = store_.Revision();
  EXPECT_EQ(loop_->RunOnce().value(), 0);
  EXPECT_EQ(store_.Revision(), revision) << "a hold after the first writes nothing";
  EXPECT_TRUE(EventsOf("app.autoscaled").empty());
}

// Verify that apps without autoscale, or being deleted, are left alone.
TEST_F(AutoscaleLoopTest, LeavesOtherAppsAlone) {
  model::AppSpec plain = RpsSpec("plain");
  plain.autoscale.reset();
  plain.replicas = 3;
  ASSERT_TRUE(apps_.Apply(plain));
  ASSERT_TRUE(apps_.Apply(RpsSpec("gone")));
  ASSERT_TRUE(apps_.Delete("gone"));
  signals_.rps = 100000;
  const int64_t revision = store_.Revision();
  EXPECT_EQ(loop_->RunOnce().value(), 0);
  EXPECT_EQ(store_.Revision(), revision);
}

// Verify that an idle app with scale_to_zero goes to sleep after `idle`,
// and that a wake's time counts as a request: it does not sleep again
// before `idle` has passed since.
TEST_F(AutoscaleLoopTest, IdleAppSleepsAndWakeCountsAsRequest) {
  model::AppSpec spec = SleepySpec("web");
  ASSERT_TRUE(apps_.Apply(spec));
  Settle("web");
  signals_.rps = 0;
  signals_.last_request = clock_.Now();
  clock_.Advance(seconds(599));
  loop_->RunOnce().value();
  EXPECT_FALSE(model::IsSleeping(store_.GetApp("web").value()));
  clock_.Advance(seconds(2));
  EXPECT_EQ(loop_->RunOnce().value(), 1);
  model::App app = store_.GetApp("web").value();
  EXPECT_TRUE(model::IsSleeping(app));
  EXPECT_EQ(app.scaled_down_at, clock_.Now());
  ASSERT_EQ(EventsOf("app.autoscaled").size(), 1u);
  EXPECT_THAT(EventsOf("app.autoscaled")[0].message,
              ::testing::HasSubstr("1 \u2192 0: idle for 10m"));

  ASSERT_TRUE(apps_.Wake("web", "edge e1").value());
  clock_.Advance(seconds(60));  // the edges have not reported the request yet
  EXPECT_EQ(loop_->RunOnce().value(), 0);
  EXPECT_FALSE(model::IsSleeping(store_.GetApp("web").value()));
}

// Verify that a server that has heard no request yet (just elected) does not
// put an app to sleep for a wake long ago: it must watch for `idle` first.
TEST_F(AutoscaleLoopTest, NewLeaderDoesNotSleepAppAtOnce) {
  model::AppSpec spec = SleepySpec("web");
  ASSERT_TRUE(apps_.Apply(spec));
  Settle("web");
  model::App app = store_.GetApp("web").value();
  app.woken_at = clock_.Now();
  store::Txn txn;
  txn.Put(app, app.version);
  ASSERT_TRUE(store_.Commit(txn));
  clock_.Advance(std::chrono::hours(24));
  signals_.rps = 0;
  signals_.observed_for = seconds(5);
  loop_->RunOnce().value();
  EXPECT_FALSE(model::IsSleeping(store_.GetApp("web").value()));
  signals_.observed_for = seconds(601);
  EXPECT_EQ(loop_->RunOnce().value(), 1);
  EXPECT_TRUE(model::IsSleeping(store_.GetApp("web").value()));
}

// Verify that a wake asked while the loop decides (the app awake, the loop's
// window from before the ask) keeps the app up: the wake is recorded and the
// loop's decision to sleep, taken on the app as it was, is not written; the
// passes after it count the wake as a request.
TEST_F(AutoscaleLoopTest, WakeDuringDecisionKeepsAppUp) {
  ASSERT_TRUE(apps_.Apply(SleepySpec("web")));
  Settle("web");
  AutoscaleLoop racing(
      &store_, &clock_,
      [this](const model::App&, Duration, Time) {
        // An edge holds a request and asks, between the loop's read of the
        // app and its commit.
        EXPECT_FALSE(apps_.Wake("web", "edge e1").value()) << "awake: nothing to wake";
        return signals_;
      },
      AutoscaleLoop::Options{.interval = seconds(5)});
  signals_.rps = 0;
  signals_.last_request = clock_.Now();
  clock_.Advance(seconds(601));
  EXPECT_EQ(racing.RunOnce().value(), 0);
  model::App app = store_.GetApp("web").value();
  EXPECT_FALSE(model::IsSleeping(app));
  EXPECT_EQ(app.woken_at, clock_.Now());
  EXPECT_TRUE(EventsOf("app.autoscaled").empty());
  EXPECT_TRUE(EventsOf("app.waking").empty()) << "no event for a wake of an awake app";

  clock_.Advance(seconds(599));
  loop_->RunOnce().value();
  EXPECT_FALSE(model::IsSleeping(store_.GetApp("web").value())) << "idle counts from the wake";
  clock_.Advance(seconds(2));
  EXPECT_EQ(loop_->RunOnce().value(), 1);
  EXPECT_TRUE(model::IsSleeping(store_.GetApp("web").value()));
}

// Verify that a wake starts no cooldown: a woken app under a burst scales out
// on the next pass, and the wake is recorded apart from the scale outs.
TEST_F(AutoscaleLoopTest, WokenAppScalesOutAtOnce) {
  ASSERT_TRUE(apps_.Apply(SleepySpec("web")));
  Settle("web");
  signals_.rps = 0;
  signals_.last_request = clock_.Now();
  clock_.Advance(seconds(601));
  ASSERT_EQ(loop_->RunOnce().value(), 1);
  ASSERT_TRUE(model::IsSleeping(store_.GetApp("web").value()));

  clock_.Advance(seconds(3600));
  ASSERT_TRUE(apps_.Wake("web", "edge e1").value());
  model::App app = store_.GetApp("web").value();
  EXPECT_EQ(app.woken_at, clock_.Now());
  EXPECT_EQ(app.scaled_up_at, Time{});
  clock_.Advance(seconds(5));
  signals_.rps = 250;  // 3 replicas' worth
  signals_.last_request = clock_.Now();
  EXPECT_EQ(loop_->RunOnce().value(), 1);
  EXPECT_EQ(store_.GetApp("web")->autoscaled_replicas, 3);
}

// Verify that while the app's revision rolls out the loop scales it out but
// neither scales it in nor puts it to sleep, and writes no event for holding;
// once the rollout is over it does.
TEST_F(AutoscaleLoopTest, RolloutHoldsScaleInButNotOut) {
  model::AppSpec spec = SleepySpec("web");
  spec.autoscale->cooldown_up = seconds(0);
  spec.replicas = 2;
  ASSERT_TRUE(apps_.Apply(spec));
  SetRolloutState("web", model::DeploymentState::kProgressing);
  signals_.rps = 250;
  signals_.last_request = clock_.Now();
  EXPECT_EQ(loop_->RunOnce().value(), 1);
  EXPECT_EQ(store_.GetApp("web")->autoscaled_replicas, 3) << "scales out during a rollout";

  // Below target, then idle: held, with nothing written after the first pass.
  signals_.rps = 10;
  signals_.last_request = clock_.Now();
  clock_.Advance(seconds(10));
  EXPECT_EQ(loop_->RunOnce().value(), 0);
  signals_.rps = 0;
  clock_.Advance(seconds(601));
  const int64_t revision = store_.Revision();
  for (int pass = 0; pass < 3; ++pass) EXPECT_EQ(loop_->RunOnce().value(), 0);
  EXPECT_EQ(store_.Revision(), revision);
  EXPECT_EQ(store_.GetApp("web")->autoscaled_replicas, 3);
  EXPECT_EQ(EventsOf("app.autoscaled").size(), 1u);

  SetRolloutState("web", model::DeploymentState::kPending);
  EXPECT_EQ(loop_->RunOnce().value(), 0);
  EXPECT_EQ(store_.GetApp("web")->autoscaled_replicas, 3);

  // Settled: the window still covers the rollout, so the next pass within
  // it still holds; one after it scales in.
  Settle("web");
  clock_.Advance(seconds(59));
  EXPECT_EQ(loop_->RunOnce().value(), 0);
  EXPECT_EQ(store_.GetApp("web")->autoscaled_replicas, 3);
  clock_.Advance(seconds(2));
  EXPECT_EQ(loop_->RunOnce().value(), 1);
  EXPECT_TRUE(model::IsSleeping(store_.GetApp("web").value()));
}

// Verify that an app whose window is shorter than the leader's sample
// interval gets one warning event naming autoscale.window per (window,
// sample interval): not again for a new revision nor in a new term, again
// for another short window, and is still decided for.
TEST_F(AutoscaleLoopTest, ShortWindowWarnsOncePerWindow) {
  model::AppSpec spec = RpsSpec("web");
  spec.autoscale->window = seconds(2);
  ASSERT_TRUE(apps_.Apply(spec));
  auto loop = MakeLoop(0, seconds(5));
  signals_.rps = 1900;
  EXPECT_EQ(loop->RunOnce().value(), 1);
  EXPECT_EQ(loop->RunOnce().value(), 0);
  auto warnings = EventsOf("app.autoscale_warning");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0].message, ::testing::StartsWith("autoscale.window: 2s is shorter than "
                                                         "the leader's sample interval 5s"));
  EXPECT_EQ(warnings[0].details.at("field"), "autoscale.window");
  EXPECT_EQ(warnings[0].details.at("window"), "2s");
  EXPECT_EQ(warnings[0].details.at("sample_interval"), "5s");

  spec.run.command = {"serve", "--v2"};
  ASSERT_TRUE(apps_.Apply(spec));
  loop->RunOnce().value();
  EXPECT_EQ(EventsOf("app.autoscale_warning").size(), 1u) << "a new revision: same window";
  auto next_term = MakeLoop(0, seconds(5));
  next_term->RunOnce().value();
  EXPECT_EQ(EventsOf("app.autoscale_warning").size(), 1u) << "a new term finds the event";

  spec.autoscale->window = seconds(3);
  ASSERT_TRUE(apps_.Apply(spec));
  loop->RunOnce().value();
  EXPECT_EQ(EventsOf("app.autoscale_warning").size(), 2u);
  spec.autoscale->window = seconds(5);
  ASSERT_TRUE(apps_.Apply(spec));
  loop->RunOnce().value();
  EXPECT_EQ(EventsOf("app.autoscale_warning").size(), 2u);
}

// Verify that a loop of a term that is over writes neither a warning nor the
// count a hold records.
TEST_F(AutoscaleLoopTest, FencedLoopWritesNoWarningNorHeldCount) {
  model::AppSpec spec = SleepySpec("web");
  spec.autoscale->window = seconds(2);
  spec.replicas = 2;
  ASSERT_TRUE(apps_.Apply(spec));
  SetRolloutState("web", model::DeploymentState::kProgressing);
  signals_.rps = 0;
  signals_.last_request = clock_.Now();
  clock_.Advance(seconds(601));
  auto deposed = MakeLoop(store::kSingleServerEpoch + 1, seconds(5));
  const int64_t revision = store_.Revision();
  EXPECT_EQ(deposed->RunOnce().value(), 0);
  EXPECT_EQ(store_.Revision(), revision);
  EXPECT_TRUE(EventsOf("app.autoscale_warning").empty());
  EXPECT_EQ(store_.GetApp("web")->autoscaled_replicas, std::nullopt);
  auto leader = MakeLoop(store::kSingleServerEpoch, seconds(5));
  EXPECT_EQ(leader->RunOnce().value(), 0) << "held";
  EXPECT_EQ(store_.GetApp("web")->autoscaled_replicas, 2);
  EXPECT_EQ(EventsOf("app.autoscale_warning").size(), 1u);
}

// Verify that a loop of a term that is over writes nothing.
TEST_F(AutoscaleLoopTest, FencedAtAnOldEpochWritesNothing) {
  ASSERT_TRUE(apps_.Apply(RpsSpec("web")));
  signals_.rps = 1900;
  auto deposed = MakeLoop(store::kSingleServerEpoch + 1);
  const int64_t revision = store_.Revision();
  EXPECT_EQ(deposed->RunOnce().value(), 0);
  EXPECT_EQ(store_.Revision(), revision);
  auto leader = MakeLoop(store::kSingleServerEpoch);
  EXPECT_EQ(leader->RunOnce().value(), 1);
}

// Verify that a wake of an awake app is written at most once per idle/2:
// the edges' asks while they hold requests leave the store alone.
TEST_F(AutoscaleLoopTest, WakeOfAwakeAppWritesOncePerHalfIdle) {
  ASSERT_TRUE(apps_.Apply(SleepySpec("web")));
  Settle("web");
  const Time first = clock_.Now();
  EXPECT_FALSE(apps_.Wake("web", "edge e1").value());
  EXPECT_EQ(store_.GetApp("web")->woken_at, first);
  const int64_t revision = store_.Revision();
  for (int ask = 0; ask < 299; ++ask) {
    clock_.Advance(seconds(1));
    EXPECT_FALSE(apps_.Wake("web", "edge e" + std::to_string(ask % 3)).value());
  }
  EXPECT_EQ(store_.Revision(), revision);
  EXPECT_EQ(store_.GetApp("web")->woken_at, first);
  clock_.Advance(seconds(2));  // idle/2 = 300s since the first
  EXPECT_FALSE(apps_.Wake("web", "edge e1").value());
  EXPECT_EQ(store_.GetApp("web")->woken_at, clock_.Now());
  EXPECT_TRUE(EventsOf("app.waking").empty());
}

// Verify that a wake of an app without scale_to_zero writes nothing.
TEST_F(AutoscaleLoopTest, WakeWithoutScaleToZeroWritesNothing) {
  ASSERT_TRUE(apps_.Apply(RpsSpec("web")));
  const int64_t revision = store_.Revision();
  EXPECT_FALSE(apps_.Wake("web", "edge e1").value());
  EXPECT_EQ(store_.Revision(), revision);
  EXPECT_EQ(store_.GetApp("web")->woken_at, Time{});
  EXPECT_EQ(apps_.Wake("nope", "edge e1").error().code, ErrorCode::kNotFound);
}

// Verify that a rollout that ends failed, rolled back or superseded releases
// the hold on scale in once the window has passed since.
TEST_F(AutoscaleLoopTest, EveryEndOfRolloutReleasesHold) {
  const model::DeploymentState ends[] = {model::DeploymentState::kFailed,
                                         model::DeploymentState::kRolledBack,
                                         model::DeploymentState::kSuperseded};
  for (model::DeploymentState end : ends) {
    const std::string name = "web" + std::to_string(static_cast<int>(end));
    ASSERT_TRUE(apps_.Apply(SleepySpec(name)));
    SetRolloutState(name, model::DeploymentState::kProgressing);
    signals_.rps = 0;
    signals_.last_request = clock_.Now();
    clock_.Advance(seconds(601));
    EXPECT_EQ(loop_->RunOnce().value(), 0) << name;
    SetRolloutState(name, end);
    clock_.Advance(seconds(30));
    EXPECT_EQ(loop_->RunOnce().value(), 0) << name << ": the window covers the rollout";
    clock_.Advance(seconds(31));
    EXPECT_EQ(loop_->RunOnce().value(), 1) << name;
    EXPECT_TRUE(model::IsSleeping(store_.GetApp(name).value())) << name;
  }
}

// Verify that a canary not promoted, and a blue-green set not switched to,
// are not scaled out (a higher count serves nothing more); promoted or
// settled, they are.
TEST_F(AutoscaleLoopTest, CanaryAndBlueGreenHoldScaleOut) {
  for (model::UpdateStrategy strategy :
       {model::UpdateStrategy::kCanary, model::UpdateStrategy::kBlueGreen}) {
    const std::string name = strategy == model::UpdateStrategy::kCanary ? "canary" : "bluegreen";
    model::AppSpec spec = SleepySpec(name);
    spec.autoscale->cooldown_up = seconds(0);
    spec.replicas = 1;
    spec.update.strategy = strategy;
    ASSERT_TRUE(apps_.Apply(spec));
    SetRolloutState(name, model::DeploymentState::kProgressing);
    signals_.rps = 250;  // 3 replicas' worth
    signals_.last_request = clock_.Now();
    EXPECT_EQ(loop_->RunOnce().value(), 0) << name;
    EXPECT_EQ(store_.GetApp(name)->autoscaled_replicas, 1) << name;
    model::App app = store_.GetApp(name).value();
    model::Deployment d = store_.GetDeployment(name, app.revision).value();
    if (strategy == model::UpdateStrategy::kCanary) {
      d.promoted = true;
    } else {
      d.state = model::DeploymentState::kHealthy;
      d.healthy_at = clock_.Now();
    }
    store::Txn txn;
    txn.Put(d, d.version);
    ASSERT_TRUE(store_.Commit(txn));
    EXPECT_EQ(loop_->RunOnce().value(), 1) << name;
    EXPECT_EQ(store_.GetApp(name)->autoscaled_replicas, 3) << name;
  }
}

// Verify that an app woken by an older version (scaled_up_at, no woken_at)
// is not idle before `idle` has passed since then, and that with woken_at
// set a later scale out is not taken for a wake.
TEST_F(AutoscaleLoopTest, ScaledUpAtCountsAsWakeOnlyWithoutWokenAt) {
  ASSERT_TRUE(apps_.Apply(SleepySpec("web")));
  Settle("web");
  model::App app = store_.GetApp("web").value();
  app.scaled_up_at = clock_.Now();
  PutApp(app);
  clock_.Advance(std::chrono::hours(24));
  signals_.rps = 0;
  signals_.observed_for = seconds(5);
  loop_->RunOnce().value();
  EXPECT_FALSE(model::IsSleeping(store_.GetApp("web").value())) << "old data: a wake";

  app = store_.GetApp("web").value();
  app.woken_at = clock_.Now();
  signals_.last_request = clock_.Now();
  signals_.observed_for = std::chrono::hours(1);
  clock_.Advance(seconds(601));
  app.scaled_up_at = clock_.Now() - seconds(10);
  PutApp(app);
  EXPECT_EQ(loop_->RunOnce().value(), 1);
  EXPECT_TRUE(model::IsSleeping(store_.GetApp("web").value())) << "a scale out is no wake";
}

// Verify that a rollback of a sleeping app to another template wakes it, as
// an apply does, and records the wake.
TEST_F(AutoscaleLoopTest, RollbackOfSleepingAppWakesIt) {
  model::AppSpec spec = SleepySpec("web");
  ASSERT_TRUE(apps_.Apply(spec));
  spec.run.command = {"serve", "--v2"};
  ASSERT_TRUE(apps_.Apply(spec));
  model::App app = store_.GetApp("web").value();
  app.autoscaled_replicas = 0;
  PutApp(app);
  ASSERT_TRUE(model::IsSleeping(store_.GetApp("web").value()));
  clock_.Advance(seconds(7));
  ASSERT_TRUE(apps_.Rollback("web", 1));
  app = store_.GetApp("web").value();
  EXPECT_FALSE(model::IsSleeping(app));
  EXPECT_EQ(app.autoscaled_replicas, 1);
  EXPECT_EQ(app.woken_at, clock_.Now());
}

// Verify that the started loop decides by itself.
TEST_F(AutoscaleLoopTest, RunsByItself) {
  ASSERT_TRUE(apps_.Apply(RpsSpec("web")));
  signals_.rps = 1900;
  loop_->Start();
  skiff::testing::PollUntil([&] { return store_.GetApp("web")->autoscaled_replicas == 4; });
  loop_->Stop();
  EXPECT_EQ(store_.GetApp("web")->autoscaled_replicas, 4);
}

}  // namespace
}  // namespace skiff::controller
