#include "crypto/keyring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fakes/testing.h"

namespace skiff::crypto {
namespace {

using ::testing::HasSubstr;

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

// Verify that the first start makes a 0600 key file at the path given (its
// directory's keyring.json by default), the next start reads the same keys,
// and a file others may read is refused naming it, its mode and the chmod.
TEST(KeyringTest, FileIsMadePrivateAndKept) {
  testing::TempDir dir;
  EXPECT_EQ(KeyringPath(dir.path(), ""), dir.File(kKeyringFile));
  EXPECT_EQ(KeyringPath(dir.path(), "/etc/skiff/keys.json"), "/etc/skiff/keys.json");
  const std::string path = dir.File("keys.json");
  auto made = Keyring::LoadOrCreate(path);
  ASSERT_TRUE(made) << made.error().ToString();
  EXPECT_EQ(made->path(), path);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string sealed = *made->Seal("secret", "a");

  auto again = Keyring::LoadOrCreate(path);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(again->active_id(), made->active_id());
  EXPECT_EQ(again->Open(sealed, "a").value_or(""), "secret");
  EXPECT_EQ(Keyring::Load(path)->active_id(), made->active_id());

  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto open = Keyring::LoadOrCreate(path);
  ASSERT_FALSE(open);
  EXPECT_EQ(open.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(open.error().message, HasSubstr(path + " is open to its group or others (mode 644)"));
  EXPECT_THAT(open.error().message, HasSubstr("chmod 600 " + path));
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);

  // A symbolic link is refused, even to a private keyring: no second key
  // file is made through it either.
  const std::string link = dir.File("link.json");
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  auto linked = Keyring::LoadOrCreate(link);
  ASSERT_FALSE(linked);
  EXPECT_EQ(linked.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(linked.error().message, HasSubstr(link + " is a symbolic link"));
  const std::string dangling = dir.File("dangling.json");
  ASSERT_EQ(::symlink(dir.File("nowhere.json").c_str(), dangling.c_str()), 0);
  EXPECT_EQ(Keyring::LoadOrCreate(dangling).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(std::filesystem::exists(dir.File("nowhere.json")));

  EXPECT_EQ(Keyring::Load(dir.File("none.json")).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir.File("none.json")));
  EXPECT_EQ(Keyring::LoadOrCreate(dir.File("missing/keys.json")).error().code,
            ErrorCode::kUnavailable);
}

// Verify that a key this keyring lacks is named with the file to copy it to.
TEST(KeyringTest, LackingKeyNamesTheFile) {
  testing::TempDir dir;
  const Keyring other = Keyring::Generate();
  const std::string sealed = *other.Seal("secret", "a");
  auto here = Keyring::LoadOrCreate(dir.File("keys.json"));
  ASSERT_TRUE(here);
  auto opened = here->Open(sealed, "a");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(opened.error().message, HasSubstr("key " + other.active_id()));
  EXPECT_THAT(opened.error().message, HasSubstr("to " + dir.File("keys.json") + ", mode 0600"));
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
    auto loaded = Keyring::LoadOrCreate(dir.File(kKeyringFile));
    ASSERT_FALSE(loaded) << text;
    EXPECT_EQ(loaded.error().code, ErrorCode::kFailedPrecondition) << text;
    EXPECT_NE(loaded.error().message.find(kKeyringFile), std::string::npos)
        << loaded.error().message;
  }
}

// Verify that a keyring with a new key seals under it while what the old
// keys sealed still opens, that Save replaces the file (0600) with it, and
// that the active key alone opens only what it sealed.
TEST(KeyringTest, NewKeyThenActiveOnly) {
  testing::TempDir dir;
  auto first = Keyring::LoadOrCreate(dir.File(kKeyringFile));
  ASSERT_TRUE(first);
  const std::string old_sealed = *first->Seal("old", "d");
  const Keyring rotated = first->WithNewKey();
  EXPECT_NE(rotated.active_id(), first->active_id());
  ASSERT_EQ(rotated.keys().size(), 2u);
  EXPECT_EQ(rotated.path(), first->path());
  ASSERT_TRUE(rotated.Save());
  auto loaded = Keyring::Load(dir.File(kKeyringFile));
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->active_id(), rotated.active_id());
  EXPECT_EQ(loaded->Open(old_sealed, "d").value_or(""), "old");
  const std::string new_sealed = *loaded->Seal("new", "d");
  EXPECT_EQ(Keyring::KeyIdOf(new_sealed).value_or(""), rotated.active_id());
  EXPECT_EQ(first->Open(new_sealed, "d").error().code, ErrorCode::kFailedPrecondition);

  const Keyring alone = rotated.ActiveOnly();
  ASSERT_TRUE(alone.Save());
  loaded = Keyring::Load(dir.File(kKeyringFile));
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->keys().size(), 1u);
  EXPECT_EQ(loaded->active_id(), rotated.active_id());
  EXPECT_EQ(loaded->Open(new_sealed, "d").value_or(""), "new");
  EXPECT_EQ(loaded->Open(old_sealed, "d").error().code, ErrorCode::kFailedPrecondition);
  struct stat st;
  ASSERT_EQ(::stat(dir.File(kKeyringFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// Verify that the key ids envelopes name are found in any text holding
// them (a record's JSON), and nothing else is taken for one.
TEST(KeyringTest, KeyIdsNamedInText) {
  const Keyring a = Keyring::Generate();
  const Keyring b = Keyring::Generate();
  const std::string text = R"({"envelope":")" + *a.Seal("x", "d") + R"(","other":")" +
                           *b.Seal("y", "d") + R"(","again":")" + *a.Seal("z", "d") + R"("})";
  EXPECT_EQ(KeyIdsNamedIn(text), (std::set<std::string>{a.active_id(), b.active_id()}));
  EXPECT_TRUE(
      KeyIdsNamedIn(R"({"name":"skiff-aes256gcm","v":"skiff-aes256gcm:not-an-id:x"})").empty());
}

}  // namespace
}  // namespace skiff::crypto
