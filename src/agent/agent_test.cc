#include "agent/agent.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/fake_prober.h"
#include "agent/local_state.h"
#include "agent/runner_step.h"
#include "common/files.h"
#include "fakes/fake_control_plane.h"
#include "fakes/testing.h"
#include "protocol/node_codec.h"
#include "runtime/fake/fake_driver.h"

namespace skiff::agent {
namespace {

using namespace std::chrono_literals;
using model::Health;
using model::InstanceState;
using skiff::testing::FakeControlPlane;
using skiff::testing::PollUntil;
using skiff::testing::TempDir;

constexpr char kNode[] = "node-1";

// A control plane in front of a FakeControlPlane that can stop accepting the
// node's credential for its instance reports, as a server does after losing
// or rotating it: they are then kUnauthenticated until the node joins again
// (RegisterNode), which succeeds only while a join token is at hand. The
// other calls pass, so only a refused report can make the agent join again.
class CredentialGate final : public protocol::ControlPlane {
 public:
  explicit CredentialGate(FakeControlPlane* inner) : inner_(inner) {}

  void Revoke() {
    std::lock_guard lock(mu_);
    revoked_ = true;
  }
  void SetJoinToken(bool have) {
    std::lock_guard lock(mu_);
    have_join_token_ = have;
  }
  int refused_reports() const {
    std::lock_guard lock(mu_);
    return refused_reports_;
  }
  int joins() const {
    std::lock_guard lock(mu_);
    return joins_;
  }
  int refused_joins() const {
    std::lock_guard lock(mu_);
    return refused_joins_;
  }

  Result<model::Node> RegisterNode(const model::Node& node) override {
    {
      std::lock_guard lock(mu_);
      if (revoked_) {
        if (!have_join_token_) {
          ++refused_joins_;
          return Unauthenticated("the server no longer knows this node's credential");
        }
        revoked_ = false;
        ++joins_;
      }
    }
    return inner_->RegisterNode(node);
  }
  Status Heartbeat(const std::string& node_id) override { return inner_->Heartbeat(node_id); }
  Result<protocol::Assignments> ListAssignments(const std::string& node_id) override {
    return inner_->ListAssignments(node_id);
  }
  Result<int64_t> WaitForChange(int64_t revision, Duration timeout) override {
    return inner_->WaitForChange(revision, timeout);
  }
  Status ReportInstance(const protocol::InstanceReport& report) override {
    {
      std::lock_guard lock(mu_);
      if (revoked_) {
        ++refused_reports_;
        return Unauthenticated("unknown node credential");
      }
    }
    return inner_->ReportInstance(report);
  }
  Status ReportSamples(const std::string& node_id,
                       const std::vector<protocol::InstanceSample>& samples) override {
    return inner_->ReportSamples(node_id, samples);
  }

 private:
  FakeControlPlane* const inner_;
  mutable std::mutex mu_;
  bool revoked_ = false;         // GUARDED_BY(mu_)
  bool have_join_token_ = true;  // GUARDED_BY(mu_)
  int refused_reports_ = 0;      // GUARDED_BY(mu_)
  int joins_ = 0;                // GUARDED_BY(mu_)
  int refused_joins_ = 0;        // GUARDED_BY(mu_)
};

// What is logged while it lives: the default logger gets one more sink.
// REQUIRES: made and destroyed while nothing logs (before an agent starts,
// after it stops): a logger's list of sinks is not guarded.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(10000)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // How many messages logged so far are exactly `message`.
  int Count(std::string_view message) const {
    int count = 0;
    for (const auto& logged : sink_->last_raw()) {
      if (std::string_view(logged.payload.data(), logged.payload.size()) == message) ++count;
    }
    return count;
  }

 private:
  const std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

class AgentTest : public ::testing::Test {
 protected:
  AgentOptions Options() {
    AgentOptions options;
    options.node_id = kNode;
    options.node_name = "one";
    options.address = "127.0.0.1";
    options.data_dir = dir_.path();
    options.labels = {{"zone", "a"}};
    options.capacity = {.cpu_millis = 2000, .memory_bytes = 1ll << 30};
    options.heartbeat_interval = 20ms;
    options.sample_interval = 20ms;
    options.resync_interval = 200ms;
    options.watch_timeout = 50ms;
    options.inspect_interval = 10ms;
    options.prober = &prober_;
    return options;
  }

  std::unique_ptr<Agent> NewAgent(const Clock* clock = SystemClock::Get(),
                                  protocol::ControlPlane* control_plane = nullptr) {
    return std::make_unique<Agent>(Options(), control_plane != nullptr ? control_plane : &cp_,
                                   std::map<std::string, runtime::Driver*>{{"process", &driver_}},
                                   clock);
  }

  static model::AppSpec Spec() {
    model::AppSpec spec;
    spec.name = "hello";
    spec.run.command = {"python3", "-m", "http.server", "${PORT}", "--bind", "${HOST}"};
    spec.env = {{"GREETING", "hi"}, {"PORT", "1"}};
    spec.health.type = model::HealthType::kNone;
    spec.update.min_healthy_time = 0ms;  // healthy once running
    spec.stop_grace = 7s;
    return spec;
  }

  static model::Instance Instance(const std::string& id, int64_t generation = 1) {
    model::Instance instance;
    instance.id = id;
    instance.app = "hello";
    instance.revision = 3;
    instance.node = kNode;
    instance.generation = generation;
    return instance;
  }

  void Place(const model::Instance& instance, const model::AppSpec& spec = Spec()) {
    cp_.PutSpec(instance.app, instance.revision, spec);
    cp_.PutInstance(instance);
  }

