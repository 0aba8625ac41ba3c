// The Store contract (store/store.h), run against every Store implementation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fakes/postgres_server.h"
#include "fakes/testing.h"
#include "store/memory/memory_store.h"
#include "store/postgres/postgres_leader_lease.h"
#include "store/postgres/postgres_store.h"
#include "store/single_server_lease.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/store_test_objects.h"

namespace skiff::store {
namespace {

using testing::MakeApp;
using testing::MakeDeployment;
using testing::MakeEvent;
using testing::MakeInstance;
using testing::MakeNode;

struct Retention {
  size_t changes = 100'000;
  size_t events = 10'000;
};

// Owns a store and whatever it needs to live (a temp dir for SQLite).
class Harness {
 public:
  virtual ~Harness() = default;
  virtual Store& store() = 0;
  // Why the store cannot be had here (no PostgreSQL installed); "" when it can.
  virtual std::string missing() const { return ""; }
  // Whether the store opened; store() may be called only if so.
  virtual bool opened() const { return true; }
  // The leader lease of the store's database (store/leader_lease.h).
  virtual std::unique_ptr<LeaderLease> NewLease() { return std::make_unique<SingleServerLease>(); }
  // Another store on the same database, as a second server (or process)
  // would open it; null when the store has no database to share (memory).
  virtual std::unique_ptr<Store> OpenAnother() { return nullptr; }
};

// The store Open returned, or null after recording why it did not open.
template <typename S>
std::unique_ptr<S> OpenedOrFailure(Result<std::unique_ptr<S>> opened) {
  if (!opened) {
    ADD_FAILURE() << opened.error().ToString();
    return nullptr;
  }
  return std::move(*opened);
}

class MemoryHarness final : public Harness {
 public:
  explicit MemoryHarness(Retention r) : store_(MemoryStore::Options{r.changes, r.events}) {}
  Store& store() override { return store_; }

 private:
  MemoryStore store_;
};

class SqliteHarness final : public Harness {
 public:
  explicit SqliteHarness(Retention r) {
    SqliteStore::Options options;
    options.change_retention = r.changes;
    options.event_retention = r.events;
    store_ = OpenedOrFailure(SqliteStore::Open(dir_.File("skiff.db"), options));
  }
  Store& store() override { return *store_; }
  bool opened() const override { return store_ != nullptr; }
  std::unique_ptr<Store> OpenAnother() override {
    return OpenedOrFailure(SqliteStore::Open(dir_.File("skiff.db")));
  }

 private:
  skiff::testing::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

// A fresh database on the binary's one PostgreSQL (fakes/postgres_server.h).
class PostgresHarness final : public Harness {
 public:
  explicit PostgresHarness(Retention r) {
    skiff::testing::PostgresServer* server = skiff::testing::PostgresServer::Shared(&missing_);
    if (server == nullptr) return;
    auto database = server->CreateDatabase();
    if (!database) {
      ADD_FAILURE() << database.error().ToString();
      return;
    }
    PostgresStore::Options options;
    options.change_retention = r.changes;
    options.event_retention = r.events;
    store_ = OpenedOrFailure(PostgresStore::Open(*database, options));
    conninfo_ = *database;
  }
  Store& store() override { return *store_; }
  bool opened() const override { return store_ != nullptr; }
  std::string missing() const override { return missing_; }
  std::unique_ptr<LeaderLease> NewLease() override {
    return std::make_unique<PostgresLeaderLease>(conninfo_);
  }
  std::unique_ptr<Store> OpenAnother() override {
    return OpenedOrFailure(PostgresStore::Open(conninfo_));
  }

 private:
  std::string missing_;
  std::string conninfo_;
  std::unique_ptr<PostgresStore> store_;
};

struct StoreFactory {
  std::string name;
  std::function<std::unique_ptr<Harness>(Retention)> make;
};
void PrintTo(const StoreFactory& factory, std::ostream* os) { *os << factory.name; }

class StoreContractTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make(Retention{});
    if (const std::string missing = harness_->missing(); !missing.empty()) {
      if (skiff::testing::InCi()) FAIL() << "no PostgreSQL: " << missing;
      GTEST_SKIP() << "no PostgreSQL: " << missing;
    }
    ASSERT_TRUE(harness_->opened()) << "the store did not open";
  }
  // A fresh store with retention r; wrap in ASSERT_NO_FATAL_FAILURE (a store
  // that did not open must end the test before store() is called).
  void Recreate(Retention r) {
    harness_.reset();
    harness_ = GetParam().make(r);
    ASSERT_TRUE(harness_->opened()) << "the store did not open";
  }
  Store& store() { return harness_->store(); }

  // Commits a txn that must succeed; returns its revision.
  int64_t MustCommit(const Txn& txn) {
    auto r = store().Commit(txn);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.value_or(-1);
  }

  std::unique_ptr<Harness> harness_;
};

template <typename T>
std::vector<std::string> Names(const std::vector<T>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects) out.push_back(KeyOf(Object(o)));
  return out;
}

// Verify that ToString, KindOf and KeyOf name kinds and keys as the header says.
TEST(StoreTypesTest, KindsAndKeys) {
  EXPECT_EQ(ToString(Kind::kApp), "app");
  EXPECT_EQ(ToString(Kind::kDeployment), "deployment");
  EXPECT_EQ(ToString(Kind::kInstance), "instance");
  EXPECT_EQ(ToString(Kind::kNode), "node");
  EXPECT_EQ(ToString(Kind::kEvent), "event");
  EXPECT_EQ(KindOf(MakeApp("a")), Kind::kApp);
  EXPECT_EQ(KindOf(MakeDeployment("a", 3)), Kind::kDeployment);
  EXPECT_EQ(KindOf(MakeInstance("i", "a", "n")), Kind::kInstance);
  EXPECT_EQ(KindOf(MakeNode("n")), Kind::kNode);
  EXPECT_EQ(KindOf(MakeEvent("a", "m")), Kind::kEvent);
  EXPECT_EQ(KeyOf(MakeApp("a")), "a");
  EXPECT_EQ(KeyOf(MakeDeployment("a", 3)), "a/3");
  EXPECT_EQ(KeyOf(MakeInstance("i", "a", "n")), "i");
  EXPECT_EQ(KeyOf(MakeNode("n")), "n");
  model::Event e;
  e.id = 42;
  EXPECT_EQ(KeyOf(e), "42");
}

