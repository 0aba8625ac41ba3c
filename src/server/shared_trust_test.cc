#include "server/shared_trust.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/memory/memory_store.h"

namespace skiff::server {
namespace {

using ::testing::HasSubstr;

const std::string kCaA(64, 'a');
const std::string kCaB(64, 'b');

// Verify that the first server records its CA and keyring, that a server
// holding the same ones passes, and that the records are kept as they were.
TEST(SharedTrustTest, SameCaAndKeyringPass) {
  store::MemoryStore store;
  const crypto::Keyring keyring = crypto::Keyring::Generate();
  ASSERT_TRUE(CheckSharedTrust(&store, keyring, kCaA, "/data/one"));
  const auto check =
      store.GetRecord(store::RecordKind::kCertificate, std::string(kSharedKeyringRecord));
  ASSERT_TRUE(check);
  EXPECT_THAT(*check, ::testing::Not(HasSubstr("skiff keyring check")));  // sealed
  const Status again = CheckSharedTrust(&store, keyring, kCaA, "/data/two");
  EXPECT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(store.GetRecord(store::RecordKind::kCertificate, std::string(kSharedKeyringRecord))
                .value_or(""),
            *check);
}

// Verify that a server with another CA is refused, naming both fingerprints
// and the files to copy, and changes nothing.
TEST(SharedTrustTest, AnotherCaIsRefused) {
  store::MemoryStore store;
  const crypto::Keyring keyring = crypto::Keyring::Generate();
  ASSERT_TRUE(CheckSharedTrust(&store, keyring, kCaA, "/data/one"));
  const Status other = CheckSharedTrust(&store, keyring, kCaB, "/data/two");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(other.error().message, HasSubstr("/data/two/ca.crt, fingerprint " + kCaB));
  EXPECT_THAT(other.error().message, HasSubstr("(fingerprint " + kCaA + ")"));
  EXPECT_THAT(other.error().message, HasSubstr("copy ca.crt and ca.key"));
  EXPECT_EQ(
      store.GetRecord(store::RecordKind::kCertificate, std::string(kSharedCaRecord)).value_or(""),
      kCaA);
}

// Verify that a server whose keyring lacks the others' key is refused,
// naming the key id and keyring.json.
TEST(SharedTrustTest, AnotherKeyringIsRefused) {
  store::MemoryStore store;
  const crypto::Keyring first = crypto::Keyring::Generate();
  ASSERT_TRUE(CheckSharedTrust(&store, first, kCaA, "/data/one"));
  const Status other = CheckSharedTrust(&store, crypto::Keyring::Generate(), kCaA, "/data/two");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(other.error().message, HasSubstr("/data/two/keyring.json"));
  EXPECT_THAT(other.error().message, HasSubstr("lacks the key " + first.active_id()));
}

}  // namespace
}  // namespace skiff::server
