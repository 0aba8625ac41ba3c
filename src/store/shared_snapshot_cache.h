// SharedSnapshotCache: one SnapshotCache for the threads of a server that each
// need the whole state now and then (the API's handlers: the apps' and nodes'
// listings, the routes' long poll), so that each request reads only the change
// log's news rather than every object, and they keep one copy between them.
//
// Why not also the controller's: a reconcile pass holds its snapshot while it
// writes (see controller_loop.h), and every other reader would wait for the
// pass, the edge's route rebuilds among them.
//
// Thread-safety: thread-safe. The callers' `read`s run together under a
// shared lock when the snapshot is up to date (the store's log has nothing
// past it, asked under that lock), so a long one (a route table over every
// instance) holds up no other reader; bringing the snapshot up to date is done
// under an exclusive lock, one caller at a time. Keep `read` free of I/O, and
// never call the cache again from inside it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <type_traits>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <utility>

#include "common/result.h"
#include "store/snapshot_cache.h"
#include "store/store.h"

namespace skiff::store {

class SharedSnapshotCache {
 public:
  // `store` is not owned and must outlive the cache.
  explicit SharedSnapshotCache(const Store* store) : store_(store), cache_(store) {}
  SharedSnapshotCache(const SharedSnapshotCache&) = delete;
  SharedSnapshotCache& operator=(const SharedSnapshotCache&) = delete;

  // Brings the snapshot up to the newest change the store has
  // (SnapshotCache::Update, when the log has news past it) and returns
  // `read(snapshot)`, called under the shared lock, perhaps at the same time
  // as other readers' (the reference must not escape it). The snapshot may be
  // newer than the store was at the call (another caller updated in between),
  // never older. Errors: Update's (kUnavailable), also when another caller's
  // update failed after this one's and left the snapshot half brought up to
  // date; `read` is then not called.
  template <typename F>
  auto Read(F&& read) -> Result<std::invoke_result_t<F&, const Snapshot&>> {
    {
      std::shared_lock lock(mu_);
      if (UpToDate()) return read(cache_.snapshot());
    }
    {
      std::unique_lock lock(mu_);
      Status updated = cache_.Update();
      whole_ = updated.has_value();
      SKIFF_RETURN_IF_ERROR(updated);
    }
    std::shared_lock lock(mu_);
    if (!whole_) return Unavailable("the state cache is being brought up to date after a failure");
    return read(cache_.snapshot());
  }

  // Like Read, for a value made from the whole state that many callers ask
  // for at once (each edge's routes document): it is made once per state of
  // the cache and handed to the others as it is. A state is the snapshot's
  // revision and the whole reads done so far: a revision can come again only
  // after the database went back, which the cache meets with a whole read.
  // `make` must give the same value for the same snapshot; each call site
  // (the type of `make`, so a lambda per site) has its own memo. Errors:
  // Read's.
  template <typename F>
  auto ReadMemo(F&& make)
      -> Result<std::shared_ptr<const std::invoke_result_t<F&, const Snapshot&>>> {
    using T = std::invoke_result_t<F&, const Snapshot&>;
    return Read([&](const Snapshot& snapshot) {
      const std::pair<int64_t, int64_t> state{cache_.full_reads(), snapshot.revision};
      std::lock_guard lock(memo_mu_);
      Memo& memo = memos_[std::type_index(typeid(F))];
      if (memo.value == nullptr || memo.state != state) {
        memo.value = std::make_shared<const T>(make(snapshot));
        memo.state = state;
      }
      return std::static_pointer_cast<const T>(memo.value);
    });
  }

  // How many whole reads the cache has done (SnapshotCache::full_reads).
  int64_t full_reads() const {
    std::shared_lock lock(mu_);
    return cache_.full_reads();
  }

 private:
  // Whether the snapshot is whole and the store's log has no change past it
  // (a failure to ask counts as no: the caller then updates and reports it).
  // REQUIRES: mu_ held, shared or exclusive.
  bool UpToDate() const {
    if (!whole_ || cache_.full_reads() == 0) return false;
    auto news = store_->ChangesSince(cache_.snapshot().revision, 1);
    return news.has_value() && news->empty();
  }

  // One ReadMemo call site's value and the state it was made of.
  struct Memo {
    std::pair<int64_t, int64_t> state{-1, -1};  // whole reads, revision
    std::shared_ptr<const void> value;
  };

  const Store* const store_;
  mutable std::shared_mutex mu_;
  SnapshotCache cache_;  // GUARDED_BY(mu_)
  // False after a failed update: the snapshot may stand in the middle of a
  // transaction until an update succeeds.
  bool whole_ = true;  // GUARDED_BY(mu_)
  // Taken under mu_ (shared): readers of one state make a memo once.
  std::mutex memo_mu_;
  std::unordered_map<std::type_index, Memo> memos_;  // GUARDED_BY(memo_mu_)
};

}  // namespace skiff::store
