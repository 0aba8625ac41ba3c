#include "edge/tls/cert_table.h"

#include <gtest/gtest.h>

#include "crypto/domain_name.h"
#include "fakes/tls_client.h"

namespace skiff::edge::tls {
namespace {

using skiff::testing::TestCa;

class CertTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    web_ = ca_.Issue({"web.test"});
    shop_ = ca_.Issue({"*.shop.test"});
    table_ = CertTable::Build({web_, shop_});
  }
  std::string FingerprintOf(const protocol::RouteCertificate& c) {
    return crypto::CertificateFingerprint(crypto::ParseCertificatePem(c.cert_pem)->get());
  }
  std::string Served(std::string_view name) {
    const ServedCertificate* served = table_->Find(name);
    return served == nullptr ? "" : served->fingerprint;
  }

  TestCa ca_;
  protocol::RouteCertificate web_;
  protocol::RouteCertificate shop_;
  std::shared_ptr<const CertTable> table_;
};

// Verify that a name finds its own certificate, in any case and with a
// trailing dot.
TEST_F(CertTableTest, ExactNameInAnyCase) {
  EXPECT_EQ(Served("web.test"), FingerprintOf(web_));
  EXPECT_EQ(Served("WEB.Test"), FingerprintOf(web_));
  EXPECT_EQ(Served("web.test."), FingerprintOf(web_));
}

// Verify that a wildcard serves exactly one label under its domain: not the
// domain itself, not two labels down.
TEST_F(CertTableTest, WildcardIsOneLabelDeep) {
  EXPECT_EQ(Served("a.shop.test"), FingerprintOf(shop_));
  EXPECT_EQ(Served("Cart.SHOP.test"), FingerprintOf(shop_));
  EXPECT_EQ(Served("shop.test"), "");
  EXPECT_EQ(Served("a.b.shop.test"), "");
}

// Verify that an exact name wins over a wildcard that also covers it.
TEST_F(CertTableTest, ExactBeatsWildcard) {
  const protocol::RouteCertificate admin = ca_.Issue({"admin.shop.test"});
  table_ = CertTable::Build({shop_, admin});
  EXPECT_EQ(Served("admin.shop.test"), FingerprintOf(admin));
  EXPECT_EQ(Served("cart.shop.test"), FingerprintOf(shop_));
}

// Verify that a name nobody has a certificate for (or no name) gets none, so
// the caller serves its fallback and never another app's certificate.
TEST_F(CertTableTest, UnknownNameGetsNothing) {
  EXPECT_EQ(table_->Find("other.test"), nullptr);
  EXPECT_EQ(table_->Find("eb.test"), nullptr);
  EXPECT_EQ(table_->Find("xweb.test"), nullptr);
  EXPECT_EQ(table_->Find(""), nullptr);
  EXPECT_EQ(CertTable::Build({})->Find("web.test"), nullptr);
}

// Verify that a certificate whose key does not match, or whose PEM does not
// parse, is left out: its names get nothing rather than a broken handshake,
// and the others are still served.
TEST_F(CertTableTest, BrokenCertificatesAreLeftOut) {
  protocol::RouteCertificate mismatched = ca_.Issue({"bad.test"});
  mismatched.key_pem = web_.key_pem;
  protocol::RouteCertificate garbage{{"junk.test"}, "not a pem", "nor this"};
  table_ = CertTable::Build({mismatched, garbage, web_});
  EXPECT_EQ(table_->size(), 1u);
  EXPECT_EQ(table_->Find("bad.test"), nullptr);
  EXPECT_EQ(table_->Find("junk.test"), nullptr);
  EXPECT_EQ(Served("web.test"), FingerprintOf(web_));
}

// Verify that the table's lookup (a map by name, then by "*." and the
// parent) serves exactly the names crypto::DomainCovers, the rule the store
// and the orderer share, says its domains cover.
TEST_F(CertTableTest, AgreesWithDomainCovers) {
  const std::vector<std::string> patterns = {"web.test", "*.shop.test"};
  for (const std::string host :
       {"web.test", "WEB.TEST", "a.web.test", "shop.test", "a.shop.test", "A.Shop.Test",
        "a.b.shop.test", ".shop.test", "xshop.test", "test", "other.test"}) {
    bool covered = false;
    for (const std::string& pattern : patterns) covered |= crypto::DomainCovers(pattern, host);
    EXPECT_EQ(table_->Find(host) != nullptr, covered) << host;
  }
}

// Verify that the chain after the leaf is kept for the handshake.
TEST_F(CertTableTest, KeepsTheChain) {
  const ServedCertificate* served = table_->Find("web.test");
  ASSERT_NE(served, nullptr);
  ASSERT_NE(served->chain, nullptr);
  EXPECT_EQ(sk_X509_num(served->chain), 1);
}

}  // namespace
}  // namespace skiff::edge::tls
