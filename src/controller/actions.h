// The actions the reconciler (reconciler.h) and the rollout planner (rollout.h)
// compute and the action applier (action_applier.h) writes: plain values, each
// naming the version of the object it was computed from.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "model/resources.h"

namespace skiff::controller {

// Creates a new instance record (desired run, state pending). Its node is set
// when the scheduler found one; otherwise empty, with the reason in `message`.
struct CreateInstance {
  model::Instance instance;
};

// Assigns a node to an existing unplaced instance (and clears its message).
struct PlaceInstance {
  std::string id;
  std::string node;
  int64_t version = 0;  // the instance's version in the snapshot
};

// Sets desired = stop; the node's agent stops it. `reason` goes to its message.
// With drain_until set, the instance may have had traffic: the agent waits for
// the edges to drain it (or until drain_until) before SIGTERM; drained is reset.
struct StopInstance {
  std::string id;
  std::string reason;
  int64_t version = 0;
  Time drain_until;  // unset: stop at once
};

// Sets which share of the app's traffic an instance takes (rollout.h).
struct SetTraffic {
  std::string id;
  model::Traffic traffic = model::Traffic::kServe;
  int64_t version = 0;
};

// Deletes the instance record (it is stopped, failed, never placed, or its node
// is gone).
struct RemoveInstance {
  std::string id;
  int64_t version = 0;
};

// Sets restart_at of a failed instance (the backoff of its crash_count).
struct ScheduleRestart {
  std::string id;
  Time restart_at;
  int64_t version = 0;
};

// Restarts a failed instance whose restart_at has passed: the loop bumps
// generation and restarts, sets state pending and clears restart_at.
struct RestartInstance {
  std::string id;
  int64_t version = 0;
};

// Replaces an instance's message (an unplaced instance's "no node fits: ...").
struct SetInstanceMessage {
  std::string id;
  std::string message;
  int64_t version = 0;
};

// Writes a deployment's state and the planner's bookkeeping (the fields of
// model::Deployment of the same names).
struct SetDeploymentState {
  std::string app;
  int64_t revision = 0;
  model::DeploymentState state = model::DeploymentState::kPending;
  std::string message;
  int64_t version = 0;  // the deployment's version in the snapshot
  int healthy = 0;
  Time progressed_at;
  Time healthy_at;
  bool promoted = false;
};

// auto_revert: makes `to_revision`'s spec the app's current one as a new
// revision, exactly as `skiff rollback` does (revision.h). The failed
// deployment's own state is written by a SetDeploymentState beside it.
struct RevertApp {
  std::string app;
  int64_t to_revision = 0;
  int64_t failed_revision = 0;  // the app's revision in the snapshot
  std::string reason;           // why: goes to the new deployment's message
  int64_t version = 0;          // the app's version in the snapshot
};

// Deletes the app and its deployments (it was deleting and has no instances left).
struct RemoveApp {
  std::string name;
  int64_t version = 0;
};

// Something worth telling the user; emitted on transitions only.
struct EmitEvent {
  model::Event event;
};

using Action = std::variant<CreateInstance, PlaceInstance, StopInstance, SetTraffic, RemoveInstance,
                            ScheduleRestart, RestartInstance, SetInstanceMessage,
                            SetDeploymentState, RevertApp, RemoveApp, EmitEvent>;
using Actions = std::vector<Action>;

}  // namespace skiff::controller
