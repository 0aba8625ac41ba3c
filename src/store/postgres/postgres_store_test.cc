// PostgresStore beyond the shared contract (store_contract_test.cc runs that
// against it too): opening (bad connection strings, the schema's version), a
// lost connection, and hearing of another server's commits. On the binary's
// one PostgreSQL (fakes/postgres_server.h), a fresh database per test.
#include "store/postgres/postgres_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include "fakes/postgres_server.h"
#include "fakes/testing.h"
#include "store/postgres/connection.h"
#include "store/postgres/migrations.h"
#include "store/store_test_objects.h"

namespace skiff::store {
namespace {

using skiff::testing::PollUntil;
using skiff::testing::PostgresServer;
using testing::MakeApp;
using testing::MakeEvent;

std::unique_ptr<PostgresStore> MustOpen(const std::string& conninfo) {
  auto store = PostgresStore::Open(conninfo);
  EXPECT_TRUE(store.has_value()) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

// Verify that a database whose schema is newer than this build's is refused,
// naming the version found and the one known, and that the current one opens.
TEST(PostgresStoreTest, NewerSchemaIsRefused) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  { ASSERT_NE(MustOpen(*db), nullptr); }
  ASSERT_NE(MustOpen(*db), nullptr);  // migrated already: opens again
  const std::string name = PostgresServer::DatabaseOf(*db);
  EXPECT_EQ(server->Query(name, "SELECT version FROM schema_version").value_or(""),
            std::to_string(postgres::LatestSchemaVersion()));
  ASSERT_TRUE(server->Query(name, "UPDATE schema_version SET version = 99"));
  auto opened = PostgresStore::Open(*db);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(opened.error().message.find("schema version is 99"), std::string::npos)
      << opened.error().message;
  EXPECT_NE(opened.error().message.find(std::to_string(postgres::LatestSchemaVersion()) +
                                        " this build knows"),
            std::string::npos)
      << opened.error().message;
}

// Verify that a database an older Skiff left is upgraded in order on open: a
// fresh one taken to schema 1, then to 2 (the leader lease, as the build
// before records made it, with a term under way), opens at the latest
// version with its records table working and its lease row kept; and that
// MigrateTo refuses a version it has no step for.
TEST(PostgresStoreTest, OlderSchemasAreUpgraded) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  const std::string name = PostgresServer::DatabaseOf(*db);
  auto version = [&] { return server->Query(name, "SELECT version FROM schema_version"); };
  auto has_records = [&] {
    return server->Query(name, "SELECT to_regclass('records') IS NOT NULL").value_or("");
  };
  {
    postgres::Connection old(*db, {});
    ASSERT_TRUE(old.EnsureConnected());
    EXPECT_EQ(postgres::MigrateTo(old, 0).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(postgres::MigrateTo(old, postgres::LatestSchemaVersion() + 1).error().code,
              ErrorCode::kInvalidArgument);
    ASSERT_TRUE(postgres::MigrateTo(old, 1));
    EXPECT_EQ(version().value_or(""), "1");
    ASSERT_TRUE(postgres::MigrateTo(old, 2));
    EXPECT_EQ(version().value_or(""), "2");
  }
  EXPECT_EQ(has_records(), "f");
  ASSERT_TRUE(server->Query(name, "UPDATE leader SET holder = 'old', epoch = 7"));

  auto store = MustOpen(*db);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(version().value_or(""), std::to_string(postgres::LatestSchemaVersion()));
  EXPECT_EQ(has_records(), "t");
  EXPECT_EQ(server->Query(name, "SELECT holder || ':' || epoch FROM leader").value_or(""), "old:7");
  ASSERT_TRUE(store->CreateRecord(RecordKind::kAdminToken, "admin", "hash"));
  EXPECT_EQ(store->GetRecord(RecordKind::kAdminToken, "admin").value_or(""), "hash");
  EXPECT_EQ(store->Commit(Txn().Put(MakeApp("a"), kMustNotExist)).value_or(0), 1);
}

// Verify that an unreachable server and an unknown user each fail Open with
// kUnavailable and libpq's reason, and a malformed connection string with
// kInvalidArgument (no retry fixes it).
TEST(PostgresStoreTest, BadConnectionStringsFailOpen) {
  SKIFF_REQUIRE_POSTGRES(server);
  skiff::testing::TempDir nowhere;
  auto unreachable = PostgresStore::Open("host=" + nowhere.path() + " dbname=skiff");
  ASSERT_FALSE(unreachable.has_value());
  EXPECT_EQ(unreachable.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(unreachable.error().message.find("cannot connect"), std::string::npos);
  EXPECT_NE(unreachable.error().message.find("No such file"), std::string::npos)
      << unreachable.error().message;

  auto malformed = PostgresStore::Open("host = = nonsense");
  ASSERT_FALSE(malformed.has_value());
  EXPECT_EQ(malformed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(malformed.error().message.find("malformed connection string"), std::string::npos)
      << malformed.error().message;

  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  auto stranger = PostgresStore::Open(*db + " user=nosuchuser");
  ASSERT_FALSE(stranger.has_value());
  EXPECT_EQ(stranger.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(stranger.error().message.find("\"nosuchuser\" does not exist"), std::string::npos)
      << stranger.error().message;
}

// Verify that a store whose connections were terminated reconnects on its
// next use: the commit after goes through, and nothing was half-written.
TEST(PostgresStoreTest, ReconnectsAfterItsConnectionIsTerminated) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  auto store = MustOpen(*db);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Commit(Txn().Put(MakeApp("a"), kMustNotExist)));
  // The listener connects on its own thread: terminated during its first
  // connect, it would count one connect, not two.
  ASSERT_TRUE(PollUntil([&] { return store->listener_connects() >= 1; }));
  auto terminated = server->TerminateConnections(PostgresServer::DatabaseOf(*db));
  ASSERT_TRUE(terminated.has_value()) << terminated.error().ToString();
  EXPECT_GE(*terminated, 2);  // the store's and its listener's
  auto committed =
      store->Commit(Txn().Put(MakeApp("b"), kMustNotExist).AddEvent(MakeEvent("b", "e")));
  ASSERT_TRUE(committed.has_value()) << committed.error().ToString();
  EXPECT_EQ(*committed, 3);
  EXPECT_EQ(store->ListApps()->size(), 2u);
  EXPECT_EQ(store->ChangesSince(0, 100)->size(), 3u);
  EXPECT_TRUE(PollUntil([&] { return store->listener_connects() >= 2; }));
}

// Verify that a commit waiting for the log state's lock, which another
// session holds, gives up after the lock timeout with kUnavailable (not
// waiting under the engine's lock for as long as the other holds it) and
// leaves nothing; the next commit goes through once the lock is released.
TEST(PostgresStoreTest, CommitBlockedOnTheWriteLockIsUnavailable) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  PostgresStore::Options options;
  options.lock_timeout = std::chrono::milliseconds(500);
  auto opened = PostgresStore::Open(*db, options);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  auto& store = *opened;
  // A transaction held open, as another server's write would: libpq directly
  // (PostgresServer::Query commits each statement).
  std::unique_ptr<PGconn, decltype(&PQfinish)> holder(PQconnectdb(db->c_str()), &PQfinish);
  ASSERT_EQ(PQstatus(holder.get()), CONNECTION_OK) << PQerrorMessage(holder.get());
  auto exec = [&](const char* sql) {
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(holder.get(), sql), &PQclear);
    return PQresultStatus(r.get());
  };
  ASSERT_EQ(exec("BEGIN"), PGRES_COMMAND_OK);
  ASSERT_EQ(exec("SELECT revision FROM log_state WHERE id = 1 FOR UPDATE"), PGRES_TUPLES_OK);

