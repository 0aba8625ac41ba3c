// MemoryStore: a Store held entirely in memory. The test fake of every component
// above the store, and the reference the SqliteStore is checked against by the
// shared contract suite (store_contract_test.cc). It is the TxnEngine over a
// backend of maps, so it runs the very rules the durable stores run. Nothing
// survives the process.
#pragma once

#include "store/txn_engine.h"

namespace skiff::store {

// Not final: a test overrides a call to inject a fault.
class MemoryStore : public TxnEngine {
 public:
  using Options = EngineOptions;

  MemoryStore();
  explicit MemoryStore(Options options);
};

}  // namespace skiff::store