  // Replaces the stored instance with a change made by the controller.
  template <typename F>
  void Change(const std::string& id, F change) {
    auto instance = cp_.instance(id);
    ASSERT_TRUE(instance.has_value());
    change(*instance);
    cp_.PutInstance(*instance);
  }

  bool StateIs(const std::string& id, InstanceState state) {
    auto instance = cp_.instance(id);
    return instance && instance->state == state;
  }

  // Starts i1 under `clock`, waits until it runs, then asks for its stop the
  // way the controller does for an instance that had traffic: drain until
  // `drain_until` (unset: no drain).
  std::unique_ptr<Agent> RunThenStop(const Clock* clock, Time drain_until) {
    auto agent = NewAgent(clock);
    EXPECT_TRUE(agent->Start().has_value());
    Place(Instance("i1"));
    EXPECT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
    Change("i1", [&](model::Instance& i) {
      i.desired = model::DesiredState::kStop;
      i.drain_until = drain_until;
      i.drained = false;
    });
    return agent;
  }

  // Starts i1, waits until it runs, and has its stop block (for up to an
  // hour: driver_.ReleaseStops() ends it).
  std::unique_ptr<Agent> RunWithSlowStop() {
    auto agent = NewAgent();
    EXPECT_TRUE(agent->Start().has_value());
    model::AppSpec slow = Spec();
    slow.stop_grace = std::chrono::hours(1);
    Place(Instance("i1"), slow);
    EXPECT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
    driver_.SetStopDelay(std::chrono::hours(1));
    return agent;
  }

  // Whether i1 is still running after the agent has seen the latest
  // assignments a few times over (so it had every chance to stop it). Under a
  // ManualClock each listing moves it on by a resync interval, which is what
  // makes the agent list again (about a second in all).
  bool StillRunningAfterSomeRounds(ManualClock* clock = nullptr) {
    const int lists = cp_.lists();
    int advanced_at = -1;
    // An advance that lands between a listing and the agent's reading of the
    // time for its next resync pushes that resync one interval further: when
    // no listing follows for a while, the clock moves on once more (a few
    // times at most: with every listing late, 4 more listings take 9
    // intervals, 1.8 s, inside the 2 s the tightest drain deadline here leaves).
    int nudges = 0;
    auto advanced = std::chrono::steady_clock::now();
    if (!PollUntil([&] {
          const int now = cp_.lists();
          const bool stuck = nudges < 4 && std::chrono::steady_clock::now() - advanced > 500ms;
          if (clock != nullptr && (now != advanced_at || stuck)) {
            if (now == advanced_at) ++nudges;
            advanced_at = now;
            advanced = std::chrono::steady_clock::now();
            clock->Advance(Options().resync_interval);
          }
          return now > lists + 3;
        })) {
      return false;
    }
    return driver_.IsRunning("i1") && driver_.counts().stop == 0;
  }

  TempDir dir_;
  FakeControlPlane cp_;
  runtime::FakeDriver driver_;
  FakeProber prober_;
};

// Verify that an assignment starts a task with the full environment, substituted
// command and a port in range, and reports starting then running.
TEST_F(AgentTest, StartsAssignedInstance) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));

  ASSERT_EQ(driver_.started().size(), 1u);
  const runtime::TaskConfig config = driver_.started()[0];
  EXPECT_GE(config.port, 20000);
  EXPECT_LE(config.port, 29999);
  const std::string port = std::to_string(config.port);
  EXPECT_EQ(config.env.at("PORT"), port);  // the platform's PORT wins over the spec's
  EXPECT_EQ(config.env.at("HOST"), "127.0.0.1");
  EXPECT_EQ(config.env.at("SKIFF_APP"), "hello");
  EXPECT_EQ(config.env.at("SKIFF_INSTANCE"), "i1");
  EXPECT_EQ(config.env.at("SKIFF_REVISION"), "3");
  EXPECT_EQ(config.env.at("GREETING"), "hi");
  EXPECT_EQ(config.run.command, (std::vector<std::string>{"python3", "-m", "http.server", port,
                                                          "--bind", "127.0.0.1"}));
  EXPECT_EQ(config.log_path, dir_.path() + "/logs/i1.log");
  EXPECT_EQ(config.host, "127.0.0.1");

  auto states = cp_.StatesFor("i1");
  ASSERT_GE(states.size(), 2u);
  EXPECT_EQ(states[0], InstanceState::kStarting);
  EXPECT_EQ(states[1], InstanceState::kRunning);
  auto stored = cp_.instance("i1");
  EXPECT_EQ(stored->address, "127.0.0.1:" + port);
  EXPECT_EQ(stored->port, config.port);
  EXPECT_EQ(stored->handle, driver_.HandleOf("i1")->id);
  EXPECT_EQ(stored->running_generation, 1);
  // health type none, min_healthy_time 0: healthy once running.
  ASSERT_TRUE(PollUntil([&] { return cp_.instance("i1")->health == Health::kHealthy; }));

  auto node = cp_.node(kNode);
  ASSERT_TRUE(node.has_value());
  EXPECT_EQ(node->name, "one");
  EXPECT_EQ(node->address, "127.0.0.1");
  EXPECT_EQ(node->drivers, std::vector<std::string>{"process"});
  EXPECT_EQ(node->labels.at("zone"), "a");
  EXPECT_TRUE(PollUntil([&] { return cp_.heartbeats() >= 2; }));
}

// Verify that without a health check an instance is not healthy before it has
// stayed up for update.min_healthy_time (a process that dies at once never is).
TEST_F(AgentTest, NoCheckWaitsForMinHealthyTime) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  model::AppSpec spec = Spec();
  spec.update.min_healthy_time = std::chrono::hours(1);
  spec.health.interval = 10ms;
  Place(Instance("i1"), spec);
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  // Some 30 probe rounds (every 10ms): none of them may call it healthy.
  EXPECT_FALSE(PollUntil([&] { return cp_.instance("i1")->health != Health::kUnknown; }, 300ms));
}

