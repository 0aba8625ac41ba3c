#include "controller/app_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "controller/revision.h"
#include "controller/template.h"

namespace skiff::controller {
namespace {

// Concurrent writers are rare (one user, the reconciler); a few retries on a
// lost optimistic-concurrency race are enough before telling the caller.
constexpr int kMaxAttempts = 5;

// A lost race: a version moved (kAborted), or a create met one made meanwhile
// (the store's kAlreadyExists, which names no field; a domain another app
// serves is kAlreadyExists on a field, and final).
bool IsConflict(const Error& e) {
  return e.code == ErrorCode::kAborted || (e.code == ErrorCode::kAlreadyExists && e.field.empty());
}

template <typename F>
auto RetryOnConflict(F&& attempt) -> decltype(attempt()) {
  for (int i = 1;; ++i) {
    auto result = attempt();
    if (result || !IsConflict(result.error()) || i == kMaxAttempts) return result;
  }
}

model::Event MakeEvent(Time now, const std::string& app, std::string kind, std::string message) {
  model::Event e;
  e.time = now;
  e.app = app;
  e.kind = std::move(kind);
  e.message = std::move(message);
  return e;
}

}  // namespace

AppService::AppService(store::Store* store, const Clock* clock) : store_(store), clock_(clock) {}

Result<ApplyResult> AppService::Apply(const model::AppSpec& spec, const ApplyCheck& may_replace) {
  return Write(spec, nullptr, "", may_replace);
}

Result<ApplyResult> AppService::Write(const model::AppSpec& given,
                                      const SecretVersionsReader* secrets,
                                      const std::string& change, const ApplyCheck& may_replace) {
  return RetryOnConflict([&]() -> Result<ApplyResult> {
    Time now = clock_->Now();
    model::AppSpec spec = given;
    auto existing = store_->GetApp(spec.name);
    if (!existing && existing.error().code != ErrorCode::kNotFound) {
      return tl::unexpected(existing.error());
    }
    if (may_replace) SKIFF_RETURN_IF_ERROR(may_replace(existing ? &*existing : nullptr));
    model::App app;
    int64_t expected = store::kMustNotExist;
    if (existing) {
      app = *existing;
      expected = app.version;
      if (app.deleting) {
        return FailedPrecondition(fmt::format(
            "app {} is being deleted; wait until it is gone, then apply again", spec.name));
      }
      if (secrets != nullptr) {
        spec = app.spec;
        SKIFF_ASSIGN_OR_RETURN(spec.secret_versions, (*secrets)());
      } else {
        // Users do not set the secrets' versions: an apply keeps the current ones.
        spec.secret_versions = app.spec.secret_versions;
      }
      if (app.spec == spec) return ApplyResult{spec.name, app.revision, false};
    } else {
      if (secrets != nullptr) return tl::unexpected(existing.error());  // kNotFound
      spec.secret_versions.clear();
      app.name = spec.name;
      app.created_at = now;
    }
    const int64_t previous = app.revision;
    const bool was_asleep = existing && model::IsSleeping(app);
    const bool new_template = !existing || !SameTemplate(app.spec, spec);
    app.revision = previous + 1;
    app.spec = spec;
    app.updated_at = now;
    // A new template reaching an app asleep wakes it: its rollout is judged on
    // instances that run, never marked healthy at 0 of 0 to crash later.
    if (was_asleep && new_template && model::IsSleeping(app)) {
      app.autoscaled_replicas = std::max(1, spec.autoscale->min);
      app.woken_at = now;
    }
    // Without a policy the spec's replicas count again; a policy given back
    // later starts from them, not from a count decided long ago.
    if (!spec.autoscale) app.autoscaled_replicas.reset();

    model::Deployment d;
    d.app = spec.name;
    d.revision = app.revision;
    d.spec = spec;
    d.state = model::DeploymentState::kPending;
    d.created_at = now;
    d.updated_at = now;
    d.message = previous == 0 ? "first revision" : fmt::format("replaces revision {}", previous);
    if (!change.empty()) d.message += "; " + change;

    store::Txn txn;
    txn.Put(app, expected).Put(d, store::kMustNotExist).ClaimDomains(spec.name, spec.domains);
    if (expected == store::kMustNotExist) {
      // A new app starts with no secrets: any left by an earlier app of this
      // name (a secret set while it was being deleted, a delete cut short)
      // goes with this commit, never to the new owner (auth/secrets.h keys
      // them "APP/KEY").
      SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> secrets,
                             store_->ListRecords(store::RecordKind::kSecret));
      for (const store::Record& r : secrets) {
        if (r.key.starts_with(spec.name + "/")) txn.DeleteRecord(store::RecordKind::kSecret, r.key);
      }
    }
    // The project must exist when the revision commits (auth/projects.h: a
    // project is deleted only while no app is in it, checked in its commit).
    if (spec.project != model::kDefaultProject) {
      txn.RequireRecord(store::RecordKind::kProject, spec.project);
    }
    txn.AddEvent(MakeEvent(now, spec.name, "deployment.created",
                           fmt::format("revision {} created ({})", app.revision, d.message)));
    Result<int64_t> committed = store_->Commit(txn);
    if (!committed && committed.error().code == ErrorCode::kNotFound &&
        spec.project != model::kDefaultProject &&
        !store_->GetRecord(store::RecordKind::kProject, spec.project)) {
      return tl::unexpected(
          Error{ErrorCode::kNotFound,
                fmt::format("project: no project {}: create it first (skiff projects create {})",
                            spec.project, spec.project),
                "project"});
    }
    SKIFF_RETURN_IF_ERROR(committed);
    return ApplyResult{spec.name, app.revision, true};
  });
}

