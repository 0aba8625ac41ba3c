// SqliteStore beyond the shared contract (store_contract_test.cc): what lives in
// the file across reopening, and the schema.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "fakes/testing.h"
#include "store/sqlite/migrations.h"
#include "store/store_test_objects.h"

namespace skiff::store {
namespace {

using testing::MakeApp;
using testing::MakeDeployment;
using testing::MakeEvent;
using testing::MakeInstance;
using testing::MakeNode;

std::unique_ptr<SqliteStore> MustOpen(const std::string& path, SqliteStore::Options options = {}) {
  auto store = SqliteStore::Open(path, options);
  EXPECT_TRUE(store.has_value()) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

// Runs one statement on a separate connection and returns the first column of
// its first row as text.
std::string QueryText(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return out;
}

// Verify that reopening keeps every object, the revision counter, the change log
// and the events.
TEST(SqliteStoreTest, ReopenKeepsEverything) {
  skiff::testing::TempDir dir;
  const std::string path = dir.File("skiff.db");
  {
    auto store = MustOpen(path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Commit(Txn()
                                  .Put(MakeApp("a"), kMustNotExist)
                                  .Put(MakeDeployment("a", 1), kMustNotExist)
                                  .Put(MakeInstance("i", "a", "n"), kMustNotExist)
                                  .Put(MakeNode("n"), kMustNotExist)
                                  .AddEvent(MakeEvent("a", "hello"))));
    ASSERT_TRUE(store->Commit(Txn().Delete(MakeNode("n"), 4)));
  }
  auto store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Revision(), 6);
  EXPECT_EQ(store->GetApp("a")->version, 1);
  EXPECT_EQ(store->GetDeployment("a", 1)->version, 2);
  EXPECT_EQ(store->GetInstance("i")->node, "n");
  EXPECT_EQ(store->GetNode("n").error().code, ErrorCode::kNotFound);
  auto events = store->ListEvents({});
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].id, 5);
  EXPECT_EQ((*events)[0].message, "hello");
  auto changes = store->ChangesSince(0, 100);
  ASSERT_TRUE(changes.has_value());
  ASSERT_EQ(changes->size(), 6u);
  EXPECT_TRUE((*changes)[5].deleted);
  EXPECT_EQ(std::get<model::Node>((*changes)[5].object).id, "n");
  // The counter continues where it was.
  EXPECT_EQ(store->Commit(Txn().Put(MakeNode("n"), kMustNotExist)).value_or(0), 7);
}

// Verify that the compaction floor and the event retention survive a reopen.
TEST(SqliteStoreTest, ReopenKeepsCompaction) {
  skiff::testing::TempDir dir;
  const std::string path = dir.File("skiff.db");
  SqliteStore::Options options;
  options.change_retention = 2;
  options.event_retention = 2;
  {
    auto store = MustOpen(path, options);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(store->Commit(Txn().AddEvent(MakeEvent("a", "e"))));
  }
  auto store = MustOpen(path, options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->ChangesSince(1, 10).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store->ChangesSince(2, 10)->size(), 2u);
  ASSERT_TRUE(store->Commit(Txn().AddEvent(MakeEvent("a", "e"))));
  auto events = store->ListEvents({});
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].id, 4);
  EXPECT_EQ((*events)[1].id, 5);
}

// Verify that the file is in WAL mode and at the latest schema version.
TEST(SqliteStoreTest, FileIsWalAtLatestSchema) {
  skiff::testing::TempDir dir;
  const std::string path = dir.File("skiff.db");
  auto store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryText(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(QueryText(path, "PRAGMA user_version"), std::to_string(sqlite::LatestSchemaVersion()));
}

// Verify that a database written by a newer schema is refused with kFailedPrecondition.
TEST(SqliteStoreTest, NewerSchemaIsRefused) {
  skiff::testing::TempDir dir;
  const std::string path = dir.File("skiff.db");
  { ASSERT_NE(MustOpen(path), nullptr); }
  QueryText(path, "PRAGMA user_version = " + std::to_string(sqlite::LatestSchemaVersion() + 1));
  auto store = SqliteStore::Open(path);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kFailedPrecondition);
}

// Verify that a path that cannot be opened is kUnavailable.
TEST(SqliteStoreTest, UnopenablePathIsUnavailable) {
  skiff::testing::TempDir dir;
  auto store = SqliteStore::Open(dir.File("missing-dir/skiff.db"));
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
}

// Verify that a stored row that no longer decodes is reported as kInternal.
TEST(SqliteStoreTest, CorruptRowIsInternal) {
  skiff::testing::TempDir dir;
  const std::string path = dir.File("skiff.db");
  auto store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Commit(Txn().Put(MakeNode("n"), kMustNotExist)));
  QueryText(path, "UPDATE objects SET data = 'not json' WHERE key = 'n'");
  EXPECT_EQ(store->GetNode("n").error().code, ErrorCode::kInternal);
}

// Verify that two stores on one file number their commits from the file, not
// from what each last wrote: every write reads the revision inside its
// transaction (a store that trusted its cached revision would reuse one).
TEST(SqliteStoreTest, TwoStoresOnOneFileShareTheRevisions) {
  skiff::testing::TempDir dir;
  const std::string path = dir.File("skiff.db");
  auto a = MustOpen(path);
  auto b = MustOpen(path);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->Commit(Txn().Put(MakeApp("x"), kMustNotExist)).value_or(-1), 1);
  EXPECT_EQ(b->Commit(Txn().Put(MakeApp("y"), kMustNotExist)).value_or(-1), 2);
  EXPECT_EQ(a->Commit(Txn().AddEvent(MakeEvent("x", "e"))).value_or(-1), 3);
  auto changes = b->ChangesSince(0, 10);
  ASSERT_TRUE(changes.has_value()) << changes.error().ToString();
  ASSERT_EQ(changes->size(), 3u);
  // Revision() is the newest b has seen: ChangesSince read the log state.
  EXPECT_EQ(b->Revision(), 3);
  EXPECT_EQ(QueryText(path, "SELECT events FROM meta"), "1");
}

}  // namespace
}  // namespace skiff::store
