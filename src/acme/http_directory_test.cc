#include "acme/http_directory.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <mutex>
#include <vector>

#include "acme/base64url.h"
#include "common/check.h"
#include "crypto/authority.h"
#include "crypto/x509.h"
#include "net/http_server.h"
#include "net/test_util.h"

namespace skiff::acme {
namespace {

namespace asio = boost::asio;

// An ACME server that refuses the first `bad_nonces` newAccount POSTs with
// badNonce (each refusal carrying a fresh nonce, as RFC 8555 §6.5 asks) and
// records the nonce each POST was signed with. Plain HTTP unless given a TLS
// context (the client's HTTPS is net::HttpClient's and tested there); with
// `links_scheme` its directory names URLs of that scheme whatever it serves.
class NonceServer {
 public:
  explicit NonceServer(int bad_nonces, std::shared_ptr<asio::ssl::context> tls = nullptr,
                       std::string links_scheme = "")
      : bad_nonces_(bad_nonces),
        scheme_(tls ? "https" : "http"),
        links_scheme_(links_scheme.empty() ? scheme_ : links_scheme),
        server_(
            io_.io(),
            [this](const net::HttpRequest& request,
                   net::ResponseWriter& writer) -> asio::awaitable<void> {
              net::HttpResponse response = Answer(request);
              co_await writer.Send(std::move(response));
            },
            net::HttpServerOptions{.tls = std::move(tls)}) {
    SKIFF_CHECK(server_.Listen("127.0.0.1:0"));
  }
  std::string base() const { return Base(scheme_); }
  std::vector<std::string> nonces() {
    std::lock_guard lock(mu_);
    return nonces_;
  }

 private:
  net::HttpResponse Answer(const net::HttpRequest& request) {
    std::lock_guard lock(mu_);
    const std::string nonce = "nonce-" + std::to_string(++issued_);
    net::HttpResponse response;
    if (request.path == "/dir") {
      const std::string links = Base(links_scheme_);
      response = net::TextResponse(200,
                                   R"({"newNonce":")" + links + R"(/nonce","newAccount":")" +
                                       links + R"(/account","newOrder":")" + links + R"(/order"})",
                                   "application/json");
    } else if (request.path == "/nonce") {
      response.status = 200;
    } else if (request.path == "/account") {
      auto jws = boost::json::parse(request.body).as_object();
      auto header =
          boost::json::parse(Base64UrlDecode(std::string(jws.at("protected").as_string())).value());
      nonces_.emplace_back(header.as_object().at("nonce").as_string());
      if (static_cast<int>(nonces_.size()) <= bad_nonces_) {
        response = net::TextResponse(
            400,
            R"({"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce: \")" +
                nonces_.back() + R"(\""})",
            "application/problem+json");
      } else {
        response = net::TextResponse(201, R"({"status":"valid"})", "application/json");
        response.headers.emplace_back("Location", base() + "/account/1");
      }
    } else if (request.path == "/order") {
      response = net::TextResponse(
          429,
          R"({"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many new orders"})",
          "application/problem+json");
      response.headers.emplace_back("Retry-After", "120");
    } else {
      response = net::TextResponse(404, "no");
    }
    response.headers.emplace_back("Replay-Nonce", nonce);
    return response;
  }

  std::string Base(const std::string& scheme) const {
    return scheme + "://127.0.0.1:" + std::to_string(server_.port());
  }

  const int bad_nonces_;
  const std::string scheme_;
  const std::string links_scheme_;
  net::testing::IoThreads io_{1};
  net::HttpServer server_;
  std::mutex mu_;
  int issued_ = 0;                   // GUARDED_BY(mu_)
  std::vector<std::string> nonces_;  // GUARDED_BY(mu_)
};

// Verify that a request refused with badNonce is sent again signed with the
// nonce the refusal carried, and the account comes back.
TEST(HttpAcmeDirectory, RetriesBadNonceWithTheRefusalsNonce) {
  NonceServer server(2);
  HttpAcmeDirectory directory(server.base() + "/dir");
  crypto::PKeyPtr key = crypto::GenerateP256Key().value();
  auto account = directory.NewAccount(key.get(), {"mailto:ops@skiff.test"}, false);
  ASSERT_TRUE(account) << account.error().ToString();
  EXPECT_EQ(account->url, server.base() + "/account/1");
  // Every answer carries the next nonce: the directory's nonce-1, newNonce's
  // nonce-2 for the first POST, then each retry the refusal's.
  auto nonces = server.nonces();
  ASSERT_EQ(nonces.size(), 3u);
  EXPECT_EQ(nonces[0], "nonce-2");
  EXPECT_EQ(nonces[1], "nonce-3");
  EXPECT_EQ(nonces[2], "nonce-4");
}