// Verify that a task exit is reported failed with its exit code, and not restarted
// until the controller bumps the generation.
TEST_F(AgentTest, ExitIsReportedFailed) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  ASSERT_TRUE(driver_.Exit("i1", 3));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kFailed); }));
  auto stored = cp_.instance("i1");
  EXPECT_EQ(stored->last_exit, 3);
  EXPECT_EQ(stored->message, "exited with 3");
  // The agent sees later changes of the same generation; still a single start.
  int lists = cp_.lists();
  Change("i1", [](model::Instance& i) { i.message = "touched"; });
  ASSERT_TRUE(PollUntil([&] { return cp_.lists() > lists + 2; }));
  EXPECT_EQ(driver_.counts().start, 1);
  EXPECT_EQ(driver_.counts().release, 1);

  // The controller asks for a restart.
  Change("i1", [](model::Instance& i) { i.generation = 2; });
  ASSERT_TRUE(PollUntil([&] { return driver_.counts().start == 2 && driver_.IsRunning("i1"); }));
  ASSERT_TRUE(PollUntil([&] {
    auto i = cp_.instance("i1");
    return i->state == InstanceState::kRunning && i->running_generation == 2;
  }));
}

// Verify that a generation bump stops the running task before starting the new one.
TEST_F(AgentTest, GenerationBumpRestarts) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  runtime::TaskHandle first = *driver_.HandleOf("i1");
  Change("i1", [](model::Instance& i) { i.generation = 2; });
  ASSERT_TRUE(PollUntil([&] {
    auto i = cp_.instance("i1");
    return i->running_generation == 2 && i->state == InstanceState::kRunning;
  }));
  ASSERT_EQ(driver_.stops().size(), 1u);
  EXPECT_EQ(driver_.stops()[0].handle, first);
  EXPECT_EQ(driver_.stops()[0].grace, Duration(7s));
  EXPECT_EQ(driver_.counts().start, 2);
  EXPECT_EQ(driver_.RunningCount(), 1);
  EXPECT_NE(*driver_.HandleOf("i1"), first);
}

// Verify that desired stop stops the task with the spec's grace and reports stopping, stopped.
TEST_F(AgentTest, DesiredStop) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  Change("i1", [](model::Instance& i) { i.desired = model::DesiredState::kStop; });
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopped); }));
  ASSERT_EQ(driver_.stops().size(), 1u);
  EXPECT_EQ(driver_.stops()[0].grace, Duration(7s));
  EXPECT_FALSE(driver_.IsRunning("i1"));
  auto states = cp_.StatesFor("i1");
  ASSERT_GE(states.size(), 2u);
  EXPECT_EQ(states[states.size() - 2], InstanceState::kStopping);
  EXPECT_EQ(states.back(), InstanceState::kStopped);
  EXPECT_EQ(cp_.instance("i1")->last_exit, 128 + 15);
}

// Verify that a stop with a drain deadline keeps the task running, reported
// stopping ("draining"), while the edges drain it, and stops it (with the
// spec's grace) as soon as the control plane marks it drained.
TEST_F(AgentTest, DrainWaitsUntilDrained) {
  ManualClock clock;
  auto agent = RunThenStop(&clock, clock.Now() + 10s);
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopping); }));
  EXPECT_EQ(cp_.instance("i1")->message, "draining: requests in flight finish first");
  EXPECT_TRUE(StillRunningAfterSomeRounds(&clock));
  Change("i1", [](model::Instance& i) { i.drained = true; });
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopped); }));
  ASSERT_EQ(driver_.stops().size(), 1u);
  EXPECT_EQ(driver_.stops()[0].grace, Duration(7s));
  EXPECT_FALSE(driver_.IsRunning("i1"));
  // "stopping" is said once, not again when the stop begins.
  auto states = cp_.StatesFor("i1");
  EXPECT_EQ(std::count(states.begin(), states.end(), InstanceState::kStopping), 1);
}

// Verify that an instance never marked drained is stopped once its drain
// deadline passes.
TEST_F(AgentTest, DrainStopsAtTheDeadline) {
  ManualClock clock;
  const Time drain_until = clock.Now() + 10s;
  auto agent = RunThenStop(&clock, drain_until);
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopping); }));
  clock.Advance(8s);
  EXPECT_TRUE(StillRunningAfterSomeRounds(&clock));  // about a second more
  clock.Set(clock.Now() + (drain_until - clock.Now()));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopped); }));
  EXPECT_EQ(driver_.stops().size(), 1u);
}

// Verify that without a drain deadline (or with one already past) the stop
// is immediate, though the clock never moves.
TEST_F(AgentTest, NoDrainWithoutDeadline) {
  ManualClock clock;
  auto agent = RunThenStop(&clock, Time{});
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopped); }));
  EXPECT_EQ(driver_.stops().size(), 1u);

  Change("i1", [&](model::Instance& i) {
    i.desired = model::DesiredState::kRun;
    i.generation = 2;
  });
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  Change("i1", [&](model::Instance& i) {
    i.desired = model::DesiredState::kStop;
    i.drain_until = clock.Now() - 1s;
  });
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopped); }));
  EXPECT_EQ(driver_.stops().size(), 2u);
}

