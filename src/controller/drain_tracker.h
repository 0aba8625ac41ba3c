// DrainTracker: decides when an instance being stopped has been drained by
// the edges, so that its agent may send SIGTERM before the drain deadline
// (DESIGN.md, graceful stop: "an instance leaves the routing table first; the
// edge lets its in-flight requests finish; then SIGTERM").
//
// The controller, stopping an instance that may have had traffic, sets
// desired = stop, drain_until = now + edge.drain_timeout and drained = false.
// The tracker follows the store's change log (a listing at first, or when
// the log was compacted past it) for such instances and remembers, for each, the store
// revision of the write it first saw it stopping in (R): every routing table
// built at R or later leaves it out. It marks the instance drained (a store
// transaction on the instance's version; a lost race is retried next round)
// once every live edge
//   - has a routing table of revision >= R, or one built from the routes
//     document the store gives now (the same tag as `routes_tag` gives for the
//     store's snapshot: a standalone edge whose document did not change since
//     an older revision), and
//   - has no request in flight to it.
// Which edges there are is the caller's to say (EdgesFn: in the server, its
// own edge and the standalone ones that reported recently, see
// server/edge_roster.h), as is the routes document's tag (RoutesTagFn), so the
// tracker needs nothing of the server or the edge. Past drain_until the
// tracker lets go: the agent stops the instance on its own then.
//
// Thread-safety: Start and Stop from one thread. Check is for tests (not
// concurrently with a started tracker).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "common/clock.h"
#include "metrics/traffic.h"
#include "store/commit_watcher.h"
#include "store/shared_snapshot_cache.h"
#include "store/store.h"

namespace skiff::controller {

class DrainTracker {
 public:
  // The routes of every live edge, by edge name. Called from the tracker's
  // thread, only while some instance drains; must be thread-safe.
  using EdgesFn = std::function<std::map<std::string, metrics::EdgeRoutes>()>;
  // The tag of the routes document of `snapshot`, as standalone edges report
  // it. Called from the tracker's thread; must be thread-safe.
  using RoutesTagFn = std::function<std::string(const store::Snapshot& snapshot)>;

  // How often the edges are asked while some instance drains.
  static constexpr std::chrono::milliseconds kCheckInterval{100};

  // `store`, `clock` and `snapshots` are not owned and must outlive the
  // tracker. Its writes are fenced at `fence_epoch` (store::Txn::Fenced: the
  // leader's term it runs in, controller/leadership.h) unless that is 0. The
  // routes' tag is computed from `snapshots` (the server's cache, shared with
  // its API and edge), or without it (tests) from a whole read of the store:
  // once per store revision while something drains, every round of a rollout.
  DrainTracker(store::Store* store, const Clock* clock, EdgesFn edges, RoutesTagFn routes_tag,
               int64_t fence_epoch = 0, store::SharedSnapshotCache* snapshots = nullptr);
  ~DrainTracker();  // Stops.
  DrainTracker(const DrainTracker&) = delete;
  DrainTracker& operator=(const DrainTracker&) = delete;

  // Starts the thread (a store::CommitWatcher's): a round at once, on every
  // store commit, and every kCheckInterval while something drains.
  // REQUIRES: called once.
  void Start();
  // Idempotent; joins the thread.
  void Stop();

  // One round: learns of new drains (when the store changed since the last
  // round), asks the edges (only when something drains), and marks drained
  // every instance they are done with. Returns how many instances still
  // drain afterwards.
  size_t Check();

 private:
  struct Pending {
    int64_t since = 0;  // R: the revision of the write first seen stopping
    Time until;         // its drain_until
  };

  // Brings pending_ up to date from the store's change log; false when it
  // cannot (first round, compacted log): then Relist.
  bool FollowChanges(Time now);
  // Rebuilds pending_ from a listing of every instance.
  void Relist(Time now);
  // Whether `edge` can no longer send `id` requests and has none in flight.
  bool EdgeDone(const metrics::EdgeRoutes& edge, const std::string& id, const Pending& p);
  // The tag of the routes document of the store now (cached per revision).
  const std::string& CurrentTag();
  // Sets drained on `id`; false when it changed meanwhile (tried again later).
  bool MarkDrained(const std::string& id);

  store::Store* const store_;
  const Clock* const clock_;
  const EdgesFn edges_;
  const RoutesTagFn routes_tag_;
  const int64_t fence_epoch_;
  store::SharedSnapshotCache* const snapshots_;  // may be null

  // Past this many changes since the last round, a listing is cheaper.
  static constexpr size_t kMaxChanges = 10'000;

  // The tracker thread's (or the test's) state.
  int64_t listed_ = -1;  // the store revision the instances were followed to
  std::map<std::string, Pending> pending_;
  int64_t tag_revision_ = -1;
  std::string tag_;

  // Last: stopped (its thread joined) before the state its rounds use goes.
  store::CommitWatcher watcher_;
};

}  // namespace skiff::controller