// Verify that Txn records ops in order and AddEvent stamps a missing time only.
TEST(StoreTypesTest, TxnBuildsOps) {
  Txn txn;
  EXPECT_TRUE(txn.empty());
  model::Event timed = MakeEvent("a", "t");
  timed.time = Time(std::chrono::seconds(5));
  txn.Put(MakeApp("a"), kMustNotExist)
      .Delete(MakeNode("n"), 7)
      .AddEvent(MakeEvent("a", "m"))
      .AddEvent(timed);
  ASSERT_EQ(txn.ops().size(), 4u);
  EXPECT_FALSE(txn.ops()[0].is_delete);
  EXPECT_EQ(txn.ops()[0].expected_version, kMustNotExist);
  EXPECT_TRUE(txn.ops()[1].is_delete);
  EXPECT_EQ(txn.ops()[1].expected_version, 7);
  EXPECT_NE(std::get<model::Event>(txn.ops()[2].object).time, Time{});
  EXPECT_EQ(std::get<model::Event>(txn.ops()[3].object).time, Time(std::chrono::seconds(5)));
}

// Verify that an empty store is at revision 0 with nothing in it.
TEST_P(StoreContractTest, EmptyStore) {
  EXPECT_EQ(store().Revision(), 0);
  EXPECT_EQ(store().ListApps()->size(), 0u);
  EXPECT_EQ(store().ListNodes()->size(), 0u);
  EXPECT_EQ(store().ListInstances({})->size(), 0u);
  EXPECT_EQ(store().ListDeployments("a")->size(), 0u);
  EXPECT_EQ(store().ListEvents({})->size(), 0u);
  EXPECT_EQ(store().ChangesSince(0, 100)->size(), 0u);
  EXPECT_EQ(store().GetSnapshot()->revision, 0);
}

// Verify that objects of every kind can be created, read back and listed.
TEST_P(StoreContractTest, CreateGetListEveryKind) {
  Txn txn;
  txn.Put(MakeApp("web"), kMustNotExist)
      .Put(MakeDeployment("web", 1), kMustNotExist)
      .Put(MakeInstance("web-1", "web", "n1"), kMustNotExist)
      .Put(MakeNode("n1"), kMustNotExist)
      .AddEvent(MakeEvent("web", "created"));
  EXPECT_EQ(MustCommit(txn), 5);

  auto app = store().GetApp("web");
  ASSERT_TRUE(app.has_value()) << app.error().ToString();
  EXPECT_EQ(app->name, "web");
  EXPECT_EQ(app->revision, 1);
  EXPECT_EQ(app->spec.replicas, 2);
  EXPECT_EQ(app->version, 1);

  auto d = store().GetDeployment("web", 1);
  ASSERT_TRUE(d.has_value()) << d.error().ToString();
  EXPECT_EQ(d->app, "web");
  EXPECT_EQ(d->message, "rev 1");
  EXPECT_EQ(d->version, 2);

  auto i = store().GetInstance("web-1");
  ASSERT_TRUE(i.has_value()) << i.error().ToString();
  EXPECT_EQ(i->app, "web");
  EXPECT_EQ(i->node, "n1");
  EXPECT_EQ(i->version, 3);

  auto n = store().GetNode("n1");
  ASSERT_TRUE(n.has_value()) << n.error().ToString();
  EXPECT_EQ(n->name, "name-n1");
  EXPECT_EQ(n->capacity.cpu_millis, 2000);
  EXPECT_EQ(n->version, 4);

  auto events = store().ListEvents({});
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].id, 5);
  EXPECT_EQ((*events)[0].message, "created");

  EXPECT_EQ(Names(*store().ListApps()), std::vector<std::string>{"web"});
  EXPECT_EQ(Names(*store().ListDeployments("web")), std::vector<std::string>{"web/1"});
  EXPECT_EQ(Names(*store().ListInstances({})), std::vector<std::string>{"web-1"});
  EXPECT_EQ(Names(*store().ListNodes()), std::vector<std::string>{"n1"});
}

// Verify that reading an absent object of any kind is kNotFound.
TEST_P(StoreContractTest, GetAbsentIsNotFound) {
  EXPECT_EQ(store().GetApp("x").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().GetDeployment("x", 1).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().GetInstance("x").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().GetNode("x").error().code, ErrorCode::kNotFound);
}

// Verify that lists are ordered by name / id.
TEST_P(StoreContractTest, ListsAreOrdered) {
  Txn txn;
  for (const char* name : {"c", "a", "b"}) {
    txn.Put(MakeApp(name), kMustNotExist).Put(MakeNode(name), kMustNotExist);
  }
  MustCommit(txn);
  EXPECT_EQ(Names(*store().ListApps()), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Names(*store().ListNodes()), (std::vector<std::string>{"a", "b", "c"}));
}