// Verify that an instance wanted again in the middle of its drain is reported
// running again and never stopped.
TEST_F(AgentTest, WantedAgainMidDrainRunsOn) {
  ManualClock clock;
  auto agent = RunThenStop(&clock, clock.Now() + 10s);
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopping); }));
  Change("i1", [](model::Instance& i) {
    i.desired = model::DesiredState::kRun;
    i.drain_until = Time{};
  });
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  EXPECT_TRUE(StillRunningAfterSomeRounds(&clock));
  EXPECT_EQ(driver_.counts().start, 1);
}

// Verify that an agent restarted in the middle of a drain adopts the task and
// keeps waiting, then stops it when it is drained.
TEST_F(AgentTest, RestartMidDrainKeepsWaiting) {
  ManualClock clock;
  auto agent = RunThenStop(&clock, clock.Now() + 10s);
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopping); }));
  agent->Stop();
  agent.reset();

  auto second = NewAgent(&clock);
  ASSERT_TRUE(second->Start().has_value());
  EXPECT_EQ(driver_.counts().recover, 1);
  EXPECT_TRUE(StillRunningAfterSomeRounds(&clock));
  Change("i1", [](model::Instance& i) { i.drained = true; });
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopped); }));
  EXPECT_EQ(driver_.stops().size(), 1u);
  EXPECT_EQ(driver_.counts().start, 1);
}

// Verify that a task waiting for its drain is inspected at the inspect pace,
// not in a busy loop once its health probe falls due (probes pause during
// the drain).
TEST_F(AgentTest, DrainDoesNotSpin) {
  ManualClock clock;
  model::AppSpec spec = Spec();
  spec.health.type = model::HealthType::kHttp;
  spec.health.interval = 20ms;
  auto agent = NewAgent(&clock);
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"), spec);
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  Change("i1", [&](model::Instance& i) {
    i.desired = model::DesiredState::kStop;
    i.drain_until = clock.Now() + 10s;
  });
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopping); }));
  const int inspected = driver_.counts().inspect;
  const int probed = prober_.calls();
  // Each round moves the clock on by a resync interval (ten probe intervals):
  // a runner woken again and again by a probe fallen due would probe (or
  // inspect) many times meanwhile; one that waits for the drain, not at all.
  EXPECT_TRUE(StillRunningAfterSomeRounds(&clock));
  EXPECT_EQ(prober_.calls(), probed);
  EXPECT_LT(driver_.counts().inspect - inspected, 100);
}

// A driver that cannot tell while its Inspect fails, as the Docker driver
// whose engine errs: WatchExit calls back at once unless Inspect says the
// task runs. The rest is the inner driver's.
class UnsureDriver final : public runtime::Driver {
 public:
  explicit UnsureDriver(runtime::Driver* inner) : inner_(inner) {}

  std::atomic<bool> fail_inspect = false;
  std::atomic<int> inspects = 0;

  runtime::DriverInfo Info() const override { return inner_->Info(); }
  Result<runtime::TaskHandle> Start(const runtime::TaskConfig& config) override {
    return inner_->Start(config);
  }
  Result<runtime::TaskHandle> Recover(const runtime::TaskHandle& handle) override {
    return inner_->Recover(handle);
  }
  Result<runtime::TaskStatus> Inspect(const runtime::TaskHandle& handle) override {
    ++inspects;
    if (fail_inspect) return Unavailable("the engine says 500");
    return inner_->Inspect(handle);
  }
  Status Stop(const runtime::TaskHandle& handle, Duration grace) override {
    return inner_->Stop(handle, grace);
  }
  Result<runtime::ResourceSample> Sample(const runtime::TaskHandle& handle) override {
    return inner_->Sample(handle);
  }
  void Release(const runtime::TaskHandle& handle) override { inner_->Release(handle); }
  void WatchExit(const runtime::TaskHandle& handle, std::function<void()> on_exit,
                 runtime::ExitPoller& poller) override {
    auto status = Inspect(handle);
    if (status && status->running) return inner_->WatchExit(handle, std::move(on_exit), poller);
    on_exit();
  }

 private:
  runtime::Driver* const inner_;
};

// Verify that a runner whose Inspect failed waits for its retry without
// watching the task meanwhile: a driver that calls a watch back at once when
// it cannot tell would otherwise wake it again and again before the retry.
TEST_F(AgentTest, FailedInspectIsRetriedWithoutSpinning) {
  ManualClock clock;
  UnsureDriver unsure(&driver_);
  unsure.fail_inspect = true;
  auto agent = std::make_unique<Agent>(
      Options(), &cp_, std::map<std::string, runtime::Driver*>{{"process", &unsure}}, &clock);
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return unsure.inspects.load() > 0; }));
  // Each round moves the clock on by a resync interval: a retry falls due
  // every few rounds (kRetryDelay), so a few inspections; a runner woken by
  // its own watch, thousands.
  EXPECT_TRUE(StillRunningAfterSomeRounds(&clock));
  EXPECT_LT(unsure.inspects.load(), 20);
  EXPECT_FALSE(StateIs("i1", InstanceState::kRunning));

  unsure.fail_inspect = false;
  clock.Advance(kRetryDelay);
  EXPECT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
}

// Verify that an instance no longer assigned to the node is stopped and forgotten.
TEST_F(AgentTest, UnassignedIsStopped) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  Place(Instance("i2"));
  ASSERT_TRUE(PollUntil([&] {
    return StateIs("i1", InstanceState::kRunning) && StateIs("i2", InstanceState::kRunning);
  }));
  cp_.RemoveInstance("i1");
  ASSERT_TRUE(PollUntil([&] { return agent->runner_count() == 1; }));
  EXPECT_FALSE(driver_.IsRunning("i1"));
  EXPECT_TRUE(driver_.IsRunning("i2"));
  ASSERT_EQ(driver_.stops().size(), 1u);
  EXPECT_EQ(driver_.stops()[0].instance_id, "i1");
}

