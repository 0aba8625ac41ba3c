// CountingStore: a MemoryStore that counts its whole reads (GetSnapshot), for
// tests that check a reader catches up from the change log instead of
// reading every object again.
#pragma once

#include <atomic>

#include "store/memory/memory_store.h"

namespace skiff::testing {

class CountingStore : public store::MemoryStore {
 public:
  using MemoryStore::MemoryStore;

  Result<store::Snapshot> GetSnapshot() const override {
    ++whole_reads_;
    return MemoryStore::GetSnapshot();
  }

  // GetSnapshot calls so far. Thread-safe.
  int whole_reads() const { return whole_reads_.load(); }

 private:
  mutable std::atomic<int> whole_reads_{0};
};

}  // namespace skiff::testing
