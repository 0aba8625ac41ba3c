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

// Verify that a txn with record ops or audit entries is not empty but has no
// changes, and that preconditions alone leave it empty.
TEST(StoreTypesTest, TxnEmptyAndChanges) {
  Txn preconditions;
  preconditions.RequireRecord(RecordKind::kProject, "p")
      .RequireNoApp("x", [](const model::App&) { return true; })
      .ClaimDomains("a", {"d"});
  EXPECT_TRUE(preconditions.empty());
  EXPECT_FALSE(preconditions.has_changes());
  Txn records;
  records.PutRecord(RecordKind::kProject, "p", "v")
      .CreateRecord(RecordKind::kUser, "u", "w")
      .DeleteRecord(RecordKind::kSecret, "s");
  EXPECT_FALSE(records.empty());
  EXPECT_FALSE(records.has_changes());
  ASSERT_EQ(records.record_ops().size(), 3u);
  EXPECT_EQ(records.record_ops()[1].type, Txn::RecordOp::Type::kCreate);
  EXPECT_EQ(records.record_ops()[2].type, Txn::RecordOp::Type::kDelete);
  EXPECT_FALSE(Txn().Audit(AuditEntry{}).empty());
  EXPECT_TRUE(Txn().AddEvent(MakeEvent("a", "m")).has_changes());
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

// Verify that the autoscaler's fields of an app (its count, when it scaled
// and when a request last woke it) are kept, read back by this store and by
// another opened on the same database, as after a restart.
TEST_P(StoreContractTest, AutoscaleFieldsSurviveReopen) {
  model::App app = MakeApp("web");
  app.autoscaled_replicas = 0;
  app.scaled_up_at = Time(std::chrono::milliseconds(1'795'335'377'123));
  app.scaled_down_at = app.scaled_up_at + std::chrono::seconds(30);
  app.woken_at = app.scaled_up_at + std::chrono::seconds(45);
  MustCommit(Txn().Put(app, kMustNotExist));
  std::unique_ptr<Store> another = harness_->OpenAnother();
  for (Store* s : {&store(), another.get()}) {
    if (s == nullptr) continue;
    auto back = s->GetApp("web");
    ASSERT_TRUE(back.has_value()) << back.error().ToString();
    EXPECT_EQ(back->autoscaled_replicas, 0);
    EXPECT_EQ(back->scaled_up_at, app.scaled_up_at);
    EXPECT_EQ(back->scaled_down_at, app.scaled_down_at);
    EXPECT_EQ(back->woken_at, app.woken_at);
  }
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

// An app in project `project`, as far as these tests tell (a spec's env).
model::App AppInProject(const std::string& name, const std::string& project) {
  model::App app = MakeApp(name);
  app.spec.env["PROJECT"] = project;
  return app;
}

std::function<bool(const model::App&)> InProject(const std::string& project) {
  return [project](const model::App& app) {
    auto it = app.spec.env.find("PROJECT");
    return it != app.spec.env.end() && it->second == project;
  };
}

// Verify that a txn's record ops commit with its objects, take no revision of
// their own and show in no change.
TEST_P(StoreContractTest, RecordOpsCommitWithObjects) {
  ASSERT_TRUE(store().PutRecord(RecordKind::kApiToken, "old", "x"));
  const int64_t r = MustCommit(Txn()
                                   .Put(MakeApp("a"), kMustNotExist)
                                   .PutRecord(RecordKind::kProject, "p", "v1")
                                   .CreateRecord(RecordKind::kSecret, "a/db", "sealed")
                                   .DeleteRecord(RecordKind::kApiToken, "old"));
  EXPECT_EQ(r, 1);
  EXPECT_EQ(store().Revision(), 1);
  EXPECT_EQ(store().GetRecord(RecordKind::kProject, "p").value_or(""), "v1");
  EXPECT_EQ(store().GetRecord(RecordKind::kSecret, "a/db").value_or(""), "sealed");
  EXPECT_EQ(store().GetRecord(RecordKind::kApiToken, "old").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().ChangesSince(0, 10)->size(), 1u);
  // A put replaces.
  MustCommit(Txn().PutRecord(RecordKind::kProject, "p", "v2"));
  EXPECT_EQ(store().GetRecord(RecordKind::kProject, "p").value_or(""), "v2");
}

// Verify that a txn whose object op fails writes none of its record ops.
TEST_P(StoreContractTest, FailedObjectOpLeavesRecordsUntouched) {
  const int64_t v = MustCommit(Txn().Put(MakeApp("a"), kMustNotExist));
  ASSERT_TRUE(store().PutRecord(RecordKind::kProject, "p", "v1"));
  ASSERT_TRUE(store().PutRecord(RecordKind::kProject, "gone", "g"));
  auto r = store().Commit(Txn()
                              .PutRecord(RecordKind::kProject, "p", "v2")
                              .CreateRecord(RecordKind::kProject, "new", "n")
                              .DeleteRecord(RecordKind::kProject, "gone")
                              .Put(MakeApp("a", 2), v + 5));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kAborted) << r.error().ToString();
  EXPECT_EQ(store().GetRecord(RecordKind::kProject, "p").value_or(""), "v1");
  EXPECT_EQ(store().GetRecord(RecordKind::kProject, "new").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().GetRecord(RecordKind::kProject, "gone").value_or(""), "g");
  EXPECT_EQ(store().Revision(), v);
}

// Verify that a record op that fails (a create of a present key, a delete of
// an absent one) fails the whole txn, with the code and a message naming the
// kind and key, and writes none of its objects, events or other records.
TEST_P(StoreContractTest, FailedRecordOpLeavesObjectsUntouched) {
  const int64_t v = MustCommit(Txn().Put(MakeApp("a"), kMustNotExist));
  ASSERT_TRUE(store().PutRecord(RecordKind::kProject, "p", "v1"));
  struct Case {
    Txn txn;
    ErrorCode code;
    std::string names;
  };
  std::vector<Case> cases;
  cases.push_back({Txn()
                       .Put(MakeApp("b"), kMustNotExist)
                       .AddEvent(MakeEvent("b", "created"))
                       .PutRecord(RecordKind::kSecret, "b/x", "s")
                       .CreateRecord(RecordKind::kProject, "p", "v2"),
                   ErrorCode::kAlreadyExists, "project p"});
  cases.push_back({Txn()
                       .Put(MakeApp("b"), kMustNotExist)
                       .PutRecord(RecordKind::kSecret, "b/x", "s")
                       .DeleteRecord(RecordKind::kUser, "nobody"),
                   ErrorCode::kNotFound, "user nobody"});
  cases.push_back({Txn().Put(MakeApp("b"), kMustNotExist).PutRecord(RecordKind::kSecret, "", "s"),
                   ErrorCode::kInvalidArgument, "key"});
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    auto r = store().Commit(cases[i].txn);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, cases[i].code) << r.error().ToString();
    EXPECT_NE(r.error().ToString().find(cases[i].names), std::string::npos) << r.error().ToString();
    EXPECT_EQ(store().Revision(), v);
    EXPECT_EQ(store().GetApp("b").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(store().ListEvents({})->size(), 0u);
    EXPECT_EQ(store().ChangesSince(v, 10)->size(), 0u);
    EXPECT_EQ(store().GetRecord(RecordKind::kSecret, "b/x").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(store().GetRecord(RecordKind::kProject, "p").value_or(""), "v1");
  }
  EXPECT_EQ(MustCommit(Txn().Put(MakeApp("b"), kMustNotExist)), v + 1);
}

// Verify that later record ops of a txn see the earlier ones on the same key.
TEST_P(StoreContractTest, RecordOpsInTxnSeeEarlierOps) {
  MustCommit(Txn()
                 .CreateRecord(RecordKind::kUser, "u", "1")
                 .DeleteRecord(RecordKind::kUser, "u")
                 .CreateRecord(RecordKind::kUser, "u", "2"));
  EXPECT_EQ(store().GetRecord(RecordKind::kUser, "u").value_or(""), "2");
  EXPECT_EQ(
      store()
          .Commit(Txn().DeleteRecord(RecordKind::kUser, "u").DeleteRecord(RecordKind::kUser, "u"))
          .error()
          .code,
      ErrorCode::kNotFound);
  EXPECT_EQ(store()
                .Commit(Txn()
                            .CreateRecord(RecordKind::kUser, "v", "1")
                            .CreateRecord(RecordKind::kUser, "v", "2"))
                .error()
                .code,
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(store().GetRecord(RecordKind::kUser, "u").value_or(""), "2");
  EXPECT_EQ(store().GetRecord(RecordKind::kUser, "v").error().code, ErrorCode::kNotFound);
}

// Verify that a txn of record ops and audit entries alone commits without a
// revision: it returns the current one, which does not move, no subscriber
// is told and no change is logged; preconditions alone are still an empty txn.
TEST_P(StoreContractTest, RecordOnlyTxnTakesNoRevision) {
  const int64_t before = MustCommit(Txn().Put(MakeApp("a"), kMustNotExist));
  std::atomic<int> told = 0;
  auto subscription = store().Subscribe([&](int64_t) { ++told; });
  EXPECT_EQ(MustCommit(Txn().PutRecord(RecordKind::kProject, "p", "v")), before);
  EXPECT_EQ(MustCommit(Txn().Audit(AuditEntry{.who = "alice"})), before);
  EXPECT_EQ(MustCommit(Txn()
                           .DeleteRecord(RecordKind::kProject, "p")
                           .Audit(AuditEntry{.who = "alice"})
                           .RequireNoApp("nothing", [](const model::App&) { return false; })),
            before);
  EXPECT_EQ(store().Revision(), before);
  EXPECT_TRUE(store().ChangesSince(before, 10)->empty());
  EXPECT_EQ(told.load(), 0);
  EXPECT_EQ(store()
                .Commit(Txn().RequireRecord(RecordKind::kProject, "p").ClaimDomains("a", {"x"}))
                .error()
                .code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(MustCommit(Txn().Put(MakeApp("b"), kMustNotExist)), before + 1);
  EXPECT_EQ(told.load(), 1);
}

// Verify that RequireRecord lets a txn commit only when the record is
// present once the txn's own ops applied, else kNotFound naming kind and key
// with nothing written.
TEST_P(StoreContractTest, RequireRecordIsAPrecondition) {
  ASSERT_TRUE(store().PutRecord(RecordKind::kProject, "p", "v"));
  EXPECT_EQ(
      MustCommit(Txn().Put(MakeApp("a"), kMustNotExist).RequireRecord(RecordKind::kProject, "p")),
      1);
  auto absent = store().Commit(Txn()
                                   .Put(MakeApp("b"), kMustNotExist)
                                   .PutRecord(RecordKind::kSecret, "b/x", "s")
                                   .RequireRecord(RecordKind::kProject, "q"));
  ASSERT_FALSE(absent.has_value());
  EXPECT_EQ(absent.error().code, ErrorCode::kNotFound);
  EXPECT_NE(absent.error().message.find("project q"), std::string::npos) << absent.error().message;
  EXPECT_EQ(store().GetApp("b").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().GetRecord(RecordKind::kSecret, "b/x").error().code, ErrorCode::kNotFound);
  // Deleted by the txn itself: absent at commit time.
  EXPECT_EQ(store()
                .Commit(Txn()
                            .DeleteRecord(RecordKind::kProject, "p")
                            .RequireRecord(RecordKind::kProject, "p"))
                .error()
                .code,
            ErrorCode::kNotFound);
  EXPECT_EQ(store().GetRecord(RecordKind::kProject, "p").value_or(""), "v");
  // Created by the txn itself: present.
  EXPECT_EQ(MustCommit(Txn()
                           .CreateRecord(RecordKind::kProject, "q", "w")
                           .Put(MakeApp("b"), kMustNotExist)
                           .RequireRecord(RecordKind::kProject, "q")),
            2);
  EXPECT_EQ(store().Revision(), 2);
}

// Verify that RequireNoApp fails a txn with kFailedPrecondition naming the
// first matching app while any app matches once the txn's own ops applied,
// and lets it commit otherwise.
TEST_P(StoreContractTest, RequireNoAppIsAPrecondition) {
  const int64_t v = MustCommit(Txn()
                                   .Put(AppInProject("b", "p"), kMustNotExist)
                                   .Put(AppInProject("a", "p"), kMustNotExist)
                                   .Put(AppInProject("c", "q"), kMustNotExist)
                                   .PutRecord(RecordKind::kProject, "p", "P")
                                   .PutRecord(RecordKind::kProject, "q", "Q"));
  auto in_use = store().Commit(Txn()
                                   .DeleteRecord(RecordKind::kProject, "p")
                                   .Audit(AuditEntry{.who = "alice"})
                                   .RequireNoApp("project p is in use", InProject("p")));
  ASSERT_FALSE(in_use.has_value());
  EXPECT_EQ(in_use.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(in_use.error().message, "project p is in use: app a");
  EXPECT_EQ(store().GetRecord(RecordKind::kProject, "p").value_or(""), "P");
  EXPECT_TRUE(store().ListAudit({})->empty());
  // An app the txn itself moves into the project counts too.
  EXPECT_EQ(store()
                .Commit(Txn()
                            .Put(AppInProject("c", "p"), v)
                            .DeleteRecord(RecordKind::kProject, "q")
                            .RequireNoApp("project q", InProject("q"))
                            .RequireNoApp("project p",
                                          [](const model::App& app) {
                                            return app.name == "c" && InProject("p")(app);
                                          }))
                .error()
                .code,
            ErrorCode::kFailedPrecondition);
  // Once the txn's own ops removed its apps, the project may go.
  const int64_t r = MustCommit(Txn()
                                   .Delete(MakeApp("a"), kAnyVersion)
                                   .Delete(MakeApp("b"), kAnyVersion)
                                   .DeleteRecord(RecordKind::kProject, "p")
                                   .RequireNoApp("project p is in use", InProject("p")));
  EXPECT_EQ(r, v + 2);
  EXPECT_EQ(store().GetRecord(RecordKind::kProject, "p").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().GetApp("c")->version, v);
}

// Verify that a fenced txn at a stale epoch writes none of its record ops or
// audit entries: kFailedPrecondition, whatever else it got wrong.
TEST_P(StoreContractTest, StaleFencedTxnWritesNoRecords) {
  std::unique_ptr<LeaderLease> lease = harness_->NewLease();
  auto acquired = lease->TryAcquire("a", std::chrono::seconds(30));
  ASSERT_TRUE(acquired.has_value()) << acquired.error().ToString();
  ASSERT_TRUE(acquired->acquired);
  ASSERT_TRUE(store().PutRecord(RecordKind::kProject, "p", "v"));
  for (Txn txn : {Txn().PutRecord(RecordKind::kProject, "p", "w").Audit(AuditEntry{}),
                  Txn().CreateRecord(RecordKind::kProject, "p", "w")}) {
    auto refused = store().Commit(txn.Fenced(acquired->epoch + 1));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition) << refused.error().ToString();
  }
  EXPECT_EQ(store().GetRecord(RecordKind::kProject, "p").value_or(""), "v");
  EXPECT_TRUE(store().ListAudit({})->empty());
}

// An entry with every field set, at `time`.
AuditEntry MakeAudit(const std::string& who, const std::string& app, Time time,
                     const std::string& request_id = "req") {
  return AuditEntry{.time = time,
                    .who = who,
                    .role = "deployer",
                    .credential = "token:abc",
                    .source = "127.0.0.1",
                    .method = "PUT",
                    .path = "/v1/apps/" + app,
                    .project = "p",
                    .app = app,
                    .request_id = request_id};
}

const Time kAuditT0 = Time(std::chrono::seconds(1'700'000'000));

// Verify that an audit entry in a txn is written with it, every field kept
// (time to the millisecond), its revision the txn's last; 0 in a txn without
// object ops; and that a failed txn leaves no entry.
TEST_P(StoreContractTest, AuditInTxnTakesTheTxnsRevision) {
  const Time t = kAuditT0 + std::chrono::milliseconds(123) + std::chrono::microseconds(456);
  AuditEntry entry = MakeAudit("alice", "a", t, "r1");
  entry.id = 99;        // ignored
  entry.revision = 77;  // set by the store
  const int64_t r = MustCommit(
      Txn().Put(MakeApp("a"), kMustNotExist).AddEvent(MakeEvent("a", "applied")).Audit(entry));
  ASSERT_EQ(r, 2);
  auto failed =
      store().Commit(Txn().Put(MakeApp("a"), kMustNotExist).Audit(MakeAudit("bob", "a", t)));
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kAlreadyExists);
  MustCommit(Txn().PutRecord(RecordKind::kProject, "p", "v").Audit(MakeAudit("carol", "", t)));

  auto listed = store().ListAudit({});
  ASSERT_TRUE(listed.has_value()) << listed.error().ToString();
  ASSERT_EQ(listed->size(), 2u);
  AuditEntry want = entry;
  want.id = (*listed)[0].id;
  want.time = kAuditT0 + std::chrono::milliseconds(123);
  want.revision = 2;
  EXPECT_EQ((*listed)[0], want);
  EXPECT_GT((*listed)[0].id, 0);
  EXPECT_EQ((*listed)[1].who, "carol");
  EXPECT_EQ((*listed)[1].revision, 0);
  EXPECT_GT((*listed)[1].id, (*listed)[0].id);
}

// Verify that AppendAudit gives increasing ids, ListAudit filters by since,
// who, app and after_id, and its limit keeps the newest (or, oldest_first,
// the oldest) of those that match, ascending by id either way.
TEST_P(StoreContractTest, AuditAppendAndListFilters) {
  std::vector<int64_t> ids;
  const char* whos[] = {"alice", "bob", "alice", "bob", "alice"};
  const char* apps[] = {"a", "a", "b", "b", "a"};
  for (int i = 0; i < 5; ++i) {
    auto id = store().AppendAudit(
        MakeAudit(whos[i], apps[i], kAuditT0 + std::chrono::seconds(i), "r" + std::to_string(i)));
    ASSERT_TRUE(id.has_value()) << id.error().ToString();
    if (!ids.empty()) {
      EXPECT_GT(*id, ids.back());
    }
    ids.push_back(*id);
  }
  auto ids_of = [](const Result<std::vector<AuditEntry>>& listed) {
    std::vector<int64_t> out;
    if (!listed) {
      ADD_FAILURE() << listed.error().ToString();
      return out;
    }
    for (const AuditEntry& e : *listed) out.push_back(e.id);
    return out;
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(ids_of(store().ListAudit({})), ids);
  EXPECT_EQ(ids_of(store().ListAudit({.who = "alice"})), (V{ids[0], ids[2], ids[4]}));
  EXPECT_EQ(ids_of(store().ListAudit({.app = "b"})), (V{ids[2], ids[3]}));
  EXPECT_EQ(ids_of(store().ListAudit({.who = "alice", .app = "a"})), (V{ids[0], ids[4]}));
  EXPECT_EQ(ids_of(store().ListAudit({.since = kAuditT0 + std::chrono::seconds(3)})),
            (V{ids[3], ids[4]}));
  // A bound between milliseconds: an entry at .000 is before .000001.
  EXPECT_EQ(ids_of(store().ListAudit(
                {.since = kAuditT0 + std::chrono::seconds(3) + std::chrono::microseconds(1)})),
            (V{ids[4]}));
  EXPECT_EQ(ids_of(store().ListAudit({.after_id = ids[2]})), (V{ids[3], ids[4]}));
  EXPECT_EQ(ids_of(store().ListAudit({.limit = 2})), (V{ids[3], ids[4]}));
  EXPECT_EQ(ids_of(store().ListAudit({.who = "alice", .limit = 2})), (V{ids[2], ids[4]}));
  EXPECT_EQ(ids_of(store().ListAudit({.limit = 2, .oldest_first = true})), (V{ids[0], ids[1]}));
  EXPECT_EQ(ids_of(store().ListAudit({.after_id = ids[0], .limit = 2, .oldest_first = true})),
            (V{ids[1], ids[2]}));
  EXPECT_TRUE(ids_of(store().ListAudit({.who = "nobody"})).empty());
  EXPECT_EQ(store().Revision(), 0);
}

// Verify that SetAuditCode sets the code of every entry of the request that
// has none yet, and is kNotFound when there is none (so a second call is).
TEST_P(StoreContractTest, SetAuditCodeFillsTheUnknownCodes) {
  MustCommit(Txn().Put(MakeApp("a"), kMustNotExist).Audit(MakeAudit("alice", "a", kAuditT0, "r1")));
  ASSERT_TRUE(store().AppendAudit(MakeAudit("alice", "a", kAuditT0, "r1")));
  AuditEntry answered = MakeAudit("alice", "a", kAuditT0, "r1");
  answered.code = 403;
  ASSERT_TRUE(store().AppendAudit(answered));
  ASSERT_TRUE(store().AppendAudit(MakeAudit("bob", "a", kAuditT0, "r2")));

  ASSERT_TRUE(store().SetAuditCode("r1", 201));
  auto listed = store().ListAudit({});
  ASSERT_TRUE(listed.has_value()) << listed.error().ToString();
  ASSERT_EQ(listed->size(), 4u);
  EXPECT_EQ((*listed)[0].code, 201);
  EXPECT_EQ((*listed)[1].code, 201);
  EXPECT_EQ((*listed)[2].code, 403);
  EXPECT_EQ((*listed)[3].code, 0);
  EXPECT_EQ(store().SetAuditCode("r1", 500).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().SetAuditCode("nope", 200).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().SetAuditCode("", 200).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().SetAuditCode("r2", 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store().ListAudit({})->at(0).code, 201);
}

// Verify that PruneAudit removes the entries older than its bound and says
// how many, and that ids are not given again once the newest were pruned.
TEST_P(StoreContractTest, PruneAuditRemovesOlderEntries) {
  int64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    auto id = store().AppendAudit(MakeAudit("alice", "a", kAuditT0 + std::chrono::seconds(i)));
    ASSERT_TRUE(id.has_value()) << id.error().ToString();
    last = *id;
  }
  EXPECT_EQ(store().PruneAudit(kAuditT0).value_or(-1), 0);
  EXPECT_EQ(store().PruneAudit(kAuditT0 + std::chrono::seconds(1)).value_or(-1), 1);
  auto left = store().ListAudit({});
  ASSERT_TRUE(left.has_value()) << left.error().ToString();
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].time, kAuditT0 + std::chrono::seconds(1));
  EXPECT_EQ(store().PruneAudit(kAuditT0 + std::chrono::hours(1)).value_or(-1), 2);
  EXPECT_TRUE(store().ListAudit({})->empty());
  auto next = store().AppendAudit(MakeAudit("alice", "a", kAuditT0));
  ASSERT_TRUE(next.has_value()) << next.error().ToString();
  EXPECT_GT(*next, last);
}

// Verify that entries appended at once on two stores of one database (two
// servers) all land with distinct ids.
TEST_P(StoreContractTest, ConcurrentAuditIdsAreUnique) {
  std::unique_ptr<Store> another = harness_->OpenAnother();
  Store& second = another != nullptr ? *another : store();
  Store* const stores[] = {&store(), &second};
  constexpr int kWriters = 4;
  constexpr int kEach = 20;
  std::latch start(kWriters);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      start.arrive_and_wait();
      for (int j = 0; j < kEach; ++j) {
        Result<int64_t> id = j % 2 == 0 ? stores[i % 2]->AppendAudit(MakeAudit("w", "a", kAuditT0))
                                        : stores[i % 2]
                                              ->Commit(Txn().Audit(MakeAudit("w", "a", kAuditT0)))
                                              .map([](int64_t) { return int64_t{0}; });
        if (!id) ADD_FAILURE() << id.error().ToString();
      }
    });
  }
  for (std::thread& t : writers) t.join();
  auto listed = store().ListAudit({.limit = 1000});
  ASSERT_TRUE(listed.has_value()) << listed.error().ToString();
  ASSERT_EQ(listed->size(), size_t{kWriters * kEach});
  for (size_t i = 1; i < listed->size(); ++i) EXPECT_GT((*listed)[i].id, (*listed)[i - 1].id);
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