// Verify that a server that refuses every nonce ends the call after the
// retries with kAborted and its own words.
TEST(HttpAcmeDirectory, GivesUpOnEndlessBadNonces) {
  NonceServer server(1000);
  HttpAcmeDirectory directory(server.base() + "/dir");
  crypto::PKeyPtr key = crypto::GenerateP256Key().value();
  auto account = directory.NewAccount(key.get(), {}, false);
  ASSERT_FALSE(account);
  EXPECT_EQ(account.error().code, ErrorCode::kAborted);
  EXPECT_EQ(server.nonces().size(), static_cast<size_t>(HttpAcmeDirectory::kBadNonceRetries + 1));
  EXPECT_TRUE(account.error().message.starts_with(
      "registering an ACME account: ACME server said: JWS has an invalid anti-replay nonce"))
      << account.error().message;
}

// Verify that a rate limit's Retry-After is kept in the error's words.
TEST(HttpAcmeDirectory, RateLimitSaysWhenToRetry) {
  NonceServer server(0);
  HttpAcmeDirectory directory(server.base() + "/dir");
  crypto::PKeyPtr key = crypto::GenerateP256Key().value();
  auto order =
      directory.NewOrder(AccountKey{key.get(), server.base() + "/account/1"}, {"web.skiff.test"});
  ASSERT_FALSE(order);
  EXPECT_EQ(order.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(order.error().message,
            "new order for web.skiff.test: ACME server said: too many new orders (rateLimited); "
            "retry after 120 s");
}

// Verify that a call whose AccountKey::timeout is spent ends with
// kDeadlineExceeded before anything is posted.
TEST(HttpAcmeDirectory, CallEndsWithTheCallersTime) {
  NonceServer server(0);
  HttpAcmeDirectory directory(server.base() + "/dir");
  crypto::PKeyPtr key = crypto::GenerateP256Key().value();
  const AccountKey spent{key.get(), server.base() + "/account/1", Duration::zero()};
  auto order = directory.NewOrder(spent, {"web.skiff.test"});
  ASSERT_FALSE(order);
  EXPECT_EQ(order.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(order.error().message, "new order for web.skiff.test: out of the order's time");
}

// Verify that an ACME server reached over HTTPS may not send the client to
// plain http:// URLs (RFC 8555 §6.1): kInvalidArgument before anything is
// sent there; its https:// URLs are followed.
TEST(HttpAcmeDirectory, RefusesPlainUrlsFromAnHttpsServer) {
  const auto now = std::chrono::system_clock::now();
  crypto::CertifiedKey ca =
      crypto::MakeAuthority("acme test ca", now, std::chrono::hours(1)).value();
  crypto::CertifiedKey cert =
      crypto::IssueServerCertificate(ca, {"127.0.0.1"}, now, std::chrono::hours(1)).value();
  auto tls = [&] { return net::MakeServerTlsContext(cert.cert_pem, cert.key_pem).value(); };
  crypto::PKeyPtr key = crypto::GenerateP256Key().value();

  NonceServer plain_links(0, tls(), "http");
  HttpAcmeDirectory refused(plain_links.base() + "/dir", net::TlsTrust{.ca_pem = ca.cert_pem});
  auto account = refused.NewAccount(key.get(), {}, false);
  ASSERT_FALSE(account);
  EXPECT_EQ(account.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(account.error().message, "the ACME server sent a URL that is not https: \"http://" +
                                         plain_links.base().substr(std::string("https://").size()) +
                                         "/nonce\"");

  NonceServer https_links(0, tls());
  HttpAcmeDirectory followed(https_links.base() + "/dir", net::TlsTrust{.ca_pem = ca.cert_pem});
  account = followed.NewAccount(key.get(), {}, false);
  ASSERT_TRUE(account) << account.error().ToString();
  EXPECT_EQ(account->url, https_links.base() + "/account/1");
}

}  // namespace
}  // namespace skiff::acme
