// CountingStore: a MemoryStore that counts its whole reads (GetSnapshot) and
// node listings (ListNodes), for tests that check a reader catches up from the
// change log instead of reading objects again.
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
    return MemoryStore::GetSnapshot();
  }

  Result<std::vector<model::Node>> ListNodes() const override {
    ++node_lists_;
    return MemoryStore::ListNodes();
  }

  // GetSnapshot and ListNodes calls so far. Thread-safe.
  int whole_reads() const { return whole_reads_.load(); }
  int node_lists() const { return node_lists_.load(); }

 private:
  mutable std::atomic<int> whole_reads_{0};
  mutable std::atomic<int> node_lists_{0};
};

}  // namespace skiff::testing
