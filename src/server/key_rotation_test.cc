#include "server/key_rotation.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <sstream>

#include "auth/secrets.h"
#include "common/dir_lock.h"
#include "common/files.h"
#include "controller/acme_account.h"
#include "controller/certificate_store.h"
#include "crypto/certificate.h"
#include "crypto/keyring.h"
#include "crypto/x509.h"
#include "fakes/testing.h"
#include "store/sqlite/sqlite_store.h"

namespace skiff::server {
namespace {

namespace fs = std::filesystem;
using ::skiff::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The whole file at `path`; "" when it cannot be read.
std::string Slurp(const std::string& path) { return ReadPrivateFile(path, false).value_or(""); }

// A server's data directory as `skiff server` leaves it on SQLite: its
// keyring, and a store holding two secrets, a certificate and an ACME
// account, all sealed under the keyring's key.
class KeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(data_);
    auto keyring = crypto::Keyring::LoadOrCreate(crypto::KeyringPath(data_, ""));
    ASSERT_TRUE(keyring) << keyring.error().ToString();
    keyring_.emplace(std::move(*keyring));
    auto opened = store::SqliteStore::Open(data_ + "/skiff.db");
    ASSERT_TRUE(opened) << opened.error().ToString();
    store_ = std::move(*opened);
    auth::SecretStore secrets(store_.get(), &*keyring_);
    ASSERT_TRUE(secrets.Set("web", "API_KEY", "one"));
    ASSERT_TRUE(secrets.Set("web", "DB_URL", "two"));
    auto key = crypto::GenerateP256Key();
    const Time now = std::chrono::system_clock::now();
    crypto::CertificateRequest request{"Skiff Test",
                                       {"web.com"},
                                       now - std::chrono::hours(1),
                                       now + std::chrono::hours(24),
                                       false};
    auto cert = crypto::IssueCertificate(request, key->get(), nullptr, key->get());
    cert_key_ = crypto::PrivateKeyPem(key->get());
    controller::CertificateStore certs(store_.get(), &*keyring_);
    ASSERT_TRUE(certs.Put("web.com", crypto::CertificatePem(cert->get()), cert_key_,
                          controller::CertificateSource::kManual));
    ASSERT_TRUE(controller::AcmeAccountStore(store_.get(), &*keyring_, "https://acme.test/dir")
                    .LoadOrCreate());
  }

  KeyRotationOptions Options(bool drop_old_keys = false) const {
    KeyRotationOptions options;
    options.data_dir = data_;
    options.drop_old_keys = drop_old_keys;
    return options;
  }
  std::string KeyringFile() const { return crypto::KeyringPath(data_, ""); }

  // Every key id the store's records name.
  std::set<std::string> KeyIdsInStore() const {
    std::set<std::string> ids;
    for (size_t k = 0; k < store::kRecordKinds; ++k) {
      const std::vector<store::Record> records =
          store_->ListRecords(static_cast<store::RecordKind>(k)).value();
      for (const store::Record& r : records) {
        for (const std::string& id : crypto::KeyIdsNamedIn(r.value)) ids.insert(id);
      }
    }
    return ids;
  }

  // Whether everything sealed opens with `keyring`, to what was sealed.
  void ExpectOpensWith(const crypto::Keyring& keyring) const {
    auth::SecretStore secrets(store_.get(), &keyring);
    auto values = secrets.Values("web");
    ASSERT_TRUE(values) << values.error().ToString();
    EXPECT_EQ(*values, (std::map<std::string, std::string>{{"API_KEY", "one"}, {"DB_URL", "two"}}));
    controller::CertificateStore certs(store_.get(), &keyring);
    auto edges = certs.ForEdges();
    ASSERT_TRUE(edges);
    ASSERT_EQ(edges->size(), 1u);
    EXPECT_EQ((*edges)[0].key_pem, cert_key_);
    auto account = controller::AcmeAccountStore(store_.get(), &keyring, "https://acme.test/dir")
                       .LoadOrCreate();
    EXPECT_TRUE(account) << account.error().ToString();
  }

