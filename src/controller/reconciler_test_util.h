// World: a test harness for the reconciler and the rollout planner (a cluster
// held as a snapshot, passes of Compute() applied to it by the real
// ActionApplier on a MemoryStore, agents played by hand).
// Shared by reconciler_test.cc, rollout_test.cc and rollout_property_test.cc;
// tests only.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "controller/action_applier.h"
#include "controller/reconciler.h"
#include "controller/report_merge.h"
#include "controller/revision.h"
#include "store/memory/memory_store.h"

namespace skiff::controller::test_util {

using std::chrono::seconds;

constexpr int64_t kMi = 1 << 20;

// A cluster held as a store::Snapshot, with what the controller loop does to it
// (Apply) and what agents do (Settle, Crash), so that tests can run passes of
// Compute() until the cluster converges.
//
// `snapshot` is the tests' view, and theirs to edit as agents and operators
// would. Step() first writes it to a MemoryStore (so the edits are stored, as
// agents' reports and API calls would store them) and reads the versions back;
// Apply() hands the actions to controller::ApplyActions on that store, the
// controller loop's own applier, and reads the result back into `snapshot` in
// place: objects keep their place (and references to them stay good) unless
// removed, new ones are appended in the order they were written.
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

  // Stores the tests' edits of `snapshot`, then computes a pass from it.
  Actions Step() {
    Store();
    return Compute(snapshot, now, config, &wake);
  }
  Time wake;  // as the last Step() reported it

  // What the controller loop does with the actions of the last Step(): the
  // real applier writes them. Since nothing else writes between Step() and
  // Apply(), a conflict is the reconciler's own (actions that contradict each
  // other) and fails the test.
  void Apply(const Actions& actions) {
    for (const Action& action : actions) Check(action);
    auto outcome = ApplyActions(*store_, snapshot, actions, now);
    ASSERT_TRUE(outcome) << outcome.error().ToString();
    EXPECT_EQ(outcome->conflicts, 0) << ::testing::PrintToString(Describe(actions));
    Load();
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

  // The instance's agent reports that it exited: merged as NodeService merges
  // it (a crash counted, health cleared).
  void Crash(const std::string& id, int exit_code) {
    model::Instance& instance = Instance(id);
    protocol::InstanceReport report{.instance_id = id,
                                    .node_id = instance.node,
                                    .generation = instance.generation,
                                    .state = model::InstanceState::kFailed,
                                    .last_exit = exit_code,
                                    .finished_at = now};
    auto merged = MergeReport(instance, report, now);
    ASSERT_TRUE(merged) << merged.error().ToString();
    instance = std::move(merged->instance);
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

  // What the reconciler must never ask: checked before the applier runs.
  void Check(const Action& action) {
    if (const auto* a = std::get_if<CreateInstance>(&action)) {
      EXPECT_EQ(FindInstance(a->instance.id), snapshot.instances.end()) << "created twice";
    } else if (const auto* a = std::get_if<StopInstance>(&action)) {
      EXPECT_EQ(Instance(a->id).desired, model::DesiredState::kRun) << "stopped twice";
    } else if (const auto* a = std::get_if<RevertApp>(&action)) {
      EXPECT_EQ(App(a->app).revision, a->failed_revision) << "reverts a revision not current";
    }
  }

  // The key of an object among those of its kind.
  static std::string Key(const model::App& a) { return a.name; }
  static std::string Key(const model::Deployment& d) {
    return fmt::format("{}/{}", d.app, d.revision);
  }
  static std::string Key(const model::Instance& i) { return i.id; }
  static std::string Key(const model::Node& n) { return n.id; }

  // As last read from the store, by kind and key.
  template <typename T>
  using Stored = std::map<std::string, T>;

  // Puts the objects of `mine` that differ from those stored (new ones, and
  // those the test edited) and deletes the stored ones `mine` lacks.
  template <typename T>
  static void Write(const std::vector<T>& mine, const Stored<T>& stored, store::Txn& txn) {
    std::set<std::string> keys;
    for (const T& o : mine) {
      const std::string& key = *keys.insert(Key(o)).first;
      auto it = stored.find(key);
      if (it == stored.end() || !(it->second == o)) txn.Put(o, store::kAnyVersion);
    }
    for (const auto& [key, o] : stored) {
      if (!keys.count(key)) txn.Delete(o, store::kAnyVersion);
    }
  }

  // Writes the tests' edits of `snapshot`, then reads the versions back.
  void Store() {
    store::Txn txn;
    Write(snapshot.apps, apps_, txn);
    Write(snapshot.deployments, deployments_, txn);
    Write(snapshot.instances, instances_, txn);
    Write(snapshot.nodes, nodes_, txn);
    if (txn.empty()) return;
    auto committed = store_->Commit(txn);
    ASSERT_TRUE(committed) << committed.error().ToString();
    Load();
  }

  // Applies one change read from the store to `mine` (in place, or appended
  // when new) and to `stored`.
  template <typename T>
  static void Take(const store::Change& change, std::vector<T>& mine, Stored<T>& stored) {
    const T& o = std::get<T>(change.object);
    const std::string key = Key(o);
    auto it = std::find_if(mine.begin(), mine.end(), [&](const T& m) { return Key(m) == key; });
    if (change.deleted) {
      if (it != mine.end()) mine.erase(it);
      stored.erase(key);
      return;
    }
    if (it != mine.end()) {
      *it = o;
    } else {
      mine.push_back(o);
    }
    stored[key] = o;
  }

  // Reads what the store wrote since the last read into `snapshot` (objects
  // keep their place, new ones are appended in the order they were written)
  // and into `events`.
  void Load() {
    auto changes = store_->ChangesSince(snapshot.revision, std::numeric_limits<size_t>::max());
    ASSERT_TRUE(changes) << changes.error().ToString();
    for (const store::Change& change : *changes) {
      switch (store::KindOf(change.object)) {
        case store::Kind::kApp:
          Take(change, snapshot.apps, apps_);
          break;
        case store::Kind::kDeployment:
          Take(change, snapshot.deployments, deployments_);
          break;
        case store::Kind::kInstance:
          Take(change, snapshot.instances, instances_);
          break;
        case store::Kind::kNode:
          Take(change, snapshot.nodes, nodes_);
          break;
        case store::Kind::kEvent:
          events.push_back(std::get<model::Event>(change.object));
          break;
      }
      snapshot.revision = change.revision;
    }
  }

  std::unique_ptr<store::MemoryStore> store_ = std::make_unique<store::MemoryStore>();
  Stored<model::App> apps_;
  Stored<model::Deployment> deployments_;
  Stored<model::Instance> instances_;
  Stored<model::Node> nodes_;
};

}  // namespace skiff::controller::test_util
