#include "acme/objects.h"

#include <gtest/gtest.h>

namespace skiff::acme {
namespace {

// Verify that a directory (RFC 8555 §7.1.1's example) gives the URLs the
// flow needs and the terms of service.
TEST(Objects, Directory) {
  auto dir = ParseDirectory(R"({
    "newNonce": "https://example.com/acme/new-nonce",
    "newAccount": "https://example.com/acme/new-account",
    "newOrder": "https://example.com/acme/new-order",
    "newAuthz": "https://example.com/acme/new-authz",
    "revokeCert": "https://example.com/acme/revoke-cert",
    "keyChange": "https://example.com/acme/key-change",
    "meta": {"termsOfService": "https://example.com/acme/terms/2017-5-30",
             "caaIdentities": ["example.com"], "externalAccountRequired": false}})");
  ASSERT_TRUE(dir) << dir.error().ToString();
  EXPECT_EQ(dir->new_nonce, "https://example.com/acme/new-nonce");
  EXPECT_EQ(dir->new_account, "https://example.com/acme/new-account");
  EXPECT_EQ(dir->new_order, "https://example.com/acme/new-order");
  EXPECT_EQ(dir->terms_of_service, "https://example.com/acme/terms/2017-5-30");
}

// Verify that objects missing what the flow needs, or not JSON, are refused
// with kInvalidArgument naming the object and the field.
TEST(Objects, RefusesBadObjects) {
  struct Case {
    Result<bool> result;
    std::string message;
  };
  auto ok = [](auto r) -> Result<bool> {
    if (!r) return tl::unexpected(r.error());
    return true;
  };
  const Case cases[] = {
      {ok(ParseDirectory(R"({"newNonce":"a","newAccount":"b"})")),
       "ACME server sent a bad directory: newOrder: missing"},
      {ok(ParseDirectory("<html>")), "ACME server sent a bad directory: not JSON"},
      {ok(ParseOrder(R"({"status":"pending","authorizations":"x","finalize":"f"})", "u")),
       "ACME server sent a bad order: authorizations: not an array"},
      {ok(ParseAuthorization(R"({"status":"pending"})", "u")),
       "ACME server sent a bad authorization: identifier: missing"},
      {ok(ParseChallenge(R"({"type":"http-01","status":"pending"})")),
       "ACME server sent a bad challenge: url: missing"},
      {ok(ParseChallenge(R"({"type":"http-01","url":"u","status":"pending","token":"../a/b"})")),
       "ACME server sent a bad challenge: token: not base64url"},
      {ok(ParseChallenge(R"({"type":"http-01","url":"u","status":"pending","token":"YQ=="})")),
       "ACME server sent a bad challenge: token: not base64url"},
      {ok(ParseChallenge(R"({"type":"http-01","url":"u","status":"pending","token":""})")),
       "ACME server sent a bad challenge: token: not base64url"},
      {ok(ParseAccount(R"({"status":7})", "u")), "ACME server sent a bad account: status"},
  };
  for (const Case& c : cases) {
    ASSERT_FALSE(c.result) << c.message;
    EXPECT_EQ(c.result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(c.result.error().message.substr(0, c.message.size()), c.message);
  }
}

// Verify that an order (RFC 8555 §7.1.3) keeps its URL, identifiers,
// authorizations, finalize and certificate URLs and its error.
TEST(Objects, Order) {
  auto order = ParseOrder(R"({
    "status": "invalid", "expires": "2016-01-05T14:09:07.99Z",
    "identifiers": [{"type": "dns", "value": "www.example.org"},
                    {"type": "dns", "value": "example.org"}],
    "authorizations": ["https://example.com/acme/authz/PAniVnsZcis",
                       "https://example.com/acme/authz/r4HqLzrSrpI"],
    "finalize": "https://example.com/acme/order/TOlocE8rfgo/finalize",
    "certificate": "https://example.com/acme/cert/mAt3xBGaobw",
    "error": {"type": "urn:ietf:params:acme:error:unauthorized", "detail": "nope"}})",
                          "https://example.com/acme/order/TOlocE8rfgo");
  ASSERT_TRUE(order) << order.error().ToString();
  EXPECT_EQ(order->url, "https://example.com/acme/order/TOlocE8rfgo");
  EXPECT_EQ(order->status, "invalid");
  EXPECT_EQ(order->domains, (std::vector<std::string>{"www.example.org", "example.org"}));
  EXPECT_EQ(order->authorizations.size(), 2u);
  EXPECT_EQ(order->finalize, "https://example.com/acme/order/TOlocE8rfgo/finalize");
  EXPECT_EQ(order->certificate, "https://example.com/acme/cert/mAt3xBGaobw");
  ASSERT_TRUE(order->error);
  EXPECT_EQ(order->error->ShortType(), "unauthorized");
  EXPECT_EQ(order->error->detail, "nope");
}

