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

// A new keyring kept in the file `path`.
crypto::Keyring KeyringAt(const std::string& path) {
  const crypto::Keyring made = crypto::Keyring::Generate();
  return crypto::Keyring(made.keys(), made.active_id(), path);
}

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

// Verify that a server with another CA is refused, naming both fingerprints
// and the files to copy (not the flag that would override the others'), and
// changes nothing.
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
  EXPECT_THAT(other.error().message, Not(HasSubstr("--new-shared-trust")));
  EXPECT_EQ(Kept(store), record);
}

// Verify that a server whose keyring lacks the key the check was sealed
// with is refused, naming that key id and the keyring file it uses.
TEST(SharedTrustTest, AnotherKeyringIsRefused) {
  store::MemoryStore store;
  const crypto::Keyring first = crypto::Keyring::Generate();
  ASSERT_TRUE(CheckSharedTrust(&store, first, kCaA, "/data/one"));
  const Status other =
      CheckSharedTrust(&store, KeyringAt("/etc/skiff/keys.json"), kCaA, "/data/two");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(other.error().message, HasSubstr("keyring (/etc/skiff/keys.json)"));
  EXPECT_THAT(other.error().message, HasSubstr("lacks the key " + first.active_id()));
  EXPECT_THAT(other.error().message,
              HasSubstr("copy the keyring file of another server of this database to "
                        "/etc/skiff/keys.json (mode 0600)"));
}

// Verify that the check is sealed again under a rotated keyring's new key,
// which servers holding the new key alone then pass; that a check under the
// active key, or no record (one server), writes nothing; and that a keyring
// that does not open the check is refused naming its file.
TEST(SharedTrustTest, ResealUnderTheNewKey) {
  store::MemoryStore store;
  EXPECT_EQ(ResealSharedTrust(&store, crypto::Keyring::Generate()), 0);
  EXPECT_EQ(Kept(store), "");
  const crypto::Keyring old_keyring = KeyringAt("/data/one/keyring.json");
  ASSERT_TRUE(CheckSharedTrust(&store, old_keyring, kCaA, "/data/one"));
  const crypto::Keyring rotated = old_keyring.WithNewKey();
  EXPECT_EQ(ResealSharedTrust(&store, rotated), 1);
  const std::string record = Kept(store);
  EXPECT_THAT(record, HasSubstr(kCaA));
  EXPECT_EQ(crypto::KeyIdsNamedIn(record), std::set<std::string>{rotated.active_id()});
  EXPECT_EQ(ResealSharedTrust(&store, rotated), 0);
  EXPECT_EQ(Kept(store), record);
  EXPECT_TRUE(CheckSharedTrust(&store, rotated.ActiveOnly(), kCaA, "/data/two"));
  EXPECT_FALSE(CheckSharedTrust(&store, old_keyring, kCaA, "/data/one"));

  auto refused = ResealSharedTrust(&store, KeyringAt("/data/three/keyring.json"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr("/data/three/keyring.json"));
  EXPECT_EQ(Kept(store), record);
}

// Verify that replacing records the starting server's CA and keyring over
// the others', which then pass where the old ones are refused; and that
// replacing with what is recorded already writes nothing.
TEST(SharedTrustTest, ReplaceRecordsThisServers) {
  store::MemoryStore store;
  const crypto::Keyring old_keyring = crypto::Keyring::Generate();
  const crypto::Keyring new_keyring = crypto::Keyring::Generate();
  ASSERT_TRUE(CheckSharedTrust(&store, old_keyring, kCaA, "/data/one"));
  ASSERT_TRUE(CheckSharedTrust(&store, new_keyring, kCaB, "/data/two", /*replace=*/true));
  EXPECT_TRUE(CheckSharedTrust(&store, new_keyring, kCaB, "/data/three"));
  EXPECT_FALSE(CheckSharedTrust(&store, old_keyring, kCaA, "/data/one"));
  const std::string record = Kept(store);
  ASSERT_TRUE(CheckSharedTrust(&store, new_keyring, kCaB, "/data/two", /*replace=*/true));
  EXPECT_EQ(Kept(store), record);  // a fresh seal would differ: nothing was written
}

// Verify that replacing is refused while another server was heard within
// the TTL, naming it, and allowed when only this one or silent ones are.
TEST(SharedTrustTest, ReplaceWaitsForTheOthersToStop) {
  const Duration ttl = std::chrono::seconds(5);
  std::vector<store::ServerRecord> servers(3);
  servers[0].id = "s1";
  servers[0].address = "https://10.0.0.1:7070";
  servers[0].silent = std::chrono::seconds(1);
  servers[1].id = "s2";
  servers[1].silent = std::chrono::seconds(1);
  servers[2].id = "s3";
  servers[2].silent = std::chrono::minutes(5);
  const Status refused = RefuseReplaceWhileOthersRun(servers, "s2", ttl, "/data/s2/keys.json");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr("s1 at https://10.0.0.1:7070"));
  EXPECT_THAT(refused.error().message, HasSubstr("keyring file (/data/s2/keys.json)"));
  EXPECT_THAT(refused.error().message, Not(HasSubstr("s3")));
  EXPECT_EQ(LiveServers(servers, "", ttl), "s1 at https://10.0.0.1:7070, s2 at ");
  servers[0].silent = std::chrono::seconds(6);
  EXPECT_TRUE(RefuseReplaceWhileOthersRun(servers, "s2", ttl, "/data/s2/keys.json"));
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
