// The rollout planner (Flow 6 of DESIGN.md): for one app, how its old
// instances give way to current ones, which share of the traffic each takes,
// and what its current deployment's state is. The reconciler (reconciler.h)
// calls it on every pass and does the rest (placing what it asks to create,
// restarts, scale-down). Pure like the reconciler: `now` is an input, and
// computing again on the state its actions lead to repeats none of them.
//
// Availability: an old instance counts when running and healthy; a current one
// only once it also stayed healthy for update.min_healthy_time (healthy_since;
// with health type none the agent already waited that long before reporting
// healthy, and a record without healthy_since predates it and counts).
// Instances with traffic kHold that are old (a blue-green set switched away
// from) never count; they stop once the current deployment has been healthy
// for update.keep_old.
//
// Strategies (update.strategy), when old instances serve:
//   rolling     never more than replicas + max_surge wanted instances, never
//               fewer than replicas - max_unavailable available ones.
//   blue-green  the whole new set comes up with traffic kHold; once all of it
//               is available, one pass switches it to kServe and the old set
//               to kHold (the deployment turns healthy then).
//   canary      `canary` instances come up with traffic kCanary; nothing old
//               but replaced canaries stops until the deployment is
//               promoted (skiff promote, or auto_promote once they are all
//               available); then the canaries serve fully and the rollout
//               continues as rolling.
// When no old instance is placed and alive (a first deploy, a scale, all dead),
// every strategy creates serving instances directly.
//
// The deployment goes pending -> progressing -> healthy, with one event per
// transition. It fails on a crash loop, or when its count of available
// instances has not changed for update.healthy_deadline (a canary that only
// waits for its promotion does not fail). A rollout that fails goes back, with
// auto_revert, to the newest earlier revision that was ever healthy, runs other
// instances (template.h) and whose instances have not failed since (RevertApp:
// a new revision, as `skiff rollback`) and becomes rolled_back; without it (or
// with nothing to go back to) it stays failed and stops replacing older
// revisions' instances (its own are still replaced on a restart or a drain).
// Older pending or progressing deployments become superseded at once, older
// healthy ones when the current one turns healthy.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "controller/actions.h"
#include "model/resources.h"

namespace skiff::controller {

struct RolloutInput {
  const model::App* app = nullptr;  // REQUIRES: set, not deleting
  // The app's deployments, in any order; app->revision's may be missing.
  std::vector<const model::Deployment*> deployments;
  // The app's instances with desired run: current ones (after the reconciler's
  // scale-down) and old ones (see reconciler.h).
  std::vector<const model::Instance*> current;
  std::vector<const model::Instance*> old;
  bool any_old_left = false;  // an old record of any desired state outlives this pass
  Time now;
  // Why an old instance goes ("replaced by revision 3", "node draining"). REQUIRES: set.
  std::function<std::string(const model::Instance&)> stop_reason;
  // Empty when the app may return to `spec`; else why not (its domains are
  // another app's by now). Null: always allowed.
  std::function<std::string(const model::AppSpec&)> revert_blocked;
};

struct RolloutPlan {
  struct Stop {
    const model::Instance* instance = nullptr;
    std::string reason;
  };
  std::vector<Stop> stops;  // old instances to stop
  Actions traffic;          // SetTraffic
  int create = 0;           // new current instances to create (and place)
  model::Traffic create_traffic = model::Traffic::kServe;
  Actions deployment;  // SetDeploymentState, RevertApp, EmitEvent
  // The earliest time after `now` at which time alone changes the plan; Time::max() if none.
  Time wake = Time::max();
};

// What moves the rollout of `input.app` on, as of `input.now`.
RolloutPlan PlanRollout(const RolloutInput& input);

// Running and healthy: an instance that can serve.
bool IsServing(const model::Instance& instance);

// Failed or stopped: nothing runs (the reconciler restarts, replaces or
// removes it; a rollout counts it as gone).
bool IsDead(model::InstanceState state);

// Available as a current instance of `spec` at `now`: serving, for at least
// spec.update.min_healthy_time (see above).
bool IsAvailable(const model::Instance& instance, const model::AppSpec& spec, Time now);

// Lower for the instances that cost the least to lose: unplaced, dead, not
// serving, serving.
int StopCost(const model::Instance& instance);

}  // namespace skiff::controller