  TempDir dir_;
  const std::string data_ = dir_.File("data");
  std::optional<crypto::Keyring> keyring_;
  std::unique_ptr<store::SqliteStore> store_;
  std::string cert_key_;
};

// Verify that a rotation seals every secret, certificate key and ACME
// account key under a new key made active, keeps the old key in the file
// (0600) by default, says what it did and showed its progress.
TEST_F(KeyRotationTest, SealsEverythingUnderANewKeyAndKeepsTheOld) {
  const std::string old_id = keyring_->active_id();
  std::vector<std::string> told;
  auto rotated = RotateKeys(Options(), [&](std::string_view what, int done, int total) {
    told.push_back(fmt::format("{} {}/{}", what, done, total));
  });
  ASSERT_TRUE(rotated) << rotated.error().ToString();
  EXPECT_NE(rotated->key, old_id);
  EXPECT_EQ(rotated->keys_file, KeyringFile());
  EXPECT_EQ(rotated->secrets, 2);
  EXPECT_EQ(rotated->certificate_keys, 1);
  EXPECT_EQ(rotated->acme_account_keys, 1);
  EXPECT_EQ(rotated->shared_trust_checks, 0);
  EXPECT_FALSE(rotated->shared);
  EXPECT_THAT(rotated->kept, ElementsAre(old_id));
  EXPECT_TRUE(rotated->dropped.empty());
  EXPECT_THAT(told, ::testing::Contains("secrets 2/2"));
  EXPECT_THAT(told, ::testing::Contains("certificate keys 1/1"));
  EXPECT_THAT(told, ::testing::Contains("ACME account keys 1/1"));

  auto file = crypto::Keyring::Load(KeyringFile());
  ASSERT_TRUE(file) << file.error().ToString();
  ASSERT_EQ(file->keys().size(), 2u);
  EXPECT_TRUE(file->Has(old_id));
  EXPECT_EQ(file->active_id(), rotated->key);
  EXPECT_EQ(fs::status(KeyringFile()).permissions(),
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(KeyIdsInStore(), std::set<std::string>{rotated->key});
  ExpectOpensWith(*file);

  const std::string text = RotationText(*rotated);
  EXPECT_THAT(
      text, HasSubstr("key " + rotated->key + " is now the active key of " + KeyringFile() + "\n"));
  EXPECT_THAT(text, HasSubstr("re-sealed: 2 secrets, 1 certificate key, 1 ACME account key, 0 "
                              "shared-trust checks"));
  EXPECT_THAT(text, HasSubstr("kept: key " + old_id));
  EXPECT_THAT(text, HasSubstr("--drop-old-keys"));
  const boost::json::value json = boost::json::parse(RotationJson(*rotated));
  EXPECT_EQ(json.at("key").as_string(), rotated->key);
  EXPECT_EQ(json.at("resealed").at("secrets"), 2);
  EXPECT_EQ(json.at("kept"), boost::json::array{old_id});
  EXPECT_EQ(json.at("dropped"), boost::json::array{});
  EXPECT_EQ(json.at("shared"), false);
}

// Verify that --drop-old-keys keeps the new key alone once no record names
// another, and that a second such rotation does the same from that key.
TEST_F(KeyRotationTest, DropOldKeysKeepsTheNewKeyAlone) {
  const std::string old_id = keyring_->active_id();
  auto rotated = RotateKeys(Options(/*drop_old_keys=*/true));
  ASSERT_TRUE(rotated) << rotated.error().ToString();
  EXPECT_THAT(rotated->dropped, ElementsAre(old_id));
  EXPECT_TRUE(rotated->kept.empty());
  auto file = crypto::Keyring::Load(KeyringFile());
  ASSERT_TRUE(file) << file.error().ToString();
  ASSERT_EQ(file->keys().size(), 1u);
  EXPECT_EQ(file->active_id(), rotated->key);
  EXPECT_EQ(KeyIdsInStore(), std::set<std::string>{rotated->key});
  ExpectOpensWith(*file);
  EXPECT_THAT(RotationText(*rotated),
              HasSubstr("is now the active key of " + KeyringFile() + ", and its only one"));
  EXPECT_THAT(RotationText(*rotated), HasSubstr("dropped: key " + old_id));
  const boost::json::value json = boost::json::parse(RotationJson(*rotated));
  EXPECT_EQ(json.at("dropped"), boost::json::array{old_id});

  auto again = RotateKeys(Options(/*drop_old_keys=*/true));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_THAT(again->dropped, ElementsAre(rotated->key));
  EXPECT_EQ(again->secrets, 2);
  EXPECT_EQ(KeyIdsInStore(), std::set<std::string>{again->key});
  ExpectOpensWith(*crypto::Keyring::Load(KeyringFile()));
}

// Verify that a rotation is refused while another process's server uses
// the keys file (its PATH.lock held, whatever its data directory), and
// changes neither the file nor the store.
TEST_F(KeyRotationTest, RefusedWhileAServerUsesTheKeysFile) {
  auto lock = DirLock::AcquireFile(KeyringFile() + ".lock", DirLock::Mode::kShared);
  ASSERT_TRUE(lock) << lock.error().ToString();
  const std::string file = Slurp(KeyringFile());
  auto refused = RotateKeys(Options(/*drop_old_keys=*/true));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr("a server runs with this keys file (" +
                                                 KeyringFile() + "): stop it first"));
  EXPECT_EQ(Slurp(KeyringFile()), file);
  EXPECT_EQ(KeyIdsInStore(), std::set<std::string>{keyring_->active_id()});
}

