// The AcmeDirectory contract: every implementation (FakeAcmeDirectory, and
// HttpAcmeDirectory against a real Pebble) runs the same tests, with HTTP-01
// validated for real against a small HTTP server of the test's own on
// 127.0.0.1 (the edges will serve it in Skiff).
#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <map>
#include <mutex>

#include "acme/csr.h"
#include "acme/http_directory.h"
#include "acme/jws.h"
#include "acme/order_flow.h"
#include "common/check.h"
#include "crypto/x509.h"
#include "e2e/pebble_server.h"
#include "fakes/fake_acme_directory.h"
#include "fakes/fake_challenge_edges.h"
#include "net/http_server.h"
#include "net/test_util.h"

namespace skiff::acme {
namespace {

namespace asio = boost::asio;

// Serves /.well-known/acme-challenge/<token> for any host, as the edges do.
class ChallengeServer {
 public:
  ChallengeServer()
      : server_(io_.io(),
                [this](const net::HttpRequest& request,
                       net::ResponseWriter& writer) -> asio::awaitable<void> {
                  net::HttpResponse response = Answer(request);
                  co_await writer.Send(std::move(response));
                }) {
    SKIFF_CHECK(server_.Listen("127.0.0.1:0"));
  }
  int port() const { return server_.port(); }
  ChallengePublisher Publisher() { return edges_.Publisher(); }

 private:
  net::HttpResponse Answer(const net::HttpRequest& request) {
    constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";
    if (request.path.starts_with(kPrefix)) {
      std::optional<std::string> answer = edges_.Answer(request.path.substr(kPrefix.size()));
      if (answer) return net::TextResponse(200, *answer, "text/plain");
    }
    return net::TextResponse(404, "no such challenge");
  }

  testing::FakeChallengeEdges edges_;  // first: the server's threads read it until they stop
  net::testing::IoThreads io_{1};
  net::HttpServer server_;
};

// One implementation under test, with the root its certificates chain to.
struct Subject {
  std::unique_ptr<AcmeDirectory> directory;
  std::function<Result<std::string>()> root_pem;
  std::unique_ptr<testing::PebbleServer> pebble;
};

class AcmeDirectoryContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "fake") {
      auto fake = std::make_unique<testing::FakeAcmeDirectory>(challenges_.port());
      testing::FakeAcmeDirectory* raw = fake.get();
      subject_.root_pem = [raw]() -> Result<std::string> { return raw->root_pem(); };
      subject_.directory = std::move(fake);
    } else {
      auto pebble = testing::PebbleServer::Start(challenges_.port());
      if (!pebble) {
        if (testing::InCi()) FAIL() << "no Pebble: " << pebble.error().message;
        GTEST_SKIP() << "no Pebble: " << pebble.error().message;
      }
      subject_.pebble = std::move(*pebble);
      testing::PebbleServer* raw = subject_.pebble.get();
      subject_.directory = std::make_unique<HttpAcmeDirectory>(raw->directory_url(), raw->trust());
      subject_.root_pem = [raw] { return raw->IssuingRoot(); };
    }
    key_ = crypto::GenerateP256Key().value();
  }

  Result<IssuedCertificate> Obtain(const std::string& domain, const ChallengePublisher& publisher,
                                   std::vector<std::string>* steps = nullptr) {
    OrderRequest request;
    request.domain = domain;
    request.account_key = key_.get();
    request.contact = {"mailto:ops@skiff.test"};
    request.timeout = std::chrono::seconds(60);
    request.poll_interval = std::chrono::milliseconds(100);
    return ObtainCertificate(*subject_.directory, *SystemClock::Get(), request, publisher,
                             [steps](const OrderProgress& p) {
                               if (steps != nullptr) steps->emplace_back(OrderStepName(p.step));
                             });
  }

  ChallengeServer challenges_;
  Subject subject_;
  crypto::PKeyPtr key_;
};

// Whether `chain_pem` (leaf first) verifies against `root_pem` for `host`.
std::string VerifyChain(const std::string& chain_pem, const std::string& root_pem,
                        const std::string& host) {
  auto chain = crypto::ParseCertificateChainPem(chain_pem);
  auto root = crypto::ParseCertificatePem(root_pem);
  if (!chain || !root) return "does not parse";
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, root->get());
  STACK_OF(X509)* intermediates = sk_X509_new_null();
  for (size_t i = 1; i < chain->size(); ++i) sk_X509_push(intermediates, (*chain)[i].get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, (*chain)[0].get(), intermediates);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host.c_str(), host.size());
  const bool ok = X509_verify_cert(ctx) == 1;
  std::string why = ok ? "" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  sk_X509_free(intermediates);
  X509_STORE_free(store);
  return why;
}

