#include "api/admin_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/ids.h"
#include "fakes/testing.h"
#include "store/memory/memory_store.h"

namespace skiff::api {
namespace {

// A store that other servers share (PostgreSQL) and one of a single server.
const AdminTokenOptions kShared{.shared_store = true};
const AdminTokenOptions kLocal{.shared_store = false};

// A store whose CreateRecord writes and then answers kAlreadyExists, as
// PostgresStore does when it retries a create whose reply was lost.
class LostReplyStore : public store::MemoryStore {
 public:
  Status CreateRecord(store::RecordKind kind, const std::string& key,
                      const std::string& value) override {
    SKIFF_RETURN_IF_ERROR(MemoryStore::CreateRecord(kind, key, value));
    return AlreadyExists("the record exists (the first attempt's reply was lost)");
  }
};

// A store whose CreateRecord fails as a lost connection does (the write may or
// may not have landed).
class UnreachableCreateStore : public store::MemoryStore {
 public:
  Status CreateRecord(store::RecordKind, const std::string&, const std::string&) override {
    return Unavailable("connection lost");
  }
};

// Verify that the first call creates a private 0600 token file and later calls reuse it.
TEST(AdminTokenTest, CreatesPrivateThenReuses) {
  skiff::testing::TempDir dir;
  bool created = false;
  auto first = LoadOrCreateAdminToken(dir.path(), &created);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(created);
  EXPECT_EQ(first->size(), 64u);
  struct stat st;
  ASSERT_EQ(::stat(dir.File("admin.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  auto second = LoadOrCreateAdminToken(dir.path(), &created);
  ASSERT_TRUE(second);
  EXPECT_FALSE(created);
  EXPECT_EQ(*second, *first);
}

// Verify that a token file readable by others is refused with kFailedPrecondition.
TEST(AdminTokenTest, RefusesWorldReadableFile) {
  skiff::testing::TempDir dir;
  std::ofstream(dir.File("admin.token")) << "leaked\n";
  ::chmod(dir.File("admin.token").c_str(), 0644);
  auto token = LoadOrCreateAdminToken(dir.path());
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kFailedPrecondition);
}

// Verify that a missing data directory is kUnavailable.
TEST(AdminTokenTest, MissingDirectory) {
  skiff::testing::TempDir dir;
  auto token = LoadOrCreateAdminToken(dir.File("absent"));
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code, ErrorCode::kUnavailable);
}

// Verify that the first server on an empty database makes the token file and
// keeps the token's hash in the store; that a second server on the same store
// takes that hash and writes no file; and that the first keeps its token
// across a restart.
TEST(AdminTokenTest, ClusterTokenMadeOnceAndShared) {
  store::MemoryStore store;
  skiff::testing::TempDir first_dir;
  skiff::testing::TempDir second_dir;
  bool created = false;
  auto first = LoadOrCreateClusterAdminTokenHash(&store, first_dir.path(), kShared, &created);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(created);
  auto token = LoadOrCreateAdminToken(first_dir.path());
  ASSERT_TRUE(token);
  EXPECT_EQ(*first, Sha256Hex(*token));
  EXPECT_EQ(store.GetRecord(store::RecordKind::kAdminToken, "admin").value_or(""), *first);

  auto second = LoadOrCreateClusterAdminTokenHash(&store, second_dir.path(), kShared, &created);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_FALSE(created);
  EXPECT_EQ(*second, *first);
  EXPECT_FALSE(std::filesystem::exists(second_dir.File(kAdminTokenFile)));

  auto again = LoadOrCreateClusterAdminTokenHash(&store, first_dir.path(), kShared, &created);
  ASSERT_TRUE(again);
  EXPECT_FALSE(created);
  EXPECT_EQ(*again, *first);
}

// Verify that a server upgraded with an admin.token from before keeps that
// token: its hash becomes the database's.
TEST(AdminTokenTest, ExistingTokenFileBecomesTheClusterToken) {
  store::MemoryStore store;
  skiff::testing::TempDir dir;
  auto token = LoadOrCreateAdminToken(dir.path());
  ASSERT_TRUE(token);
  bool created = true;
  auto hash = LoadOrCreateClusterAdminTokenHash(&store, dir.path(), kShared, &created);
  ASSERT_TRUE(hash) << hash.error().ToString();
  EXPECT_FALSE(created);
  EXPECT_EQ(*hash, Sha256Hex(*token));
}

// Verify that a create answered "exists" for this server's own write (a
// retry after a lost reply) keeps the token file and its hash: deleting the
// file would lose the only copy of the token.
TEST(AdminTokenTest, OwnCreateReportedAsExistingKeepsTheFile) {
  LostReplyStore store;
  skiff::testing::TempDir dir;
  bool created = false;
  auto hash = LoadOrCreateClusterAdminTokenHash(&store, dir.path(), kShared, &created);
  ASSERT_TRUE(hash) << hash.error().ToString();
  EXPECT_TRUE(created);
  ASSERT_TRUE(std::filesystem::exists(dir.File(kAdminTokenFile)));
  auto token = LoadOrCreateAdminToken(dir.path());
  ASSERT_TRUE(token);
  EXPECT_EQ(*hash, Sha256Hex(*token));
}

// Verify that a failed create of the kept hash is returned as it is and
// leaves the token file in place.
TEST(AdminTokenTest, FailedCreateKeepsTheFile) {
  UnreachableCreateStore store;
  skiff::testing::TempDir dir;
  auto hash = LoadOrCreateClusterAdminTokenHash(&store, dir.path(), kShared);
  ASSERT_FALSE(hash);
  EXPECT_EQ(hash.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(std::filesystem::exists(dir.File(kAdminTokenFile)));
}

// Verify that on a store of one server (SQLite) a deleted token file gives a
// new token whose hash replaces the kept one, as the docs tell operators.
TEST(AdminTokenTest, LocalStoreDeletedFileMakesANewToken) {
  store::MemoryStore store;
  skiff::testing::TempDir dir;
  auto old_hash = LoadOrCreateClusterAdminTokenHash(&store, dir.path(), kLocal);
  ASSERT_TRUE(old_hash) << old_hash.error().ToString();
  ASSERT_TRUE(std::filesystem::remove(dir.File(kAdminTokenFile)));

  bool created = false;
  auto new_hash = LoadOrCreateClusterAdminTokenHash(&store, dir.path(), kLocal, &created);
  ASSERT_TRUE(new_hash) << new_hash.error().ToString();
  EXPECT_TRUE(created);
  EXPECT_NE(*new_hash, *old_hash);
  auto token = LoadOrCreateAdminToken(dir.path());
  ASSERT_TRUE(token);
  EXPECT_EQ(*new_hash, Sha256Hex(*token));
  EXPECT_EQ(store.GetRecord(store::RecordKind::kAdminToken, "admin").value_or(""), *new_hash);
  EXPECT_TRUE(AdminTokenFileHolds(dir.path(), *new_hash));
  EXPECT_FALSE(AdminTokenFileHolds(dir.path(), *old_hash));
}

// Verify that on a shared store a server without the token file takes the
// kept hash (the file is not the truth there), and that --new-admin-token
// makes a new token file whose hash replaces the kept one.
TEST(AdminTokenTest, SharedStoreRenewReplacesTheKeptToken) {
  store::MemoryStore store;
  skiff::testing::TempDir first_dir;
  skiff::testing::TempDir second_dir;
  auto first = LoadOrCreateClusterAdminTokenHash(&store, first_dir.path(), kShared);
  ASSERT_TRUE(first) << first.error().ToString();
  auto taken = LoadOrCreateClusterAdminTokenHash(&store, second_dir.path(), kShared);
  ASSERT_TRUE(taken);
  EXPECT_EQ(*taken, *first);
  EXPECT_FALSE(AdminTokenFileHolds(second_dir.path(), *first));

  bool created = false;
  auto renewed = LoadOrCreateClusterAdminTokenHash(&store, second_dir.path(),
                                                   {.shared_store = true, .renew = true}, &created);
  ASSERT_TRUE(renewed) << renewed.error().ToString();
  EXPECT_TRUE(created);
  EXPECT_NE(*renewed, *first);
  EXPECT_TRUE(AdminTokenFileHolds(second_dir.path(), *renewed));
  EXPECT_EQ(store.GetRecord(store::RecordKind::kAdminToken, "admin").value_or(""), *renewed);

  // The first server, restarted, takes the new hash and says its file is stale.
  auto restarted = LoadOrCreateClusterAdminTokenHash(&store, first_dir.path(), kShared);
  ASSERT_TRUE(restarted);
  EXPECT_EQ(*restarted, *renewed);
  EXPECT_FALSE(AdminTokenFileHolds(first_dir.path(), *renewed));
}

}  // namespace
}  // namespace skiff::api