// Verify that a rotation is refused while a server holds the data
// directory, saying to stop it, and changes neither the file nor the store.
TEST_F(KeyRotationTest, RefusedWhileAServerRuns) {
  auto lock = DirLock::Acquire(data_);
  ASSERT_TRUE(lock) << lock.error().ToString();
  const std::string file = Slurp(KeyringFile());
  auto refused = RotateKeys(Options());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr("stop it first: a running server keeps the keys "
                                                 "it loaded"));
  EXPECT_EQ(Slurp(KeyringFile()), file);
  EXPECT_EQ(KeyIdsInStore(), std::set<std::string>{keyring_->active_id()});
}

// Verify that a store naming a key the file lacks (the wrong --keys-file)
// is refused naming the record and the key, before anything changed.
TEST_F(KeyRotationTest, RefusesAFileLackingAKeyTheStoreNames) {
  const crypto::Keyring other = crypto::Keyring::Generate();
  ASSERT_TRUE(auth::SecretStore(store_.get(), &other).Set("api", "TOKEN", "x"));
  const std::string file = Slurp(KeyringFile());
  auto refused = RotateKeys(Options());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message,
              HasSubstr("record secret api/TOKEN is sealed under key " + other.active_id()));
  EXPECT_THAT(refused.error().message, HasSubstr("nothing was changed"));
  EXPECT_EQ(Slurp(KeyringFile()), file);
  EXPECT_EQ(KeyIdsInStore(), (std::set<std::string>{keyring_->active_id(), other.active_id()}));
}

