#include "store/snapshot_cache.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "model/codec.h"
#include "store/memory/memory_store.h"
#include "store/store_test_objects.h"

namespace skiff::store {
namespace {

using testing::MakeApp;
using testing::MakeDeployment;
using testing::MakeEvent;
using testing::MakeInstance;
using testing::MakeNode;

// Each kind's objects by key, as JSON: equal maps are equal states whatever
// the vectors' order.
template <typename T>
std::map<std::string, std::string> ByKey(const std::vector<T>& objects) {
  std::map<std::string, std::string> out;
  for (const T& o : objects) out[KeyOf(Object(o))] = boost::json::serialize(model::ToJson(o));
  return out;
}

void ExpectSame(const Snapshot& cached, const Snapshot& fresh) {
  EXPECT_EQ(cached.revision, fresh.revision);
  EXPECT_EQ(ByKey(cached.apps), ByKey(fresh.apps));
  EXPECT_EQ(ByKey(cached.instances), ByKey(fresh.instances));
  EXPECT_EQ(ByKey(cached.nodes), ByKey(fresh.nodes));
  // Deployments also in the same order: (app, revision).
  ASSERT_EQ(cached.deployments.size(), fresh.deployments.size());
  for (size_t i = 0; i < fresh.deployments.size(); ++i) {
    EXPECT_EQ(KeyOf(Object(cached.deployments[i])), KeyOf(Object(fresh.deployments[i])));
    EXPECT_EQ(cached.deployments[i].message, fresh.deployments[i].message);
  }
}

// Verify that after any sequence of creates, updates and deletes of every
// kind (and events, which are not in a snapshot), updated at random moments,
// the cache equals a fresh GetSnapshot, and it read the whole state only once.
TEST(SnapshotCacheTest, FollowsEveryChangeLikeAFreshSnapshot) {
  MemoryStore store;
  SnapshotCache cache(&store);
  ASSERT_TRUE(cache.Update());
  ExpectSame(cache.snapshot(), *store.GetSnapshot());

  std::mt19937 random(7);
  std::vector<std::string> apps;
  std::vector<std::pair<std::string, int64_t>> deployments;
  std::vector<std::string> instances;
  std::vector<std::string> nodes;
  auto pick = [&](auto& v) { return random() % v.size(); };
  for (int step = 0; step < 2000; ++step) {
    Txn txn;
    const int op = static_cast<int>(random() % 10);
    const std::string n = std::to_string(step);
    if (op == 0 || apps.empty()) {
      apps.push_back("app" + n);
      txn.Put(MakeApp(apps.back()), kMustNotExist);
    } else if (op == 1) {
      // Revisions out of order, as "app/10" sorts before "app/9" by key.
      const std::string& app = apps[pick(apps)];
      deployments.emplace_back(app, 1 + random() % 20);
      txn.Put(MakeDeployment(app, deployments.back().second), kAnyVersion);
    } else if (op == 2 || op == 3) {
      instances.push_back("i" + n);
      txn.Put(MakeInstance(instances.back(), apps[pick(apps)], "n"), kMustNotExist);
    } else if (op == 4) {
      nodes.push_back("n" + n);
      txn.Put(MakeNode(nodes.back()), kMustNotExist);
    } else if (op == 5 && !instances.empty()) {
      const size_t at = pick(instances);
      model::Instance changed = MakeInstance(instances[at], "moved" + n, "n");
      txn.Put(changed, kAnyVersion);
    } else if (op == 6 && !instances.empty()) {
      const size_t at = pick(instances);
      txn.Delete(MakeInstance(instances[at], "", ""), kAnyVersion);
      instances.erase(instances.begin() + static_cast<std::ptrdiff_t>(at));
    } else if (op == 7 && !deployments.empty()) {
      const size_t at = pick(deployments);
      txn.Delete(MakeDeployment(deployments[at].first, deployments[at].second), kAnyVersion);
      deployments.erase(deployments.begin() + static_cast<std::ptrdiff_t>(at));
    } else if (op == 8 && !nodes.empty()) {
      const size_t at = pick(nodes);
      if (random() % 2 == 0) {
        txn.Delete(MakeNode(nodes[at]), kAnyVersion);
        nodes.erase(nodes.begin() + static_cast<std::ptrdiff_t>(at));
      } else {
        model::Node changed = MakeNode(nodes[at]);
        changed.name = "renamed" + n;
        txn.Put(changed, kAnyVersion);
      }
    } else {
      txn.AddEvent(MakeEvent(apps[pick(apps)], "step " + n));
    }
    auto committed = store.Commit(txn);
    // A delete of a deployment written twice under one key may find it gone.
    ASSERT_TRUE(committed || committed.error().code == ErrorCode::kNotFound)
        << committed.error().ToString();
    if (random() % 25 == 0) {
      ASSERT_TRUE(cache.Update());
      ASSERT_NO_FATAL_FAILURE(ExpectSame(cache.snapshot(), *store.GetSnapshot())) << step;
    }
  }
  ASSERT_TRUE(cache.Update());
  ExpectSame(cache.snapshot(), *store.GetSnapshot());
  EXPECT_EQ(cache.full_reads(), 1);
}

// Verify that more changes than one read takes (5,000), in transactions of
// many operations, are all applied by one Update, without a whole read.
TEST(SnapshotCacheTest, CatchesUpOnManyChangesInBigTransactions) {
  MemoryStore store;
  SnapshotCache cache(&store);
  ASSERT_TRUE(cache.Update());
  for (int t = 0; t < 30; ++t) {
    Txn txn;
    for (int i = 0; i < 200; ++i) {
      const std::string id = "i" + std::to_string(t * 200 + i);
      if (t > 0 && i % 2 == 0) {
        // Replace one of the previous transaction's, delete another.
        txn.Put(MakeInstance("i" + std::to_string((t - 1) * 200 + i), "changed", "n"), kAnyVersion);
        txn.Delete(MakeInstance("i" + std::to_string((t - 1) * 200 + i + 1), "", ""), kAnyVersion);
      }
      txn.Put(MakeInstance(id, "a", "n"), kMustNotExist);
    }
    ASSERT_TRUE(store.Commit(txn));
  }
  ASSERT_TRUE(cache.Update());
  EXPECT_EQ(cache.full_reads(), 1);
  ExpectSame(cache.snapshot(), *store.GetSnapshot());
}

// Verify that when the log was compacted past the cache's revision, Update
// reads the whole state again and equals a fresh snapshot.
TEST(SnapshotCacheTest, ReloadsWhenTheLogWasCompactedPastIt) {
  MemoryStore store(MemoryStore::Options{.change_retention = 10});
  ASSERT_TRUE(store.Commit(Txn().Put(MakeApp("a"), kMustNotExist)));
  SnapshotCache cache(&store);
  ASSERT_TRUE(cache.Update());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        store.Commit(Txn().Put(MakeInstance("i" + std::to_string(i), "a", "n"), kMustNotExist)));
  }
  ASSERT_TRUE(cache.Update());
  EXPECT_EQ(cache.full_reads(), 2);
  ExpectSame(cache.snapshot(), *store.GetSnapshot());
  EXPECT_EQ(cache.snapshot().instances.size(), 50u);
}

}  // namespace
}  // namespace skiff::store
