// PebbleServer's own behaviour: its settings do not come from the test's
// environment.
#include "e2e/pebble_server.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "acme/http_directory.h"
#include "acme/order_flow.h"
#include "crypto/x509.h"

namespace skiff::testing {
namespace {

// Verify that Pebble validates for real even when the test's environment
// says PEBBLE_VA_ALWAYS_VALID=1: a challenge nobody serves fails the order.
TEST(PebbleServer, IgnoresTheTestsEnvironment) {
  ::setenv("PEBBLE_VA_ALWAYS_VALID", "1", 1);
  auto pebble = PebbleServer::Start(FreePort());
  ::unsetenv("PEBBLE_VA_ALWAYS_VALID");
  if (!pebble) {
    if (InCi()) FAIL() << "no Pebble: " << pebble.error().message;
    GTEST_SKIP() << "no Pebble: " << pebble.error().message;
  }
  acme::HttpAcmeDirectory directory((*pebble)->directory_url(), (*pebble)->trust());
  crypto::PKeyPtr key = crypto::GenerateP256Key().value();
  acme::OrderRequest request;
  request.domain = "unserved.skiff.test";
  request.account_key = key.get();
  request.timeout = std::chrono::seconds(60);
  request.poll_interval = std::chrono::milliseconds(100);
  acme::ChallengePublisher silent{[](const std::string&, const protocol::AcmeChallenge&, Duration,
                                     std::stop_token) -> Status { return OkStatus(); },
                                  [](const std::string&, const std::string&) {}};
  auto issued = acme::ObtainCertificate(directory, *SystemClock::Get(), request, silent, {});
  ASSERT_FALSE(issued);
  EXPECT_EQ(issued.error().code, ErrorCode::kFailedPrecondition) << issued.error().ToString();
  EXPECT_TRUE(issued.error().message.starts_with("validating unserved.skiff.test: "))
      << issued.error().message;
}

}  // namespace
}  // namespace skiff::testing
