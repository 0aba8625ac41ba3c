#include "server/shared_trust.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/memory/memory_store.h"

namespace skiff::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kCaA(64, 'a');
const std::string kCaB(64, 'b');

std::string Kept(const store::MemoryStore& store) {
  return store.GetRecord(store::RecordKind::kCertificate, std::string(kSharedTrustRecord))
      .value_or("");
}

// Verify that the first server records its CA and keyring (the check
// sealed), that a server holding the same ones passes, and that the record
// is kept as it was.
TEST(SharedTrustTest, SameCaAndKeyringPass) {
  store::MemoryStore store;
  const crypto::Keyring keyring = crypto::Keyring::Generate();
  ASSERT_TRUE(CheckSharedTrust(&store, keyring, kCaA, "/data/one"));
  const std::string record = Kept(store);
  EXPECT_THAT(record, HasSubstr(kCaA));
  EXPECT_THAT(record, Not(HasSubstr("skiff keyring check")));
  const Status again = CheckSharedTrust(&store, keyring, kCaA, "/data/two");
  EXPECT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(Kept(store), record);
}

// Verify that a server with another CA is refused, naming both fingerprints,
// the files to copy and the way out, and changes nothing.
TEST(SharedTrustTest, AnotherCaIsRefused) {
  store::MemoryStore store;
  const crypto::Keyring keyring = crypto::Keyring::Generate();
  ASSERT_TRUE(CheckSharedTrust(&store, keyring, kCaA, "/data/one"));
  const std::string record = Kept(store);
  const Status other = CheckSharedTrust(&store, keyring, kCaB, "/data/two");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(other.error().message, HasSubstr("/data/two/ca.crt, fingerprint " + kCaB));
  EXPECT_THAT(other.error().message, HasSubstr("(fingerprint " + kCaA + ")"));
  EXPECT_THAT(other.error().message, HasSubstr("copy ca.crt and ca.key"));
  EXPECT_THAT(other.error().message, HasSubstr("--new-shared-trust"));
  EXPECT_EQ(Kept(store), record);
}

// Verify that a server whose keyring lacks the key the check was sealed
// with is refused, naming that key id and keyring.json.
TEST(SharedTrustTest, AnotherKeyringIsRefused) {
  store::MemoryStore store;
  const crypto::Keyring first = crypto::Keyring::Generate();
  ASSERT_TRUE(CheckSharedTrust(&store, first, kCaA, "/data/one"));
  const Status other = CheckSharedTrust(&store, crypto::Keyring::Generate(), kCaA, "/data/two");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(other.error().message, HasSubstr("/data/two/keyring.json"));
  EXPECT_THAT(other.error().message, HasSubstr("lacks the key " + first.active_id()));
  EXPECT_THAT(other.error().message, HasSubstr("copy keyring.json"));
}

// Verify that replacing records the starting server's CA and keyring over
// the others', which then pass where the old ones are refused.
TEST(SharedTrustTest, ReplaceRecordsThisServers) {
  store::MemoryStore store;
  const crypto::Keyring old_keyring = crypto::Keyring::Generate();
  const crypto::Keyring new_keyring = crypto::Keyring::Generate();
  ASSERT_TRUE(CheckSharedTrust(&store, old_keyring, kCaA, "/data/one"));
  ASSERT_TRUE(CheckSharedTrust(&store, new_keyring, kCaB, "/data/two", /*replace=*/true));
  EXPECT_TRUE(CheckSharedTrust(&store, new_keyring, kCaB, "/data/three"));
  EXPECT_FALSE(CheckSharedTrust(&store, old_keyring, kCaA, "/data/one"));
}

// Verify that a record that does not parse is kInternal saying how to
// write it anew.
TEST(SharedTrustTest, UnparsableRecordSaysHowToMendIt) {
  store::MemoryStore store;
  ASSERT_TRUE(store.PutRecord(store::RecordKind::kCertificate, std::string(kSharedTrustRecord),
                              "{not json"));
  const Status checked = CheckSharedTrust(&store, crypto::Keyring::Generate(), kCaA, "/data/one");
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, ErrorCode::kInternal);
  EXPECT_THAT(checked.error().message, HasSubstr("--new-shared-trust"));
}

}  // namespace
}  // namespace skiff::server
