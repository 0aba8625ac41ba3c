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
// node; all others are "old". The reconciler removes dead records, replaces
// instances lost with their node, scales down, restarts failed current
// instances in place after a backoff (never duplicating them), and places; how
// old instances give way to current ones, which traffic each takes and the
// deployment's state are the rollout planner's (rollout.h).
#pragma once

#include <functional>
#include <string>

#include "common/clock.h"
#include "controller/actions.h"
#include "store/store.h"

namespace skiff::controller {

struct ReconcilerConfig {
  // A fresh instance id for an app; deterministic in tests. REQUIRES: set.
  std::function<std::string(const std::string& app)> new_id;
};

// The actions that move `snapshot` toward its apps' wishes, as of `now`.
// Actions on one app come together, apps in name order, orphans last.
// When `wake` is given it is set to the earliest time after `now` at which the
// passing of time alone would make a pass act (an instance healthy for long
// enough, a rollout deadline, the end of a blue-green keep_old), or Time::max().
Actions Compute(const store::Snapshot& snapshot, Time now, const ReconcilerConfig& config,
                Time* wake = nullptr);

// "create web-1 on n1", "stop web-2 (old revision)", ...: for logs and test failures.
std::string Describe(const Action& action);

}  // namespace skiff::controller
