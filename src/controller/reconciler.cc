#include "controller/reconciler.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/check.h"
#include "common/overloaded.h"
#include "common/quantity.h"
#include "controller/allocation.h"
#include "controller/backoff.h"
#include "controller/rollout.h"
#include "controller/template.h"
#include "scheduler/scheduler.h"

namespace skiff::controller {
namespace {

using model::DesiredState;
using model::Instance;
using model::InstanceState;

bool IsUnplacedPending(const Instance& instance) {
  return instance.node.empty() && instance.state == InstanceState::kPending;
}

// The state of one Compute() call. Apps are reconciled one after another
// against one placement index, so that an app placed early in the pass takes
// resources away from the apps after it.
class Pass {
 public:
  Pass(const store::Snapshot& snapshot, Time now, const ReconcilerConfig& config);
  Actions Run();
  Time wake() const { return wake_; }

 private:
  using Key = std::pair<std::string, int64_t>;  // (app, revision)

  // What one app's instances look like once this pass's removals are taken out.
  struct Groups {
    // Desired run, epoch E, revision R (or one differing only in replicas/autoscale),
    // not on a draining node.
    std::vector<const Instance*> current;
    std::vector<const Instance*> old;  // desired run, the others
    bool any_old_left = false;         // an old record outlives this pass
  };

  const model::AppSpec& SpecOf(const Instance& instance, const model::App& app) const;
  bool ShouldRemove(const Instance& instance) const;
  bool IsCurrent(const Instance& instance, const model::App& app) const;
  bool OnDrainingNode(const Instance& instance) const;
  bool OnDownNode(const Instance& instance) const;
  std::string StopReason(const Instance& instance, const model::App& app) const;
  void Emit(Action action) { out_.push_back(std::move(action)); }
  void EmitEvent(const std::string& app, std::string kind, std::string message,
                 std::map<std::string, std::string> details);

  void ReconcileApp(const model::App& app, const std::vector<const Instance*>& instances);
  void ReconcileDeleting(const model::App& app, const std::vector<const Instance*>& instances,
                         const std::vector<const Instance*>& kept);
  void ReconcileOrphans(const std::vector<const Instance*>& instances);
  Groups Group(const model::App& app, const std::vector<const Instance*>& kept);
  void StopSurplus(const model::App& app, std::vector<const Instance*>& current);
  RolloutPlan PlanFor(const model::App& app, const Groups& groups);
  std::string RevertBlocked(const model::App& app, const model::AppSpec& spec) const;
  void PlaceAndCreate(const model::App& app, const std::vector<const Instance*>& instances,
                      const Groups& groups, int create, model::Traffic traffic);
  void Restart(const std::vector<const Instance*>& current);
  // Stops an instance; one that may have had traffic (serving, the app has
  // domains) first drains for its spec's edge.drain_timeout unless `drain` is false.
  void Stop(const model::App* app, const Instance& instance, std::string reason, bool drain = true);