// Verify that the optimistic-concurrency errors carry exactly the codes of the header.
TEST_P(StoreContractTest, OptimisticConcurrencyCodes) {
  int64_t v = MustCommit(Txn().Put(MakeApp("a"), kMustNotExist));

  auto exists = store().Commit(Txn().Put(MakeApp("a"), kMustNotExist));
  ASSERT_FALSE(exists.has_value());
  EXPECT_EQ(exists.error().code, ErrorCode::kAlreadyExists);

  auto missing_put = store().Commit(Txn().Put(MakeApp("b"), 5));
  ASSERT_FALSE(missing_put.has_value());
  EXPECT_EQ(missing_put.error().code, ErrorCode::kNotFound);

  auto missing_delete = store().Commit(Txn().Delete(MakeApp("b"), 5));
  ASSERT_FALSE(missing_delete.has_value());
  EXPECT_EQ(missing_delete.error().code, ErrorCode::kNotFound);

  auto missing_any_delete = store().Commit(Txn().Delete(MakeApp("b"), kAnyVersion));
  ASSERT_FALSE(missing_any_delete.has_value());
  EXPECT_EQ(missing_any_delete.error().code, ErrorCode::kNotFound);

  auto stale_put = store().Commit(Txn().Put(MakeApp("a"), v + 1));
  ASSERT_FALSE(stale_put.has_value());
  EXPECT_EQ(stale_put.error().code, ErrorCode::kAborted);

  auto stale_delete = store().Commit(Txn().Delete(MakeApp("a"), v + 1));
  ASSERT_FALSE(stale_delete.has_value());
  EXPECT_EQ(stale_delete.error().code, ErrorCode::kAborted);

  EXPECT_EQ(store().Revision(), v);

  // The right version succeeds, and the old one is then stale.
  int64_t v2 = MustCommit(Txn().Put(MakeApp("a", 2), v));
  EXPECT_EQ(v2, v + 1);
  EXPECT_EQ(store().GetApp("a")->revision, 2);
  EXPECT_EQ(store().GetApp("a")->version, v2);
  EXPECT_EQ(store().Commit(Txn().Put(MakeApp("a", 3), v)).error().code, ErrorCode::kAborted);
  int64_t v3 = MustCommit(Txn().Delete(MakeApp("a"), v2));
  EXPECT_EQ(store().GetApp("a").error().code, ErrorCode::kNotFound);
  // Recreating after a delete is a create again.
  EXPECT_EQ(MustCommit(Txn().Put(MakeApp("a"), kMustNotExist)), v3 + 1);
}

// Verify that kAnyVersion writes whatever the current version, and creates when absent.
TEST_P(StoreContractTest, AnyVersionIsUnconditional) {
  int64_t v1 = MustCommit(Txn().Put(MakeNode("n"), kAnyVersion));
  int64_t v2 = MustCommit(Txn().Put(MakeNode("n"), kAnyVersion));
  EXPECT_EQ(v2, v1 + 1);
  EXPECT_EQ(store().GetNode("n")->version, v2);
  MustCommit(Txn().Delete(MakeNode("n"), kAnyVersion));
  EXPECT_EQ(store().GetNode("n").error().code, ErrorCode::kNotFound);
}

// Verify that a failed txn writes nothing, not even the ops before the failing one,
// and that the revision and the change log do not move.
TEST_P(StoreContractTest, FailedTxnWritesNothing) {
  int64_t v = MustCommit(Txn().Put(MakeApp("a"), kMustNotExist));
  struct Case {
    Txn txn;
    ErrorCode code;
  };
  std::vector<Case> cases;
  cases.push_back({Txn()
                       .Put(MakeApp("b"), kMustNotExist)
                       .Put(MakeNode("n"), kMustNotExist)
                       .AddEvent(MakeEvent("b", "e"))
                       .Put(MakeApp("a"), kMustNotExist),
                   ErrorCode::kAlreadyExists});
  cases.push_back({Txn()
                       .Put(MakeApp("b"), kMustNotExist)
                       .Put(MakeApp("a", 7), v + 10)
                       .Put(MakeNode("n"), kMustNotExist),
                   ErrorCode::kAborted});
  cases.push_back({Txn().Delete(MakeApp("a"), v).Put(MakeApp("zzz"), 3), ErrorCode::kNotFound});
  cases.push_back({Txn().Put(MakeApp("b"), kMustNotExist).Put(MakeApp(""), kMustNotExist),
                   ErrorCode::kInvalidArgument});
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    auto r = store().Commit(cases[i].txn);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, cases[i].code) << r.error().ToString();
    EXPECT_EQ(store().Revision(), v);
    EXPECT_EQ(store().GetApp("b").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(store().GetNode("n").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(store().GetApp("a")->version, v);
    EXPECT_EQ(store().ListEvents({})->size(), 0u);
    EXPECT_EQ(store().ChangesSince(v, 100)->size(), 0u);
  }
  // The next successful commit takes the very next revision.
  EXPECT_EQ(MustCommit(Txn().Put(MakeApp("b"), kMustNotExist)), v + 1);
}

// Verify that malformed txns are kInvalidArgument.
TEST_P(StoreContractTest, MalformedTxnIsInvalidArgument) {
  EXPECT_EQ(store().Commit(Txn()).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().Commit(Txn().Put(MakeNode(""), kMustNotExist)).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().Commit(Txn().Put(MakeInstance("", "a", "n"), kAnyVersion)).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().Commit(Txn().Put(MakeDeployment("", 1), kMustNotExist)).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().Commit(Txn().Put(MakeDeployment("a", 0), kMustNotExist)).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().Commit(Txn().Put(MakeApp("a"), -2)).error().code, ErrorCode::kInvalidArgument);
  model::Event e = MakeEvent("a", "x");
  e.id = 1;
  EXPECT_EQ(store().Commit(Txn().Delete(e, kAnyVersion)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().Revision(), 0);
}

// Verify that a multi-op txn applies atomically, one revision per op, each object's
// version being its own op's revision, and returns the last revision.
TEST_P(StoreContractTest, MultiOpTxnTakesOneRevisionPerOp) {
  MustCommit(Txn().Put(MakeNode("n0"), kMustNotExist));
  Txn txn;
  txn.Put(MakeApp("a"), kMustNotExist)
      .Put(MakeNode("n1"), kMustNotExist)
      .Delete(MakeNode("n0"), 1)
      .Put(MakeInstance("i", "a", "n1"), kMustNotExist);
  EXPECT_EQ(MustCommit(txn), 5);
  EXPECT_EQ(store().Revision(), 5);
  EXPECT_EQ(store().GetApp("a")->version, 2);
  EXPECT_EQ(store().GetNode("n1")->version, 3);
  EXPECT_EQ(store().GetNode("n0").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().GetInstance("i")->version, 5);
}

// Verify that later ops of a txn see the earlier ones on the same key.
TEST_P(StoreContractTest, OpsInTxnSeeEarlierOps) {
  Txn txn;
  txn.Put(MakeApp("a", 1), kMustNotExist).Put(MakeApp("a", 2), 1);
  EXPECT_EQ(MustCommit(txn), 2);
  EXPECT_EQ(store().GetApp("a")->revision, 2);
  EXPECT_EQ(store().GetApp("a")->version, 2);

  // Create then create again in one txn collides with itself.
  EXPECT_EQ(store()
                .Commit(Txn().Put(MakeNode("n"), kMustNotExist).Put(MakeNode("n"), kMustNotExist))
                .error()
                .code,
            ErrorCode::kAlreadyExists);
  // Delete then create in one txn is fine.
  EXPECT_EQ(MustCommit(Txn().Delete(MakeApp("a"), 2).Put(MakeApp("a", 9), kMustNotExist)), 4);
  EXPECT_EQ(store().GetApp("a")->revision, 9);
  EXPECT_EQ(store().GetApp("a")->version, 4);
}

// Verify that revisions strictly increase across commits, per op.
TEST_P(StoreContractTest, RevisionsStrictlyIncrease) {
  int64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    Txn txn;
    for (int j = 0; j <= i % 3; ++j) txn.AddEvent(MakeEvent("a", std::to_string(i)));
    int64_t r = MustCommit(txn);
    EXPECT_EQ(r, last + 1 + i % 3);
    EXPECT_EQ(store().Revision(), r);
    last = r;
  }
}

