// HTTPS between net::HttpClient and net::HttpServer: the three ways a client
// trusts a server (a CA bundle, a pinned CA fingerprint, the system's roots),
// the leaf's name, and what a refusal says.
#include "net/tls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "crypto/authority.h"
#include "crypto/x509.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/test_util.h"

namespace skiff::net {
namespace {

using std::chrono::hours;
using std::chrono::system_clock;
using ::testing::HasSubstr;

// The CA's fingerprint, from its PEM.
std::string Fingerprint(const std::string& pem) {
  auto cert = crypto::ParseCertificatePem(pem);
  return cert ? crypto::CertificateFingerprint(cert->get()) : "";
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = crypto::MakeAuthority("test ca", system_clock::now(), hours(24));
    ASSERT_TRUE(ca) << ca.error().ToString();
    ca_ = *ca;
  }

  // Serves HTTPS on 127.0.0.1 with `chain` and `key`: GET /hello answers
  // "hi", GET /stream streams three chunks. Counts the requests it sees.
  void Start(const crypto::CertifiedKey& server) {
    auto context = MakeServerTlsContext(server.cert_pem, server.key_pem);
    ASSERT_TRUE(context) << context.error().ToString();
    HttpServerOptions options;
    options.tls = *context;
    io_threads_ = std::make_unique<testing::IoThreads>(2);
    server_ = std::make_unique<HttpServer>(
        io_threads_->io(),
        [this](const HttpRequest& request, ResponseWriter& writer) -> asio::awaitable<void> {
          ++requests_;
          if (request.path == "/stream") {
            HttpHeaders headers{{"Content-Type", "text/plain"}};
            co_await writer.Begin(200, std::move(headers));
            co_await writer.Write("one\n");
            co_await writer.Write("two\n");
            co_await writer.Write("three\n");
            co_await writer.End();
            co_return;
          }
          HttpResponse response;
          response.status = 200;
          response.body = std::string("hi");
          co_await writer.Send(std::move(response));
        },
        options);
    auto status = server_->Listen("127.0.0.1:0");
    ASSERT_TRUE(status) << status.error().ToString();
  }

  // A certificate for 127.0.0.1 signed by the test's CA.
  crypto::CertifiedKey ServerCertificate(std::vector<std::string> names = {"127.0.0.1",
                                                                           "localhost"}) {
    auto server = crypto::IssueServerCertificate(ca_, names, system_clock::now(), hours(24));
    EXPECT_TRUE(server) << server.error().ToString();
    return server ? *server : crypto::CertifiedKey{};
  }

  std::string Url() const { return "https://127.0.0.1:" + std::to_string(server_->port()); }

  void TearDown() override {
    server_.reset();
    io_threads_.reset();
  }

