// ControllerLoop: runs the reconciler (Flow 5 of DESIGN.md) on every store
// change, at the moment the next backed-off restart or rollout timer (an
// instance healthy for min_healthy_time, a healthy_deadline, a keep_old) falls
// due, and on a resync timer; applies what it computes (ApplyActions), and computes again at once
// when a write lost a race. It also watches node heartbeats: a ready node
// silent for longer than `node_timeout` is marked down (with an event), and
// comes back ready when its agent registers again.
//
// Passes run on a store::CommitWatcher's thread: they never overlap, and many
// changes that land during a pass are handled by the one pass after it.
//
// Thread-safety: Start/Stop from one thread; RunOnce from any thread while the
// loop is not started (tests), never concurrently with the loop.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "controller/action_applier.h"
#include "store/commit_watcher.h"
#include "store/snapshot_cache.h"
#include "store/store.h"

namespace skiff::controller {

class NodeService;

struct ControllerLoopOptions {
  // A pass at least this often, even when nothing changed.
  Duration resync_interval = std::chrono::seconds(5);
  // A ready node whose last heartbeat is older than this is marked down. The
  // loop's own start counts as a heartbeat, so nodes get this long to speak
  // after a server restart.
  Duration node_timeout = std::chrono::seconds(5);
  // Fresh instance ids; null: NewId(app).
  std::function<std::string(const std::string& app)> new_id;
  // The leader's term this loop runs in (controller/leadership.h): every write
  // of the loop is fenced at it (store::Txn::Fenced), so once another server
  // leads, nothing of this loop commits. 0: not fenced (a loop alone on its
  // store, tests).
  int64_t fence_epoch = 0;
};

class ControllerLoop {
 public:
  // store, nodes and clock are not owned and must outlive the loop. `nodes`
  // may be null: then no node is ever marked down.
  ControllerLoop(store::Store* store, NodeService* nodes, const Clock* clock,
                 ControllerLoopOptions options = {});
  ~ControllerLoop();  // Stops.
  ControllerLoop(const ControllerLoop&) = delete;
  ControllerLoop& operator=(const ControllerLoop&) = delete;

  // Starts the loop thread: a pass at once, then on every commit and when the
  // last pass's next_due() comes. REQUIRES: not started.
  void Start();
  // Stops and joins the loop thread (waits for a pass in progress). Idempotent.
  void Stop();

  // One pass now: node liveness, snapshot, compute, apply. Returns what was
  // written. Errors: the store's (kUnavailable).
  Result<ApplyOutcome> RunOnce();

  // When the pass after the last one is due at the latest (as computed by the
  // last pass). Only from the thread that runs passes (tests: after RunOnce).
  Time next_due() const;
  // Passes run so far (for tests and metrics).
  int64_t passes() const;
  // "ok", or why the last pass of the loop failed (for GET /health).
  std::string health() const;

 private:
  // One pass of the started loop; returns how long to wait for the next at most.
  Duration Round();
  // Marks silent nodes of `nodes` (the pass's cached state, not a listing
  // per pass) down; returns whether it wrote anything.
  bool CheckNodes(Time now, const std::vector<model::Node>& nodes);
  // When the next pass is due at the latest: the earliest future restart_at or
  // node timeout, capped by the resync interval (the reconciler adds its own).
  Time NextDue(const store::Snapshot& snapshot, Time now) const;

  store::Store* const store_;
  NodeService* const nodes_;
  const Clock* const clock_;
  ControllerLoopOptions options_;
  Time started_at_;

  mutable std::mutex mu_;
  int64_t passes_ = 0;      // GUARDED_BY(mu_)
  std::string last_error_;  // GUARDED_BY(mu_): of the loop's last pass; empty when it worked
  Time next_due_;           // written by the loop thread only
  // The state each pass computes from, kept up to date from the change log
  // (a whole read per pass took seconds at 150,000 instances); the pass's.
  store::SnapshotCache cache_;
  int retries_ = 0;  // the loop thread's: immediate passes after lost races in a row
  // Last: stopped (its thread joined) before the state its rounds use goes.
  store::CommitWatcher watcher_;
};

}  // namespace skiff::controller