  const store::Snapshot& snapshot_;
  Time now_;
  const ReconcilerConfig& config_;
  std::unordered_map<std::string, model::NodeStatus> node_status_;
  bool any_ready_node_ = false;
  std::map<Key, const model::Deployment*> deployments_;
  std::optional<scheduler::PlacementIndex> index_;
  mutable std::map<Key, bool> same_template_;  // revision -> runs the current template
  Actions out_;
  Time wake_ = Time::max();
};

Pass::Pass(const store::Snapshot& snapshot, Time now, const ReconcilerConfig& config)
    : snapshot_(snapshot), now_(now), config_(config) {
  for (const model::Node& node : snapshot.nodes) {
    node_status_[node.id] = node.status;
    any_ready_node_ = any_ready_node_ || node.status == model::NodeStatus::kReady;
  }
  for (const model::Deployment& d : snapshot.deployments) deployments_[{d.app, d.revision}] = &d;
  index_.emplace(snapshot.nodes);
  ForEachReservation(snapshot, [&](const Instance& instance, const model::Resources& resources) {
    index_->Reserve(instance.node, instance.app, resources);
  });
}

const model::AppSpec& Pass::SpecOf(const Instance& instance, const model::App& app) const {
  auto d = deployments_.find({instance.app, instance.revision});
  return d != deployments_.end() ? d->second->spec : app.spec;
}

// Current: what the app asks for now (template.h). Cached per revision: many
// instances share one, and comparing specs is the costly part.
bool Pass::IsCurrent(const Instance& instance, const model::App& app) const {
  if (instance.restart_epoch != app.restart_epoch) return false;
  if (instance.revision == app.revision) return true;
  Key key{instance.app, instance.revision};
  auto cached = same_template_.find(key);
  if (cached == same_template_.end()) {
    auto d = deployments_.find(key);
    const model::AppSpec* spec = d == deployments_.end() ? nullptr : &d->second->spec;
    cached = same_template_.emplace(key, RunsCurrentTemplate(app, instance, spec)).first;
  }
  return cached->second;
}

bool Pass::OnDrainingNode(const Instance& instance) const {
  auto it = node_status_.find(instance.node);
  return it != node_status_.end() && it->second == model::NodeStatus::kDraining;
}

bool Pass::OnDownNode(const Instance& instance) const {
  auto it = node_status_.find(instance.node);
  return it != node_status_.end() && it->second == model::NodeStatus::kDown;
}

std::string Pass::StopReason(const Instance& instance, const model::App& app) const {
  if (OnDrainingNode(instance)) return "node draining";
  if (instance.restart_epoch != app.restart_epoch) return "restarted";
  return fmt::format("replaced by revision {}", app.revision);
}

bool Pass::ShouldRemove(const Instance& instance) const {
  if (!instance.node.empty() && !node_status_.contains(instance.node)) return true;
  // A stopped instance on a down node will not report again: its record goes
  // (if the node comes back, its agent stops what it is no longer assigned).
  return instance.desired == DesiredState::kStop &&
         (instance.node.empty() || IsDead(instance.state) || OnDownNode(instance));
}

void Pass::Stop(const model::App* app, const Instance& instance, std::string reason, bool drain) {
  StopInstance stop{instance.id, std::move(reason), instance.version};
  if (drain && app != nullptr && !app->spec.domains.empty() && IsServing(instance)) {
    stop.drain_until = now_ + SpecOf(instance, *app).edge.drain_timeout;
  }
  Emit(std::move(stop));
}

void Pass::EmitEvent(const std::string& app, std::string kind, std::string message,
                     std::map<std::string, std::string> details) {
  model::Event event;
  event.time = now_;
  event.app = app;
  event.kind = std::move(kind);
  event.message = std::move(message);
  event.details = std::move(details);
  Emit(controller::EmitEvent{std::move(event)});
}

Actions Pass::Run() {
  // Instances by app, in a hash map keyed by views of the snapshot's names: an
  // ordered map of strings compared names about ten times per instance, a
  // fifth of a pass over 150,000 instances. Neighbours mostly share their app,
  // so the last group is tried first. The order of work stays by name and id.
  std::unordered_map<std::string_view, std::vector<const Instance*>> by_app;
  std::vector<const Instance*>* last = nullptr;
  for (const Instance& instance : snapshot_.instances) {
    if (last == nullptr || last->front()->app != instance.app) last = &by_app[instance.app];
    last->push_back(&instance);
  }
  for (auto& [name, list] : by_app) {
    std::sort(list.begin(), list.end(),
              [](const Instance* a, const Instance* b) { return a->id < b->id; });
  }
  std::vector<const model::App*> apps;
  for (const model::App& app : snapshot_.apps) apps.push_back(&app);
  std::sort(apps.begin(), apps.end(),
            [](const model::App* a, const model::App* b) { return a->name < b->name; });
  for (const model::App* app : apps) {
    auto it = by_app.find(app->name);
    ReconcileApp(*app, it == by_app.end() ? std::vector<const Instance*>{} : it->second);
    if (it != by_app.end()) by_app.erase(it);
  }
  std::vector<std::pair<std::string_view, const std::vector<const Instance*>*>> orphans;
  for (const auto& [name, list] : by_app) orphans.emplace_back(name, &list);
  std::sort(orphans.begin(), orphans.end());
  for (const auto& [name, list] : orphans) ReconcileOrphans(*list);
  return std::move(out_);
}

void Pass::ReconcileOrphans(const std::vector<const Instance*>& instances) {
  for (const Instance* instance : instances) {
    if (ShouldRemove(*instance)) {
      Emit(RemoveInstance{instance->id, instance->version});
    } else if (instance->desired == DesiredState::kRun) {
      Stop(nullptr, *instance, "app no longer exists");
    }
  }
}

void Pass::ReconcileApp(const model::App& app, const std::vector<const Instance*>& instances) {
  std::vector<const Instance*> kept;
  for (const Instance* instance : instances) {
    if (ShouldRemove(*instance)) {
      Emit(RemoveInstance{instance->id, instance->version});
    } else {
      kept.push_back(instance);
    }
  }
  if (app.deleting) return ReconcileDeleting(app, instances, kept);

  Groups groups = Group(app, kept);
  StopSurplus(app, groups.current);
  RolloutPlan plan = PlanFor(app, groups);
  for (const RolloutPlan::Stop& stop : plan.stops) Stop(&app, *stop.instance, stop.reason);
  for (Action& action : plan.traffic) Emit(std::move(action));
  PlaceAndCreate(app, instances, groups, plan.create, plan.create_traffic);
  Restart(groups.current);
  for (Action& action : plan.deployment) Emit(std::move(action));
  wake_ = std::min(wake_, plan.wake);
}

RolloutPlan Pass::PlanFor(const model::App& app, const Groups& groups) {
  RolloutInput input;
  input.app = &app;
  // Keyed (app, revision): the app's deployments are one run of the map.
  for (auto it = deployments_.lower_bound({app.name, std::numeric_limits<int64_t>::min()});
       it != deployments_.end() && it->first.first == app.name; ++it) {
    input.deployments.push_back(it->second);
  }
  input.current = groups.current;
  input.old = groups.old;
  input.any_old_left = groups.any_old_left;
  input.now = now_;
  input.stop_reason = [&](const Instance& instance) { return StopReason(instance, app); };
  input.revert_blocked = [&](const model::AppSpec& spec) { return RevertBlocked(app, spec); };
  return PlanRollout(input);
}

// A revision may not be returned to once another app serves one of its domains.
std::string Pass::RevertBlocked(const model::App& app, const model::AppSpec& spec) const {
  for (const model::App& other : snapshot_.apps) {
    if (other.name == app.name) continue;
    for (const std::string& domain : spec.domains) {
      const auto& theirs = other.spec.domains;
      if (std::find(theirs.begin(), theirs.end(), domain) != theirs.end()) {
        return fmt::format("{} is served by app {}", domain, other.name);
      }
    }
  }
  return "";
}

void Pass::ReconcileDeleting(const model::App& app, const std::vector<const Instance*>& instances,
                             const std::vector<const Instance*>& kept) {
  for (const Instance* instance : kept) {
    if (instance->desired == DesiredState::kRun) Stop(&app, *instance, "app deleted");
  }
  // Removing the app waits for a pass that sees no instance records at all, so
  // the loop never deletes an app while it still writes its instances.
  if (instances.empty()) Emit(RemoveApp{app.name, app.version});
}

Pass::Groups Pass::Group(const model::App& app, const std::vector<const Instance*>& kept) {
  Groups groups;
  for (const Instance* instance : kept) {
    if (instance->desired == DesiredState::kRun && OnDownNode(*instance) && any_ready_node_) {
      // Lost with its node: it counts for nothing, is replaced in this pass,
      // and stops being routed to at once (routes take desired = run only).
      // With no other node to go to it stays: a silent node may still serve.
      Stop(&app, *instance, "node down", /*drain=*/false);
      groups.any_old_left = true;
      continue;
    }
    // An instance on a draining node is replaced like an old one: a new one
    // comes up elsewhere before it goes, within the same rolling bounds.
    bool current = IsCurrent(*instance, app) && !OnDrainingNode(*instance);
    if (!current) groups.any_old_left = true;
    if (instance->desired != DesiredState::kRun) continue;
    (current ? groups.current : groups.old).push_back(instance);
  }
  return groups;
}

// Scale down: the unplaced, failed and unhealthy go first, then the newest.
void Pass::StopSurplus(const model::App& app, std::vector<const Instance*>& current) {
  int target = model::DesiredReplicas(app);
  if (static_cast<int>(current.size()) <= target) return;
  std::stable_sort(current.begin(), current.end(), [&](const Instance* a, const Instance* b) {
    int wa = StopCost(*a), wb = StopCost(*b);
    if (wa != wb) return wa < wb;
    if (a->created_at != b->created_at) return a->created_at > b->created_at;
    return a->id > b->id;
  });
  size_t surplus = current.size() - target;
  for (size_t i = 0; i < surplus; ++i) Stop(&app, *current[i], "scaled down");
  current.erase(current.begin(), current.begin() + static_cast<std::ptrdiff_t>(surplus));
  std::sort(current.begin(), current.end(),
            [](const Instance* a, const Instance* b) { return a->id < b->id; });
}

// Where round-robin resumes: the node of the app's newest placed instance.
std::string LastNode(const std::vector<const Instance*>& instances) {
  const Instance* newest = nullptr;
  for (const Instance* instance : instances) {
    if (instance->node.empty()) continue;
    if (newest == nullptr || instance->created_at > newest->created_at ||
        (instance->created_at == newest->created_at && instance->id > newest->id)) {
      newest = instance;
    }
  }
  return newest == nullptr ? "" : newest->node;
}

void Pass::PlaceAndCreate(const model::App& app, const std::vector<const Instance*>& instances,
                          const Groups& groups, int create, model::Traffic traffic) {
  std::vector<const Instance*> unplaced;
  for (const Instance* instance : groups.current) {
    if (IsUnplacedPending(*instance)) unplaced.push_back(instance);
  }
  if (unplaced.empty() && create == 0) return;
  scheduler::PlacementRequest request;
  request.app = app.name;
  request.resources = app.spec.resources;
  request.placement = app.spec.placement;
  request.driver = model::IsContainer(app.spec.run) ? "docker" : "process";
  request.count = static_cast<int>(unplaced.size()) + create;
  request.round_robin_after = LastNode(instances);
  scheduler::Plan plan = scheduler::Place(*index_, request);
  index_->Record(request, plan);

  int newly_unplaced = 0;  // instances whose "no node fits" message is news
  for (size_t i = 0; i < unplaced.size(); ++i) {
    const Instance& instance = *unplaced[i];
    if (!plan.nodes[i].empty()) {
      Emit(PlaceInstance{instance.id, plan.nodes[i], instance.version});
    } else if (instance.message != plan.failure) {
      Emit(SetInstanceMessage{instance.id, plan.failure, instance.version});
      ++newly_unplaced;
    }
  }
  for (size_t i = unplaced.size(); i < plan.nodes.size(); ++i) {
    Instance instance;
    instance.id = config_.new_id(app.name);
    instance.app = app.name;
    instance.revision = app.revision;
    instance.restart_epoch = app.restart_epoch;
    instance.traffic = traffic;
    instance.node = plan.nodes[i];
    if (instance.node.empty()) {
      instance.message = plan.failure;
      ++newly_unplaced;
    }
    instance.created_at = now_;
    instance.updated_at = now_;
    Emit(CreateInstance{std::move(instance)});
  }
  if (newly_unplaced > 0) {
    EmitEvent(app.name, "instance.unplaceable",
              fmt::format("{} instance{} of {} cannot be placed: {}", newly_unplaced,
                          newly_unplaced == 1 ? "" : "s", app.name, plan.failure),
              {{"revision", std::to_string(app.revision)}});
  }
}

// Failed instances come back where they were, after their backoff; never replaced.
void Pass::Restart(const std::vector<const Instance*>& current) {
  for (const Instance* instance : current) {
    if (!IsDead(instance->state)) continue;
    if (instance->restart_at == Time{}) {
      Emit(ScheduleRestart{instance->id, now_ + RestartBackoff(instance->crash_count),
                           instance->version});
    } else if (now_ >= instance->restart_at) {
      Emit(RestartInstance{instance->id, instance->version});
    }
  }
}

}  // namespace

Actions Compute(const store::Snapshot& snapshot, Time now, const ReconcilerConfig& config,
                Time* wake) {
  SKIFF_CHECK(config.new_id != nullptr);
  Pass pass(snapshot, now, config);
  Actions actions = pass.Run();
  if (wake != nullptr) *wake = pass.wake();
  return actions;
}

std::string Describe(const Action& action) {
  return std::visit(
      Overloaded{
          [](const CreateInstance& a) {
            return a.instance.node.empty()
                       ? fmt::format("create {} unplaced ({})", a.instance.id, a.instance.message)
                       : fmt::format("create {} on {}", a.instance.id, a.instance.node);
          },
          [](const PlaceInstance& a) { return fmt::format("place {} on {}", a.id, a.node); },
          [](const StopInstance& a) {
            return a.drain_until == Time{} ? fmt::format("stop {} ({})", a.id, a.reason)
                                           : fmt::format("stop {} ({}; drain until {})", a.id,
                                                         a.reason, FormatTime(a.drain_until));
          },
          [](const SetTraffic& a) {
            return fmt::format("traffic {} -> {}", a.id, model::ToString(a.traffic));
          },
          [](const RevertApp& a) {
            return fmt::format("revert app {} to revision {} ({})", a.app, a.to_revision, a.reason);
          },
          [](const RemoveInstance& a) { return fmt::format("remove {}", a.id); },
          [](const ScheduleRestart& a) {
            return fmt::format("schedule restart of {} at {}", a.id, FormatTime(a.restart_at));
          },
          [](const RestartInstance& a) { return fmt::format("restart {}", a.id); },
          [](const SetInstanceMessage& a) {
            return fmt::format("message {}: {}", a.id, a.message);
          },
          [](const SetDeploymentState& a) {
            return fmt::format("deployment {}/{} -> {} ({})", a.app, a.revision,
                               model::ToString(a.state), a.message);
          },
          [](const RemoveApp& a) { return fmt::format("remove app {}", a.name); },
          [](const controller::EmitEvent& a) {
            return fmt::format("event {}: {}", a.event.kind, a.event.message);
          },
      },
      action);
}

}  // namespace skiff::controller