  crypto::CertifiedKey ca_;
  std::unique_ptr<testing::IoThreads> io_threads_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<int> requests_ = 0;
};

// Verify that a client trusting the server's CA (a bundle) gets answers from
// Do and Stream over HTTPS, the stream's chunks in order.
TEST_F(TlsTest, CaBundleDoAndStream) {
  Start(ServerCertificate());
  HttpClient client(Url(), TlsTrust{.ca_pem = ca_.cert_pem});
  auto response = client.Do("GET", "/hello");
  ASSERT_TRUE(response) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hi");
  std::string streamed;
  auto status = client.Stream("GET", "/stream", {}, [&](std::string_view data) {
    streamed += data;
    return true;
  });
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(streamed, "one\ntwo\nthree\n");
}

// Verify that a client pinning the CA's fingerprint (as a join token does)
// talks to the server whose chain holds that CA.
TEST_F(TlsTest, PinnedFingerprintMatches) {
  Start(ServerCertificate());
  HttpClient client(Url(), TlsTrust{.ca_fingerprint = Fingerprint(ca_.cert_pem)});
  auto response = client.Do("GET", "/hello");
  ASSERT_TRUE(response) << response.error().ToString();
  EXPECT_EQ(response->body, "hi");
}

// Verify that a server whose CA is not the pinned one is refused with
// kUnauthenticated naming both fingerprints, before any request reaches it,
// and that NeverSent says so.
TEST_F(TlsTest, PinnedFingerprintMismatchSendsNothing) {
  Start(ServerCertificate());
  auto other = crypto::MakeAuthority("other ca", system_clock::now(), hours(24));
  ASSERT_TRUE(other);
  const std::string expected = Fingerprint(other->cert_pem);
  HttpClient client(Url(), TlsTrust{.ca_fingerprint = expected});
  auto response = client.Do("POST", "/v1/nodes", R"({"token":"secret"})");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(response.error().message, HasSubstr("cannot trust the server at 127.0.0.1:"));
  EXPECT_THAT(response.error().message,
              HasSubstr("its CA fingerprint is " + Fingerprint(ca_.cert_pem)));
  EXPECT_THAT(response.error().message, HasSubstr("expects " + expected));
  EXPECT_TRUE(NeverSent(response.error()));
  auto streamed = client.Stream("GET", "/stream", {}, [](std::string_view) { return true; });
  ASSERT_FALSE(streamed);
  EXPECT_EQ(streamed.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(requests_.load(), 0);
}

// Verify that holding the pinned CA in the chain is not enough: a leaf that CA
// did not sign (an impostor sending the real CA's certificate along with its
// own) is refused.
TEST_F(TlsTest, PinnedCaMustHaveSignedTheLeaf) {
  auto impostor_ca = crypto::MakeAuthority("impostor", system_clock::now(), hours(24));
  ASSERT_TRUE(impostor_ca);
  auto leaf =
      crypto::IssueServerCertificate(*impostor_ca, {"127.0.0.1"}, system_clock::now(), hours(24));
  ASSERT_TRUE(leaf);
  // The impostor's leaf, then the real CA's certificate (public, easy to copy).
  auto first = crypto::ParseCertificateChainPem(leaf->cert_pem);
  ASSERT_TRUE(first);
  Start({crypto::CertificatePem(first->front().get()) + ca_.cert_pem, leaf->key_pem});
  HttpClient client(Url(), TlsTrust{.ca_fingerprint = Fingerprint(ca_.cert_pem)});
  auto response = client.Do("GET", "/hello");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(response.error().message, HasSubstr("does not verify against the pinned CA"));
  EXPECT_TRUE(NeverSent(response.error()));
  EXPECT_EQ(requests_.load(), 0);
}

// Verify that a leaf which does not name the address connected to is refused,
// with a bundle and with a pin alike.
TEST_F(TlsTest, LeafMustNameTheHost) {
  Start(ServerCertificate({"127.0.0.2", "elsewhere.test"}));
  for (const TlsTrust& trust :
       {TlsTrust{.ca_pem = ca_.cert_pem}, TlsTrust{.ca_fingerprint = Fingerprint(ca_.cert_pem)}}) {
    auto response = HttpClient(Url(), trust).Do("GET", "/hello");
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, ErrorCode::kUnauthenticated);
    EXPECT_THAT(response.error().message, HasSubstr("cannot trust the server at 127.0.0.1:"));
    EXPECT_THAT(response.error().message, HasSubstr("IP address mismatch"));
  }
  EXPECT_EQ(requests_.load(), 0);
}

// Verify that by default (the system's roots) a server with a private CA is
// refused.
TEST_F(TlsTest, SystemRootsRefuseAPrivateCa) {
  Start(ServerCertificate());
  auto response = HttpClient(Url()).Do("GET", "/hello");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(response.error().message, HasSubstr("its certificate does not verify"));
  EXPECT_EQ(requests_.load(), 0);
}

// Verify that https:// to a plain HTTP server fails the handshake as a
// connection that could not be made (nothing sent), and that a plain client
// gets nothing from the TLS server.
TEST_F(TlsTest, PlainAndTlsDoNotMix) {
  testing::IoThreads plain_io(1);
  HttpServer plain(plain_io.io(),
                   [](const HttpRequest&, ResponseWriter& writer) -> asio::awaitable<void> {
                     HttpResponse response;
                     co_await writer.Send(std::move(response));
                   });
  ASSERT_TRUE(plain.Listen("127.0.0.1:0"));
  auto response = HttpClient("https://127.0.0.1:" + std::to_string(plain.port()),
                             TlsTrust{.ca_pem = ca_.cert_pem})
                      .Do("GET", "/");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(response.error().message, HasSubstr("TLS handshake failed"));
  EXPECT_TRUE(NeverSent(response.error()));

  Start(ServerCertificate());
  auto clear = HttpClient("http://127.0.0.1:" + std::to_string(server_->port()))
                   .Do("GET", "/hello", {}, {}, std::chrono::seconds(5));
  ASSERT_FALSE(clear);
  EXPECT_EQ(requests_.load(), 0);
}

// Verify that a trust setting that does not parse fails every call with
// kInvalidArgument.
TEST_F(TlsTest, BadTrustIsInvalidArgument) {
  for (const TlsTrust& trust : {TlsTrust{.ca_pem = "not pem"}, TlsTrust{.ca_fingerprint = "abc"}}) {
    HttpClient client("https://127.0.0.1:1", trust);
    EXPECT_EQ(client.Check().error().code, ErrorCode::kInvalidArgument);
    auto response = client.Do("GET", "/");
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, ErrorCode::kInvalidArgument);
  }
}

// Verify that a server certificate whose key is another's is refused.
TEST(TlsContextTest, MismatchedKeyIsInvalidArgument) {
  auto ca = crypto::MakeAuthority("ca", system_clock::now(), hours(24));
  ASSERT_TRUE(ca);
  auto other = crypto::MakeAuthority("other", system_clock::now(), hours(24));
  ASSERT_TRUE(other);
  auto context = MakeServerTlsContext(ca->cert_pem, other->key_pem);
  ASSERT_FALSE(context);
  EXPECT_EQ(context.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff::net
