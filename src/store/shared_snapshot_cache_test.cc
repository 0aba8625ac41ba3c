#include "store/shared_snapshot_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store/memory/memory_store.h"
#include "store/store_test_objects.h"

namespace skiff::store {
namespace {

using testing::MakeInstance;

// Verify that readers on several threads, while a writer commits, each get a
// whole snapshot at least as new as the store was when they called (one
// instance per commit: as many instances as commits), and that the state was
// read whole only once.
TEST(SharedSnapshotCacheTest, ReadersOnManyThreadsSeeWholeAndFreshSnapshots) {
  MemoryStore store;
  const int64_t base = store.Revision();
  SharedSnapshotCache cache(&store);
  constexpr int kCommits = 400;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < kCommits; ++i) {
      Txn txn;
      txn.Put(MakeInstance("i" + std::to_string(i), "app", "n"), kMustNotExist);
      ASSERT_TRUE(store.Commit(txn));
    }
    writing = false;
  });
  std::atomic<int> stale{0};
  std::atomic<int> torn{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      do {
        const int64_t before = store.Revision();
        auto seen = cache.Read([&](const Snapshot& snapshot) {
          if (snapshot.revision < before) ++stale;
          if (static_cast<int64_t>(snapshot.instances.size()) != snapshot.revision - base) ++torn;
          return snapshot.revision;
        });
        ASSERT_TRUE(seen) << seen.error().ToString();
      } while (writing);
    });
  }
  writer.join();
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_EQ(torn.load(), 0);
  auto last = cache.Read([](const Snapshot& snapshot) { return snapshot.instances.size(); });
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, static_cast<size_t>(kCommits));
  EXPECT_EQ(cache.full_reads(), 1);
}

// A memory store whose change log cannot be reached.
class UnreachableLogStore : public MemoryStore {
 public:
  Result<std::vector<Change>> ChangesSince(int64_t, size_t) const override {
    return Unavailable("the database is restarting");
  }
};

// Verify that a Read whose update fails returns the store's error code and
// does not call the reader with a snapshot that may be out of date.
TEST(SharedSnapshotCacheTest, ReadFailsWithTheStoresErrorWithoutCallingTheReader) {
  UnreachableLogStore store;
  SharedSnapshotCache cache(&store);
  ASSERT_TRUE(cache.Read([](const Snapshot&) { return 0; }));  // the first, whole read
  bool called = false;
  auto read = cache.Read([&](const Snapshot&) {
    called = true;
    return 0;
  });
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace skiff::store
