#include "crypto/keyring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "common/dir_lock.h"
#include "fakes/testing.h"

namespace skiff::crypto {
namespace {

// Verify that a sealed secret opens with the same associated data, names the
// active key, and is not the plaintext.
TEST(KeyringTest, SealOpens) {
  const Keyring keyring = Keyring::Generate();
  auto sealed = keyring.Seal("-----BEGIN PRIVATE KEY-----", "web.com");
  ASSERT_TRUE(sealed) << sealed.error().ToString();
  EXPECT_EQ(sealed->find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(Keyring::KeyIdOf(*sealed).value_or(""), keyring.active_id());
  EXPECT_EQ(keyring.Open(*sealed, "web.com").value_or(""), "-----BEGIN PRIVATE KEY-----");
  // A fresh nonce each time: the same secret seals differently.
  EXPECT_NE(*keyring.Seal("-----BEGIN PRIVATE KEY-----", "web.com"), *sealed);
  EXPECT_EQ(keyring.Open(*keyring.Seal("", "x"), "x").value_or("?"), "");
}

// Verify that associated data is each part length-prefixed after the kind,
// so that lists splitting the same text differently bind differently.
TEST(KeyringTest, AssociatedDataIsLengthPrefixed) {
  EXPECT_EQ(AssociatedData("certificate-key", {"web.com", "ab12"}),
            "15:certificate-key7:web.com4:ab12");
  EXPECT_NE(AssociatedData("k", {"ab", "c"}), AssociatedData("k", {"a", "bc"}));
  EXPECT_NE(AssociatedData("k", {"a"}), AssociatedData("k1", {}));
  const Keyring keyring = Keyring::Generate();
  const std::string sealed = *keyring.Seal("secret", AssociatedData("k", {"ab", "c"}));
  EXPECT_EQ(keyring.Open(sealed, AssociatedData("k", {"a", "bc"})).error().code,
            ErrorCode::kFailedPrecondition);
}

// Verify that something that is no envelope is kInvalidArgument, while a
// tampered envelope or other associated data is kFailedPrecondition (what was
// kept is wrong, not the caller's argument), as is a key id the keyring lacks,
// naming the id.
TEST(KeyringTest, OpenRefuses) {
  const Keyring keyring = Keyring::Generate();
  const std::string sealed = *keyring.Seal("secret", "web.com");
  EXPECT_EQ(keyring.Open(sealed, "other.com").error().code, ErrorCode::kFailedPrecondition);

  std::string tampered = sealed;
  char& c = tampered[tampered.size() - 6];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(keyring.Open(tampered, "web.com").error().code, ErrorCode::kFailedPrecondition);
  for (const char* bad :
       {"", "secret", "skiff-aes256gcm:k:", "skiff-aes256gcm::AAAA",
        "other:k:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "skiff-aes256gcm:k:AAAA"}) {
    EXPECT_EQ(keyring.Open(bad, "web.com").error().code, ErrorCode::kInvalidArgument) << bad;
  }

  const Keyring other = Keyring::Generate();
  auto missing = other.Open(sealed, "web.com");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(missing.error().message.find(keyring.active_id()), std::string::npos)
      << missing.error().message;
}

// Verify that the first start makes a 0600 key file, the next start reads the
// same keys, and a file others may read is refused naming it.
TEST(KeyringTest, FileIsMadePrivateAndKept) {
  testing::TempDir dir;
  auto made = Keyring::LoadOrCreate(dir.path());
  ASSERT_TRUE(made) << made.error().ToString();
  struct stat st;
  ASSERT_EQ(::stat(dir.File(kKeyringFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string sealed = *made->Seal("secret", "a");

  auto again = Keyring::LoadOrCreate(dir.path());
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(again->active_id(), made->active_id());
  EXPECT_EQ(again->Open(sealed, "a").value_or(""), "secret");

  ASSERT_EQ(::chmod(dir.File(kKeyringFile).c_str(), 0640), 0);
  auto open = Keyring::LoadOrCreate(dir.path());
  ASSERT_FALSE(open);
  EXPECT_EQ(open.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(open.error().message.find(kKeyringFile), std::string::npos) << open.error().message;
}

// Verify that a key file that does not parse is kFailedPrecondition naming the
// file, not replaced by new keys (what it sealed would be lost).
TEST(KeyringTest, BrokenFileIsRefused) {
  testing::TempDir dir;
  for (
      const char* text :
      {"not json", R"({"active":"a","keys":[]})",
       R"({"active":"a","keys":[{"id":"a","key":"AAAA"}]})",
       R"({"active":"b","keys":[{"id":"a","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]})",
       // An id that is not 16 lowercase hex digits, and one given twice.
       R"({"active":"a","keys":[{"id":"a","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]})",
       R"({"active":"00112233AABBCCDD","keys":[{"id":"00112233AABBCCDD","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]})",
       R"({"active":"00112233aabbccdd","keys":[{"id":"00112233aabbccdd","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},{"id":"00112233aabbccdd","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]})"}) {
    {
      std::ofstream out(dir.File(kKeyringFile));
      out << text;
    }
    ASSERT_EQ(::chmod(dir.File(kKeyringFile).c_str(), 0600), 0);
    auto loaded = Keyring::LoadOrCreate(dir.path());
    ASSERT_FALSE(loaded) << text;
    EXPECT_EQ(loaded.error().code, ErrorCode::kFailedPrecondition) << text;
    EXPECT_NE(loaded.error().message.find(kKeyringFile), std::string::npos)
        << loaded.error().message;
  }
}

// Verify that rotation seals under a new key while what the old key sealed
// still opens, and a keyring with only the new key cannot open the old.
TEST(KeyringTest, RotationKeepsOldKeys) {
  testing::TempDir dir;
  auto first = Keyring::LoadOrCreate(dir.path());
  ASSERT_TRUE(first);
  const std::string old_sealed = *first->Seal("old", "d");
  auto rotated = RotateKeyringFile(dir.path());
  ASSERT_TRUE(rotated) << rotated.error().ToString();
  EXPECT_NE(rotated->active_id(), first->active_id());
  EXPECT_EQ(rotated->keys().size(), 2u);
  auto loaded = Keyring::LoadOrCreate(dir.path());
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->active_id(), rotated->active_id());
  EXPECT_EQ(loaded->Open(old_sealed, "d").value_or(""), "old");
  const std::string new_sealed = *loaded->Seal("new", "d");
  EXPECT_EQ(Keyring::KeyIdOf(new_sealed).value_or(""), rotated->active_id());
  EXPECT_EQ(first->Open(new_sealed, "d").error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(RotateKeyringFile(dir.File("none")).error().code, ErrorCode::kNotFound);
  struct stat st;
  ASSERT_EQ(::stat(dir.File(kKeyringFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// Verify that a rotation is refused while the data directory is locked (its
// server runs), leaving the keyring as it was.
TEST(KeyringTest, RotationNeedsTheDirectoryLock) {
  testing::TempDir dir;
  auto first = Keyring::LoadOrCreate(dir.path());
  ASSERT_TRUE(first);
  auto lock = DirLock::Acquire(dir.path());
  ASSERT_TRUE(lock) << lock.error().ToString();
  auto rotated = RotateKeyringFile(dir.path());
  ASSERT_FALSE(rotated);
  EXPECT_EQ(rotated.error().code, ErrorCode::kFailedPrecondition);
  auto loaded = Keyring::LoadOrCreate(dir.path());
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->keys().size(), 1u);
  EXPECT_EQ(loaded->active_id(), first->active_id());
}

}  // namespace
}  // namespace skiff::crypto
