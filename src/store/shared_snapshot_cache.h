// SharedSnapshotCache: one SnapshotCache for the threads of a server that each
// need the whole state now and then (the API's handlers: the apps' and nodes'
// listings, the routes' long poll), so that each request reads only the change
// log's news rather than every object, and they keep one copy between them.
//
// Why not also the controller's: a reconcile pass holds its snapshot while it
// writes (see controller_loop.h), and every other reader would wait for the
// pass, the edge's route rebuilds among them.
//
// Thread-safety: thread-safe. Calls are serialised by one mutex, held while
// the caller's `read` runs: keep it short (a summary, no I/O), and never call
// the cache again from inside it.
#pragma once

#include <cstdint>
#include <mutex>
#include <type_traits>
#include <utility>

#include "common/result.h"
#include "store/snapshot_cache.h"
#include "store/store.h"

namespace skiff::store {

class SharedSnapshotCache {
 public:
  // `store` is not owned and must outlive the cache.
  explicit SharedSnapshotCache(const Store* store) : cache_(store) {}
  SharedSnapshotCache(const SharedSnapshotCache&) = delete;
  SharedSnapshotCache& operator=(const SharedSnapshotCache&) = delete;

  // Brings the snapshot up to the newest change the store has
  // (SnapshotCache::Update) and returns `read(snapshot)`, called with the
  // snapshot under the lock (the reference must not escape it). Errors:
  // Update's (kUnavailable); `read` is then not called.
  template <typename F>
  auto Read(F&& read) -> Result<std::invoke_result_t<F&, const Snapshot&>> {
    std::lock_guard lock(mu_);
    SKIFF_RETURN_IF_ERROR(cache_.Update());
    return read(cache_.snapshot());
  }

  // How many whole reads the cache has done (SnapshotCache::full_reads).
  int64_t full_reads() const {
    std::lock_guard lock(mu_);
    return cache_.full_reads();
  }

 private:
  mutable std::mutex mu_;
  SnapshotCache cache_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::store