// Verify that ChangesSince from a revision newer than the log's newest (the
// database went back) is kFailedPrecondition, so a reader re-lists rather
// than waits for revisions it already saw; from the newest, it is empty.
TEST_P(StoreContractTest, ChangesSinceAheadOfTheLogIsFailedPrecondition) {
  const int64_t v = MustCommit(Txn().Put(MakeApp("a"), kMustNotExist));
  EXPECT_EQ(store().ChangesSince(v, 10)->size(), 0u);
  auto ahead = store().ChangesSince(v + 3, 10);
  ASSERT_FALSE(ahead.has_value());
  EXPECT_EQ(ahead.error().code, ErrorCode::kFailedPrecondition);
}

// Verify that ChangesSince replays every change in order, with deletes carrying
// the object as it was, honouring since and limit.
TEST_P(StoreContractTest, ChangesSinceOrderAndLimit) {
  MustCommit(Txn().Put(MakeApp("a", 1), kMustNotExist));                        // 1
  MustCommit(Txn().Put(MakeApp("a", 2), 1).Put(MakeNode("n"), kMustNotExist));  // 2, 3
  MustCommit(Txn().Delete(MakeApp("a"), 2).AddEvent(MakeEvent("a", "gone")));   // 4, 5

  auto all = store().ChangesSince(0, 100);
  ASSERT_TRUE(all.has_value()) << all.error().ToString();
  ASSERT_EQ(all->size(), 5u);
  for (size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].revision, int64_t(i) + 1);
  EXPECT_FALSE((*all)[0].deleted);
  EXPECT_EQ(std::get<model::App>((*all)[0].object).revision, 1);
  EXPECT_EQ(std::get<model::App>((*all)[0].object).version, 1);
  EXPECT_EQ(std::get<model::App>((*all)[1].object).revision, 2);
  EXPECT_EQ(std::get<model::App>((*all)[1].object).version, 2);
  EXPECT_EQ(KindOf((*all)[2].object), Kind::kNode);
  EXPECT_EQ(std::get<model::Node>((*all)[2].object).version, 3);
  EXPECT_TRUE((*all)[3].deleted);
  EXPECT_EQ(std::get<model::App>((*all)[3].object).name, "a");
  EXPECT_EQ(std::get<model::App>((*all)[3].object).revision, 2);  // as it was before
  EXPECT_EQ(std::get<model::App>((*all)[3].object).version, 2);
  EXPECT_FALSE((*all)[4].deleted);
  EXPECT_EQ(std::get<model::Event>((*all)[4].object).id, 5);
  EXPECT_EQ(std::get<model::Event>((*all)[4].object).message, "gone");

  auto page = store().ChangesSince(1, 2);
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].revision, 2);
  EXPECT_EQ((*page)[1].revision, 3);
  EXPECT_EQ(store().ChangesSince(5, 100)->size(), 0u);
  EXPECT_EQ(store().ChangesSince(99, 100).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store().ChangesSince(0, 0)->size(), 0u);
  EXPECT_EQ(store().ChangesSince(-1, 10).error().code, ErrorCode::kInvalidArgument);
}

// Verify that changes older than the retention are compacted and a reader behind
// them gets kFailedPrecondition, while one at the floor still replays.
TEST_P(StoreContractTest, ChangesSinceCompacted) {
  ASSERT_NO_FATAL_FAILURE(Recreate(Retention{.changes = 3, .events = 100}));
  for (int i = 0; i < 5; ++i) MustCommit(Txn().AddEvent(MakeEvent("a", std::to_string(i))));
  // Revisions 1 and 2 are gone; 3, 4, 5 remain.
  EXPECT_EQ(store().ChangesSince(0, 10).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store().ChangesSince(1, 10).error().code, ErrorCode::kFailedPrecondition);
  auto tail = store().ChangesSince(2, 10);
  ASSERT_TRUE(tail.has_value()) << tail.error().ToString();
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_EQ((*tail)[0].revision, 3);
  EXPECT_EQ((*tail)[2].revision, 5);
  // A multi-op txn larger than the retention still keeps the newest ones.
  MustCommit(Txn()
                 .AddEvent(MakeEvent("a", "x"))
                 .AddEvent(MakeEvent("a", "y"))
                 .AddEvent(MakeEvent("a", "z"))
                 .AddEvent(MakeEvent("a", "w")));
  EXPECT_EQ(store().ChangesSince(5, 10).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store().ChangesSince(6, 10)->size(), 3u);
  // Compaction is of the log only: objects and events stay.
  EXPECT_EQ(store().ListEvents({})->size(), 9u);
}

