#include "acme/order_flow.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "acme/jws.h"
#include "crypto/x509.h"
#include "fakes/fake_acme_directory.h"
#include "fakes/fake_challenge_edges.h"
#include "fakes/testing.h"

namespace skiff::acme {
namespace {

using testing::FakeAcmeDirectory;

class OrderFlowTest : public ::testing::Test {
 protected:
  OrderFlowTest() : fake_(0), key_(crypto::GenerateP256Key().value()) {
    fake_.SetValidator(edges_.Validator());
    request_.domain = "web.skiff.test";
    request_.account_key = key_.get();
    request_.contact = {"mailto:ops@skiff.test"};
  }

  Result<IssuedCertificate> Obtain() {
    return ObtainCertificate(
        fake_, *SystemClock::Get(), request_, edges_.Publisher(),
        [this](const OrderProgress& p) { steps_.push_back(std::string(OrderStepName(p.step))); });
  }

  FakeAcmeDirectory fake_;
  testing::FakeChallengeEdges edges_;
  crypto::PKeyPtr key_;
  OrderRequest request_;
  std::vector<std::string> steps_;
};

// Verify that a certificate is issued for the domain, chains to the CA, its
// key is the one returned, every step is reported in order, and the
// challenge is withdrawn once validated.
TEST_F(OrderFlowTest, IssuesACertificate) {
  auto issued = Obtain();
  ASSERT_TRUE(issued) << issued.error().ToString();
  auto chain = crypto::ParseCertificateChainPem(issued->chain_pem).value();
  ASSERT_EQ(chain.size(), 2u);
  auto root = crypto::ParseCertificatePem(fake_.root_pem()).value();
  EXPECT_EQ(X509_verify(chain[0].get(), X509_get0_pubkey(root.get())), 1);
  EXPECT_EQ(X509_check_host(chain[0].get(), "web.skiff.test", 0, 0, nullptr), 1);
  auto key = crypto::ParsePrivateKeyPem(issued->key_pem).value();
  EXPECT_EQ(X509_check_private_key(chain[0].get(), key.get()), 1);
  EXPECT_FALSE(issued->account_url.empty());
  EXPECT_EQ(steps_,
            (std::vector<std::string>{"account", "ordered", "challenge_published",
                                      "challenge_accepted", "validated", "finalizing", "issued"}));
  EXPECT_EQ(edges_.log(),
            (std::vector<std::string>{"publish web.skiff.test", "withdraw web.skiff.test"}));
  EXPECT_EQ(edges_.served(), 0u);
}

// Verify that a domain of 70 characters, longer than a certificate's CN may
// be, is issued all the same (the subjectAltName names it).
TEST_F(OrderFlowTest, IssuesALongName) {
  request_.domain = std::string(55, 'x') + ".web.skiff.test";
  ASSERT_EQ(request_.domain.size(), 70u);
  auto issued = Obtain();
  ASSERT_TRUE(issued) << issued.error().ToString();
  auto chain = crypto::ParseCertificateChainPem(issued->chain_pem).value();
  EXPECT_EQ(X509_check_host(chain[0].get(), request_.domain.c_str(), 0, 0, nullptr), 1);
}

// Verify that a known account URL is looked up (onlyReturnExisting) and not
// registered again, and that an account the server forgot is registered anew.
TEST_F(OrderFlowTest, KeepsTheAccount) {
  auto first = Obtain();
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(fake_.calls("new_account"), 1);
  request_.account_url = first->account_url;
  auto second = Obtain();
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_EQ(second->account_url, first->account_url);
  EXPECT_EQ(fake_.calls("new_account"), 2);  // the lookup only
  EXPECT_EQ(fake_.accounts(), 1);

  FakeAcmeDirectory forgetful(0);
  forgetful.SetValidator(edges_.Validator());
  auto third = ObtainCertificate(forgetful, *SystemClock::Get(), request_, edges_.Publisher(), {});
  ASSERT_TRUE(third) << third.error().ToString();
  EXPECT_EQ(forgetful.calls("new_account"), 2);  // the lookup, then the registration
  EXPECT_EQ(forgetful.accounts(), 1);
}

// Verify that a failed validation ends the order with the ACME server's own
// words and error type, and the challenge is withdrawn.
TEST_F(OrderFlowTest, ValidationFailureKeepsTheServersWords) {
  fake_.SetValidator([](const std::string&, const std::string&) -> Result<std::string> {
    return std::string("someone else's answer");
  });
  auto issued = Obtain();
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(issued.error().message,
            "validating web.skiff.test: ACME server said: the key authorization file from the "
            "server did not match: \"someone else's answer\" (unauthorized)");
  EXPECT_EQ(edges_.served(), 0u);

  fake_.SetUnresolvable("web.skiff.test");
  issued = Obtain();
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(issued.error().message,
            "validating web.skiff.test: ACME server said: no A record for web.skiff.test (dns)");
}

// Verify that a publisher's error ends the order before the server is told
// to validate, the challenge is withdrawn all the same (some edges may have
// taken it), and a server's error on a step comes back as it said it.
TEST_F(OrderFlowTest, PublisherAndServerErrors) {
  edges_.Refuse();
  auto issued = Obtain();
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(issued.error().message, "no edge took the challenge");
  EXPECT_EQ(fake_.calls("respond"), 0);
  EXPECT_EQ(edges_.log(), (std::vector<std::string>{"withdraw web.skiff.test"}));

  Problem limited;
  limited.type = "urn:ietf:params:acme:error:rateLimited";
  limited.detail = "too many certificates already issued for skiff.test";
  limited.status = 429;
  fake_.FailNext("new_order", limited);
  issued = Obtain();
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(issued.error().message,
            "new order for web.skiff.test: ACME server said: too many certificates already issued "
            "for skiff.test "
            "(rateLimited)");
}

// Verify that polls wait the server's Retry-After (driven on a manual
// clock): no poll comes before it has passed.
TEST_F(OrderFlowTest, PollsAfterRetryAfter) {
  ManualClock clock;
  fake_.SetProcessing(2, std::chrono::seconds(3));
  Result<IssuedCertificate> issued = Internal("not run");
  std::thread run(
      [&] { issued = ObtainCertificate(fake_, clock, request_, edges_.Publisher(), {}); });
  // The authorization answers "processing" to the challenge and the first
  // poll, the order to finalize and the first poll: three waits.
  for (int wait = 0; wait < 3; ++wait) {
    ASSERT_TRUE(testing::PollUntil([&] { return clock.waiters() == 1; }));
    const int authz_polls = fake_.calls("get_authorization");
    const int order_polls = fake_.calls("get_order");
    clock.Advance(std::chrono::milliseconds(2999));
    EXPECT_EQ(clock.waiters(), 1);
    EXPECT_EQ(fake_.calls("get_authorization"), authz_polls);
    EXPECT_EQ(fake_.calls("get_order"), order_polls);
    clock.Advance(std::chrono::milliseconds(1));
    ASSERT_TRUE(testing::PollUntil([&] {
      return fake_.calls("get_authorization") + fake_.calls("get_order") >
             authz_polls + order_polls;
    }));
  }
  run.join();
  ASSERT_TRUE(issued) << issued.error().ToString();
}

// Verify that a Retry-After of 0 (or a date already past) does not make the
// polls spin: each still waits what it would with none (a quarter of the
// poll interval: the authorization's one wait and the order's first; then
// a half: the order's second).
TEST_F(OrderFlowTest, PollsNoFasterThanWithoutRetryAfter) {
  ManualClock clock;
  fake_.SetProcessing(2, Duration::zero());
  request_.poll_interval = std::chrono::seconds(4);
  Result<IssuedCertificate> issued = Internal("not run");
  std::thread run(
      [&] { issued = ObtainCertificate(fake_, clock, request_, edges_.Publisher(), {}); });
  for (const Duration wait :
       {std::chrono::seconds(1), std::chrono::seconds(1), std::chrono::seconds(2)}) {
    ASSERT_TRUE(testing::PollUntil([&] { return clock.waiters() == 1; }));
    const int polls = fake_.calls("get_authorization") + fake_.calls("get_order");
    clock.Advance(wait - std::chrono::milliseconds(1));
    EXPECT_EQ(clock.waiters(), 1);
    EXPECT_EQ(fake_.calls("get_authorization") + fake_.calls("get_order"), polls);
    clock.Advance(std::chrono::milliseconds(1));
    ASSERT_TRUE(testing::PollUntil(
        [&] { return fake_.calls("get_authorization") + fake_.calls("get_order") > polls; }));
  }
  run.join();
  ASSERT_TRUE(issued) << issued.error().ToString();
}

// Verify that with no Retry-After the first polls come sooner: after a
// quarter of the poll interval, then a half, then the whole interval.
TEST_F(OrderFlowTest, FirstPollsWithoutRetryAfterComeSooner) {
  ManualClock clock;
  // The authorization stays processing for three polls after the GET that
  // follows the answer: three waits before it is valid.
  fake_.SetProcessing(4, std::nullopt);
  request_.poll_interval = std::chrono::seconds(4);
  Result<IssuedCertificate> issued = Internal("not run");
  std::atomic<bool> done{false};
  std::thread run([&] {
    issued = ObtainCertificate(fake_, clock, request_, edges_.Publisher(), {});
    done = true;
  });
  for (const Duration wait :
       {std::chrono::seconds(1), std::chrono::seconds(2), std::chrono::seconds(4)}) {
    ASSERT_TRUE(testing::PollUntil([&] { return clock.waiters() == 1; }));
    const int polls = fake_.calls("get_authorization");
    clock.Advance(wait - std::chrono::milliseconds(1));
    EXPECT_EQ(clock.waiters(), 1);
    EXPECT_EQ(fake_.calls("get_authorization"), polls);
    clock.Advance(std::chrono::milliseconds(1));
    ASSERT_TRUE(testing::PollUntil([&] { return fake_.calls("get_authorization") > polls; }));
  }
  // The order's polls after finalize: moved on until it is issued.
  ASSERT_TRUE(testing::PollUntil([&] {
    if (done) return true;
    if (clock.waiters() > 0) clock.Advance(std::chrono::seconds(4));
    return false;
  }));
  run.join();
  ASSERT_TRUE(issued) << issued.error().ToString();
}

// Verify that the publisher and every directory call get the time left to
// the order's deadline (all of it on a clock that does not move).
TEST_F(OrderFlowTest, PassesTheTimeLeft) {
  ManualClock clock;
  request_.timeout = std::chrono::seconds(42);
  auto issued = ObtainCertificate(fake_, clock, request_, edges_.Publisher(), {});
  ASSERT_TRUE(issued) << issued.error().ToString();
  EXPECT_EQ(edges_.timeouts(), std::vector<Duration>{std::chrono::seconds(42)});
  const std::vector<std::optional<Duration>> timeouts = fake_.timeouts();
  ASSERT_FALSE(timeouts.empty());
  for (const std::optional<Duration>& timeout : timeouts) {
    EXPECT_EQ(timeout, std::optional<Duration>(std::chrono::seconds(42)));
  }
}

// Verify that a stop or the deadline coming while the challenge is published
// ends the order before the server is told to validate (not at the next
// poll), and the challenge is withdrawn.
TEST_F(OrderFlowTest, StopAndDeadlineBeforeEachStep) {
  std::stop_source stop;
  edges_.OnPublish([&] { stop.request_stop(); });
  auto issued = ObtainCertificate(fake_, *SystemClock::Get(), request_, edges_.Publisher(), {},
                                  stop.get_token());
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kAborted);
  EXPECT_EQ(issued.error().message, "the order for web.skiff.test was stopped");
  EXPECT_EQ(fake_.calls("respond"), 0);
  EXPECT_EQ(edges_.served(), 0u);