// Verify that a runner whose instance left the node is reaped once its task
// is gone: neither it nor its pool job is left, and its port (the range's only
// one, so the next instance gets it), local record and driver task are given
// back. A runner whose task died is kept while the instance is assigned (the
// controller may restart it) and reaped, without a stop, once it is not.
TEST_F(AgentTest, FinishedRunnersAreReaped) {
  int port = 0;
  const int listener = skiff::testing::ListenLoopback(&port);
  ASSERT_GE(listener, 0);
  close(listener);  // a free port: the fake driver binds nothing
  AgentOptions options = Options();
  options.port_first = port;
  options.port_last = port;
  Agent agent(options, &cp_, {{"process", &driver_}}, SystemClock::Get());
  ASSERT_TRUE(agent.Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  EXPECT_EQ(cp_.instance("i1")->port, port);
  EXPECT_EQ(agent.pool_jobs(), 1u);

  cp_.RemoveInstance("i1");
  ASSERT_TRUE(PollUntil([&] { return agent.runner_count() == 0 && agent.pool_jobs() == 0; }));
  EXPECT_FALSE(driver_.IsRunning("i1"));
  ASSERT_EQ(driver_.stops().size(), 1u);
  EXPECT_EQ(driver_.counts().release, 1);
  LocalState kept(dir_.File("agent-state.json"));
  ASSERT_TRUE(kept.Load().has_value());
  EXPECT_EQ(kept.instances().count("i1"), 0u);

  Place(Instance("i2"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i2", InstanceState::kRunning); }));
  EXPECT_EQ(cp_.instance("i2")->port, port);

  ASSERT_TRUE(driver_.Exit("i2", 3));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i2", InstanceState::kFailed); }));
  const int lists = cp_.lists();
  ASSERT_TRUE(PollUntil([&] { return cp_.lists() > lists + 2; }));
  EXPECT_EQ(agent.runner_count(), 1u);
  EXPECT_EQ(agent.pool_jobs(), 1u);
  cp_.RemoveInstance("i2");
  ASSERT_TRUE(PollUntil([&] { return agent.runner_count() == 0 && agent.pool_jobs() == 0; }));
  EXPECT_EQ(driver_.stops().size(), 1u);  // nothing to stop
  EXPECT_EQ(driver_.counts().release, 2);
}

// Verify that a runner whose instance left the node is not reaped while its
// task is still stopping (in its grace), whatever the listings meanwhile, and
// is reaped once the stop is done.
TEST_F(AgentTest, StoppingRunnerIsNotReaped) {
  auto agent = RunWithSlowStop();
  cp_.RemoveInstance("i1");
  ASSERT_TRUE(PollUntil([&] { return driver_.stops().size() == 1; }));
  const int lists = cp_.lists();
  ASSERT_TRUE(PollUntil([&] { return cp_.lists() > lists + 3; }));
  EXPECT_EQ(agent->runner_count(), 1u);
  EXPECT_EQ(agent->pool_jobs(), 1u);
  EXPECT_TRUE(driver_.IsRunning("i1"));

  driver_.ReleaseStops();
  ASSERT_TRUE(PollUntil([&] { return agent->runner_count() == 0 && agent->pool_jobs() == 0; }));
  EXPECT_FALSE(driver_.IsRunning("i1"));
}

// Verify that stopping the agent leaves instances running.
TEST_F(AgentTest, AgentStopLeavesInstancesRunning) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  agent->Stop();
  EXPECT_TRUE(driver_.IsRunning("i1"));
  EXPECT_EQ(driver_.counts().stop, 0);
}

// Verify that a restarted agent with the same data dir adopts running tasks
// instead of starting them again, and keeps watching them.
TEST_F(AgentTest, RestartAdopts) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  const int port = cp_.instance("i1")->port;
  agent->Stop();
  agent.reset();

  auto second = NewAgent();
  ASSERT_TRUE(second->Start().has_value());
  EXPECT_EQ(driver_.counts().recover, 1);
  int lists = cp_.lists();
  ASSERT_TRUE(PollUntil([&] { return cp_.lists() > lists + 2; }));
  EXPECT_EQ(driver_.counts().start, 1);
  EXPECT_EQ(second->runner_count(), 1u);
  // The adopted task's port stays taken: a new instance gets another one.
  Place(Instance("i2"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i2", InstanceState::kRunning); }));
  EXPECT_NE(cp_.instance("i2")->port, port);
  // It is still watched.
  driver_.Exit("i1", 2);
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kFailed); }));
  EXPECT_EQ(cp_.instance("i1")->last_exit, 2);
}

// Verify that a task the driver cannot check at start-up (its engine does not
// answer) is adopted as recorded, not reported lost, and watched from then on.
TEST_F(AgentTest, UnavailableOnRecoverAdoptsAsRecorded) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  agent->Stop();
  agent.reset();
  driver_.FailRecover(Error{ErrorCode::kUnavailable, "cannot connect to the engine"});

  auto second = NewAgent();
  ASSERT_TRUE(second->Start().has_value());
  EXPECT_EQ(driver_.counts().recover, 1);
  EXPECT_EQ(second->runner_count(), 1u);
  int lists = cp_.lists();
  ASSERT_TRUE(PollUntil([&] { return cp_.lists() > lists + 2; }));
  EXPECT_EQ(driver_.counts().start, 1);
  EXPECT_TRUE(StateIs("i1", InstanceState::kRunning));
  driver_.Exit("i1", 4);
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kFailed); }));
  EXPECT_EQ(cp_.instance("i1")->last_exit, 4);
}

