#include "acme/csr.h"

#include <gtest/gtest.h>

#include "fakes/testing.h"

namespace skiff::acme {
namespace {

// Verify that a CSR carries every domain as a DNS subjectAltName, is signed
// by the certificate's key, and that `openssl req -verify` accepts it.
TEST(Csr, CarriesTheDomainsAndVerifies) {
  crypto::PKeyPtr key = crypto::GenerateP256Key().value();
  auto der = MakeCsrDer({"web.skiff.test", "www.web.skiff.test"}, key.get());
  ASSERT_TRUE(der) << der.error().ToString();
  auto info = ParseCsrDer(*der);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->dns_names, (std::vector<std::string>{"web.skiff.test", "www.web.skiff.test"}));
  EXPECT_EQ(EVP_PKEY_eq(info->public_key.get(), key.get()), 1);

  testing::TempDir dir;
  FILE* f = std::fopen(dir.File("req.der").c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(der->data(), 1, der->size(), f);
  std::fclose(f);
  const std::string cmd = "openssl req -inform DER -in " + dir.File("req.der") +
                          " -verify -noout -subject > " + dir.File("out") + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

// Verify that no domain, a name that is not a DNS name, and bytes that are
// not a CSR are refused with kInvalidArgument.
TEST(Csr, RefusesBadInput) {
  crypto::PKeyPtr key = crypto::GenerateP256Key().value();
  EXPECT_EQ(MakeCsrDer({}, key.get()).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(MakeCsrDer({"web skiff"}, key.get()).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseCsrDer("not a csr").error().code, ErrorCode::kInvalidArgument);
  auto der = MakeCsrDer({"web.skiff.test"}, key.get()).value();
  der[der.size() - 3] ^= 0x55;  // in the signature
  EXPECT_EQ(ParseCsrDer(der).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff::acme
