#include "agent/runner_step.h"

#include <gtest/gtest.h>

#include <functional>

namespace skiff::agent {
namespace {

using namespace std::chrono_literals;
using model::DesiredState;
using model::Health;
using model::InstanceState;
using Kind = RunnerAction::Kind;

const Time kNow = Time(std::chrono::seconds(1'700'000'000));
const MonoTime kMono = MonoTime(std::chrono::hours(1000));

RunnerTarget Target() {
  RunnerTarget t;
  t.instance.id = "i1";
  t.instance.app = "hello";
  t.instance.revision = 3;
  t.instance.generation = 1;
  t.instance.state = InstanceState::kPending;
  t.spec.run.command = {"sleep", "1000"};
  t.spec.stop_grace = 7s;
  t.spec.health.type = model::HealthType::kNone;
  t.spec.update.min_healthy_time = 2s;
  return t;
}

RunnerTask Task(int64_t generation = 1) {
  return RunnerTask{.driver = "process",
                    .handle = "pid:10:20",
                    .generation = generation,
                    .port = 20001,
                    .started_at = kNow - 1h,
                    .reported_running = true,
                    .check = false};
}

RunnerState State() {
  RunnerState s;
  s.instance_id = "i1";
  s.host = "127.0.0.1";
  return s;
}

std::vector<std::optional<InstanceState>> States(const std::vector<protocol::InstanceReport>& r) {
  std::vector<std::optional<InstanceState>> out;
  for (const auto& report : r) out.push_back(report.state);
  return out;
}

// Verify each decision of the runner for a state, a target and the time: the
// one action to carry out next, and the reports said before it.
TEST(DecideRunnerTest, Table) {
  struct Case {
    const char* name;
    std::function<void(RunnerState&)> state;
    std::function<void(RunnerTarget&)> target;  // null: no target yet
    bool unassigned;
    Kind want;
    std::vector<std::optional<InstanceState>> reports;
    std::function<void(const RunnerAction&, const RunnerState&,
                       const std::vector<protocol::InstanceReport>&)>
        check;
  };
  auto none = [](RunnerState&) {};
  auto as_is = [](RunnerTarget&) {};
  auto stop = [](RunnerTarget& t) { t.instance.desired = DesiredState::kStop; };
  auto with_task = [](RunnerState& s) { s.task = Task(); };
  // Started, not yet looked at.
  auto just_started = [](RunnerState& s) {
    s.task = Task();
    s.task->reported_running = false;
    s.task->check = true;
  };
  // "stopping (draining)" said already.
  auto draining = [](RunnerState& s) {
    s.task = Task();
    s.task->said_draining = true;
  };
  auto drain = [](RunnerTarget& t) {
    t.instance.desired = DesiredState::kStop;
    t.instance.drain_until = kNow + 10s;
  };
  // A stop failed; it is tried again in 500ms.
  auto stop_failed = [](RunnerState& s) {
    s.task = Task();
    s.stop_retry_at = kMono + 500ms;
  };
  auto failed_inspect = [](RunnerState& s) {
    s.task = Task();
    s.task->check = true;
    s.task->check_at = kMono + 1s;
    s.task->inspect_failed = true;
  };
  const Case cases[] = {
      {"nothing runs: start with the driver of the run spec",
       none,
       as_is,
       false,
       Kind::kStart,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.driver, "process"); }},
      {"an image runs on docker",
       none,
       [](RunnerTarget& t) {
         t.spec.run.command.clear();
         t.spec.run.image = "hello:1";
       },
       false,
       Kind::kStart,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.driver, "docker"); }},
      {"its generation ended here: no restart until a newer one",
       [](RunnerState& s) { s.ended_generation = 1; },
       as_is,
       false,
       Kind::kWait,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.wake_at, MonoTime::max()); }},
      {"a stored handle that may live is recovered first, at its running generation",
       none,
       [](RunnerTarget& t) {
         t.instance.handle = "pid:5:6";
         t.instance.state = InstanceState::kRunning;
         t.instance.generation = 3;
         t.instance.running_generation = 2;
       },
       false,
       Kind::kRecover,
       {},
       [](auto& a, auto& s, auto&) {
         EXPECT_EQ(a.generation, 2);
         EXPECT_TRUE(s.recover_tried);
       }},
      {"a stored handle of the target's own generation is recovered at it",
       none,
       [](RunnerTarget& t) {
         t.instance.handle = "pid:5:6";
         t.instance.state = InstanceState::kStarting;
         t.instance.generation = 3;
       },
       false,
       Kind::kRecover,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.generation, 3); }},
      {"a stored handle of an instance known dead is not recovered: start",
       none,
       [](RunnerTarget& t) {
         t.instance.handle = "pid:5:6";
         t.instance.state = InstanceState::kFailed;
       },
       false,
       Kind::kStart,
       {},
       [](auto&, auto& s, auto&) { EXPECT_FALSE(s.recover_tried); }},
      {"a stored handle is recovered only once",
       [](RunnerState& s) { s.recover_tried = true; },
       [](RunnerTarget& t) {
         t.instance.handle = "pid:5:6";
         t.instance.state = InstanceState::kRunning;
       },
       false,
       Kind::kStart,
       {},
       nullptr},
      {"a task to look at is inspected before anything else",
       [](RunnerState& s) {
         s.task = Task();
         s.task->check = true;
       },
       stop,
       true,
       Kind::kInspect,
       {},
       nullptr},
      {"a task just started is looked at first, though its stop is wanted already",
       just_started,
       stop,
       false,
       Kind::kInspect,
       {},
       nullptr},
      {"a task just started, its drain wanted already: looked at first",
       just_started,
       drain,
       false,
       Kind::kInspect,
       {},
       nullptr},
      {"an exit heard while draining: looked at, not left until the deadline",
       [](RunnerState& s) {
         s.task = Task();
         s.task->said_draining = true;
         s.task->check = true;
       },
       drain,
       false,
       Kind::kInspect,
       {},
       nullptr},
      {"an exit heard while a failed stop waits for its retry: looked at with the retry",
       [](RunnerState& s) {
         s.task = Task();
         s.task->said_draining = true;
         s.task->check = true;
         s.task->check_at = kMono + 500ms;
         s.stop_retry_at = kMono + 500ms;
       },
       stop,
       false,
       Kind::kWait,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.wake_at, kMono + 500ms); }},
      {"an inspection that failed is tried again once due",
       [](RunnerState& s) {
         s.task = Task();
         s.task->check = true;
         s.task->check_at = kMono;
         s.task->inspect_failed = true;
       },
       as_is,
       false,
       Kind::kInspect,
       {},
       nullptr},
      {"an inspection that failed: probes wait for its retry",
       failed_inspect,
       [](RunnerTarget& t) { t.spec.health.type = model::HealthType::kHttp; },
       false,
       Kind::kWait,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.wake_at, kMono + 1s); }},
      {"an inspection that failed: a drain still running waits for the retry",
       failed_inspect,
       [](RunnerTarget& t) {
         t.instance.desired = DesiredState::kStop;
         t.instance.drain_until = kNow + 30s;
       },
       false,
       Kind::kWait,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.wake_at, kMono + 1s); }},
      {"an inspection that failed does not hold up a desired stop",
       failed_inspect,
       stop,
       false,
       Kind::kStop,
       {},
       [](auto& a, auto&, auto&) { EXPECT_TRUE(a.report); }},
      {"an inspection that failed does not hold up leaving the node",
       failed_inspect,
       as_is,
       true,
       Kind::kStop,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.grace, 7s); }},
      {"an inspection that failed does not hold up stopping an older generation",
       failed_inspect,
       [](RunnerTarget& t) { t.instance.generation = 2; },
       false,
       Kind::kStop,
       {},
       [](auto& a, auto&, auto&) { EXPECT_FALSE(a.report); }},
      {"an older generation runs: stopped first, without a report",
       with_task,
       [](RunnerTarget& t) { t.instance.generation = 2; },
       false,
       Kind::kStop,
       {},
       [](auto& a, auto&, auto&) {
         EXPECT_FALSE(a.report);
         EXPECT_EQ(a.grace, 7s);
       }},
      {"desired stop without a drain: stopped with the spec's grace, reported",
       with_task,
       stop,
       false,
       Kind::kStop,
       {},
       [](auto& a, auto&, auto&) {
         EXPECT_TRUE(a.report);
         EXPECT_EQ(a.grace, 7s);
       }},
      {"a stop that failed waits for its retry",
       stop_failed,
       stop,
       false,
       Kind::kWait,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.wake_at, kMono + 500ms); }},
      {"a stop that failed waits for its retry when leaving the node too",
       stop_failed,
       as_is,
       true,
       Kind::kWait,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.wake_at, kMono + 500ms); }},
      {"a stop for a newer generation that failed waits for its retry",
       stop_failed,
       [](RunnerTarget& t) { t.instance.generation = 2; },
       false,
       Kind::kWait,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.wake_at, kMono + 500ms); }},
      {"desired stop while draining: keeps serving, says draining once, wakes at the deadline",
       with_task,
       drain,
       false,
       Kind::kWait,
       {InstanceState::kStopping},
       [](auto& a, auto& s, auto& r) {
         EXPECT_EQ(a.wake_at, kMono + 10s);
         EXPECT_TRUE(s.task->said_draining);
         EXPECT_EQ(r[0].message, "draining: requests in flight finish first");
       }},
      {"draining already said: not said again", draining, drain, false, Kind::kWait, {}, nullptr},
      {"drained before the deadline: stopped",
       with_task,
       [](RunnerTarget& t) {
         t.instance.desired = DesiredState::kStop;
         t.instance.drain_until = kNow + 10s;
         t.instance.drained = true;
       },
       false,
       Kind::kStop,
       {},
       nullptr},
      {"the drain deadline passed: stopped",
       with_task,
       [](RunnerTarget& t) {
         t.instance.desired = DesiredState::kStop;
         t.instance.drain_until = kNow;
       },
       false,
       Kind::kStop,
       {},
       nullptr},
      {"the drain deadline passed while draining: stopped, draining not said again",
       draining,
       [](RunnerTarget& t) {
         t.instance.desired = DesiredState::kStop;
         t.instance.drain_until = kNow - 1s;
       },
       false,
       Kind::kStop,
       {},
       [](auto& a, auto& s, auto&) {
         EXPECT_TRUE(a.report);
         EXPECT_EQ(a.grace, 7s);
         EXPECT_TRUE(s.task->said_draining);
       }},
      {"drained while draining: stopped at once, before the deadline",
       draining,
       [](RunnerTarget& t) {
         t.instance.desired = DesiredState::kStop;
         t.instance.drain_until = kNow + 10s;
         t.instance.drained = true;
       },
       false,
       Kind::kStop,
       {},
       [](auto& a, auto&, auto&) { EXPECT_TRUE(a.report); }},
      {"wanted again mid-drain at a newer generation: the old task stopped, nothing said",
       draining,
       [](RunnerTarget& t) { t.instance.generation = 2; },
       false,
       Kind::kStop,
       {},
       [](auto& a, auto&, auto&) { EXPECT_FALSE(a.report); }},
      {"wanted again mid-drain: running again, never stopped",
       [](RunnerState& s) {
         s.task = Task();
         s.task->said_draining = true;
         s.next_probe = MonoTime::max();
       },
       as_is,
       false,
       Kind::kWait,
       {InstanceState::kRunning},
       [](auto&, auto& s, auto&) { EXPECT_FALSE(s.task->said_draining); }},
      {"desired stop, nothing runs, the control plane thinks it might: stopped said once",
       none,
       [](RunnerTarget& t) {
         t.instance.desired = DesiredState::kStop;
         t.instance.state = InstanceState::kRunning;
       },
       false,
       Kind::kWait,
       {InstanceState::kStopped},
       [](auto&, auto& s, auto&) { EXPECT_TRUE(s.reported_stopped); }},
      {"desired stop, nothing runs, already said",
       [](RunnerState& s) { s.reported_stopped = true; },
       [](RunnerTarget& t) {
         t.instance.desired = DesiredState::kStop;
         t.instance.state = InstanceState::kRunning;
       },
       false,
       Kind::kWait,
       {},
       nullptr},
      {"desired stop, nothing runs, the control plane has it pending: stopped said",
       none,
       [](RunnerTarget& t) {
         t.instance.desired = DesiredState::kStop;
         t.instance.state = InstanceState::kPending;
       },
       false,
       Kind::kWait,
       {InstanceState::kStopped},
       [](auto&, auto&, auto& r) { EXPECT_EQ(r[0].message, "stopped"); }},
      {"wanted again after stopped was said: started, and stopped may be said again later",
       [](RunnerState& s) { s.reported_stopped = true; },
       as_is,
       false,
       Kind::kStart,
       {},
       [](auto&, auto& s, auto&) { EXPECT_FALSE(s.reported_stopped); }},
      {"desired stop of a failed instance: nothing to say",
       none,
       [](RunnerTarget& t) {
         t.instance.desired = DesiredState::kStop;
         t.instance.state = InstanceState::kFailed;
       },
       false,
       Kind::kWait,
       {},
       nullptr},
      {"unassigned with a task: stopped with the spec's grace",
       with_task,
       as_is,
       true,
       Kind::kStop,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.grace, 7s); }},
      {"unassigned before any target: stopped with the default grace",
       with_task,
       nullptr,
       true,
       Kind::kStop,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.grace, kDefaultGrace); }},
      {"unassigned and nothing runs: finished", none, as_is, true, Kind::kFinish, {}, nullptr},
      {"an adopted task waits for its first target",
       with_task,
       nullptr,
       false,
       Kind::kWait,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.wake_at, MonoTime::max()); }},
      {"an adopted task is confirmed running with its address",
       [](RunnerState& s) {
         s.task = Task();
         s.task->adopted = true;
         s.next_probe = MonoTime::max();
       },
       [](RunnerTarget& t) { t.instance.state = InstanceState::kStarting; },
       false,
       Kind::kWait,
       {InstanceState::kRunning},
       [](auto&, auto& s, auto& r) {
         EXPECT_FALSE(s.task->adopted);
         EXPECT_EQ(r[0].address, "127.0.0.1:20001");
         EXPECT_EQ(r[0].handle, "pid:10:20");
       }},
      {"an adopted task the control plane has running already: nothing said",
       [](RunnerState& s) {
         s.task = Task();
         s.task->adopted = true;
         s.next_probe = MonoTime::max();
       },
       [](RunnerTarget& t) { t.instance.state = InstanceState::kRunning; },
       false,
       Kind::kWait,
       {},
       [](auto&, auto& s, auto&) { EXPECT_FALSE(s.task->adopted); }},
      {"a task not yet seen running: nothing to probe",
       [](RunnerState& s) {
         s.task = Task();
         s.task->reported_running = false;
       },
       [](RunnerTarget& t) { t.spec.health.type = model::HealthType::kHttp; },
       false,
       Kind::kWait,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.wake_at, MonoTime::max()); }},
      {"an http check not yet due: wait for it",
       [](RunnerState& s) {
         s.task = Task();
         s.next_probe = kMono + 3s;
       },
       [](RunnerTarget& t) { t.spec.health.type = model::HealthType::kHttp; },
       false,
       Kind::kWait,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.wake_at, kMono + 3s); }},
      {"an http check falls due: probe",
       with_task,
       [](RunnerTarget& t) { t.spec.health.type = model::HealthType::kHttp; },
       false,
       Kind::kProbe,
       {},
       nullptr},
      {"no check, up shorter than min_healthy_time: wait until it is",
       [](RunnerState& s) {
         s.task = Task();
         s.task->started_at = kNow - 500ms;
       },
       as_is,
       false,
       Kind::kWait,
       {},
       [](auto& a, auto&, auto&) { EXPECT_EQ(a.wake_at, kMono + 1500ms); }},
      {"no check, up long enough: healthy, and nothing left to look at",
       with_task,
       as_is,
       false,
       Kind::kWait,
       {std::nullopt},
       [](auto& a, auto&, auto& r) {
         EXPECT_EQ(r[0].health, Health::kHealthy);
         EXPECT_EQ(a.wake_at, MonoTime::max());
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RunnerState state = State();
    c.state(state);
    std::optional<RunnerTarget> target;
    if (c.target) {
      target = Target();
      c.target(*target);
    }
    RunnerInput in{target, c.unassigned, kNow, kMono};
    RunnerDecision d = DecideRunner(state, in);
    EXPECT_EQ(d.action.kind, c.want);
    EXPECT_EQ(States(d.reports), c.reports);
    if (c.check && d.action.kind == c.want && States(d.reports) == c.reports) {
      c.check(d.action, state, d.reports);
    }
  }
}