// Verify that a task that died while no agent ran is reported failed, never restarted.
TEST_F(AgentTest, DeadOnRecoverIsReportedFailed) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  agent->Stop();
  agent.reset();
  driver_.Exit("i1", 1);

  auto second = NewAgent();
  ASSERT_TRUE(second->Start().has_value());
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kFailed); }));
  EXPECT_NE(cp_.instance("i1")->message.find("lost while no agent watched it"), std::string::npos);
  EXPECT_EQ(driver_.counts().recover, 1);
  int lists = cp_.lists();
  Change("i1", [](model::Instance& i) { i.message = "touched"; });
  ASSERT_TRUE(PollUntil([&] { return cp_.lists() > lists + 2; }));
  EXPECT_EQ(driver_.counts().start, 1);
}

// Verify that with a wiped data dir the handle the control plane stored is
// recovered instead of a second task being started.
TEST_F(AgentTest, RecoversStoredHandleWithoutLocalState) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  agent->Stop();
  agent.reset();
  ASSERT_TRUE(std::filesystem::remove(dir_.File("agent-state.json")));

  auto second = NewAgent();
  ASSERT_TRUE(second->Start().has_value());
  ASSERT_TRUE(PollUntil([&] { return driver_.counts().recover == 1; }));
  int lists = cp_.lists();
  ASSERT_TRUE(PollUntil([&] { return cp_.lists() > lists + 2; }));
  EXPECT_EQ(driver_.counts().start, 1);
  driver_.Exit("i1", 5);
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kFailed); }));
  EXPECT_EQ(cp_.instance("i1")->last_exit, 5);
}

// Verify that an adopted task that is no longer assigned is stopped.
TEST_F(AgentTest, AdoptedButUnassignedIsStopped) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  agent->Stop();
  agent.reset();
  cp_.RemoveInstance("i1");

  auto second = NewAgent();
  ASSERT_TRUE(second->Start().has_value());
  ASSERT_TRUE(PollUntil([&] { return !driver_.IsRunning("i1") && second->runner_count() == 0; }));
  EXPECT_EQ(driver_.counts().start, 1);
  ASSERT_EQ(driver_.stops().size(), 1u);
  EXPECT_EQ(driver_.stops()[0].grace, model::AppSpec{}.stop_grace);
}

// Verify that after listing its assignments the agent has its drivers remove
// the tasks of its node that belong to no instance it runs (orphans), and
// leaves other nodes' tasks and its own instances alone.
TEST_F(AgentTest, OrphansAreRemoved) {
  runtime::TaskConfig orphan;
  orphan.instance_id = "gone";
  orphan.node_id = kNode;
  orphan.run.command = {"app"};
  ASSERT_TRUE(driver_.Start(orphan));
  runtime::TaskConfig elsewhere;
  elsewhere.instance_id = "theirs";
  elsewhere.node_id = "node-2";
  elsewhere.run.command = {"app"};
  ASSERT_TRUE(driver_.Start(elsewhere));

  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  ASSERT_TRUE(PollUntil([&] { return !driver_.IsRunning("gone"); }));
  EXPECT_TRUE(driver_.IsRunning("theirs"));
  // The sweep runs again at the resync pace and keeps what the agent runs.
  const int sweeps = driver_.counts().remove_orphans;
  ASSERT_TRUE(PollUntil([&] { return driver_.counts().remove_orphans > sweeps; }));
  EXPECT_TRUE(driver_.IsRunning("i1"));
  EXPECT_EQ(driver_.started().back().node_id, kNode);
}

// Verify that a failed start is reported failed with the driver's message.
TEST_F(AgentTest, StartFailureIsReported) {
  driver_.FailStart("i1", Error{ErrorCode::kUnavailable, "fork: Resource temporarily unavailable"});
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kFailed); }));
  EXPECT_EQ(cp_.instance("i1")->message, "fork: Resource temporarily unavailable");
  EXPECT_EQ(driver_.counts().start, 1);
}

// Verify that a start the driver refuses for good (kFailedPrecondition: a
// failed build) is reported as one that cannot start, for the rollout to fail
// at once.
TEST_F(AgentTest, PermanentStartFailureSaysItCannotStart) {
  driver_.FailStart("i1", Error{ErrorCode::kFailedPrecondition, "build of skiff/hello:3 failed"});
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kFailed); }));
  EXPECT_EQ(cp_.instance("i1")->message, "cannot start: build of skiff/hello:3 failed");
}

// Verify that an image spec without a docker driver fails with a clear message.
TEST_F(AgentTest, MissingDriverIsReported) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  model::AppSpec spec = Spec();
  spec.run.command.clear();
  spec.run.image = "hello:1";
  Place(Instance("i1"), spec);
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kFailed); }));
  EXPECT_EQ(cp_.instance("i1")->message, "no docker driver on this node");
  EXPECT_EQ(driver_.counts().start, 0);
}

// Verify that a slow stop of one instance does not hold up another.
TEST_F(AgentTest, SlowStopBlocksNobodyElse) {
  auto agent = RunWithSlowStop();
  Change("i1", [](model::Instance& i) { i.desired = model::DesiredState::kStop; });
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopping); }));
  Place(Instance("i2"));
  ASSERT_TRUE(PollUntil([&] { return StateIs("i2", InstanceState::kRunning); }));
  EXPECT_TRUE(StateIs("i1", InstanceState::kStopping));
  driver_.ReleaseStops();
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kStopped); }));
}

