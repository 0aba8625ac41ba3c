// Which domains need a certificate ordered from ACME now: a pure function the
// leader's certificate loop runs over what the store holds (DESIGN.md: the
// loops that must run once per cluster), tested with tables of cases.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace skiff::controller {

// A failed order is retried after this long, doubling per failure in a row...
inline constexpr Duration kFirstOrderRetry = std::chrono::minutes(2);
// ...up to this. Let's Encrypt allows 5 failed validations per host an hour:
// 2, 4, 8, 16, 32 minutes stay under it, and a renewal (a third of the
// lifetime ahead of expiry) still gets hundreds of tries.
inline constexpr Duration kMaxOrderRetry = std::chrono::hours(1);

// The wait after `failures` failed orders in a row (>= 1).
Duration OrderRetryBackoff(int failures);

// When a certificate valid from `not_before` to `not_after` is renewed: after
// two thirds of its lifetime (Let's Encrypt's advice: day 60 of 90).
Time RenewalTime(Time not_before, Time not_after);

// Whether Skiff orders a certificate for `domain` through HTTP-01: a
// hostname (no wildcard: HTTP-01 cannot prove one), not an IP address (its
// last label all digits: Skiff orders DNS names only), not localhost nor
// under .localhost (RFC 6761: no CA may validate them), and of two labels or
// more unless `private_ca` (public CAs refuse "intranet" at every order; a
// private one, trusted with --acme-ca-cert, may issue it). Other domains are
// served with the fallback certificate, or a manual one, and never ordered.
bool AcmeCanOrder(std::string_view domain, bool private_ca = false);

// A certificate the store keeps, as far as ordering goes.
struct KeptCertificate {
  std::string domain;   // "web.com", or "*.web.com" (manual only: HTTP-01 cannot order those)
  bool manual = false;  // uploaded by a person: Skiff never orders over a valid one
  // Validity of what is held; both epoch when none was ever issued (a
  // domain whose first orders failed).
  Time not_before{};
  Time not_after{};
  int failures = 0;     // failed orders in a row since the last issued one
  Time last_failure{};  // when the last of those ended
};

enum class OrderReason {
  kNew,    // no certificate yet
  kRenew,  // two thirds of the lifetime are over
  kRetry,  // the last order failed and its back-off is over
};

struct CertificateOrder {
  std::string domain;
  OrderReason reason;
  friend bool operator==(const CertificateOrder&, const CertificateOrder&) = default;
};

struct CertificatePlan {
  std::vector<CertificateOrder> orders;  // by domain
  // Domains served with no valid certificate now, ordered or not: their edges
  // answer with the fallback certificate, and an event says so.
  std::vector<std::string> pending;
  // When the plan changes with no change in its inputs (a renewal or a retry
  // falls due); Time::max() when never.
  Time next_change = Time::max();
};

// `wanted`: the domains served with edge.tls auto (each once, lowercase).
// A valid manual certificate covering a domain (exactly or by wildcard) means
// no order for it; an expired one is passed over. An ACME certificate is kept
// per domain, and renewed at RenewalTime; a domain whose last order failed
// waits OrderRetryBackoff(failures) after that failure. Orders in flight are
// the caller's to skip (the plan does not know them).
CertificatePlan PlanCertificates(const std::vector<std::string>& wanted,
                                 const std::vector<KeptCertificate>& kept, Time now);

}  // namespace skiff::controller
