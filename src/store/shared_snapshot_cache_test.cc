#include "store/shared_snapshot_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "fakes/testing.h"
#include "store/memory/memory_store.h"
#include "store/store_test_objects.h"

namespace skiff::store {
namespace {

using testing::MakeApp;
using testing::MakeInstance;

// Has four threads read `store` through one cache while a writer commits one
// instance per commit, and expects every read to be whole (as many instances
// as commits) and at least as new as the store was when it was asked.
void ReadWhileCommitting(MemoryStore& store, SharedSnapshotCache& cache, int commits) {
  const int64_t base = store.Revision();
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < commits; ++i) {
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
  EXPECT_EQ(*last, static_cast<size_t>(commits));
}

// Verify that readers on several threads, while a writer commits, each get a
// whole snapshot at least as new as the store was when they called, and that
// the state was read whole only once.
TEST(SharedSnapshotCacheTest, ReadersOnManyThreadsSeeWholeAndFreshSnapshots) {
  MemoryStore store;
  SharedSnapshotCache cache(&store);
  ReadWhileCommitting(store, cache, 400);
  EXPECT_EQ(cache.full_reads(), 1);
}

// Verify that readers stay whole and fresh while the log is compacted under
// them, so that updates fall behind it and read the whole state again.
TEST(SharedSnapshotCacheTest, ReadersSeeWholeSnapshotsAcrossCompactionReloads) {
  MemoryStore store(MemoryStore::Options{.change_retention = 2});
  SharedSnapshotCache cache(&store);
  ASSERT_TRUE(cache.Read([](const Snapshot&) { return 0; }));
  // Behind the log by more than it keeps: the next read must reload.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store.Commit(Txn().Put(MakeApp("a" + std::to_string(i)), kMustNotExist)));
  }
  ReadWhileCommitting(store, cache, 400);
  EXPECT_GE(cache.full_reads(), 2);
}

// Verify that readers run their reads at the same time: a read that waits for
// a second one to start sees it start.
TEST(SharedSnapshotCacheTest, ReadersReadTogether) {
  MemoryStore store;
  SharedSnapshotCache cache(&store);
  // Loaded first: the first read loads the state under the exclusive lock,
  // and a reader racing it would wait for it (slow machines, sanitizers).
  ASSERT_TRUE(cache.Read([](const Snapshot&) { return 0; }));
  std::atomic<int> inside{0};
  auto read_with_company = [&] {
    auto met = cache.Read([&](const Snapshot&) {
      ++inside;
      return skiff::testing::PollUntil([&] { return inside.load() == 2; }, std::chrono::seconds(2),
                                       std::chrono::milliseconds(1));
    });
    ASSERT_TRUE(met);
    EXPECT_TRUE(*met);
  };
  std::thread other(read_with_company);
  read_with_company();
  other.join();
}

// Verify that ReadMemo makes its value once per state of the cache, hands the
// same one to every caller of that state, and makes a new one after a commit.
TEST(SharedSnapshotCacheTest, ReadMemoMakesItsValueOncePerState) {
  MemoryStore store;
  SharedSnapshotCache cache(&store);
  int made = 0;
  auto count_apps = [&](const Snapshot& snapshot) {
    ++made;
    return snapshot.apps.size();
  };
  auto first = cache.ReadMemo(count_apps);
  auto second = cache.ReadMemo(count_apps);
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(made, 1);
  EXPECT_EQ(first->get(), second->get());
  ASSERT_TRUE(store.Commit(Txn().Put(MakeApp("a"), kMustNotExist)));
  auto third = cache.ReadMemo(count_apps);
  ASSERT_TRUE(third);
  EXPECT_EQ(made, 2);
  EXPECT_EQ(**third, 1u);
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