// Verify health reports end to end: first determination, then only transitions,
// with the probe's message.
TEST_F(AgentTest, HealthTransitions) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  model::AppSpec spec = Spec();
  spec.health = model::HealthCheck{.type = model::HealthType::kHttp,
                                   .path = "/healthz",
                                   .interval = 5ms,
                                   .timeout = 100ms,
                                   .healthy_threshold = 1,
                                   .unhealthy_threshold = 2,
                                   .grace = 0ms};
  Place(Instance("i1"), spec);
  ASSERT_TRUE(PollUntil([&] { return cp_.instance("i1")->health == Health::kHealthy; }));
  EXPECT_EQ(prober_.last_port(), cp_.instance("i1")->port);
  EXPECT_EQ(prober_.last_host(), "127.0.0.1");
  EXPECT_EQ(prober_.last_check().path, "/healthz");

  prober_.SetResult(false, "GET /healthz returned 503");
  ASSERT_TRUE(PollUntil([&] { return cp_.instance("i1")->health == Health::kUnhealthy; }));
  EXPECT_EQ(cp_.instance("i1")->message, "GET /healthz returned 503");
  int calls = prober_.calls();
  ASSERT_TRUE(PollUntil([&] { return prober_.calls() > calls + 5; }));

  std::vector<Health> reported;
  for (const auto& r : cp_.ReportsFor("i1")) {
    if (r.health && *r.health != Health::kUnknown) reported.push_back(*r.health);
  }
  EXPECT_EQ(reported, (std::vector<Health>{Health::kHealthy, Health::kUnhealthy}));
}

// Verify that during a control-plane outage instances keep running and reports
// are delivered once it is back.
TEST_F(AgentTest, ControlPlaneOutage) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  Place(Instance("i2"));
  ASSERT_TRUE(PollUntil([&] {
    return StateIs("i1", InstanceState::kRunning) && StateIs("i2", InstanceState::kRunning);
  }));
  cp_.SetAvailable(false);
  driver_.Exit("i1", 4);
  ASSERT_TRUE(PollUntil([&] { return cp_.refused() > 10 && agent->pending_reports() >= 1; }));
  EXPECT_TRUE(driver_.IsRunning("i2"));
  EXPECT_EQ(driver_.counts().stop, 0);
  EXPECT_TRUE(StateIs("i1", InstanceState::kRunning));  // not heard of yet

  int heartbeats = cp_.heartbeats();
  cp_.SetAvailable(true);
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kFailed); }));
  EXPECT_EQ(cp_.instance("i1")->last_exit, 4);
  EXPECT_TRUE(PollUntil([&] { return cp_.heartbeats() > heartbeats; }));
  EXPECT_TRUE(driver_.IsRunning("i2"));
}

// Verify that an agent starting while the control plane is down registers later.
TEST_F(AgentTest, StartsWhileControlPlaneDown) {
  cp_.SetAvailable(false);
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  EXPECT_FALSE(cp_.node(kNode).has_value());
  cp_.SetAvailable(true);
  ASSERT_TRUE(PollUntil([&] { return cp_.node(kNode).has_value(); }));
}

// Verify that the assignments are kept on disk, and that an agent starting
// while the control plane cannot be reached goes on with them: it starts what
// was assigned (here: what a previous run listed but never started).
TEST_F(AgentTest, KeptAssignmentsServeWhileControlPlaneDown) {
  {
    auto agent = NewAgent();
    ASSERT_TRUE(agent->Start().has_value());
    Place(Instance("i1"));
    ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
    ASSERT_TRUE(PollUntil([&] { return std::filesystem::exists(dir_.File("assignments.json")); }));
  }
  // A second assignment, as if listed and saved just before a crash.
  protocol::Assignments kept;
  kept.revision = 99;
  kept.instances = {Instance("i1"), Instance("i2")};
  kept.specs["hello/3"] = Spec();
  ASSERT_TRUE(
      WriteFileAtomically(dir_.File("assignments.json"), boost::json::serialize(ToJson(kept))));
  cp_.SetAvailable(false);
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  ASSERT_TRUE(PollUntil([&] { return driver_.IsRunning("i2"); }));
  EXPECT_TRUE(driver_.IsRunning("i1")) << "adopted, still running";
}

// Verify that resource samples of running instances reach the control plane,
// with the driver's limit and the reservation of the instance's spec.
TEST_F(AgentTest, SamplesAreReported) {
  auto agent = NewAgent();
  ASSERT_TRUE(agent->Start().has_value());
  model::AppSpec spec = Spec();
  spec.resources = {.cpu_millis = 500, .memory_bytes = 64 << 20};
  Place(Instance("i1"), spec);
  ASSERT_TRUE(PollUntil([&] { return StateIs("i1", InstanceState::kRunning); }));
  driver_.SetSample("i1", model::ResourceSample{
                              .cpu_millis = 250, .memory_bytes = 4096, .memory_limit_bytes = 8192});
  ASSERT_TRUE(PollUntil([&] {
    auto samples = cp_.samples();
    return std::any_of(samples.begin(), samples.end(), [](const protocol::InstanceSample& s) {
      return s.instance_id == "i1" && s.sample.cpu_millis == 250 && s.sample.memory_bytes == 4096 &&
             s.sample.memory_limit_bytes == 8192 && s.sample.cpu_reserved_millis == 500 &&
             s.sample.memory_reserved_bytes == 64 << 20;
    });
  }));
}

// Verify that registration errors other than unavailability fail Start, and
// that a data dir is required.
TEST_F(AgentTest, StartErrors) {
  AgentOptions options = Options();
  options.data_dir.clear();
  Agent no_dir(options, &cp_, {{"process", &driver_}}, SystemClock::Get());
  auto started = no_dir.Start();
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::kInvalidArgument);

  cp_.SetRegisterError(Error{ErrorCode::kUnauthenticated, "bad join token"});
  Agent refused(Options(), &cp_, {{"process", &driver_}}, SystemClock::Get());
  started = refused.Start();
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::kUnauthenticated);
}

