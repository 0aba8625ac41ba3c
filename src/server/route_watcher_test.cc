#include "server/route_watcher.h"

#include <gtest/gtest.h>

#include <string>

#include "fakes/counting_store.h"
#include "fakes/testing.h"
#include "store/store_test_objects.h"

namespace skiff::server {
namespace {

// Verify that the edge's route watcher builds its tables from the server's
// shared snapshot cache: once another reader (the API) has read the state
// whole, the watcher's first table and its rebuilds after each commit need no
// whole read of their own, and each table is the newest commit's.
TEST(RouteWatcherTest, BuildsFromTheSharedCacheAndFollowsCommits) {
  skiff::testing::CountingStore store;
  store::SharedSnapshotCache snapshots(&store);
  auto loaded = snapshots.Read([](const store::Snapshot& snapshot) { return snapshot.revision; });
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  ASSERT_EQ(store.whole_reads(), 1);

  edge::EdgeProxy proxy;
  RouteWatcher watcher(&store, &snapshots, &proxy);
  watcher.Start();
  EXPECT_EQ(proxy.Routes().revision, store.Revision());
  for (int i = 0; i < 3; ++i) {
    model::App app = store::testing::MakeApp("web" + std::to_string(i));
    app.spec.domains = {"web" + std::to_string(i) + ".example.test"};
    store::Txn txn;
    txn.Put(app, store::kMustNotExist);
    auto committed = store.Commit(txn);
    ASSERT_TRUE(committed) << committed.error().ToString();
    EXPECT_TRUE(skiff::testing::PollUntil([&] { return proxy.Routes().revision == *committed; }));
  }
  watcher.Stop();
  EXPECT_EQ(store.whole_reads(), 1);
}

}  // namespace
}  // namespace skiff::server
