#include "controller/action_applier.h"

#include <map>
#include <optional>
#include <unordered_map>

#include "common/logging.h"
#include "common/overloaded.h"
#include "controller/revision.h"

namespace skiff::controller {
namespace {

// Version conflicts and objects that vanished since the snapshot: the state
// moved on, and the next pass sees it.
bool IsStale(const Error& e) {
  return e.code == ErrorCode::kAborted || e.code == ErrorCode::kNotFound ||
         e.code == ErrorCode::kAlreadyExists;
}

// One app's transaction being built. Instances are edited as copies and put
// once each, with the version the snapshot had, however many actions touch them.
class Batch {
 public:
  Batch(const store::Snapshot& snapshot,
        const std::unordered_map<std::string, const model::Instance*>& instances, Time now)
      : snapshot_(snapshot), instances_(instances), now_(now) {}

  void Add(const Action& action) {
    std::visit(Overloaded{
                   [&](const CreateInstance& a) { txn_.Put(a.instance, store::kMustNotExist); },
                   [&](const PlaceInstance& a) {
                     if (model::Instance* i = Edit(a.id, a.version)) {
                       i->node = a.node;
                       i->message.clear();
                     }
                   },
                   [&](const StopInstance& a) {
                     if (model::Instance* i = Edit(a.id, a.version)) {
                       i->desired = model::DesiredState::kStop;
                       i->message = a.reason;
                       i->drain_until = a.drain_until;
                       i->drained = false;
                     }
                   },
                   [&](const SetTraffic& a) {
                     if (model::Instance* i = Edit(a.id, a.version)) i->traffic = a.traffic;
                   },
                   [&](const RemoveInstance& a) {
                     if (const model::Instance* i = Find(a.id)) {
                       edits_.erase(a.id);
                       txn_.Delete(*i, a.version);
                     }
                   },
                   [&](const ScheduleRestart& a) {
                     if (model::Instance* i = Edit(a.id, a.version)) i->restart_at = a.restart_at;
                   },
                   [&](const RestartInstance& a) {
                     if (model::Instance* i = Edit(a.id, a.version)) {
                       ++i->generation;
                       ++i->restarts;
                       i->state = model::InstanceState::kPending;
                       i->health = model::Health::kUnknown;
                       i->restart_at = Time{};
                       i->message = "restarting";
                     }
                   },
                   [&](const SetInstanceMessage& a) {
                     if (model::Instance* i = Edit(a.id, a.version)) i->message = a.message;
                   },
                   [&](const SetDeploymentState& a) {
                     for (const model::Deployment& d : snapshot_.deployments) {
                       if (d.app != a.app || d.revision != a.revision) continue;
                       model::Deployment copy = d;
                       copy.state = a.state;
                       copy.message = a.message;
                       copy.healthy = a.healthy;
                       copy.progressed_at = a.progressed_at;
                       copy.healthy_at = a.healthy_at;
                       copy.promoted = a.promoted;
                       copy.updated_at = now_;
                       txn_.Put(copy, a.version);
                     }
                   },
                   [&](const RevertApp& a) { Revert(a); },
                   [&](const RemoveApp& a) {
                     for (const model::Deployment& d : snapshot_.deployments) {
                       if (d.app == a.name) txn_.Delete(d, d.version);
                     }
                     model::App app;
                     app.name = a.name;
                     txn_.Delete(app, a.version);
                     model::Event event;
                     event.time = now_;
                     event.app = a.name;
                     event.kind = "app.deleted";
                     event.message = a.name + " deleted: every instance stopped";
                     txn_.AddEvent(std::move(event));
                   },
                   [&](const EmitEvent& a) { txn_.AddEvent(a.event); },
               },
               action);
  }

  // The app at a new revision running `to_revision`'s spec, in this
  // transaction: it commits with the failed deployment's rolled_back state.
  void Revert(const RevertApp& a) {
    const model::App* app = nullptr;
    const model::Deployment* target = nullptr;
    for (const model::App& candidate : snapshot_.apps) {
      if (candidate.name == a.app) app = &candidate;
    }
    for (const model::Deployment& d : snapshot_.deployments) {
      if (d.app == a.app && d.revision == a.to_revision) target = &d;
    }
    if (app == nullptr || target == nullptr || app->revision != a.failed_revision) return;
    RollbackWrites rollback = MakeRollback(*app, *target, now_, a.reason);
    // The old spec's domains are claimed in the commit, as an apply's are: one
    // another app took since the snapshot fails it (stale), and the next pass
    // sees the revert blocked.
    txn_.Put(rollback.app, a.version)
        .Put(rollback.deployment, store::kMustNotExist)
        .ClaimDomains(a.app, rollback.app.spec.domains);
  }

  store::Txn Finish() {
    for (auto& [id, edit] : edits_) {
      edit.instance.updated_at = now_;
      txn_.Put(edit.instance, edit.version);
    }
    edits_.clear();
    return std::move(txn_);
  }

 private:
  struct Edited {
    model::Instance instance;
    int64_t version = 0;
  };

  const model::Instance* Find(const std::string& id) const {
    auto it = instances_.find(id);
    return it == instances_.end() ? nullptr : it->second;
  }

  model::Instance* Edit(const std::string& id, int64_t version) {
    auto it = edits_.find(id);
    if (it != edits_.end()) return &it->second.instance;
    const model::Instance* original = Find(id);
    if (original == nullptr) return nullptr;
    return &edits_.emplace(id, Edited{*original, version}).first->second.instance;
  }

  const store::Snapshot& snapshot_;
  const std::unordered_map<std::string, const model::Instance*>& instances_;
  Time now_;
  store::Txn txn_;
  std::map<std::string, Edited> edits_;
};

}  // namespace

Result<ApplyOutcome> ApplyActions(store::Store& store, const store::Snapshot& snapshot,
                                  const Actions& actions, Time now, int64_t fence_epoch) {
  std::unordered_map<std::string, const model::Instance*> instances;
  for (const model::Instance& i : snapshot.instances) instances[i.id] = &i;
  auto app_of = [&](const Action& action) -> std::string {
    return std::visit(Overloaded{
                          [](const CreateInstance& a) { return a.instance.app; },
                          [](const SetDeploymentState& a) { return a.app; },
                          [](const RevertApp& a) { return a.app; },
                          [](const RemoveApp& a) { return a.name; },
                          [](const EmitEvent& a) { return a.event.app; },
                          [&](const auto& a) -> std::string {
                            auto it = instances.find(a.id);
                            return it == instances.end() ? std::string() : it->second->app;
                          },
                      },
                      action);
  };

  ApplyOutcome outcome;
  size_t begin = 0;
  while (begin < actions.size()) {
    const std::string app = app_of(actions[begin]);
    Batch batch(snapshot, instances, now);
    size_t end = begin;
    for (; end < actions.size() && app_of(actions[end]) == app; ++end) batch.Add(actions[end]);
    store::Txn txn = batch.Finish();
    if (!txn.empty()) {
      if (fence_epoch != 0) txn.Fenced(fence_epoch);
      auto committed = store.Commit(txn);
      if (committed) {
        ++outcome.committed;
      } else if (IsStale(committed.error())) {
        ++outcome.conflicts;
        SKIFF_LOG_DEBUG("reconcile {}: {}; computing again", app, committed.error().ToString());
      } else {
        return tl::unexpected(committed.error());
      }
    }
    begin = end;
  }
  return outcome;
}

}  // namespace skiff::controller
