#include "crypto/certificate.h"

#include <gtest/gtest.h>

#include <optional>

#include "common/quantity.h"
#include "crypto/x509.h"

namespace skiff::crypto {
namespace {

using std::chrono::hours;
using std::chrono::system_clock;

// A CA, and a leaf it issued for `names` with its key, as PEM.
struct Issued {
  std::string chain;  // leaf then CA
  std::string key;
  Time not_after;
  std::string leaf;  // the leaf alone
  std::string ca;    // the CA alone
};

// The CA is valid an hour either side of the leaf unless `ca_not_after` is given.
Issued Issue(std::vector<std::string> names, Time not_before, Time not_after,
             std::optional<Time> ca_not_after = std::nullopt) {
  auto ca_key = GenerateP256Key();
  CertificateRequest ca_request{
      "Test CA", {}, not_before - hours(1), ca_not_after.value_or(not_after + hours(1)), true};
  auto ca = IssueCertificate(ca_request, ca_key->get(), nullptr, ca_key->get());
  auto key = GenerateP256Key();
  CertificateRequest request{"leaf", std::move(names), not_before, not_after, false};
  auto leaf = IssueCertificate(request, key->get(), ca->get(), ca_key->get());
  const std::string leaf_pem = CertificatePem(leaf->get());
  const std::string ca_pem = CertificatePem(ca->get());
  return {leaf_pem + ca_pem, PrivateKeyPem(key->get()), not_after, leaf_pem, ca_pem};
}

// Verify that a good chain is accepted for its names (exact and under a
// wildcard) with its issuer, names and not-after.
TEST(CertificateTest, AcceptsWhatTheLeafNames) {
  const Time now = system_clock::now();
  const Issued good = Issue({"web.com", "*.apps.com"}, now - hours(1), now + hours(48));
  for (const char* domain : {"web.com", "WEB.com", "x.apps.com", "*.apps.com"}) {
    auto info = ValidateCertificate(good.chain, good.key, domain, now);
    ASSERT_TRUE(info) << domain << ": " << info.error().ToString();
    EXPECT_EQ(info->issuer, "Test CA");
    EXPECT_EQ(info->names, (std::vector<std::string>{"web.com", "*.apps.com"}));
    EXPECT_EQ(std::chrono::floor<std::chrono::seconds>(info->not_after),
              std::chrono::floor<std::chrono::seconds>(good.not_after));
    EXPECT_EQ(info->fingerprint.size(), 64u);
  }
}

// Verify that each kind of bad input is kInvalidArgument naming its field and
// what is wrong.
TEST(CertificateTest, RefusesBadInput) {
  const Time now = system_clock::now();
  const Issued good = Issue({"web.com", "*.apps.com"}, now - hours(1), now + hours(48));
  const Issued other = Issue({"web.com"}, now - hours(1), now + hours(48));
  const Issued expired = Issue({"web.com"}, now - hours(48), now - hours(24));
  const Issued future = Issue({"web.com"}, now + hours(24), now + hours(48));
  // A CA's certificate (keyUsage keyCertSign and cRLSign) given as a leaf.
  auto ca_key = GenerateP256Key();
  CertificateRequest ca_request{"web.com", {"web.com"}, now - hours(1), now + hours(48), true};
  auto ca = IssueCertificate(ca_request, ca_key->get(), nullptr, ca_key->get());
  const std::string ca_pem = CertificatePem(ca->get());
  const std::string ca_key_pem = PrivateKeyPem(ca_key->get());
  const Issued cn_only = Issue({}, now - hours(1), now + hours(48));
  const Issued old_ca = Issue({"web.com"}, now - hours(48), now + hours(48), now - hours(24));
  struct Case {
    std::string name;
    std::string chain;
    std::string key;
    std::string domain;
    std::string field;
    std::string says;
  };
  const std::string garbage_cert =
      "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
  const std::vector<Case> cases = {
      {"malformed cert", garbage_cert, good.key, "web.com", "cert", "no PEM certificate"},
      {"malformed chain", good.chain + garbage_cert, good.key, "web.com", "cert",
       "certificate 3 of the chain"},
      {"no cert", "hello", good.key, "web.com", "cert", "no PEM certificate"},
      {"a combined file as the chain", good.chain + good.key, good.key, "web.com", "cert",
       "holds a private key"},
      {"a key before the chain", good.key + good.chain, good.key, "web.com", "cert",
       "holds a private key"},
      {"malformed key", good.chain,
       "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "web.com", "key",
       "no PEM private key"},
      {"a cert for a key", good.chain, good.chain, "web.com", "key", "no PEM private key"},
      {"mismatched key", good.chain, other.key, "web.com", "key",
       "the key does not match the certificate"},
      {"leaf not first", good.ca + good.leaf, good.key, "web.com", "cert",
       "the certificate for the key must come first (it is number 2)"},
      {"another CA's certificate after the leaf", good.leaf + other.ca, good.key, "web.com", "cert",
       "certificate 1 (CN=leaf) is not issued by certificate 2 (CN=Test CA)"},
      {"another CA after the CA", good.chain + other.ca, good.key, "web.com", "cert",
       "certificate 2 (CN=Test CA) is not issued by certificate 3"},
      {"expired intermediate", old_ca.chain, old_ca.key, "web.com", "cert",
       "certificate 2 (CN=Test CA) expired on"},
      {"expired", expired.chain, expired.key, "web.com", "cert",
       "expired on " + FormatTime(expired.not_after).substr(0, 10)},
      {"not yet valid", future.chain, future.key, "web.com", "cert", "not valid before"},
      {"a CA's certificate as the leaf", ca_pem, ca_key_pem, "web.com", "cert",
       "the certificate is not for TLS servers"},
      {"a CN alone", cn_only.chain, cn_only.key, "web.com", "cert",
       "the certificate has no DNS subjectAltName; browsers ignore the CN; reissue it with "
       "-addext subjectAltName=DNS:web.com"},
      {"uncovered domain", good.chain, good.key, "other.com", "domain", "web.com, *.apps.com"},
      {"two labels under a wildcard", good.chain, good.key, "a.b.apps.com", "domain", "not among"},
      {"a wildcard the cert lacks", good.chain, good.key, "*.web.com", "domain", "not among"},
      {"bad domain", good.chain, good.key, "web com", "domain", "not a hostname"},
      {"empty domain", good.chain, good.key, "", "domain", "not a hostname"},
      {"bare wildcard", good.chain, good.key, "*", "domain", "not a hostname"},
  };
  for (const Case& c : cases) {
    auto info = ValidateCertificate(c.chain, c.key, c.domain, now);
    ASSERT_FALSE(info) << c.name;
    EXPECT_EQ(info.error().code, ErrorCode::kInvalidArgument) << c.name;
    EXPECT_EQ(info.error().field, c.field) << c.name << ": " << info.error().message;
    EXPECT_NE(info.error().message.find(c.says), std::string::npos)
        << c.name << ": " << info.error().message;
  }
}

}  // namespace
}  // namespace skiff::crypto