// Verify that an authorization (RFC 8555 §7.1.4) keeps its domain, status
// and challenges, and Find picks http-01 among them.
TEST(Objects, AuthorizationAndChallenges) {
  auto authz = ParseAuthorization(R"({
    "status": "pending", "expires": "2016-01-02T14:09:30Z",
    "identifier": {"type": "dns", "value": "www.example.org"},
    "challenges": [
      {"type": "dns-01", "url": "https://example.com/acme/chall/Rg5dV14Gh1Q",
       "status": "pending", "token": "DGyRejmCefe7v4NfDGDKfA"},
      {"type": "http-01", "url": "https://example.com/acme/chall/prV_B7yEyA4",
       "status": "invalid", "token": "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
       "error": {"type": "urn:ietf:params:acme:error:connection", "detail": "refused"}}]})",
                                  "https://example.com/acme/authz/PAniVnsZcis");
  ASSERT_TRUE(authz) << authz.error().ToString();
  EXPECT_EQ(authz->url, "https://example.com/acme/authz/PAniVnsZcis");
  EXPECT_EQ(authz->domain, "www.example.org");
  EXPECT_EQ(authz->status, "pending");
  EXPECT_FALSE(authz->wildcard);
  const Challenge* http = authz->Find("http-01");
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->url, "https://example.com/acme/chall/prV_B7yEyA4");
  EXPECT_EQ(http->token, "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0");
  ASSERT_TRUE(http->error);
  EXPECT_EQ(http->error->detail, "refused");
  EXPECT_EQ(authz->Find("tls-alpn-01"), nullptr);

  auto challenge = ParseChallenge(
      R"({"type":"http-01","url":"https://x/c/1","status":"processing","token":"tok"})");
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->status, "processing");
}

// Verify that an account answer keeps the URL (its Location) and status.
TEST(Objects, Account) {
  auto account = ParseAccount(R"({"status":"valid","contact":["mailto:a@b.c"],"orders":"o"})",
                              "https://example.com/acme/acct/evOfKhNU60wg");
  ASSERT_TRUE(account);
  EXPECT_EQ(account->url, "https://example.com/acme/acct/evOfKhNU60wg");
  EXPECT_EQ(account->status, "valid");
}

// Verify that Retry-After reads delay-seconds and HTTP dates, and ignores
// what is neither.
TEST(Objects, RetryAfter) {
  const Time now = std::chrono::system_clock::from_time_t(1445412480);  // 07:28:00 GMT
  EXPECT_EQ(ParseRetryAfter("120", now), std::chrono::seconds(120));
  EXPECT_EQ(ParseRetryAfter(" 3 ", now), std::chrono::seconds(3));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:05 GMT", now), std::chrono::seconds(5));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now), Duration::zero());
  EXPECT_EQ(ParseRetryAfter("", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-1", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", now), std::nullopt);
}

// Verify that an absurd Retry-After (beyond a day, or too large for a
// Duration) is ignored rather than overflowing into a negative wait.
TEST(Objects, RetryAfterRefusesAbsurdValues) {
  const Time now = std::chrono::system_clock::from_time_t(1445412480);  // 07:28:00 GMT
  EXPECT_EQ(ParseRetryAfter("86400", now), std::chrono::hours(24));
  EXPECT_EQ(ParseRetryAfter("86401", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("9223372036854775807", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("99999999999999999999", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Thu, 22 Oct 2015 07:28:00 GMT", now), std::chrono::hours(24));
  EXPECT_EQ(ParseRetryAfter("Fri, 21 Oct 2095 07:28:00 GMT", now), std::nullopt);
}

}  // namespace
}  // namespace skiff::acme
