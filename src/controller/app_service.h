// AppService: the user-facing operations on apps, shared by the HTTP API and
// anything in-process. Each operation validates first and writes one store
// transaction (with its events), so a rejected request changes nothing.
//
// Thread-safety: safe from any thread; conflicting concurrent writes are retried
// internally on kAborted a few times, then kAborted is returned.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "model/resources.h"
#include "store/store.h"

namespace skiff::controller {

struct ApplyResult {
  std::string app;
  int64_t revision = 0;
  bool created = false;  // false: the spec equals the current one, nothing written
};

struct PromoteResult {
  std::string app;
  int64_t revision = 0;
};

struct AppStatus {
  std::string state;  // the current deployment's state, or "deleting"
  int desired = 0;
  int running = 0;
  int healthy = 0;
};

struct AppView {
  model::App app;
  AppStatus status;
};

// Every app of `snapshot` with its status, by name: one pass over the
// snapshot, which the API takes from its store::SharedSnapshotCache rather
// than read the whole state for each listing.
std::vector<AppView> ListAppViews(const store::Snapshot& snapshot);

class AppService {
 public:
  AppService(store::Store* store, const Clock* clock);

  // Stores a new deployment revision when the spec differs from the current one.
  // The spec must already be validated (model::ParseAppSpec); its
  // secret_versions are ignored: the app's current ones are kept.
  // kFailedPrecondition while the app is being deleted; kNotFound (field
  // "project") when the project the spec names does not exist (checked in
  // the commit; the default project always does); kAlreadyExists (field
  // "domains[i]") when another app serves one of its domains: the claim is part
  // of the commit (Txn::ClaimDomains), so of concurrent applies claiming one
  // domain for different apps exactly one wins.
  // `may_replace` (optional) is asked, with the app as stored (null: none),
  // before each attempt; its error is Apply's. The commit holds only while
  // the app is as it was shown (its version is expected), so what the check
  // allowed is what is replaced: the API asks whether the caller may change
  // the app that is there (its project).
  using ApplyCheck = std::function<Status(const model::App* existing)>;
  Result<ApplyResult> Apply(const model::AppSpec& spec, const ApplyCheck& may_replace = nullptr);
  Result<AppView> Get(const std::string& name) const;
  // Marks the app deleting; the reconciler stops its instances, then removes it.
  Status Delete(const std::string& name);
  // A new revision with replicas changed (kInvalidArgument for replicas < 0;
  // kFailedPrecondition, field "replicas", when the app is autoscaled: its
  // autoscale bounds say how many run).
  Result<ApplyResult> Scale(const std::string& name, int replicas);
  // Wakes an app that sleeps (model::IsSleeping) to max(1, autoscale.min)
  // instances, without a new revision, with the event "app.waking" naming
  // `who` (the edge that holds a request for it). True when this call woke
  // it; false when it was not asleep (every edge holding a request asks; the
  // first one wakes it), or has no scale_to_zero (nothing is written). An
  // ask records its time (App::woken_at, no event when it was awake) in the
  // transaction that read the app: always for an app asleep, for one awake
  // only when the last was idle/2 ago or more (edges ask about once a
  // second). The autoscaler does not put the app to sleep on what it
  // measured before the ask. Errors: kNotFound when there is no such app;
  // kAborted when the app, asleep, kept changing under the call (it retries
  // a few times; the edge asks again) -- a lost race on an app awake is
  // false, not an error; else the store's errors as they are (kUnavailable
  // on I/O failure), nothing written.
  Result<bool> Wake(const std::string& name, const std::string& who);
  // What SetSecretVersions reads: the versions of the app's secrets now.
  using SecretVersionsReader = std::function<Result<std::map<std::string, int64_t>>()>;
  // A new revision whose spec names the versions `read` gives as its
  // secrets' versions (auth/secrets.h), rolled out under the app's update
  // strategy; its message and event say `change` ("secret KEY changed
  // (version N)": never a value). `read` is called after the app is read, in
  // each attempt: of concurrent changes of several secrets, the revision
  // committed last names them all (a commit that raced another is retried).
  // Nothing written (created false) when they are the current ones already.
  // kNotFound for an unknown app; kFailedPrecondition while it is being
  // deleted; `read`'s error as it is.
  Result<ApplyResult> SetSecretVersions(const std::string& name, const SecretVersionsReader& read,
                                        const std::string& change);
  // Replaces every instance, one at a time (rolling), keeping the revision.
  Status Restart(const std::string& name);
  // A new revision whose spec is `to_revision`'s; 0 = the one before the current.
  // kNotFound for an unknown revision; kFailedPrecondition when there is none before;
  // kAlreadyExists (field "domains[i]") when another app serves one of its domains by now.
  Result<ApplyResult> Rollback(const std::string& name, int64_t to_revision);
  // Promotes the current revision's canary (update.strategy canary): its
  // canaries take a full share and the rollout continues as rolling (rollout.h).
  // kNotFound for an unknown app; kFailedPrecondition unless the current
  // deployment is a canary in progress. Promoting twice is not an error.
  Result<PromoteResult> Promote(const std::string& name);
  Result<std::vector<model::Deployment>> Deployments(const std::string& name) const;
  Result<std::vector<model::Instance>> Instances(const std::string& name) const;

 private:
  // The write of Apply and SetSecretVersions: `spec` as the new revision,
  // unless equal to the current one, with the app's current secret versions
  // (`secrets` null); or the current spec with the versions `secrets` reads
  // (`spec` then names the app only). `change` ("" for none) is added to the
  // revision's message. `may_replace` as Apply's.
  Result<ApplyResult> Write(const model::AppSpec& spec, const SecretVersionsReader* secrets,
                            const std::string& change, const ApplyCheck& may_replace = nullptr);

  store::Store* store_;
  const Clock* clock_;
};

}  // namespace skiff::controller