// Verify that events get id == revision and ListEvents filters by app, after_id
// and limit (the newest N, ascending).
TEST_P(StoreContractTest, EventsFilters) {
  Txn txn;
  for (int i = 1; i <= 6; ++i) txn.AddEvent(MakeEvent(i % 2 ? "odd" : "even", std::to_string(i)));
  EXPECT_EQ(MustCommit(txn), 6);

  auto all = store().ListEvents({});
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ((*all)[i].id, int64_t(i) + 1);
    EXPECT_EQ((*all)[i].message, std::to_string(i + 1));
    EXPECT_NE((*all)[i].time, Time{});
  }
  auto ids = [](const Result<std::vector<model::Event>>& r) {
    std::vector<int64_t> out;
    for (const auto& e : *r) out.push_back(e.id);
    return out;
  };
  EXPECT_EQ(ids(store().ListEvents({.app = "odd"})), (std::vector<int64_t>{1, 3, 5}));
  EXPECT_EQ(ids(store().ListEvents({.after_id = 4})), (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(ids(store().ListEvents({.limit = 2})), (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(ids(store().ListEvents({.app = "even", .after_id = 2, .limit = 1})),
            (std::vector<int64_t>{6}));
  EXPECT_EQ(ids(store().ListEvents({.app = "even", .after_id = 1, .limit = 5})),
            (std::vector<int64_t>{2, 4, 6}));
  EXPECT_EQ(ids(store().ListEvents({.app = "none"})), (std::vector<int64_t>{}));
  EXPECT_EQ(ids(store().ListEvents({.limit = 0})), (std::vector<int64_t>{}));
  // Paging forward takes the oldest after after_id instead of the newest.
  EXPECT_EQ(ids(store().ListEvents({.after_id = 1, .limit = 2, .oldest_first = true})),
            (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ids(store().ListEvents({.app = "odd", .limit = 2, .oldest_first = true})),
            (std::vector<int64_t>{1, 3}));
}

// Verify that a set event time is kept.
TEST_P(StoreContractTest, EventTimeIsKept) {
  model::Event e = MakeEvent("a", "m");
  e.time = Time(std::chrono::seconds(1'700'000'123));
  MustCommit(Txn().AddEvent(e));
  auto events = store().ListEvents({});
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].time, e.time);
}

// Verify that only the newest events within the retention are kept.
TEST_P(StoreContractTest, EventRetention) {
  ASSERT_NO_FATAL_FAILURE(Recreate(Retention{.changes = 100, .events = 3}));
  for (int i = 0; i < 5; ++i) MustCommit(Txn().AddEvent(MakeEvent("a", std::to_string(i))));
  auto events = store().ListEvents({});
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].id, 3);
  EXPECT_EQ((*events)[2].id, 5);
}

// Verify that the events of a failed txn do not count against the retention:
// nothing of them was kept, so nothing older makes room for them.
TEST_P(StoreContractTest, FailedTxnEventsDoNotCountForRetention) {
  ASSERT_NO_FATAL_FAILURE(Recreate(Retention{.changes = 100, .events = 3}));
  MustCommit(Txn().AddEvent(MakeEvent("a", "1")).AddEvent(MakeEvent("a", "2")));
  Txn failing;
  for (int i = 0; i < 5; ++i) failing.AddEvent(MakeEvent("a", "lost"));
  failing.Put(MakeApp("a"), 42);
  EXPECT_EQ(store().Commit(failing).error().code, ErrorCode::kNotFound);
  MustCommit(Txn().AddEvent(MakeEvent("a", "3")));
  auto events = store().ListEvents({});
  ASSERT_TRUE(events.has_value()) << events.error().ToString();
  std::vector<std::string> messages;
  for (const auto& e : *events) messages.push_back(e.message);
  EXPECT_EQ(messages, (std::vector<std::string>{"1", "2", "3"}));
}

// Verify that ListInstances filters by app and by node.
TEST_P(StoreContractTest, ListInstancesFilters) {
  MustCommit(Txn()
                 .Put(MakeInstance("a1", "a", "n1"), kMustNotExist)
                 .Put(MakeInstance("a2", "a", "n2"), kMustNotExist)
                 .Put(MakeInstance("b1", "b", "n1"), kMustNotExist)
                 .Put(MakeInstance("b2", "b", ""), kMustNotExist));
  EXPECT_EQ(Names(*store().ListInstances({})), (std::vector<std::string>{"a1", "a2", "b1", "b2"}));
  EXPECT_EQ(Names(*store().ListInstances({.app = "a"})), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(Names(*store().ListInstances({.node = "n1"})), (std::vector<std::string>{"a1", "b1"}));
  EXPECT_EQ(Names(*store().ListInstances({.app = "b", .node = "n1"})),
            (std::vector<std::string>{"b1"}));
  EXPECT_EQ(Names(*store().ListInstances({.app = "c"})), (std::vector<std::string>{}));
}

// Verify that ListDeployments is the app's deployments only, in numeric revision order.
TEST_P(StoreContractTest, ListDeploymentsAscending) {
  Txn txn;
  for (int64_t r : {10, 2, 9, 1}) txn.Put(MakeDeployment("a", r), kMustNotExist);
  txn.Put(MakeDeployment("ab", 3), kMustNotExist).Put(MakeDeployment("a-b", 4), kMustNotExist);
  MustCommit(txn);
  auto list = store().ListDeployments("a");
  ASSERT_TRUE(list.has_value());
  std::vector<int64_t> revisions;
  for (const auto& d : *list) revisions.push_back(d.revision);
  EXPECT_EQ(revisions, (std::vector<int64_t>{1, 2, 9, 10}));
  EXPECT_EQ(store().ListDeployments("ab")->size(), 1u);
  EXPECT_EQ(store().ListDeployments("b")->size(), 0u);
  EXPECT_EQ(store().GetDeployment("a", 10)->message, "rev 10");
}

// Verify that GetSnapshot holds every object but events as of its revision.
TEST_P(StoreContractTest, SnapshotIsConsistent) {
  MustCommit(Txn()
                 .Put(MakeApp("a"), kMustNotExist)
                 .Put(MakeDeployment("a", 10), kMustNotExist)
                 .Put(MakeDeployment("a", 9), kMustNotExist)
                 .Put(MakeInstance("i", "a", "n"), kMustNotExist)
                 .Put(MakeNode("n"), kMustNotExist)
                 .AddEvent(MakeEvent("a", "e")));
  auto snap = store().GetSnapshot();
  ASSERT_TRUE(snap.has_value()) << snap.error().ToString();
  EXPECT_EQ(snap->revision, 6);
  EXPECT_EQ(Names(snap->apps), std::vector<std::string>{"a"});
  ASSERT_EQ(snap->deployments.size(), 2u);
  EXPECT_EQ(snap->deployments[0].revision, 9);
  EXPECT_EQ(snap->deployments[1].revision, 10);
  EXPECT_EQ(Names(snap->instances), std::vector<std::string>{"i"});
  EXPECT_EQ(Names(snap->nodes), std::vector<std::string>{"n"});
  EXPECT_EQ(snap->apps[0].version, 1);

  // Replaying the log after the snapshot brings a reader up to date.
  MustCommit(Txn().Delete(MakeNode("n"), 5));
  auto changes = store().ChangesSince(snap->revision, 100);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_TRUE((*changes)[0].deleted);
}

// Verify that a subscription is called with each commit's revision after the
// commit is visible, and no longer once destroyed.
TEST_P(StoreContractTest, SubscribeAndUnsubscribe) {
  std::vector<int64_t> seen;
  std::vector<int64_t> visible;
  auto sub = store().Subscribe([&](int64_t revision) {
    seen.push_back(revision);
    visible.push_back(store().Revision());  // no store lock is held: this must not deadlock
  });
  MustCommit(Txn().Put(MakeApp("a"), kMustNotExist));
  MustCommit(Txn().AddEvent(MakeEvent("a", "1")).AddEvent(MakeEvent("a", "2")));
  // A failed commit notifies no one.
  EXPECT_FALSE(store().Commit(Txn().Put(MakeApp("a"), kMustNotExist)).has_value());
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(visible, (std::vector<int64_t>{1, 3}));
  sub.reset();
  MustCommit(Txn().Put(MakeApp("b"), kMustNotExist));
  EXPECT_EQ(seen.size(), 2u);
}

// Verify that several subscriptions are all called and each can leave alone.
TEST_P(StoreContractTest, SeveralSubscriptions) {
  std::atomic<int> a = 0, b = 0;
  auto sub_a = store().Subscribe([&](int64_t) { ++a; });
  auto sub_b = store().Subscribe([&](int64_t) { ++b; });
  MustCommit(Txn().Put(MakeApp("a"), kMustNotExist));
  sub_a.reset();
  MustCommit(Txn().Put(MakeApp("b"), kMustNotExist));
  EXPECT_EQ(a.load(), 1);
  EXPECT_EQ(b.load(), 2);
}

// Verify that destroying a subscription waits for its callback running on another
// thread to return.
TEST_P(StoreContractTest, UnsubscribeWaitsForRunningCallback) {
  std::atomic<bool> entered = false, destroying = false, returned = false;
  auto sub = store().Subscribe([&](int64_t) {
    entered = true;
    while (!destroying) std::this_thread::yield();
    returned = true;
  });
  std::thread committer([&] { MustCommit(Txn().Put(MakeApp("a"), kMustNotExist)); });
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return entered.load(); }));
  bool returned_before_reset_finished = false;
  std::thread destroyer([&] {
    destroying = true;
    sub.reset();
    returned_before_reset_finished = returned.load();
  });
  destroyer.join();
  committer.join();
  EXPECT_TRUE(returned_before_reset_finished);
}