// Verify that the node id is kept in the data dir when none is given.
TEST_F(AgentTest, NodeIdIsKept) {
  AgentOptions options = Options();
  options.node_id.clear();
  std::string first;
  {
    Agent agent(options, &cp_, {{"process", &driver_}}, SystemClock::Get());
    ASSERT_TRUE(agent.Start().has_value());
    first = agent.node_id();
  }
  EXPECT_FALSE(first.empty());
  Agent agent(options, &cp_, {{"process", &driver_}}, SystemClock::Get());
  ASSERT_TRUE(agent.Start().has_value());
  EXPECT_EQ(agent.node_id(), first);
}

// Verify that a report refused for the node's credential is kept, not
// dropped: the node joins again (it has its join token) and the report is
// delivered then.
TEST_F(AgentTest, RefusedCredentialJoinsAgainAndRetriesTheReport) {
  ManualClock clock;
  CredentialGate gate(&cp_);
  auto agent = NewAgent(&clock, &gate);
  ASSERT_TRUE(agent->Start().has_value());
  Place(Instance("i1"));
  ASSERT_TRUE(PollUntil([&] {
    clock.Advance(Options().inspect_interval);
    return StateIs("i1", InstanceState::kRunning);
  }));
  gate.Revoke();
  driver_.Exit("i1", 4);
  // The exit is found (the fake's exits are polled) and its report refused.
  ASSERT_TRUE(PollUntil([&] {
    clock.Advance(Options().inspect_interval);
    return gate.refused_reports() >= 1;
  }));
  EXPECT_TRUE(StateIs("i1", InstanceState::kRunning));
  ASSERT_TRUE(PollUntil([&] {
    clock.Advance(Options().heartbeat_interval);
    return StateIs("i1", InstanceState::kFailed);
  }));
  EXPECT_EQ(gate.joins(), 1);
  EXPECT_EQ(cp_.instance("i1")->last_exit, 4);
}

// Verify that an agent that cannot join again (no join token) says so once,
// with what to do, keeps its instances running and every report it makes
// meanwhile, and delivers those reports in the order made once it can join.
TEST_F(AgentTest, CannotJoinAgainKeepsReports) {
  LogCapture logs;  // outlives the agent
  ManualClock clock;
  CredentialGate gate(&cp_);
  auto agent = NewAgent(&clock, &gate);
  ASSERT_TRUE(agent->Start().has_value());
  const std::vector<std::string> ids = {"i1", "i2", "i3"};
  for (const std::string& id : ids) Place(Instance(id));
  // Running and said healthy: nothing is left to report.
  ASSERT_TRUE(PollUntil([&] {
    clock.Advance(Options().inspect_interval);
    return std::all_of(ids.begin(), ids.end(),
                       [&](const std::string& id) {
                         auto i = cp_.instance(id);
                         return i && i->state == InstanceState::kRunning &&
                                i->health == Health::kHealthy;
                       }) &&
           agent->pending_reports() == 0;
  }));
  const size_t delivered = cp_.reports().size();

  gate.SetJoinToken(false);
  gate.Revoke();
  // Two reports, made in a known order: i1's exit, then i2's.
  ASSERT_TRUE(driver_.Exit("i1", 4));
  ASSERT_TRUE(PollUntil([&] {
    clock.Advance(Options().inspect_interval);
    return agent->pending_reports() == 1;
  }));
  ASSERT_TRUE(driver_.Exit("i2", 5));
  ASSERT_TRUE(PollUntil([&] {
    clock.Advance(Options().inspect_interval);
    return agent->pending_reports() == 2;
  }));
  // Every heartbeat tries to join, and fails; the reports are tried again.
  ASSERT_TRUE(PollUntil([&] {
    clock.Advance(Options().heartbeat_interval);
    return gate.refused_joins() >= 10 && gate.refused_reports() >= 3;
  }));
  EXPECT_EQ(logs.Count("agent: this node cannot join the server: the server no longer knows this "
                       "node's credential. Its instances keep running, but the server hears "
                       "nothing of them until the agent is restarted with --join-token"),
            1);
  EXPECT_EQ(gate.joins(), 0);
  EXPECT_EQ(agent->pending_reports(), 2u);
  EXPECT_EQ(cp_.reports().size(), delivered);
  EXPECT_TRUE(StateIs("i1", InstanceState::kRunning));  // not heard of yet
  EXPECT_TRUE(StateIs("i2", InstanceState::kRunning));
  EXPECT_TRUE(driver_.IsRunning("i3"));

  gate.SetJoinToken(true);  // as after a restart with --join-token
  ASSERT_TRUE(PollUntil([&] {
    clock.Advance(Options().heartbeat_interval);
    return agent->pending_reports() == 0 && StateIs("i2", InstanceState::kFailed);
  }));
  EXPECT_EQ(gate.joins(), 1);
  EXPECT_EQ(logs.Count("agent: the node has joined again; its reports go through"), 1);
  std::vector<std::pair<std::string, std::optional<int>>> sent;
  const std::vector<protocol::InstanceReport> reports = cp_.reports();
  for (size_t i = delivered; i < reports.size(); ++i) {
    sent.emplace_back(reports[i].instance_id, reports[i].last_exit);
  }
  EXPECT_EQ(sent, (std::vector<std::pair<std::string, std::optional<int>>>{{"i1", 4}, {"i2", 5}}));
  EXPECT_TRUE(StateIs("i1", InstanceState::kFailed));
  EXPECT_TRUE(driver_.IsRunning("i3"));
  EXPECT_TRUE(StateIs("i3", InstanceState::kRunning));
}

}  // namespace
}  // namespace skiff::agent
