// CountingStore: a MemoryStore that counts its whole reads (GetSnapshot) and
// node listings (ListNodes), for tests that check a reader catches up from the
// change log instead of reading objects again, and that can be made
// unreachable.
#pragma once

#include <atomic>
#include <vector>

#include "store/memory/memory_store.h"

namespace skiff::testing {

class CountingStore : public store::MemoryStore {
 public:
  using MemoryStore::MemoryStore;

  Result<store::Snapshot> GetSnapshot() const override {
    ++whole_reads_;
    if (unreachable_) return Unavailable("the database is restarting");
    return MemoryStore::GetSnapshot();
  }

  Result<std::vector<model::Node>> ListNodes() const override {
    ++node_lists_;
    return MemoryStore::ListNodes();
  }

  Result<std::vector<store::Change>> ChangesSince(int64_t revision, size_t limit) const override {
    if (unreachable_) return Unavailable("the database is restarting");
    return MemoryStore::ChangesSince(revision, limit);
  }

  Result<std::vector<store::Record>> ListRecords(store::RecordKind kind) const override {
    if (unreachable_) return Unavailable("the database is restarting");
    return MemoryStore::ListRecords(kind);
  }

  // While true, whole reads, record listings and the change log answer
  // kUnavailable (the database cannot be reached). Thread-safe.
  void set_unreachable(bool unreachable) { unreachable_ = unreachable; }

  // GetSnapshot and ListNodes calls so far. Thread-safe.
  int whole_reads() const { return whole_reads_.load(); }
  int node_lists() const { return node_lists_.load(); }

 private:
  mutable std::atomic<int> whole_reads_{0};
  mutable std::atomic<int> node_lists_{0};
  std::atomic<bool> unreachable_{false};
};

}  // namespace skiff::testing