// Verify that a certificate for web.skiff.test is issued through real
// HTTP-01 validation and its chain verifies against the issuing root.
TEST_P(AcmeDirectoryContract, IssuesThroughHttp01) {
  std::vector<std::string> steps;
  auto issued = Obtain("web.skiff.test", challenges_.Publisher(), &steps);
  ASSERT_TRUE(issued) << issued.error().ToString();
  auto root = subject_.root_pem();
  ASSERT_TRUE(root) << root.error().ToString();
  EXPECT_EQ(VerifyChain(issued->chain_pem, *root, "web.skiff.test"), "");
  auto leaf = crypto::ParseCertificatePem(issued->chain_pem).value();
  auto key = crypto::ParsePrivateKeyPem(issued->key_pem).value();
  EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);
  EXPECT_EQ(steps.back(), "issued");
}

// Verify that onlyReturnExisting finds no account for a new key
// (kNotFound), and the registered account afterwards; registering twice
// gives the same account.
TEST_P(AcmeDirectoryContract, AccountsByKey) {
  auto missing = subject_.directory->NewAccount(key_.get(), {}, true);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().ToString();
  auto created = subject_.directory->NewAccount(key_.get(), {"mailto:ops@skiff.test"}, false);
  ASSERT_TRUE(created) << created.error().ToString();
  EXPECT_EQ(created->status, "valid");
  auto again = subject_.directory->NewAccount(key_.get(), {"mailto:ops@skiff.test"}, false);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(again->url, created->url);
  auto found = subject_.directory->NewAccount(key_.get(), {}, true);
  ASSERT_TRUE(found) << found.error().ToString();
  EXPECT_EQ(found->url, created->url);
}

// Verify that a challenge nobody serves fails the order with the ACME
// server's own words about the failed validation.
TEST_P(AcmeDirectoryContract, UnservedChallengeFailsWithTheServersWords) {
  ChallengePublisher silent{[](const std::string&, const protocol::AcmeChallenge&, Duration,
                               std::stop_token) -> Status { return OkStatus(); },
                            [](const std::string&, const std::string&) {}};
  auto issued = Obtain("unserved.skiff.test", silent);
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kPermissionDenied) << issued.error().ToString();
  EXPECT_TRUE(
      issued.error().message.starts_with("validating unserved.skiff.test: ACME server said: "))
      << issued.error().message;
  EXPECT_TRUE(issued.error().message.ends_with("(unauthorized)")) << issued.error().message;
  RecordProperty("error", issued.error().message);
}

// Verify that finalizing an order whose authorization is still pending is
// refused with kFailedPrecondition (orderNotReady).
TEST_P(AcmeDirectoryContract, FinalizeBeforeReadyIsRefused) {
  auto account = subject_.directory->NewAccount(key_.get(), {}, false);
  ASSERT_TRUE(account) << account.error().ToString();
  const AccountKey signer{key_.get(), account->url};
  auto order = subject_.directory->NewOrder(signer, {"early.skiff.test"});
  ASSERT_TRUE(order) << order.error().ToString();
  EXPECT_EQ(order->status, "pending");
  ASSERT_EQ(order->authorizations.size(), 1u);
  auto cert_key = crypto::GenerateP256Key().value();
  auto csr = MakeCsrDer({"early.skiff.test"}, cert_key.get()).value();
  auto finalized = subject_.directory->Finalize(signer, *order, csr);
  ASSERT_FALSE(finalized);
  EXPECT_EQ(finalized.error().code, ErrorCode::kFailedPrecondition) << finalized.error().ToString();
  EXPECT_TRUE(finalized.error().message.ends_with("(orderNotReady)")) << finalized.error().message;
  auto authz = subject_.directory->GetAuthorization(signer, order->authorizations[0]);
  ASSERT_TRUE(authz) << authz.error().ToString();
  EXPECT_EQ(authz->domain, "early.skiff.test");
  ASSERT_NE(authz->Find("http-01"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Directories, AcmeDirectoryContract, ::testing::Values("fake", "pebble"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace skiff::acme
