#include "controller/certificate_plan.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "crypto/domain_name.h"

namespace skiff::controller {

Duration OrderRetryBackoff(int failures) {
  Duration wait = kFirstOrderRetry;
  for (int i = 1; i < failures && wait < kMaxOrderRetry; ++i) wait *= 2;
  return std::min(wait, kMaxOrderRetry);
}

bool AcmeCanOrder(std::string_view domain, bool private_ca) {
  if (!crypto::IsHostname(domain)) return false;
  const size_t dot = domain.rfind('.');
  if (dot == std::string_view::npos && !private_ca) return false;
  const std::string_view last = dot == std::string_view::npos ? domain : domain.substr(dot + 1);
  if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  // IsHostname allows any case: compared lowercase.
  std::string lower(last);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower != "localhost";
}

Time RenewalTime(Time not_before, Time not_after) {
  return not_before + (not_after - not_before) * 2 / 3;
}

CertificatePlan PlanCertificates(const std::vector<std::string>& wanted,
                                 const std::vector<KeptCertificate>& kept, Time now) {
  CertificatePlan plan;
  std::vector<std::string> domains = wanted;
  std::sort(domains.begin(), domains.end());
  domains.erase(std::unique(domains.begin(), domains.end()), domains.end());
  auto later = [&](Time t) { plan.next_change = std::min(plan.next_change, t); };
  for (const std::string& domain : domains) {
    const KeptCertificate* own = nullptr;
    bool manual = false;
    for (const KeptCertificate& cert : kept) {
      if (cert.manual && now < cert.not_after && crypto::DomainCovers(cert.domain, domain)) {
        manual = true;
        later(cert.not_after);  // when it expires, ACME takes over
      } else if (!cert.manual && cert.domain == domain) {
        own = &cert;
      }
    }
    if (manual) continue;
    const bool issued = own != nullptr && own->not_after > Time{};
    const bool valid = issued && own->not_before <= now && now < own->not_after;
    if (!valid) plan.pending.push_back(domain);
    if (valid) later(own->not_after);  // it turns pending then
    if (own == nullptr) {
      plan.orders.push_back({domain, OrderReason::kNew});
      continue;
    }
    if (issued && now < RenewalTime(own->not_before, own->not_after)) {
      later(RenewalTime(own->not_before, own->not_after));
      continue;
    }
    if (own->failures > 0) {
      const Time retry = own->last_failure + OrderRetryBackoff(own->failures);
      if (now < retry) {
        later(retry);
        continue;
      }
      plan.orders.push_back({domain, OrderReason::kRetry});
      continue;
    }
    plan.orders.push_back({domain, issued ? OrderReason::kRenew : OrderReason::kNew});
  }
  return plan;
}

}  // namespace skiff::controller