  ManualClock clock;
  request_.timeout = std::chrono::seconds(25);
  edges_.OnPublish([&] { clock.Advance(std::chrono::seconds(25)); });
  issued = ObtainCertificate(fake_, clock, request_, edges_.Publisher(), {});
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(issued.error().message,
            "the order for web.skiff.test ran out of its 25 s before answering the challenge");
  EXPECT_EQ(fake_.calls("respond"), 0);
  EXPECT_EQ(edges_.served(), 0u);
}

// Verify that an authorization that never settles ends the order with
// kDeadlineExceeded at its timeout, and a stop ends it with kAborted.
TEST_F(OrderFlowTest, DeadlineAndStop) {
  ManualClock clock;
  fake_.SetProcessing(1'000'000, std::chrono::seconds(10));
  request_.timeout = std::chrono::seconds(25);
  Result<IssuedCertificate> issued = Internal("not run");
  std::thread run(
      [&] { issued = ObtainCertificate(fake_, clock, request_, edges_.Publisher(), {}); });
  for (int wait = 0; wait < 2; ++wait) {
    ASSERT_TRUE(testing::PollUntil([&] { return clock.waiters() == 1; }));
    const int polls = fake_.calls("get_authorization");
    clock.Advance(std::chrono::seconds(10));
    ASSERT_TRUE(testing::PollUntil([&] { return fake_.calls("get_authorization") > polls; }));
  }
  run.join();
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(issued.error().message,
            "the authorization for web.skiff.test is still pending, and its next poll would come "
            "after the order's 25 s");
  EXPECT_EQ(edges_.served(), 0u);

  std::stop_source stop;
  std::thread stopped([&] {
    issued = ObtainCertificate(fake_, clock, request_, edges_.Publisher(), {}, stop.get_token());
  });
  ASSERT_TRUE(testing::PollUntil([&] { return clock.waiters() == 1; }));
  stop.request_stop();
  stopped.join();
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kAborted);
}

}  // namespace
}  // namespace skiff::acme