Result<AppView> AppService::Get(const std::string& name) const {
  SKIFF_ASSIGN_OR_RETURN(model::App app, store_->GetApp(name));
  SKIFF_ASSIGN_OR_RETURN(auto instances, store_->ListInstances({.app = name}));
  SKIFF_ASSIGN_OR_RETURN(auto deployments, store_->ListDeployments(name));
  return AppView{app, Summarize(app, deployments, instances)};
}

std::vector<AppView> ListAppViews(const store::Snapshot& snapshot) {
  // Each app's deployments and instances gathered in one pass (not a pass
  // over all of them per app), by pointer: this runs under the shared cache's
  // lock, and copying every object made it as long as the state is large.
  struct Parts {
    std::vector<const model::Deployment*> deployments;
    std::vector<const model::Instance*> instances;
  };
  std::unordered_map<std::string, Parts> parts;
  parts.reserve(snapshot.apps.size());
  for (const model::App& app : snapshot.apps) parts[app.name];
  for (const model::Deployment& d : snapshot.deployments) {
    if (auto it = parts.find(d.app); it != parts.end()) it->second.deployments.push_back(&d);
  }
  for (const model::Instance& i : snapshot.instances) {
    if (auto it = parts.find(i.app); it != parts.end()) it->second.instances.push_back(&i);
  }
  std::vector<AppView> out;
  out.reserve(snapshot.apps.size());
  for (const model::App& app : snapshot.apps) {
    const Parts& of = parts[app.name];
    out.push_back({app, Summarize(app, of.deployments, of.instances)});
  }
  // A cached snapshot keeps apps in no particular order (store.h).
  std::sort(out.begin(), out.end(),
            [](const AppView& a, const AppView& b) { return a.app.name < b.app.name; });
  return out;
}

Status AppService::Delete(const std::string& name) {
  return RetryOnConflict([&]() -> Status {
    SKIFF_ASSIGN_OR_RETURN(model::App app, store_->GetApp(name));
    if (app.deleting) return OkStatus();
    const int64_t expected = app.version;
    app.deleting = true;
    app.updated_at = clock_->Now();
    store::Txn txn;
    txn.Put(app, expected);
    txn.AddEvent(MakeEvent(app.updated_at, name, "app.deleting",
                           "delete requested: stopping its instances"));
    SKIFF_RETURN_IF_ERROR(store_->Commit(txn));
    return OkStatus();
  });
}