// Verify that a rotation stopped by a record that does not open leaves a
// file holding the old keys and the new one (everything still opens), names
// the record, and that once the record is mended the next run completes.
TEST_F(KeyRotationTest, ARunCutShortIsCompletedByTheNext) {
  // DB_URL's envelope moved into another app's record: it opens nowhere else.
  ASSERT_TRUE(
      store_->PutRecord(store::RecordKind::kSecret, "zz/MOVED",
                        store_->GetRecord(store::RecordKind::kSecret, "web/DB_URL").value()));
  auto cut = RotateKeys(Options());
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(cut.error().message, HasSubstr("the secret record zz/MOVED"));
  EXPECT_THAT(cut.error().message, HasSubstr("run `skiff keys rotate` again"));
  auto file = crypto::Keyring::Load(KeyringFile());
  ASSERT_TRUE(file);
  ASSERT_EQ(file->keys().size(), 2u);
  EXPECT_TRUE(file->Has(keyring_->active_id()));
  ExpectOpensWith(*file);

  ASSERT_TRUE(store_->DeleteRecord(store::RecordKind::kSecret, "zz/MOVED"));
  auto done = RotateKeys(Options(/*drop_old_keys=*/true));
  ASSERT_TRUE(done) << done.error().ToString();
  EXPECT_EQ(done->dropped.size(), 2u);
  file = crypto::Keyring::Load(KeyringFile());
  ASSERT_TRUE(file);
  ASSERT_EQ(file->keys().size(), 1u);
  EXPECT_EQ(KeyIdsInStore(), std::set<std::string>{done->key});
  ExpectOpensWith(*file);
}

// Verify that the keyring may be kept outside the data directory
// (--keys-file): that file is rotated, and no keyring.json is made in the
// data directory.
TEST_F(KeyRotationTest, KeysFileOutsideTheDataDirectory) {
  const std::string outside = dir_.File("keys.json");
  fs::rename(KeyringFile(), outside);
  KeyRotationOptions options = Options();
  options.keys_file = outside;
  auto rotated = RotateKeys(options);
  ASSERT_TRUE(rotated) << rotated.error().ToString();
  EXPECT_EQ(rotated->keys_file, outside);
  EXPECT_FALSE(fs::exists(KeyringFile()));
  auto file = crypto::Keyring::Load(outside);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->active_id(), rotated->key);
  ExpectOpensWith(*file);

  // Without --keys-file the data directory holds no keyring: refused, none made.
  auto refused = RotateKeys(Options());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(refused.error().message, HasSubstr("no keyring file " + KeyringFile()));
  EXPECT_FALSE(fs::exists(KeyringFile()));
}

// Verify that a data directory that is not one, or holds no database, is
// refused without making anything there.
TEST_F(KeyRotationTest, RefusesWhatIsNoServersDirectory) {
  KeyRotationOptions options = Options();
  options.data_dir = dir_.File("none");
  EXPECT_EQ(RotateKeys(options).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(fs::exists(options.data_dir));

  const std::string bare = dir_.File("bare");
  fs::create_directories(bare);
  fs::copy_file(KeyringFile(), crypto::KeyringPath(bare, ""));
  options.data_dir = bare;
  auto refused = RotateKeys(options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(refused.error().message, HasSubstr("no database in " + bare));
  EXPECT_FALSE(fs::exists(bare + "/skiff.db"));
}

// Verify that the progress lines say each kind that has records when it
// starts, at most once a second of the clock's time meanwhile, and when it
// is done; and nothing for a kind with none.
TEST(KeyRotationProgressTest, LinesForEachKind) {
  std::ostringstream out;
  ManualClock clock;
  RotationProgress progress = ProgressLines(out, &clock);
  progress("secrets", 0, 3);
  clock.Advance(std::chrono::milliseconds(999));
  progress("secrets", 1, 3);  // within the second: not said
  clock.Advance(std::chrono::milliseconds(1));
  progress("secrets", 2, 3);
  progress("secrets", 3, 3);
  progress("certificate keys", 0, 0);
  progress("ACME account keys", 0, 1);
  progress("ACME account keys", 1, 1);
  EXPECT_EQ(out.str(),
            "re-sealing secrets: 0/3\nre-sealing secrets: 2/3\nre-sealing secrets: 3/3\n"
            "re-sealing ACME account keys: 0/1\nre-sealing ACME account keys: 1/1\n");
}

}  // namespace
}  // namespace skiff::server