  // The holder keeps its lock until released below: the commit returning at
  // all, on the lock timeout, is the behaviour (no elapsed time asserted).
  auto blocked = store->Commit(Txn().Put(MakeApp("a"), kMustNotExist));
  ASSERT_FALSE(blocked.has_value());
  EXPECT_EQ(blocked.error().code, ErrorCode::kUnavailable) << blocked.error().ToString();
  EXPECT_NE(blocked.error().message.find("lock timeout"), std::string::npos)
      << blocked.error().message;

  ASSERT_EQ(exec("ROLLBACK"), PGRES_COMMAND_OK);
  EXPECT_EQ(store->ListApps().value_or(std::vector<model::App>{{}}).size(), 0u);
  EXPECT_EQ(store->Commit(Txn().Put(MakeApp("a"), kMustNotExist)).value_or(-1), 1);
}

// Verify that a commit through one store is told to another store's
// subscribers on the same database (two servers), through its listener.
TEST(PostgresStoreTest, SubscribersHearOtherServersCommits) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  // Only a NOTIFY can wake the listeners: a broken one fails the test.
  PostgresStore::Options options;
  options.safety_interval = std::chrono::hours(1);
  auto opened_a = PostgresStore::Open(*db, options);
  auto opened_b = PostgresStore::Open(*db, options);
  ASSERT_TRUE(opened_a.has_value()) << opened_a.error().ToString();
  ASSERT_TRUE(opened_b.has_value()) << opened_b.error().ToString();
  auto& a = *opened_a;
  auto& b = *opened_b;
  std::atomic<int64_t> heard = 0;
  auto sub = b->Subscribe([&](int64_t r) { heard = r; });
  ASSERT_EQ(a->Commit(Txn().Put(MakeApp("a"), kMustNotExist)).value_or(-1), 1);
  EXPECT_TRUE(PollUntil([&] { return heard.load() == 1; }));
  ASSERT_EQ(b->Commit(Txn().Put(MakeApp("b"), kMustNotExist)).value_or(-1), 2);
  EXPECT_EQ(heard.load(), 2);
  // Revision() is the newest a has seen: b's commit, once a's listener heard.
  EXPECT_TRUE(PollUntil([&] { return a->Revision() == 2; }));
  auto snapshot = a->GetSnapshot();
  ASSERT_TRUE(snapshot.has_value()) << snapshot.error().ToString();
  EXPECT_EQ(snapshot->revision, 2);
  EXPECT_EQ(snapshot->apps.size(), 2u);
}