Result<ApplyResult> AppService::Scale(const std::string& name, int replicas) {
  if (replicas < 0) {
    return InvalidArgument(fmt::format("must be >= 0 (got {})", replicas), "replicas");
  }
  SKIFF_ASSIGN_OR_RETURN(model::App app, store_->GetApp(name));
  if (const auto& policy = app.spec.autoscale) {
    return MakeError(
        ErrorCode::kFailedPrecondition,
        fmt::format("app {} is autoscaled ({}\u2013{} replicas): change autoscale.min and "
                    "autoscale.max in its spec, or remove autoscale to set replicas by hand",
                    name, policy->scale_to_zero ? 0 : policy->min, policy->max),
        "replicas");
  }
  model::AppSpec spec = app.spec;
  spec.replicas = replicas;
  return Apply(spec);
}

Result<bool> AppService::Wake(const std::string& name, const std::string& who) {
  bool awake = false;  // what the last attempt read
  auto woke = RetryOnConflict([&]() -> Result<bool> {
    SKIFF_ASSIGN_OR_RETURN(model::App app, store_->GetApp(name));
    // Only an app that may sleep is woken: any other has nothing to record.
    if (app.deleting || !app.spec.autoscale || !app.spec.autoscale->scale_to_zero) return false;
    const bool asleep = model::IsSleeping(app);
    awake = !asleep;
    const int64_t expected = app.version;
    const Time now = clock_->Now();
    // An awake app woken less than idle/2 ago is not written again: edges
    // ask about once a second while they hold requests, and each write
    // would move the version (aborting the autoscaler's and planner's
    // writes) and wake every watcher. Safe: a decision to sleep that read
    // the app before the last write is aborted by its version check; one
    // that read it after sees a wake too recent to be idle.
    if (awake && app.woken_at > now - app.spec.autoscale->idle / 2) return false;
    // Recorded on the first ask, and then every idle/2: the autoscaler
    // counts it as a request, and this write moves the app's version, so a
    // decision to sleep taken on the app as it was before (on a window that
    // predates this request) no longer commits (AutoscaleLoop::Decide). It
    // starts no cooldown: a woken app under a burst scales out at once.
    app.woken_at = now;
    store::Txn txn;
    if (asleep) {
      app.autoscaled_replicas = std::max(1, app.spec.autoscale->min);
      app.updated_at = now;
      txn.AddEvent(MakeEvent(now, name, "app.waking",
                             fmt::format("autoscale: 0 \u2192 {}: a request arrived ({})",
                                         *app.autoscaled_replicas, who)));
    }
    txn.Put(app, expected);
    SKIFF_RETURN_IF_ERROR(store_->Commit(txn));
    return asleep;
  });
  // A lost race on an awake app is no failure: another writer moved it,
  // and the edge asks again while it still holds requests.
  if (!woke && awake && IsConflict(woke.error())) return false;
  return woke;
}

Result<ApplyResult> AppService::SetSecretVersions(const std::string& name,
                                                  const SecretVersionsReader& read,
                                                  const std::string& change) {
  model::AppSpec named;
  named.name = name;
  return Write(named, &read, change);
}

Status AppService::Restart(const std::string& name) {
  return RetryOnConflict([&]() -> Status {
    SKIFF_ASSIGN_OR_RETURN(model::App app, store_->GetApp(name));
    if (app.deleting) return FailedPrecondition(fmt::format("app {} is being deleted", name));
    const int64_t expected = app.version;
    ++app.restart_epoch;
    app.updated_at = clock_->Now();
    store::Txn txn;
    txn.Put(app, expected);
    txn.AddEvent(MakeEvent(app.updated_at, name, "app.restart",
                           "restart requested: replacing instances one at a time"));
    SKIFF_RETURN_IF_ERROR(store_->Commit(txn));
    return OkStatus();
  });
}

