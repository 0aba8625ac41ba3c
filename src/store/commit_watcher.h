// CommitWatcher: the one way to follow the store's commits, for the loops that
// react to them (the controller loop, the edge's route watcher, the drain
// tracker) and for callers that block until something changes (the local
// control plane's WaitForChange).
//
// It subscribes when constructed and keeps the newest revision committed since,
// so no commit is missed between a read of the store and a wait.
//
// Start(round) runs `round` on a thread of its own: at once (unless the caller
// has already handled the store's revision), then again whenever
//   - a revision past the one the last round was given has been committed (a
//     burst of commits during a round makes one round after it), or
//   - the wait the last round asked for has passed with no commit.
// Rounds never overlap. A round is given the store's revision read just before
// it: everything up to it is visible to the round's reads, and any later commit
// makes another round.
//
// It lives in store/ because it depends on nothing but the Store contract
// (Subscribe, Revision), and its users sit in controller/, edge/ and server/.
//
// Thread-safety: WaitPast from any thread; Start and Stop from one thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "store/store.h"

namespace skiff::store {

class CommitWatcher {
 public:
  // A round returns how long to wait at most for the next one when nothing is
  // committed meanwhile (real time; kNoTimer: wait for a commit alone).
  using Round = std::function<Duration(int64_t revision)>;
  static constexpr Duration kNoTimer = Duration::max();

  // Subscribes to `store`, which is not owned and must outlive the watcher.
  explicit CommitWatcher(Store* store);
  // Stops and unsubscribes.
  ~CommitWatcher();
  CommitWatcher(const CommitWatcher&) = delete;
  CommitWatcher& operator=(const CommitWatcher&) = delete;

  // Blocks until a revision past `seen` has been committed (returns at once if
  // one has), `timeout` passes, or the watcher stops. Returns the newest
  // revision committed (as of construction, at least the store's revision then).
  int64_t WaitPast(int64_t seen, Duration timeout);

  // Starts the rounds' thread. The first round runs at once unless the store's
  // revision is at most `handled` (a caller that already read the store there).
  // REQUIRES: called at most once.
  void Start(Round round, int64_t handled = -1);

  // Wakes every waiter and the thread, waits for a round in progress to end and
  // joins. Idempotent; WaitPast returns at once afterwards.
  void Stop();

 private:
  void Loop(int64_t handled);

  Store* const store_;
  Round round_;

  std::mutex mu_;
  std::condition_variable cv_;
  int64_t seen_ = 0;       // GUARDED_BY(mu_): the newest revision committed
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::unique_ptr<Subscription> subscription_;
  std::thread thread_;
};

}  // namespace skiff::store