// Verify that the store outlives nothing it should not: a subscription may be
// destroyed after its store.
TEST_P(StoreContractTest, SubscriptionMayOutliveStore) {
  auto sub = store().Subscribe([](int64_t) {});
  harness_.reset();
  sub.reset();
}

// Verify that concurrent read-modify-write loops retried on kAborted lose no update.
TEST_P(StoreContractTest, ConcurrentOptimisticUpdates) {
  MustCommit(Txn().Put(MakeApp("counter"), kMustNotExist));
  constexpr int kThreads = 2;
  constexpr int kIncrements = 50;
  std::atomic<int> aborted = 0;
  std::atomic<bool> failed = false;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements;) {
        auto app = store().GetApp("counter");
        if (!app) {
          failed = true;
          return;
        }
        model::App next = *app;
        ++next.restart_epoch;
        auto r = store().Commit(Txn().Put(next, app->version));
        if (r) {
          ++i;
        } else if (r.error().code == ErrorCode::kAborted) {
          ++aborted;
        } else {
          failed = true;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_FALSE(failed.load());
  EXPECT_EQ(store().GetApp("counter")->restart_epoch, kThreads * kIncrements);
  EXPECT_EQ(store().Revision(), 1 + kThreads * kIncrements);
  auto changes = store().ChangesSince(0, 1000);
  ASSERT_EQ(changes->size(), size_t{1 + kThreads * kIncrements});
}

// Verify that a domain claim lets a txn commit only while no other app lists
// the domain (kAlreadyExists naming domains[i] and that app, nothing written),
// and that the claimant's own domains, a domain the same txn takes from the
// other app, and an empty claim pass.
TEST_P(StoreContractTest, DomainClaimIsAPrecondition) {
  model::App web = MakeApp("web");
  web.spec.domains = {"a.test", "b.test"};
  web.version = MustCommit(Txn().Put(web, kMustNotExist).ClaimDomains("web", web.spec.domains));
  const int64_t before = store().Revision();

  model::App shop = MakeApp("shop");
  shop.spec.domains = {"c.test", "b.test"};
  auto refused = store().Commit(Txn()
                                    .Put(shop, kMustNotExist)
                                    .AddEvent(MakeEvent("shop", "created"))
                                    .ClaimDomains("shop", shop.spec.domains));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(refused.error().field, "domains[1]");
  EXPECT_EQ(refused.error().message,
            "domains[1]: b.test is already served by app web; remove it there first");
  EXPECT_EQ(store().Revision(), before);
  EXPECT_EQ(store().GetApp("shop").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().ListEvents({})->size(), 0u);

  // The claimant's own domains are no conflict.
  web.spec.replicas = 3;
  web.version = MustCommit(Txn().Put(web, web.version).ClaimDomains("web", web.spec.domains));
  // Claims are checked against the state the txn's own ops leave.
  web.spec.domains = {"a.test"};
  MustCommit(
      Txn().Put(web, web.version).Put(shop, kMustNotExist).ClaimDomains("shop", shop.spec.domains));
  EXPECT_EQ(store().GetApp("shop")->spec.domains, shop.spec.domains);
  MustCommit(Txn().Put(MakeApp("plain"), kMustNotExist).ClaimDomains("plain", {}));

  // An app being deleted still serves its domains; the message says to wait.
  model::App gone = *store().GetApp("web");
  gone.deleting = true;
  MustCommit(Txn().Put(gone, gone.version));
  model::App blog = MakeApp("blog");
  blog.spec.domains = {"a.test"};
  auto waiting = store().Commit(Txn().Put(blog, kMustNotExist).ClaimDomains("blog", {"a.test"}));
  ASSERT_FALSE(waiting.has_value());
  EXPECT_EQ(waiting.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(waiting.error().message,
            "domains[0]: a.test is already served by app web (being deleted: try again when it "
            "is gone)");
}

// Verify that a claim is checked atomically with the write: of many txns
// committed at once, each creating another app that claims one domain,
// exactly one commits and every other is refused naming domains[0].
TEST_P(StoreContractTest, ConcurrentDomainClaimsHaveOneWinner) {
  constexpr int kThreads = 16;
  std::atomic<int> committed{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      model::App app = MakeApp("app" + std::to_string(t));
      app.spec.domains = {"one.test"};
      auto r = store().Commit(Txn().Put(app, kMustNotExist).ClaimDomains(app.name, {"one.test"}));
      if (r) {
        ++committed;
      } else if (r.error().code == ErrorCode::kAlreadyExists && r.error().field == "domains[0]") {
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(committed.load(), 1);
  EXPECT_EQ(refused.load(), kThreads - 1);
  auto apps = store().ListApps();
  ASSERT_TRUE(apps.has_value());
  EXPECT_EQ(apps->size(), 1u);
}

// Verify that a few hundred small commits in a row all land (a sanity run, not a
// benchmark: commit latency is measured in bench/, never asserted here).
TEST_P(StoreContractTest, ManySmallCommits) {
  constexpr int kCommits = 300;
  for (int i = 0; i < kCommits; ++i) {
    ASSERT_EQ(MustCommit(Txn().Put(MakeInstance("i" + std::to_string(i), "a", "n"), kMustNotExist)),
              i + 1);
  }
  EXPECT_EQ(store().ListInstances({.app = "a"})->size(), size_t{kCommits});
  EXPECT_EQ(store().ChangesSince(0, kCommits)->size(), size_t{kCommits});
}

// Verify that records are kept by kind and key, replaced by a put, listed by
// key, and removed by a delete, with the exact codes for absent keys.
TEST_P(StoreContractTest, RecordsPutGetListDelete) {
  EXPECT_EQ(store().GetRecord(RecordKind::kEdge, "e1").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(store().PutRecord(RecordKind::kEdge, "e2", "two"));
  ASSERT_TRUE(store().PutRecord(RecordKind::kEdge, "e1", "one"));
  ASSERT_TRUE(store().PutRecord(RecordKind::kJoinToken, "e1", "token"));
  EXPECT_EQ(store().GetRecord(RecordKind::kEdge, "e1").value_or(""), "one");
  ASSERT_TRUE(store().PutRecord(RecordKind::kEdge, "e1", "uno"));
  EXPECT_EQ(store().GetRecord(RecordKind::kEdge, "e1").value_or(""), "uno");
  EXPECT_EQ(store().ListRecords(RecordKind::kEdge).value_or(std::vector<Record>{}),
            (std::vector<Record>{{"e1", "uno"}, {"e2", "two"}}));
  EXPECT_EQ(store().ListRecords(RecordKind::kJoinToken).value_or(std::vector<Record>{}),
            (std::vector<Record>{{"e1", "token"}}));
  EXPECT_TRUE(store().ListRecords(RecordKind::kAdminToken)->empty());

  ASSERT_TRUE(store().DeleteRecord(RecordKind::kEdge, "e1"));
  EXPECT_EQ(store().GetRecord(RecordKind::kEdge, "e1").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().DeleteRecord(RecordKind::kEdge, "e1").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().GetRecord(RecordKind::kJoinToken, "e1").value_or(""), "token");
  EXPECT_EQ(store().PutRecord(RecordKind::kEdge, "", "x").error().code,
            ErrorCode::kInvalidArgument);
}

// Verify that every kind of record is kept apart from the others under one key.
TEST_P(StoreContractTest, EveryRecordKindIsKeptApart) {
  for (size_t k = 0; k < kRecordKinds; ++k) {
    const auto kind = static_cast<RecordKind>(k);
    ASSERT_TRUE(store().PutRecord(kind, "key", std::string(ToString(kind)))) << ToString(kind);
  }
  for (size_t k = 0; k < kRecordKinds; ++k) {
    const auto kind = static_cast<RecordKind>(k);
    EXPECT_EQ(store().ListRecords(kind).value_or(std::vector<Record>{}),
              (std::vector<Record>{{"key", std::string(ToString(kind))}}));
  }
}

// Verify that CreateRecord writes only an absent key, and that of several
// writers creating one key at once exactly one wins.
TEST_P(StoreContractTest, CreateRecordHasOneWinner) {
  ASSERT_TRUE(store().CreateRecord(RecordKind::kAdminToken, "admin", "first"));
  EXPECT_EQ(store().CreateRecord(RecordKind::kAdminToken, "admin", "second").error().code,
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(store().GetRecord(RecordKind::kAdminToken, "admin").value_or(""), "first");

  constexpr int kWriters = 4;
  std::atomic<int> won = 0;
  std::atomic<int> lost = 0;
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      Status s = store().CreateRecord(RecordKind::kEdge, "race", std::to_string(i));
      if (s) {
        ++won;
      } else if (s.error().code == ErrorCode::kAlreadyExists) {
        ++lost;
      }
    });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), kWriters - 1);
}

// Verify that of writers on two stores sharing one database (two servers;
// two SQLite stores on one file) creating one key at once, exactly one wins,
// every other gets kAlreadyExists, and both stores then read the winner's
// value. The memory store has no database to share: its writers race on the
// one store.
TEST_P(StoreContractTest, CreateRecordHasOneWinnerAcrossStores) {
  std::unique_ptr<Store> another = harness_->OpenAnother();
  Store& second = another != nullptr ? *another : store();
  Store* const stores[] = {&store(), &second};
  constexpr int kRounds = 10;
  constexpr int kWriters = 4;  // two on each store
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "race-" + std::to_string(round);
    std::latch start(kWriters);
    std::mutex mu;
    std::vector<std::string> winners;
    int lost = 0;
    std::vector<std::thread> writers;
    for (int i = 0; i < kWriters; ++i) {
      writers.emplace_back([&, i] {
        const std::string value = "writer-" + std::to_string(i);
        start.arrive_and_wait();
        Status s = stores[i % 2]->CreateRecord(RecordKind::kEdge, key, value);
        std::lock_guard lock(mu);
        if (s) {
          winners.push_back(value);
        } else if (s.error().code == ErrorCode::kAlreadyExists) {
          ++lost;
        } else {
          ADD_FAILURE() << s.error().ToString();
        }
      });
    }
    for (std::thread& t : writers) t.join();
    ASSERT_EQ(winners.size(), 1u) << "round " << round;
    EXPECT_EQ(lost, kWriters - 1) << "round " << round;
    for (Store* s : stores) {
      EXPECT_EQ(s->GetRecord(RecordKind::kEdge, key).value_or(""), winners[0]) << "round " << round;
    }
  }
}

// Verify that a record write takes no revision, wakes no subscriber and shows
// in no change: records are outside the change log.
TEST_P(StoreContractTest, RecordsStayOutOfTheChangeLog) {
  const int64_t before = MustCommit(Txn().Put(MakeApp("a"), kMustNotExist));
  std::atomic<int> told = 0;
  auto subscription = store().Subscribe([&](int64_t) { ++told; });
  ASSERT_TRUE(store().PutRecord(RecordKind::kNodeCredential, "hash", "node-1"));
  ASSERT_TRUE(store().DeleteRecord(RecordKind::kNodeCredential, "hash"));
  EXPECT_EQ(store().Revision(), before);
  EXPECT_TRUE(store().ChangesSince(before, 10)->empty());
  EXPECT_EQ(told.load(), 0);
  EXPECT_EQ(MustCommit(Txn().Put(MakeApp("b"), kMustNotExist)), before + 1);
}

// Verify that a txn fenced at the lease's current epoch commits, and that
// one fenced at any other epoch is kFailedPrecondition and writes nothing
// (no object, no change, no revision, no event).
TEST_P(StoreContractTest, FencedCommitNeedsTheCurrentEpoch) {
  std::unique_ptr<LeaderLease> lease = harness_->NewLease();
  auto acquired = lease->TryAcquire("a", std::chrono::seconds(30));
  ASSERT_TRUE(acquired.has_value()) << acquired.error().ToString();
  ASSERT_TRUE(acquired->acquired);
  const int64_t epoch = acquired->epoch;
  ASSERT_GT(epoch, 0);
  const int64_t before = MustCommit(Txn().Put(MakeApp("a"), kMustNotExist).Fenced(epoch));
  for (int64_t other : {epoch + 1, epoch + 7}) {
    auto refused = store().Commit(
        Txn().Put(MakeApp("b"), kMustNotExist).AddEvent(MakeEvent("b", "m")).Fenced(other));
    ASSERT_FALSE(refused.has_value()) << "epoch " << other;
    EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  }
  // The fence is read last, but a stale writer is told it no longer leads
  // even when its txn fails otherwise too ("a" exists).
  auto conflicting = store().Commit(Txn().Put(MakeApp("a"), kMustNotExist).Fenced(epoch + 1));
  ASSERT_FALSE(conflicting.has_value());
  EXPECT_EQ(conflicting.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store().Revision(), before);
  EXPECT_EQ(store().GetApp("b").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().ChangesSince(before, 10)->size(), 0u);
  EXPECT_EQ(store().ListEvents({.app = "b"})->size(), 0u);
  // An unfenced txn is not affected by the lease.
  MustCommit(Txn().Put(MakeApp("b"), kMustNotExist));
}

INSTANTIATE_TEST_SUITE_P(
    AllStores, StoreContractTest,
    ::testing::Values(
        StoreFactory{"Memory", [](Retention r) { return std::make_unique<MemoryHarness>(r); }},
        StoreFactory{"Sqlite", [](Retention r) { return std::make_unique<SqliteHarness>(r); }},
        StoreFactory{"Postgres", [](Retention r) { return std::make_unique<PostgresHarness>(r); }}),
    [](const ::testing::TestParamInfo<StoreFactory>& info) { return info.param.name; });

}  // namespace
}  // namespace skiff::store
