#include "acme/jws.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "acme/base64url.h"
#include "crypto/x509.h"

namespace skiff::acme {
namespace {

// A fixed P-256 key. Its JWK coordinates and thumbprint were computed with
// the openssl CLI, apart from this code:
//   x, y: `openssl pkey -pubout -outform DER | tail -c 64`, split and base64url'd;
//   thumbprint: printf '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' $X $Y |
//               openssl dgst -sha256 -binary | base64url.
constexpr const char* kKeyPem = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgmOE+C0q1wvaA+DhR
zUvS2jxEzTk0hlNpgfxKrfp+j2ShRANCAARD6qmBk1QpjGO/vqMr4NQXNxhASmwR
L0CqKC5ISbJDv+aaxfF9nFIhpQYWpacr0AGjj3n/VKFTttMEcKxolarD
-----END PRIVATE KEY-----
)";
constexpr const char* kX = "Q-qpgZNUKYxjv76jK-DUFzcYQEpsES9AqiguSEmyQ78";
constexpr const char* kY = "5prF8X2cUiGlBhalpyvQAaOPef9UoVO20wRwrGiVqsM";
constexpr const char* kThumbprint = "LdmoVuPFvt--efdO9fgJ30YMz2OpBOulfm2v_NBh8V0";
// An ES256 signature of "eyJhbGciOiJFUzI1NiJ9.aGVsbG8" by that key, made
// with Python's cryptography (DER converted to r||s).
constexpr const char* kSigningInput = "eyJhbGciOiJFUzI1NiJ9.aGVsbG8";
constexpr const char* kForeignSignature =
    "zT_dFQG6mrJdHlyuj6-EeE67Os5jwTi0kqZey7SWT8o3HVTqbxVjNbWgQ62sG7HofNctX8D0EbIHiwAeFsUDZA";

crypto::PKeyPtr FixedKey() { return crypto::ParsePrivateKeyPem(kKeyPem).value(); }

// Verify that the JWK of a P-256 key has the coordinates the openssl CLI
// reads from it, members in lexicographic order.
TEST(Jws, JwkMatchesOpenssl) {
  auto jwk = Jwk(FixedKey().get());
  ASSERT_TRUE(jwk) << jwk.error().ToString();
  EXPECT_EQ(boost::json::serialize(*jwk),
            std::string(R"({"crv":"P-256","kty":"EC","x":")") + kX + R"(","y":")" + kY + R"("})");
}

// Verify that the RFC 7638 thumbprint matches the one computed with the
// openssl CLI (RFC 7638's own example is an RSA key), and the key
// authorization is token.thumbprint.
TEST(Jws, ThumbprintMatchesOpensslAndKeyAuthorizationUsesIt) {
  auto thumbprint = JwkThumbprint(FixedKey().get());
  ASSERT_TRUE(thumbprint) << thumbprint.error().ToString();
  EXPECT_EQ(*thumbprint, kThumbprint);
  EXPECT_EQ(KeyAuthorization("tok-EN_1", *thumbprint), std::string("tok-EN_1.") + kThumbprint);
}

// Verify that a key other than P-256 is refused with kInvalidArgument.
TEST(Jws, RefusesOtherKeys) {
  crypto::PKeyPtr rsa(EVP_RSA_gen(2048));
  ASSERT_TRUE(rsa);
  EXPECT_EQ(Jwk(rsa.get()).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(SignEs256(rsa.get(), "x").error().code, ErrorCode::kInvalidArgument);
  crypto::PKeyPtr p384(EVP_EC_gen("P-384"));
  ASSERT_TRUE(p384);
  EXPECT_EQ(JwkThumbprint(p384.get()).error().code, ErrorCode::kInvalidArgument);
}

// Verify that signatures are raw r||s (64 bytes): one made by another
// implementation verifies here, ours verify, and a changed input does not.
TEST(Jws, Es256IsRawRAndS) {
  crypto::PKeyPtr key = FixedKey();
  EXPECT_TRUE(VerifyEs256(key.get(), kSigningInput, Base64UrlDecode(kForeignSignature).value()));
  auto signature = SignEs256(key.get(), kSigningInput);
  ASSERT_TRUE(signature);
  EXPECT_EQ(signature->size(), 64u);
  EXPECT_TRUE(VerifyEs256(key.get(), kSigningInput, *signature));
  EXPECT_FALSE(VerifyEs256(key.get(), "eyJhbGciOiJFUzI1NiJ9.aGVsbG9", *signature));
}

// Verify that r and s are padded to 32 bytes each when they are shorter
// (about one signature in 64 has a leading zero byte in r or s): every one
// of 2,000 signatures is 64 bytes and verifies, some of them padded.
TEST(Jws, Es256PadsShortRAndS) {
  crypto::PKeyPtr key = crypto::GenerateP256Key().value();
  int padded = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string input = "input " + std::to_string(i);
    auto signature = SignEs256(key.get(), input);
    ASSERT_TRUE(signature) << signature.error().ToString();
    ASSERT_EQ(signature->size(), 64u) << i;
    ASSERT_TRUE(VerifyEs256(key.get(), input, *signature)) << i;
    if ((*signature)[0] == '\0' || (*signature)[32] == '\0') ++padded;
  }
  EXPECT_GT(padded, 0);
}

// Verify that a JWS carries alg, nonce, url and the jwk (newAccount) or the
// kid (every later request), the payload base64url'd ("" for POST-as-GET),
// and a signature over protected.payload.
TEST(Jws, FlattenedSerialization) {
  crypto::PKeyPtr key = FixedKey();
  struct Case {
    JwsHeader header;
    std::string payload;
    bool has_jwk;
  };
  const Case cases[] = {
      {{"https://ca/new-acct", "n1", ""}, R"({"termsOfServiceAgreed":true})", true},
      {{"https://ca/order/1", "n2", "https://ca/acct/7"}, "", false},
  };
  for (const Case& c : cases) {
    auto jws = SignJws(key.get(), c.header, c.payload);
    ASSERT_TRUE(jws) << jws.error().ToString();
    boost::json::object obj = boost::json::parse(*jws).as_object();
    const std::string protected64(obj.at("protected").as_string());
    const std::string payload64(obj.at("payload").as_string());
    EXPECT_EQ(Base64UrlDecode(payload64).value(), c.payload);
    boost::json::object header =
        boost::json::parse(Base64UrlDecode(protected64).value()).as_object();
    EXPECT_EQ(header.at("alg").as_string(), "ES256");
    EXPECT_EQ(header.at("nonce").as_string(), c.header.nonce);
    EXPECT_EQ(header.at("url").as_string(), c.header.url);
    EXPECT_EQ(header.contains("jwk"), c.has_jwk);
    EXPECT_EQ(header.contains("kid"), !c.has_jwk);
    if (c.has_jwk) {
      EXPECT_EQ(header.at("jwk").as_object().at("x").as_string(), kX);
    } else {
      EXPECT_EQ(header.at("kid").as_string(), c.header.kid);
    }
    const std::string signature =
        Base64UrlDecode(std::string(obj.at("signature").as_string())).value();
    EXPECT_TRUE(VerifyEs256(key.get(), protected64 + "." + payload64, signature));
  }
}

}  // namespace
}  // namespace skiff::acme
