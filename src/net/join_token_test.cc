#include "net/join_token.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace skiff::net {
namespace {

using ::testing::HasSubstr;

// Verify that a SKIFF1 token splits into its fingerprint and secret, and that
// anything else is a bare secret.
TEST(JoinTokenTest, ParseAndFormat) {
  const std::string fingerprint(64, 'b');
  const std::string token = FormatJoinToken(fingerprint, "s3cret");
  EXPECT_EQ(token, "SKIFF1-" + fingerprint + "-s3cret");
  ParsedJoinToken parsed = ParseJoinToken(token);
  EXPECT_EQ(parsed.ca_fingerprint, fingerprint);
  EXPECT_EQ(parsed.secret, "s3cret");
  for (const std::string& bare :
       {std::string("0123abcd"), "SKIFF1-" + std::string(64, 'G') + "-x", std::string("SKIFF1-")}) {
    EXPECT_EQ(ParseJoinToken(bare).ca_fingerprint, "") << bare;
    EXPECT_EQ(ParseJoinToken(bare).secret, bare);
  }
  EXPECT_EQ(FormatJoinToken("", "s3cret"), "s3cret");
}

// Verify that a secret never goes to a plain http:// server off loopback,
// and that loopback and https:// servers are fine.
TEST(JoinTokenTest, TrustForSecretsRefusesClearTextOffLoopback) {
  auto refused = TrustForSecrets("https://10.0.0.1:7070,http://10.0.0.2:7070", "", "");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr("in clear to http://10.0.0.2:7070"));
  const std::string pin(64, 'c');
  auto ok =
      TrustForSecrets("http://127.0.0.2:7070,https://10.0.0.1:7070,http://localhost:1", "", pin);
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->ca_fingerprint, pin);
  auto missing = TrustForSecrets("https://10.0.0.1:7070", "/nonexistent/ca.crt", "");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
  for (const std::string& bad :
       {std::string(64, 'C'), std::string(63, 'c'), std::string("ab:cd")}) {
    auto refused_pin = TrustForSecrets("https://10.0.0.1:7070", "", bad);
    ASSERT_FALSE(refused_pin) << bad;
    EXPECT_EQ(refused_pin.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace skiff::net
