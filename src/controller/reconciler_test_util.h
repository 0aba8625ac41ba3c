// World: a test harness for the reconciler and the rollout planner (a cluster
// held as a snapshot, passes of Compute() applied to it, agents played by hand).
// Shared by reconciler_test.cc and rollout_test.cc; tests only.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "controller/reconciler.h"
#include "controller/revision.h"

namespace skiff::controller::test_util {

using std::chrono::seconds;

constexpr int64_t kMi = 1 << 20;

// A cluster held as a store::Snapshot, with what the controller loop does to it
// (Apply) and what agents do (Settle, Crash), so that tests can run passes of
// Compute() until the cluster converges.
class World {
 public:
  store::Snapshot snapshot;
  std::vector<model::Event> events;
  Time now = Time(seconds(1'700'000'000));
  int next_id = 0;
  // Whether agents stamp healthy_since when an instance turns healthy (as
  // NodeService does); off, instances count as healthy for long enough at once.
  bool stamp_healthy_since = false;
  ReconcilerConfig config{
      [this](const std::string& app) { return fmt::format("{}-{}", app, ++next_id); }};

  model::Node& AddNode(const std::string& id, model::Resources capacity = {},
                       std::map<std::string, std::string> labels = {}) {
    model::Node node;
    node.id = id;
    node.name = id;
    node.drivers = {"process"};
    node.capacity = capacity;
    node.labels = std::move(labels);
    snapshot.nodes.push_back(node);
    return snapshot.nodes.back();
  }

  // Adds app `name` at revision 1 (a pending deployment) with `replicas`.
  model::App& AddApp(const std::string& name, int replicas,
                     const std::function<void(model::AppSpec&)>& edit = nullptr) {
    model::App app;
    app.name = name;
    app.spec.name = name;
    app.spec.run.command = {"serve"};
    app.spec.replicas = replicas;
    if (edit) edit(app.spec);
    snapshot.apps.push_back(app);
    AddDeployment(snapshot.apps.back());
    return snapshot.apps.back();
  }

  // A new revision of `name`: edit its spec and store a pending deployment.
  void NewRevision(const std::string& name, const std::function<void(model::AppSpec&)>& edit) {
    model::App& app = App(name);
    edit(app.spec);
    AddDeployment(app);
  }

  model::App& App(const std::string& name) {
    auto it = std::find_if(snapshot.apps.begin(), snapshot.apps.end(),
                           [&](const model::App& a) { return a.name == name; });
    EXPECT_NE(it, snapshot.apps.end()) << name;
    return *it;
  }

  model::Deployment& Deployment(const std::string& app, int64_t revision) {
    auto it = std::find_if(
        snapshot.deployments.begin(), snapshot.deployments.end(),
        [&](const model::Deployment& d) { return d.app == app && d.revision == revision; });
    EXPECT_NE(it, snapshot.deployments.end()) << app << "/" << revision;
    return *it;
  }

  model::Instance& Instance(const std::string& id) {
    auto it = FindInstance(id);
    EXPECT_NE(it, snapshot.instances.end()) << id;
    return *it;
  }

  // Adds an instance of the app's current revision, running and healthy on `node`.
  model::Instance& AddRunning(const std::string& app, const std::string& node) {
    model::Instance instance;
    instance.id = config.new_id(app);
    instance.app = app;
    instance.revision = App(app).revision;
    instance.restart_epoch = App(app).restart_epoch;
    instance.node = node;
    instance.state = model::InstanceState::kRunning;
    instance.health = model::Health::kHealthy;
    instance.created_at = now;
    snapshot.instances.push_back(instance);
    return snapshot.instances.back();
  }

  std::vector<std::string> Describe(const Actions& actions) {
    std::vector<std::string> out;
    for (const Action& action : actions) out.push_back(controller::Describe(action));
    return out;
  }

  Actions Step() { return Compute(snapshot, now, config, &wake); }
  Time wake;  // as the last Step() reported it

  // What the controller loop does with each action.
  void Apply(const Actions& actions) {
    for (const Action& action : actions) std::visit([this](const auto& a) { Do(a); }, action);
  }

  // One pass: compute, apply, and return the actions' descriptions.
  std::vector<std::string> Pass() {
    Actions actions = Step();
    Apply(actions);
    return Describe(actions);
  }

  // What agents do: placed wanted instances start and become healthy (their
  // crash count resets); unwanted live ones stop.
  void Settle() {
    for (model::Instance& instance : snapshot.instances) {
      if (instance.desired == model::DesiredState::kStop) {
        if (instance.state != model::InstanceState::kFailed) {
          instance.state = model::InstanceState::kStopped;
        }
      } else if (!instance.node.empty() && (instance.state == model::InstanceState::kPending ||
                                            instance.state == model::InstanceState::kStarting)) {
        instance.state = model::InstanceState::kRunning;
        instance.health = model::Health::kHealthy;
        if (stamp_healthy_since) instance.healthy_since = now;
      }
    }
  }

  // Placed pending instances start but are not healthy yet.
  void StartUnhealthy() {
    for (model::Instance& instance : snapshot.instances) {
      if (instance.desired == model::DesiredState::kRun && !instance.node.empty() &&
          instance.state == model::InstanceState::kPending) {
        instance.state = model::InstanceState::kRunning;
        instance.health = model::Health::kUnknown;
      }
    }
  }

  // A slower agent round than Settle: unwanted instances stop, started ones
  // become healthy, and pending ones start (healthy only next round).
  // Returns whether anything changed.
  bool AgentTick() {
    bool changed = false;
    for (model::Instance& instance : snapshot.instances) {
      bool live = instance.state != model::InstanceState::kStopped &&
                  instance.state != model::InstanceState::kFailed;
      if (instance.desired == model::DesiredState::kStop) {
        if (live) instance.state = model::InstanceState::kStopped, changed = true;
      } else if (instance.state == model::InstanceState::kRunning &&
                 instance.health != model::Health::kHealthy) {
        instance.health = model::Health::kHealthy;
        if (stamp_healthy_since) instance.healthy_since = now;
        changed = true;
      }
    }
    size_t before = std::count_if(
        snapshot.instances.begin(), snapshot.instances.end(),
        [](const model::Instance& i) { return i.state == model::InstanceState::kPending; });
    StartUnhealthy();
    size_t after = std::count_if(
        snapshot.instances.begin(), snapshot.instances.end(),
        [](const model::Instance& i) { return i.state == model::InstanceState::kPending; });
    return changed || before != after;
  }

  void Crash(const std::string& id, int exit_code) {
    model::Instance& instance = Instance(id);
    instance.state = model::InstanceState::kFailed;
    instance.health = model::Health::kUnknown;
    instance.last_exit = exit_code;
    ++instance.crash_count;
  }

  // Passes (with agents settling in between) until a pass has nothing to do.
  // Returns the number of passes that did something.
  int Converge(int max_passes = 20) {
    for (int i = 0; i < max_passes; ++i) {
      if (Pass().empty()) return i;
      Settle();
    }
    ADD_FAILURE() << "no convergence after " << max_passes << " passes";
    return max_passes;
  }

  // Instances of `app` with desired run, as "id@node".
  std::vector<std::string> Wanted(const std::string& app) {
    std::vector<std::string> out;
    for (const model::Instance& instance : snapshot.instances) {
      if (instance.app == app && instance.desired == model::DesiredState::kRun) {
        out.push_back(instance.id + "@" + instance.node);
      }
    }
    return out;
  }

  int Available(const std::string& app) {
    return static_cast<int>(std::count_if(
        snapshot.instances.begin(), snapshot.instances.end(), [&](const model::Instance& i) {
          return i.app == app && i.state == model::InstanceState::kRunning &&
                 i.health == model::Health::kHealthy;
        }));
  }

  std::vector<std::string> EventKinds() {
    std::vector<std::string> out;
    for (const model::Event& event : events) out.push_back(event.kind);
    return out;
  }

 private:
  void AddDeployment(model::App& app) {
    model::Deployment d;
    d.app = app.name;
    d.revision = ++app.revision;
    d.spec = app.spec;
    snapshot.deployments.push_back(d);
  }

  std::vector<model::Instance>::iterator FindInstance(const std::string& id) {
    return std::find_if(snapshot.instances.begin(), snapshot.instances.end(),
                        [&](const model::Instance& i) { return i.id == id; });
  }

  void Do(const CreateInstance& a) {
    EXPECT_EQ(FindInstance(a.instance.id), snapshot.instances.end()) << "created twice";
    snapshot.instances.push_back(a.instance);
  }
  void Do(const PlaceInstance& a) {
    Instance(a.id).node = a.node;
    Instance(a.id).message.clear();
  }
  void Do(const StopInstance& a) {
    EXPECT_EQ(Instance(a.id).desired, model::DesiredState::kRun) << "stopped twice";
    Instance(a.id).desired = model::DesiredState::kStop;
    Instance(a.id).message = a.reason;
    Instance(a.id).drain_until = a.drain_until;
  }
  void Do(const SetTraffic& a) { Instance(a.id).traffic = a.traffic; }
  void Do(const RemoveInstance& a) { snapshot.instances.erase(FindInstance(a.id)); }
  void Do(const ScheduleRestart& a) { Instance(a.id).restart_at = a.restart_at; }
  void Do(const RestartInstance& a) {
    model::Instance& instance = Instance(a.id);
    ++instance.generation;
    ++instance.restarts;
    instance.state = model::InstanceState::kPending;
    instance.restart_at = Time{};
  }
  void Do(const SetInstanceMessage& a) { Instance(a.id).message = a.message; }
  void Do(const SetDeploymentState& a) {
    model::Deployment& d = Deployment(a.app, a.revision);
    d.state = a.state;
    d.message = a.message;
    d.healthy = a.healthy;
    d.progressed_at = a.progressed_at;
    d.healthy_at = a.healthy_at;
    d.promoted = a.promoted;
  }
  void Do(const RevertApp& a) {
    model::App& app = App(a.app);
    ASSERT_EQ(app.revision, a.failed_revision);
    RollbackWrites writes = MakeRollback(app, Deployment(a.app, a.to_revision), now, a.reason);
    app = writes.app;
    snapshot.deployments.push_back(writes.deployment);
  }
  void Do(const RemoveApp& a) {
    std::erase_if(snapshot.apps, [&](const model::App& app) { return app.name == a.name; });
    std::erase_if(snapshot.deployments,
                  [&](const model::Deployment& d) { return d.app == a.name; });
  }
  void Do(const EmitEvent& a) { events.push_back(a.event); }
};

}  // namespace skiff::controller::test_util