// Verify what the runner makes of each driver call's result: the state it
// moves to and what it reports.
TEST(RunnerResultTest, Table) {
  struct Case {
    const char* name;
    std::function<void(RunnerState&)> state;
    std::function<void(RunnerTarget&)> target;
    std::function<void(RunnerState&, const RunnerInput&, std::vector<protocol::InstanceReport>*)>
        feed;
    std::vector<std::optional<InstanceState>> reports;
    std::function<void(const RunnerState&, const std::vector<protocol::InstanceReport>&)> check;
  };
  auto with_task = [](RunnerState& s) { s.task = Task(); };
  auto as_is = [](RunnerTarget&) {};
  auto stop = [](RunnerTarget& t) { t.instance.desired = DesiredState::kStop; };
  auto exited = [](int code) {
    return [code](RunnerState& s, const RunnerInput& in, auto* r) {
      runtime::TaskStatus status;
      status.exit_code = code;
      OnInspected(s, in, status, r);
    };
  };
  const Case cases[] = {
      {"an exit nobody wanted: failed, with the code",
       with_task,
       as_is,
       exited(3),
       {InstanceState::kFailed},
       [](auto& s, auto& r) {
         EXPECT_FALSE(s.task);
         EXPECT_EQ(s.ended_generation, 1);
         EXPECT_EQ(r[0].last_exit, 3);
         EXPECT_EQ(r[0].message, "exited with 3");
         EXPECT_EQ(r[0].finished_at, kNow);
       }},
      {"an exit while a stop is wanted: stopped",
       with_task,
       stop,
       exited(0),
       {InstanceState::kStopped},
       [](auto& s, auto&) { EXPECT_TRUE(s.reported_stopped); }},
      {"an exit while draining: stopped with the code, stopping not said again",
       [](RunnerState& s) {
         s.task = Task();
         s.task->said_draining = true;
       },
       [](RunnerTarget& t) {
         t.instance.desired = DesiredState::kStop;
         t.instance.drain_until = kNow + 10s;
       },
       exited(0),
       {InstanceState::kStopped},
       [](auto& s, auto& r) {
         EXPECT_FALSE(s.task);
         EXPECT_TRUE(s.reported_stopped);
         EXPECT_EQ(r[0].last_exit, 0);
       }},
      {"a task the driver no longer knows: failed, gone",
       with_task,
       as_is,
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         OnInspected(s, in, tl::unexpected(Error{ErrorCode::kNotFound, "no such task"}), r);
       },
       {InstanceState::kFailed},
       [](auto&, auto& r) { EXPECT_EQ(r[0].message, "task is gone: no such task"); }},
      {"an inspection that fails otherwise is retried later, nothing said",
       [](RunnerState& s) {
         s.task = Task();
         s.task->check = true;
       },
       as_is,
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         OnInspected(s, in, tl::unexpected(Error{ErrorCode::kUnavailable, "engine down"}), r);
       },
       {},
       [](auto& s, auto&) {
         ASSERT_TRUE(s.task);
         EXPECT_TRUE(s.task->check);
         EXPECT_TRUE(s.task->inspect_failed);
         EXPECT_EQ(s.task->check_at, kMono + kRetryDelay);
       }},
      {"first seen running: running, health unknown",
       [](RunnerState& s) {
         s.task = Task();
         s.task->reported_running = false;
         s.task->check = true;
         s.task->inspect_failed = true;
       },
       as_is,
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         runtime::TaskStatus status;
         status.running = true;
         OnInspected(s, in, status, r);
       },
       {InstanceState::kRunning},
       [](auto& s, auto& r) {
         EXPECT_FALSE(s.task->check);
         EXPECT_FALSE(s.task->inspect_failed);
         EXPECT_EQ(r[0].health, Health::kUnknown);
       }},
      {"a start that failed: failed with the driver's words, not retried",
       nullptr,
       as_is,
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         OnStarted(s, in, RunnerAction{.kind = Kind::kStart, .driver = "process"},
                   tl::unexpected(Error{ErrorCode::kUnavailable, "sleep: not found"}), 0, r);
       },
       {InstanceState::kFailed},
       [](auto& s, auto& r) {
         EXPECT_EQ(s.ended_generation, 1);
         EXPECT_EQ(r[0].message, "sleep: not found");
       }},
      {"a start: starting, with address, port and handle; looked at next",
       nullptr,
       as_is,
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         OnStarted(s, in, RunnerAction{.kind = Kind::kStart, .driver = "process"},
                   std::string("pid:7:8"), 20002, r);
       },
       {InstanceState::kStarting},
       [](auto& s, auto& r) {
         ASSERT_TRUE(s.task);
         EXPECT_TRUE(s.task->check);
         EXPECT_EQ(s.task->started_at, kNow);
         EXPECT_EQ(r[0].address, "127.0.0.1:20002");
         EXPECT_EQ(r[0].handle, "pid:7:8");
       }},
      {"a stored handle that is gone, its generation still wanted: failed (lost)",
       nullptr,
       as_is,
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         OnRecovered(s, in, RunnerAction{.kind = Kind::kRecover, .generation = 1},
                     tl::unexpected(Error{ErrorCode::kNotFound, "process 5 is gone"}), r);
       },
       {InstanceState::kFailed},
       [](auto&, auto& r) {
         EXPECT_EQ(r[0].message, "lost while no agent watched it: process 5 is gone");
       }},
      {"a stored handle that is gone, a newer generation wanted: nothing said",
       nullptr,
       [](RunnerTarget& t) { t.instance.generation = 2; },
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         OnRecovered(s, in, RunnerAction{.kind = Kind::kRecover, .generation = 1},
                     tl::unexpected(Error{ErrorCode::kNotFound, "gone"}), r);
       },
       {},
       [](auto& s, auto&) { EXPECT_EQ(s.ended_generation, 0); }},
      {"a stop as wanted: stopping, then stopped with the exit",
       with_task,
       stop,
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         runtime::TaskStatus after;
         after.exit_code = 143;
         after.message = "killed by signal 15";
         OnStopped(s, in, RunnerAction{.kind = Kind::kStop, .grace = 7s, .report = true},
                   OkStatus(), after, r);
       },
       {InstanceState::kStopping, InstanceState::kStopped},
       [](auto& s, auto& r) {
         EXPECT_FALSE(s.task);
         EXPECT_EQ(r[1].last_exit, 143);
         EXPECT_EQ(r[1].message, "killed by signal 15");
       }},
      {"a stop for a fresh start: nothing said, the generation ended",
       with_task,
       as_is,
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         OnStopped(s, in, RunnerAction{.kind = Kind::kStop, .report = false}, OkStatus(),
                   runtime::TaskStatus{}, r);
       },
       {},
       [](auto& s, auto&) {
         EXPECT_FALSE(s.task);
         EXPECT_EQ(s.ended_generation, 1);
       }},
      {"a stop that failed: the task stays, looked at and stopped again later",
       with_task,
       stop,
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         OnStopped(s, in, RunnerAction{.kind = Kind::kStop, .report = true},
                   tl::unexpected(Error{ErrorCode::kDeadlineExceeded, "survived SIGKILL"}),
                   runtime::TaskStatus{}, r);
       },
       {InstanceState::kStopping},
       [](auto& s, auto&) {
         ASSERT_TRUE(s.task);
         EXPECT_EQ(s.stop_retry_at, kMono + kRetryDelay);
         EXPECT_TRUE(s.task->check);
         EXPECT_EQ(s.task->check_at, kMono + kRetryDelay);
       }},
      {"a stored handle that lives: adopted as running at its generation, probed at once",
       nullptr,
       [](RunnerTarget& t) {
         t.instance.generation = 2;
         t.instance.port = 20005;
         t.instance.started_at = kNow - 1h;
       },
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         OnRecovered(s, in,
                     RunnerAction{.kind = Kind::kRecover, .driver = "process", .generation = 1},
                     std::string("pid:5:6"), r);
       },
       {},
       [](auto& s, auto&) {
         ASSERT_TRUE(s.task);
         EXPECT_EQ(s.task->handle, "pid:5:6");
         EXPECT_EQ(s.task->generation, 1);
         EXPECT_EQ(s.task->port, 20005);
         EXPECT_TRUE(s.task->reported_running);
         EXPECT_FALSE(s.task->check);
         EXPECT_EQ(s.next_probe, kMono);
       }},
      {"an exit heard: the task is looked at next",
       with_task,
       as_is,
       [](RunnerState& s, const RunnerInput&, auto*) { OnExitSignal(s); },
       {},
       [](auto& s, auto&) {
         ASSERT_TRUE(s.task);
         EXPECT_TRUE(s.task->check);
       }},
      {"a probe failing while starting up: probed again soon, nothing said",
       with_task,
       [](RunnerTarget& t) {
         t.spec.health.type = model::HealthType::kHttp;
         t.spec.health.interval = 10s;
       },
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         s.task->started_at = kNow - 400ms;
         OnProbed(s, in, ProbeResult{false, "connect: refused"}, r);
       },
       {},
       [](auto& s, auto&) { EXPECT_EQ(s.next_probe, kMono + 100ms); }},
      {"a passing probe: healthy, with the probe's words; next probe at the interval",
       with_task,
       [](RunnerTarget& t) {
         t.spec.health.type = model::HealthType::kHttp;
         t.spec.health.interval = 10s;
       },
       [](RunnerState& s, const RunnerInput& in, auto* r) {
         OnProbed(s, in, ProbeResult{true, "GET / returned 200"}, r);
       },
       {std::nullopt},
       [](auto& s, auto& r) {
         EXPECT_EQ(r[0].health, Health::kHealthy);
         EXPECT_EQ(r[0].message, "GET / returned 200");
         EXPECT_EQ(s.next_probe, kMono + 10s);
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RunnerState state = State();
    if (c.state) c.state(state);
    std::optional<RunnerTarget> target = Target();
    c.target(*target);
    RunnerInput in{target, false, kNow, kMono};
    std::vector<protocol::InstanceReport> reports;
    c.feed(state, in, &reports);
    EXPECT_EQ(States(reports), c.reports);
    if (States(reports) == c.reports) c.check(state, reports);
  }
}

// Verify that start-up probes come fast at first, thin out, and never wait
// longer than the check's interval (nor less than the floor).
TEST(StartupProbeDelayTest, GrowsFromFloorToInterval) {
  struct Case {
    std::chrono::milliseconds since_start;
    Duration interval;
    Duration want;
  } cases[] = {
      {0ms, 2s, kMinStartupProbeDelay},
      {20ms, 2s, kMinStartupProbeDelay},
      {400ms, 2s, 100ms},
      {4s, 2s, 1s},
      {60s, 2s, 2s},
      {0ms, 5ms, 5ms},  // a tiny interval wins
  };
  for (const Case& c : cases) {
    EXPECT_EQ(StartupProbeDelay(c.since_start, c.interval), c.want)
        << c.since_start.count() << "ms after start, interval " << c.interval.count() << "ms";
  }
}

}  // namespace
}  // namespace skiff::agent
