// Turns the reconciler's actions into store transactions (the write half of
// Flow 5 of DESIGN.md). Actions come grouped by app; each app's actions become
// one transaction, so an app's instances, deployment state and events change
// together or not at all, and a race lost on one app (an agent's report landed
// first) does not hold back the others.
//
// Every write states the version the reconciler saw: a transaction whose
// objects moved on since the snapshot writes nothing and is counted as a
// conflict; the loop computes again from a fresh snapshot.
#pragma once

#include "common/clock.h"
#include "common/result.h"
#include "controller/reconciler.h"
#include "store/store.h"

namespace skiff::controller {

struct ApplyOutcome {
  int committed = 0;  // transactions written
  int conflicts = 0;  // transactions refused for a stale version (kAborted, kNotFound, ...)
};

// Applies `actions` (as computed from `snapshot` at `now`) to `store`, every
// transaction fenced at `fence_epoch` (store::Txn::Fenced) unless it is 0.
// Returns kUnavailable (or another store error) only when the store itself
// fails, and kFailedPrecondition (at once, writing no more) when the fence's
// epoch is no longer the leader's; version conflicts are not errors (see
// ApplyOutcome::conflicts).
// Thread-safety: as the store; the snapshot is only read.
Result<ApplyOutcome> ApplyActions(store::Store& store, const store::Snapshot& snapshot,
                                  const Actions& actions, Time now, int64_t fence_epoch = 0);

}  // namespace skiff::controller
