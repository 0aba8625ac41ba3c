// SnapshotCache: the store's state (a Snapshot) kept in memory and brought up
// to date from the change log, for a loop that acts on the whole state after
// every commit (the reconciler, the edge's routes). Reading every object for
// each pass costs seconds at 150,000 instances (each is decoded); the cache
// reads only the changes since its last update.
//
// After a successful Update the snapshot is exactly what GetSnapshot would
// have returned as of its `revision` (deployments in (app, revision) order;
// the other kinds in no particular order, as store.h allows). The database
// going back (ChangesSince: kFailedPrecondition) makes it read everything
// again, as a compaction past it does.
//
// Thread-safety: not thread-safe; one owner calls it (a loop's thread).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "store/store.h"

namespace skiff::store {

class SnapshotCache {
 public:
  // `store` is not owned and must outlive the cache.
  explicit SnapshotCache(const Store* store);

  // Brings the snapshot up to the newest change the store has: the first
  // time, and when the log was compacted past the cached revision, a whole
  // GetSnapshot; otherwise the changes since. Errors: the store's
  // (kUnavailable); the snapshot is then not to be used (it may stand in the
  // middle of a transaction), and the next Update goes on from where it got.
  Status Update();

  // The state as of the last successful Update (empty before the first).
  const Snapshot& snapshot() const { return snapshot_; }
  // How many whole reads Update has done (the first, and after compactions).
  int64_t full_reads() const { return full_reads_; }

 private:
  Status Reload();
  void Apply(const Change& change);

  const Store* store_;
  bool loaded_ = false;
  int64_t full_reads_ = 0;
  Snapshot snapshot_;
  // Key (KeyOf) → index in the snapshot's vector of that kind.
  std::unordered_map<std::string, size_t> apps_;
  std::unordered_map<std::string, size_t> deployments_;
  std::unordered_map<std::string, size_t> instances_;
  std::unordered_map<std::string, size_t> nodes_;
};

}  // namespace skiff::store
