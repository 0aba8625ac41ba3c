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

}  // namespace
}  // namespace skiff::controller
