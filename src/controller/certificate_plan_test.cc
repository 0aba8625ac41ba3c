#include "controller/certificate_plan.h"

#include <gtest/gtest.h>

namespace skiff::controller {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
constexpr auto kDay = hours(24);

const Time kCertificatePlanNow = Time{} + kDay * 20000;

KeptCertificate Acme(std::string domain, Time not_before, Time not_after) {
  return {std::move(domain), false, not_before, not_after, 0, {}};
}
KeptCertificate Failed(std::string domain, int failures, Time last_failure) {
  return {std::move(domain), false, {}, {}, failures, last_failure};
}
KeptCertificate Manual(std::string domain, Time not_after) {
  return {std::move(domain), true, kCertificatePlanNow - kDay, not_after, 0, {}};
}

// Verify the back-off doubles from two minutes and stops at an hour, and
// renewal falls at two thirds of the lifetime.
TEST(CertificatePlanTest, BackoffAndRenewalTime) {
  EXPECT_EQ(OrderRetryBackoff(1), minutes(2));
  EXPECT_EQ(OrderRetryBackoff(2), minutes(4));
  EXPECT_EQ(OrderRetryBackoff(5), minutes(32));
  EXPECT_EQ(OrderRetryBackoff(6), hours(1));
  EXPECT_EQ(OrderRetryBackoff(1000), hours(1));
  EXPECT_EQ(RenewalTime(kCertificatePlanNow, kCertificatePlanNow + kDay * 90),
            kCertificatePlanNow + kDay * 60);
}

// Verify each case of the plan: what is ordered, what is pending, and when
// the plan changes next by time alone.
TEST(CertificatePlanTest, Cases) {
  struct Case {
    std::string name;
    std::vector<std::string> wanted;
    std::vector<KeptCertificate> kept;
    std::vector<CertificateOrder> orders;
    std::vector<std::string> pending;
    Time next_change;
  } cases[] = {
      {"nothing kept: a new order",
       {"a.com"},
       {},
       {{"a.com", OrderReason::kNew}},
       {"a.com"},
       Time::max()},
      {"named twice: one order",
       {"a.com", "a.com"},
       {},
       {{"a.com", OrderReason::kNew}},
       {"a.com"},
       Time::max()},
      {"valid, before two thirds: nothing until then",
       {"a.com"},
       {Acme("a.com", kCertificatePlanNow - kDay * 10, kCertificatePlanNow + kDay * 80)},
       {},
       {},
       kCertificatePlanNow + kDay * 50},
      {"past two thirds: renew, still served",
       {"a.com"},
       {Acme("a.com", kCertificatePlanNow - kDay * 70, kCertificatePlanNow + kDay * 20)},
       {{"a.com", OrderReason::kRenew}},
       {},
       kCertificatePlanNow + kDay * 20},
      {"expired: renew, and pending",
       {"a.com"},
       {Acme("a.com", kCertificatePlanNow - kDay * 91, kCertificatePlanNow - hours(1))},
       {{"a.com", OrderReason::kRenew}},
       {"a.com"},
       Time::max()},
      {"first order failed a minute ago: wait",
       {"a.com"},
       {Failed("a.com", 1, kCertificatePlanNow - minutes(1))},
       {},
       {"a.com"},
       kCertificatePlanNow + minutes(1)},
      {"first order failed, back-off over: retry",
       {"a.com"},
       {Failed("a.com", 1, kCertificatePlanNow - minutes(3))},
       {{"a.com", OrderReason::kRetry}},
       {"a.com"},
       Time::max()},
      {"renewal failing: wait out the back-off, still served",
       {"a.com"},
       [] {
         KeptCertificate c =
             Acme("a.com", kCertificatePlanNow - kDay * 70, kCertificatePlanNow + kDay * 20);
         c.failures = 2;
         c.last_failure = kCertificatePlanNow - minutes(1);
         return std::vector{c};
       }(),
       {},
       {},
       kCertificatePlanNow + minutes(3)},
      {"a valid manual wildcard covers it",
       {"x.a.com"},
       {Manual("*.a.com", kCertificatePlanNow + kDay)},
       {},
       {},
       kCertificatePlanNow + kDay},
      {"a manual certificate that expired is passed over",
       {"a.com"},
       {Manual("a.com", kCertificatePlanNow - hours(1))},
       {{"a.com", OrderReason::kNew}},
       {"a.com"},
       Time::max()},
      {"a wildcard covers one label only",
       {"a.com", "x.y.a.com"},
       {Manual("*.a.com", kCertificatePlanNow + kDay)},
       {{"a.com", OrderReason::kNew}, {"x.y.a.com", OrderReason::kNew}},
       {"a.com", "x.y.a.com"},
       Time::max()},
      {"another domain's certificate is not this one's",
       {"b.com"},
       {Acme("a.com", kCertificatePlanNow - kDay, kCertificatePlanNow + kDay * 89)},
       {{"b.com", OrderReason::kNew}},
       {"b.com"},
       Time::max()},
  };
  for (const Case& c : cases) {
    CertificatePlan plan = PlanCertificates(c.wanted, c.kept, kCertificatePlanNow);
    EXPECT_EQ(plan.orders, c.orders) << c.name;
    EXPECT_EQ(plan.pending, c.pending) << c.name;
    EXPECT_EQ(plan.next_change, c.next_change) << c.name;
  }
}

// Verify which names an ACME CA is asked for: hostnames (single labels only
// of a private CA), never localhost names, IP addresses or wildcards.
TEST(AcmeCanOrderTest, OnlyNamesACaCanValidate) {
  for (const char* name : {"web.com", "a.b.skiff.test", "WEB.Example.org", "x1.io"}) {
    EXPECT_TRUE(AcmeCanOrder(name)) << name;
    EXPECT_TRUE(AcmeCanOrder(name, /*private_ca=*/true)) << name;
  }
  EXPECT_FALSE(AcmeCanOrder("intranet"));
  EXPECT_TRUE(AcmeCanOrder("intranet", /*private_ca=*/true));
  EXPECT_FALSE(AcmeCanOrder("localhost", /*private_ca=*/true));
  EXPECT_FALSE(AcmeCanOrder("42", /*private_ca=*/true));
  for (const char* name : {"localhost", "hello.localhost", "Hello.LOCALHOST", "127.0.0.1",
                           "10.1.2.3", "42", "*.web.com", "", "web.com.", "::1", "web_app.com"}) {
    EXPECT_FALSE(AcmeCanOrder(name)) << name;
  }
}

}  // namespace
}  // namespace skiff::controller