// Verify that records written through one store are read through another on
// the same database (two servers): what one keeps (a join token's hash) the
// other finds, what one deletes (a revocation) the other no longer finds, and
// of two creating one key (the admin token) the second is refused.
TEST(PostgresStoreTest, RecordsAreSharedByServers) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  auto a = MustOpen(*db);
  auto b = MustOpen(*db);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->PutRecord(RecordKind::kJoinToken, "hash", "{}"));
  EXPECT_EQ(b->GetRecord(RecordKind::kJoinToken, "hash").value_or(""), "{}");
  ASSERT_TRUE(b->DeleteRecord(RecordKind::kJoinToken, "hash"));
  EXPECT_EQ(a->GetRecord(RecordKind::kJoinToken, "hash").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(a->CreateRecord(RecordKind::kAdminToken, "admin", "one"));
  EXPECT_EQ(b->CreateRecord(RecordKind::kAdminToken, "admin", "two").error().code,
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(b->GetRecord(RecordKind::kAdminToken, "admin").value_or(""), "one");
}

// Verify that the test server keeps its template cluster only in a directory
// of this user's with mode 0700: an absent one is made so, and one that is a
// symbolic link, a file, too open, or another user's (checked when root) is
// refused with kFailedPrecondition naming it.
TEST(PostgresServerTest, TemplateDirectoryMustBeOurs) {
  skiff::testing::TempDir tmp;
  const std::string made = tmp.File("made");
  ASSERT_TRUE(PostgresServer::PrivateDir(made));
  struct stat st {};
  ASSERT_EQ(::lstat(made.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_TRUE(PostgresServer::PrivateDir(made));  // found as it was left

  auto refused = [](const std::string& path) {
    Status s = PostgresServer::PrivateDir(path);
    if (s) return std::string("accepted");
    EXPECT_NE(s.error().message.find(path), std::string::npos) << s.error().message;
    return std::string(ErrorCodeName(s.error().code));
  };
  const std::string expected(ErrorCodeName(ErrorCode::kFailedPrecondition));
  const std::string open = tmp.File("open");
  ASSERT_EQ(::mkdir(open.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(open.c_str(), 0755), 0);
  EXPECT_EQ(refused(open), expected);
  const std::string link = tmp.File("link");
  ASSERT_EQ(::symlink(made.c_str(), link.c_str()), 0);
  EXPECT_EQ(refused(link), expected);
  const std::string file = tmp.File("file");
  std::ofstream(file) << "not a directory";
  EXPECT_EQ(refused(file), expected);
  if (::geteuid() == 0) {
    const std::string theirs = tmp.File("theirs");
    ASSERT_EQ(::mkdir(theirs.c_str(), 0700), 0);
    ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
    EXPECT_EQ(refused(theirs), expected);
  }
}

}  // namespace
}  // namespace skiff::store
