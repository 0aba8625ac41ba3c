// The reconciler (Flow 5 of DESIGN.md): a pure function from the stored state to
// the actions that move it toward what the apps ask for. A loop (controller_loop)
// runs it on every change and on a timer and turns the actions into store
// transactions with optimistic concurrency; when a transaction loses a race the
// loop simply computes again from a fresh snapshot.
//
// Compute() does no I/O and reads no clock: "now" and new ids come in as inputs,
// so a table of (snapshot, now) -> actions is the whole test. It is idempotent:
// computing again on the state that results from applying its actions never
// repeats an action, and a converged cluster yields no actions.
//
// Per app, with R = app.revision and E = app.restart_epoch, an instance is
// "current" when it has epoch E and revision R, or a revision whose spec differs
// from R's only in replicas or autoscale bounds (template.h: scaling makes a new
// revision but must not replace every instance), and is not on a draining
// node; all others are "old". The rolling update here is deliberately basic (a
// fuller rollout planner replaces it): never more than replicas + max_surge wanted instances while
// old ones remain, never fewer than replicas - max_unavailable available ones (available = running
// and healthy; without a health check the agent reports healthy once an instance stayed up for
// update.min_healthy_time). Failed current instances are restarted in place after a backoff, never
// duplicated.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "model/resources.h"
#include "store/store.h"

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
struct StopInstance {
  std::string id;
  std::string reason;
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

struct SetDeploymentState {
  std::string app;
  int64_t revision = 0;
  model::DeploymentState state = model::DeploymentState::kPending;
  std::string message;
  int64_t version = 0;  // the deployment's version in the snapshot
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

using Action =
    std::variant<CreateInstance, PlaceInstance, StopInstance, RemoveInstance, ScheduleRestart,
                 RestartInstance, SetInstanceMessage, SetDeploymentState, RemoveApp, EmitEvent>;
using Actions = std::vector<Action>;

struct ReconcilerConfig {
  // A fresh instance id for an app; deterministic in tests. REQUIRES: set.
  std::function<std::string(const std::string& app)> new_id;
};

// The actions that move `snapshot` toward its apps' wishes, as of `now`.
// Actions on one app come together, apps in name order, orphans last.
Actions Compute(const store::Snapshot& snapshot, Time now, const ReconcilerConfig& config);

// "create web-1 on n1", "stop web-2 (old revision)", ...: for logs and test failures.
std::string Describe(const Action& action);

}  // namespace skiff::controller