Result<ApplyResult> AppService::Rollback(const std::string& name, int64_t to_revision) {
  return RetryOnConflict([&]() -> Result<ApplyResult> {
    SKIFF_ASSIGN_OR_RETURN(model::App app, store_->GetApp(name));
    if (app.deleting) return FailedPrecondition(fmt::format("app {} is being deleted", name));
    SKIFF_ASSIGN_OR_RETURN(auto deployments, store_->ListDeployments(name));
    const model::Deployment* target = nullptr;
    if (to_revision > 0) {
      for (const auto& d : deployments) {
        if (d.revision == to_revision) target = &d;
      }
      if (target == nullptr) {
        return NotFound(fmt::format("app {} has no revision {}", name, to_revision));
      }
      if (to_revision == app.revision) {
        return FailedPrecondition(
            fmt::format("revision {} is already the current revision of {}", to_revision, name));
      }
    } else {
      // The newest earlier revision that was ever healthy; else simply the one before.
      for (const auto& d : deployments) {
        if (d.revision < app.revision && WasHealthy(d)) target = &d;
      }
      if (target == nullptr) {
        for (const auto& d : deployments) {
          if (d.revision < app.revision) target = &d;
        }
      }
      if (target == nullptr) {
        return FailedPrecondition(
            fmt::format("app {} has no revision before {} to roll back to", name, app.revision));
      }
    }

    Time now = clock_->Now();
    const int64_t expected = app.version;
    const int64_t from = app.revision;
    RollbackWrites rollback =
        MakeRollback(app, *target, now, fmt::format("rollback to revision {}", target->revision));
    app = rollback.app;

    store::Txn txn;
    // The old revision's domains may be another app's by now.
    txn.Put(app, expected)
        .Put(rollback.deployment, store::kMustNotExist)
        .ClaimDomains(name, app.spec.domains);
    for (const auto& old : deployments) {
      if (old.revision != from) continue;
      model::Deployment rolled = old;
      rolled.state = model::DeploymentState::kRolledBack;
      rolled.message = fmt::format("rolled back to revision {}", target->revision);
      rolled.updated_at = now;
      txn.Put(rolled, old.version);
    }
    txn.AddEvent(MakeEvent(now, name, "deployment.rollback",
                           fmt::format("revision {} rolls back from {} to revision {}",
                                       app.revision, from, target->revision)));
    SKIFF_RETURN_IF_ERROR(store_->Commit(txn));
    return ApplyResult{name, app.revision, true};
  });
}

Result<PromoteResult> AppService::Promote(const std::string& name) {
  return RetryOnConflict([&]() -> Result<PromoteResult> {
    SKIFF_ASSIGN_OR_RETURN(model::App app, store_->GetApp(name));
    SKIFF_ASSIGN_OR_RETURN(auto deployments, store_->ListDeployments(name));
    auto it = std::find_if(deployments.begin(), deployments.end(),
                           [&](const model::Deployment& d) { return d.revision == app.revision; });
    if (it == deployments.end()) {
      return FailedPrecondition(
          fmt::format("{}: revision {} has no deployment", name, app.revision));
    }
    model::Deployment d = *it;
    if (d.spec.update.strategy != model::UpdateStrategy::kCanary ||
        d.state != model::DeploymentState::kProgressing) {
      return FailedPrecondition(
          fmt::format("{}: revision {} is not a canary in progress (state {})", name, d.revision,
                      model::ToString(d.state)));
    }
    if (d.promoted) return PromoteResult{name, d.revision};
    const int64_t expected = d.version;
    Time now = clock_->Now();
    d.promoted = true;
    d.progressed_at = now;  // healthy_deadline counts from here, not from the wait for a human
    d.updated_at = now;
    store::Txn txn;
    txn.Put(d, expected);
    txn.AddEvent(MakeEvent(now, name, "deployment.promoted",
                           fmt::format("revision {} promoted: its canaries take a full share and "
                                       "the rollout continues",
                                       d.revision)));
    SKIFF_RETURN_IF_ERROR(store_->Commit(txn));
    return PromoteResult{name, d.revision};
  });
}

Result<std::vector<model::Deployment>> AppService::Deployments(const std::string& name) const {
  SKIFF_RETURN_IF_ERROR(store_->GetApp(name));
  return store_->ListDeployments(name);
}

Result<std::vector<model::Instance>> AppService::Instances(const std::string& name) const {
  SKIFF_RETURN_IF_ERROR(store_->GetApp(name));
  return store_->ListInstances({.app = name});
}

}  // namespace skiff::controller
