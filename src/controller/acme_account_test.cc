#include "controller/acme_account.h"

#include <gtest/gtest.h>

#include "controller/certificate_store.h"
#include "store/memory/memory_store.h"

namespace skiff::controller {
namespace {

// Verify that the account key is made once and reused (by this server after a
// restart and by another server of the database), that its URL is kept
// beside it, that the certificates listing does not show it, and that a
// keyring lacking its key says so.
TEST(AcmeAccountStoreTest, MadeOnceAndReused) {
  store::MemoryStore store;
  const crypto::Keyring keyring = crypto::Keyring::Generate();
  AcmeAccountStore first(&store, &keyring, "https://acme.test/dir");
  auto made = first.LoadOrCreate();
  ASSERT_TRUE(made) << made.error().ToString();
  EXPECT_EQ(made->url, "");
  ASSERT_TRUE(first.SetUrl("https://acme.test/acct/1"));

  AcmeAccountStore other(&store, &keyring, "https://acme.test/dir");
  auto again = other.LoadOrCreate();
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(crypto::PrivateKeyPem(again->key.get()), crypto::PrivateKeyPem(made->key.get()));
  EXPECT_EQ(again->url, "https://acme.test/acct/1");

  // The key is sealed: its PEM is nowhere in the record.
  auto records = store.ListRecords(store::RecordKind::kCertificate).value();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value.find("PRIVATE KEY"), std::string::npos);
  CertificateStore certs(&store, &keyring);
  ASSERT_TRUE(certs.List());
  EXPECT_TRUE(certs.List()->empty());
  EXPECT_EQ(certs.Remove(records[0].key).error().code, ErrorCode::kNotFound);

  const crypto::Keyring stranger = crypto::Keyring::Generate();
  AcmeAccountStore lacking(&store, &stranger, "https://acme.test/dir");
  EXPECT_EQ(lacking.LoadOrCreate().error().code, ErrorCode::kFailedPrecondition);
}

// Verify that the keys of every directory's account are sealed again under
// the active key, their URLs kept, and then open with the new key alone;
// that a key already under it is not written; and that a key that does not
// open is refused naming its directory.
TEST(AcmeAccountStoreTest, ResealUnderTheActiveKey) {
  store::MemoryStore store;
  const crypto::Keyring keyring = crypto::Keyring::Generate();
  AcmeAccountStore one(&store, &keyring, "https://one.test/dir");
  auto one_key = one.LoadOrCreate();
  ASSERT_TRUE(one_key);
  ASSERT_TRUE(one.SetUrl("https://one.test/acct/7"));
  const crypto::Keyring rotated = keyring.WithNewKey();
  AcmeAccountStore two(&store, &rotated, "https://two.test/dir");
  ASSERT_TRUE(two.LoadOrCreate());
  const std::string two_record =
      store
          .GetRecord(store::RecordKind::kCertificate,
                     std::string(kAcmeAccountPrefix) + "https://two.test/dir")
          .value();

  int last_done = -1;
  EXPECT_EQ(ResealAcmeAccounts(&store, rotated,
                               [&](int done, int total) {
                                 EXPECT_EQ(total, 2);
                                 last_done = done;
                               }),
            1);
  EXPECT_EQ(last_done, 2);
  EXPECT_EQ(store
                .GetRecord(store::RecordKind::kCertificate,
                           std::string(kAcmeAccountPrefix) + "https://two.test/dir")
                .value(),
            two_record);
  const crypto::Keyring only_new = rotated.ActiveOnly();
  auto reopened = AcmeAccountStore(&store, &only_new, "https://one.test/dir").LoadOrCreate();
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ(crypto::PrivateKeyPem(reopened->key.get()), crypto::PrivateKeyPem(one_key->key.get()));
  EXPECT_EQ(reopened->url, "https://one.test/acct/7");
  EXPECT_EQ(ResealAcmeAccounts(&store, rotated), 0);

  auto refused = ResealAcmeAccounts(&store, crypto::Keyring::Generate());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("https://one.test/dir"), std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace skiff::controller
