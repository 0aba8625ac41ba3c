// Revisions of an app shared by `skiff rollback` (AppService) and the planner's
// auto_revert (rollout.h, applied by action_applier): which revisions are worth
// returning to, and the writes that return to one.
#pragma once

#include <string>

#include "common/clock.h"
#include "model/resources.h"

namespace skiff::controller {

// Whether `d` was ever fully healthy: healthy now, or healthy_at set. A
// superseded deployment without progress bookkeeping predates it and counts
// (it was superseded only once a newer one was healthy); one superseded while
// still progressing never was healthy.
bool WasHealthy(const model::Deployment& d);

// A rollback: the app at a new revision (current + 1) running `target`'s spec
// (with the app's current secret versions: only current values are kept), and that revision's
// pending deployment with `message`. Pure; the caller commits both (the app with its version, the
// deployment as new).
struct RollbackWrites {
  model::App app;
  model::Deployment deployment;
};
RollbackWrites MakeRollback(const model::App& app, const model::Deployment& target, Time now,
                            std::string message);

}  // namespace skiff::controller
