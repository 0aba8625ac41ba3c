#include "crypto/x509.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace skiff::crypto {
namespace {

using std::chrono::hours;
using std::chrono::system_clock;

CertificateRequest Request(std::string cn, std::vector<std::string> names, bool ca = false) {
  CertificateRequest r;
  r.common_name = std::move(cn);
  r.names = std::move(names);
  r.not_before = system_clock::now() - hours(1);
  r.not_after = system_clock::now() + hours(24);
  r.is_ca = ca;
  return r;
}

// Verify that a leaf issued by a CA made here verifies against that CA alone,
// names its SANs, and survives the trip through PEM with the same fingerprint.
TEST(X509Test, CaIssuesALeafThatVerifies) {
  auto ca_key = GenerateP256Key();
  ASSERT_TRUE(ca_key);
  auto ca = IssueCertificate(Request("skiff ca", {}, true), ca_key->get(), nullptr, ca_key->get());
  ASSERT_TRUE(ca) << ca.error().ToString();
  auto key = GenerateP256Key();
  ASSERT_TRUE(key);
  auto leaf = IssueCertificate(Request("server", {"127.0.0.1", "skiff.test", "*.apps.test"}),
                               key->get(), ca->get(), ca_key->get());
  ASSERT_TRUE(leaf) << leaf.error().ToString();

  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca->get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf->get(), nullptr);
  EXPECT_EQ(X509_verify_cert(ctx), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  EXPECT_EQ(X509_check_host(leaf->get(), "skiff.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(leaf->get(), "x.apps.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf->get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(leaf->get(), "other.test", 0, 0, nullptr), 0);

  auto back = ParseCertificatePem(CertificatePem(leaf->get()));
  ASSERT_TRUE(back);
  EXPECT_EQ(CertificateFingerprint(back->get()), CertificateFingerprint(leaf->get()));
  EXPECT_EQ(CertificateFingerprint(leaf->get()).size(), 64u);
  auto key_back = ParsePrivateKeyPem(PrivateKeyPem(key->get()));
  ASSERT_TRUE(key_back);
  EXPECT_EQ(EVP_PKEY_eq(key_back->get(), key->get()), 1);
}

// Verify that a chain reads back in order, and that text with no certificate,
// or a broken one after a good one, is kInvalidArgument.
TEST(X509Test, ChainParsing) {
  auto key = GenerateP256Key();
  ASSERT_TRUE(key);
  auto a = IssueCertificate(Request("a", {"a.test"}), key->get(), nullptr, key->get());
  auto b = IssueCertificate(Request("b", {"b.test"}), key->get(), nullptr, key->get());
  ASSERT_TRUE(a && b);
  auto chain = ParseCertificateChainPem(CertificatePem(a->get()) + CertificatePem(b->get()));
  ASSERT_TRUE(chain) << chain.error().ToString();
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ(CertificateFingerprint((*chain)[1].get()), CertificateFingerprint(b->get()));

  EXPECT_EQ(ParseCertificateChainPem("hello").error().code, ErrorCode::kInvalidArgument);
  const std::string broken =
      CertificatePem(a->get()) +
      "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
  auto bad = ParseCertificateChainPem(broken);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("certificate 2"), std::string::npos) << bad.error().message;
  EXPECT_EQ(ParsePrivateKeyPem("nope").error().code, ErrorCode::kInvalidArgument);
}

// Verify that a name that is no DNS name or address, and an empty validity,
// are refused with kInvalidArgument.
TEST(X509Test, RefusesBadRequests) {
  auto key = GenerateP256Key();
  ASSERT_TRUE(key);
  for (const char* name : {"a b", "a..b.com", "-a.com", "a-.com", "*.", "a.*.com"}) {
    auto bad_name = IssueCertificate(Request("x", {name}), key->get(), nullptr, key->get());
    ASSERT_FALSE(bad_name) << name;
    EXPECT_EQ(bad_name.error().code, ErrorCode::kInvalidArgument) << name;
  }
  CertificateRequest r = Request("x", {});
  r.not_after = r.not_before;
  EXPECT_EQ(IssueCertificate(r, key->get(), nullptr, key->get()).error().code,
            ErrorCode::kInvalidArgument);
}

// Verify that an encrypted key (PKCS#8 or traditional) is refused saying so
// and how to decrypt it, without asking for a passphrase.
TEST(X509Test, EncryptedKeyIsRefusedWithoutAPrompt) {
  auto key = GenerateP256Key();
  ASSERT_TRUE(key);
  char passphrase[] = "secret";
  const auto encrypted = [&](bool pkcs8) {
    BIO* bio = BIO_new(BIO_s_mem());
    const int ok = pkcs8 ? PEM_write_bio_PKCS8PrivateKey(bio, key->get(), EVP_aes_256_cbc(),
                                                         passphrase, 6, nullptr, nullptr)
                         : PEM_write_bio_PrivateKey_traditional(
                               bio, key->get(), EVP_aes_256_cbc(),
                               reinterpret_cast<unsigned char*>(passphrase), 6, nullptr, nullptr);
    EXPECT_EQ(ok, 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(size));
    BIO_free(bio);
    return pem;
  };
  for (bool pkcs8 : {true, false}) {
    const std::string pem = encrypted(pkcs8);
    ASSERT_NE(pem.find("ENCRYPTED"), std::string::npos) << pem;
    auto parsed = ParsePrivateKeyPem(pem);
    ASSERT_FALSE(parsed) << pkcs8;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find("the key is encrypted"), std::string::npos)
        << parsed.error().message;
    EXPECT_NE(parsed.error().message.find("openssl pkey"), std::string::npos);
  }
}

}  // namespace
}  // namespace skiff::crypto
