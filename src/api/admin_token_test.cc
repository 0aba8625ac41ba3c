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
  auto first = LoadOrCreateClusterAdminTokenHash(&store, first_dir.path(), &created);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(created);
  auto token = LoadOrCreateAdminToken(first_dir.path());
  ASSERT_TRUE(token);
  EXPECT_EQ(*first, Sha256Hex(*token));
  EXPECT_EQ(store.GetRecord(store::RecordKind::kAdminToken, "admin").value_or(""), *first);

  auto second = LoadOrCreateClusterAdminTokenHash(&store, second_dir.path(), &created);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_FALSE(created);
  EXPECT_EQ(*second, *first);
  EXPECT_FALSE(std::filesystem::exists(second_dir.File(kAdminTokenFile)));

  auto again = LoadOrCreateClusterAdminTokenHash(&store, first_dir.path(), &created);
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
  auto hash = LoadOrCreateClusterAdminTokenHash(&store, dir.path(), &created);
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
  auto hash = LoadOrCreateClusterAdminTokenHash(&store, dir.path(), &created);
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
  auto hash = LoadOrCreateClusterAdminTokenHash(&store, dir.path());
  ASSERT_FALSE(hash);
  EXPECT_EQ(hash.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(std::filesystem::exists(dir.File(kAdminTokenFile)));
}

}  // namespace
}  // namespace skiff::api
