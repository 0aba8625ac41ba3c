#include "controller/certificate_orderer.h"

#include <algorithm>

#include "common/check.h"
#include "common/logging.h"

namespace skiff::controller {

namespace {

// How soon a pass that could not read the store, or that left orders waiting
// for a free slot, runs again.
constexpr Duration kRetryPass = std::chrono::seconds(2);

KeptCertificate ForPlan(const StoredCertificate& c) {
  KeptCertificate k;
  k.domain = c.domain;
  k.manual = c.source == CertificateSource::kManual;
  if (c.has_certificate()) {
    k.not_before = c.not_before;
    k.not_after = c.not_after;
  }
  k.failures = c.failures;
  k.last_failure = c.last_failure;
  return k;
}

}  // namespace

CertificateOrderer::CertificateOrderer(store::Store* store, CertificateStore* certificates,
                                       AcmeAccountStore* account, acme::AcmeDirectory* directory,
                                       const Clock* clock, acme::ChallengePublisher publisher,
                                       CertificateOrdererOptions options,
                                       store::SharedSnapshotCache* snapshots)
    : store_(store),
      snapshots_(snapshots),
      certificates_(certificates),
      account_(account),
      directory_(directory),
      clock_(clock),
      publisher_(std::move(publisher)),
      options_(std::move(options)),
      watcher_(store) {
  SKIFF_CHECK(store_ != nullptr && certificates_ != nullptr && account_ != nullptr &&
              directory_ != nullptr && clock_ != nullptr);
}

CertificateOrderer::~CertificateOrderer() { Stop(); }

void CertificateOrderer::Start() {
  watcher_.Start([this](int64_t) -> Duration {
    const Time next = Pass();
    if (next == Time::max()) return store::CommitWatcher::kNoTimer;
    // Rounded up: a wait that ends a little early would find nothing due.
    return std::max(std::chrono::ceil<Duration>(next - clock_->Now()), Duration::zero());
  });
}

void CertificateOrderer::Stop() {
  watcher_.Stop();
  std::map<std::string, std::jthread> orders;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    orders.swap(orders_);
    finished_.clear();
  }
  for (auto& [domain, thread] : orders) thread.request_stop();
  orders.clear();  // joins
}

size_t CertificateOrderer::in_flight() const {
  std::lock_guard lock(mu_);
  return orders_.size() - finished_.size();
}

CertificateOrderer::Hosts CertificateOrderer::Wanted(const store::Snapshot& snapshot,
                                                     bool private_ca) {
  std::set<std::string> wanted;
  std::set<std::string> passed_over;
  for (const model::App& app : snapshot.apps) {
    if (app.deleting || app.spec.edge.tls != model::EdgeTls::kAuto) continue;
    for (const std::string& domain : app.spec.domains) {
      std::string host = domain.substr(0, domain.find('/'));
      std::transform(host.begin(), host.end(), host.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      (AcmeCanOrder(host, private_ca) ? wanted : passed_over).insert(std::move(host));
    }
  }
  return {{wanted.begin(), wanted.end()}, {passed_over.begin(), passed_over.end()}};
}

void CertificateOrderer::NotePassedOver(const std::vector<std::string>& hosts) {
  std::vector<std::string> first_seen;
  {
    std::lock_guard lock(mu_);
    for (const std::string& host : hosts) {
      if (passed_over_.insert(host).second) first_seen.push_back(host);
    }
  }
  for (const std::string& host : first_seen) {
    SKIFF_LOG_INFO(
        "certificates: {} is not ordered (Skiff orders no localhost names, IP addresses, or "
        "single labels from a public CA); it is served with a manual certificate that covers "
        "it, else the fallback",
        host);
  }
}

Time CertificateOrderer::Pass() {
  // Orders that ended are joined first: their domains may be planned again.
  std::vector<std::jthread> ended;
  {
    std::lock_guard lock(mu_);
    for (const std::string& domain : finished_) {
      auto it = orders_.find(domain);
      if (it == orders_.end()) continue;
      ended.push_back(std::move(it->second));
      orders_.erase(it);
    }
    finished_.clear();
  }
  ended.clear();
  const Time now = clock_->Now();
  if (deposed_) return Time::max();
  Result<Hosts> hosts = snapshots_ != nullptr
                            ? snapshots_->Read([&](const store::Snapshot& s) {
                                return Wanted(s, options_.private_ca);
                              })
                            : store_->GetSnapshot().map([&](const store::Snapshot& s) {
                                return Wanted(s, options_.private_ca);
                              });
  auto kept = certificates_->List();
  if (!hosts || !kept) {
    SKIFF_LOG_WARN("certificates: cannot read the store: {}",
                   (!hosts ? hosts.error() : kept.error()).ToString());
    return now + kRetryPass;
  }
  NotePassedOver(hosts->passed_over);
  const std::vector<std::string>& wanted = hosts->wanted;
  std::vector<KeptCertificate> for_plan;
  for_plan.reserve(kept->size());
  for (const StoredCertificate& c : *kept) for_plan.push_back(ForPlan(c));
  const CertificatePlan plan = PlanCertificates(wanted, for_plan, now);
  ForgetUnserved(wanted, *kept, now);

  std::vector<std::string> newly_pending;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Time::max();
    std::set<std::string> pending(plan.pending.begin(), plan.pending.end());
    for (const std::string& domain : pending) {
      if (!announced_pending_.contains(domain)) newly_pending.push_back(domain);
    }
    announced_pending_ = std::move(pending);
  }
  // Announced first: a refused event (another server leads) starts no order.
  for (const std::string& domain : newly_pending) {
    Fenced(certificates_->AnnouncePending(domain, options_.fence_epoch));
  }
  if (deposed_) return Time::max();
  bool held_back = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Time::max();
    for (const CertificateOrder& order : plan.orders) {
      if (orders_.contains(order.domain)) continue;
      if (orders_.size() - finished_.size() >= options_.max_concurrent) {
        held_back = true;
        continue;
      }
      SKIFF_LOG_INFO("certificates: ordering {} ({})", order.domain,
                     order.reason == OrderReason::kNew     ? "new"
                     : order.reason == OrderReason::kRenew ? "renewal"
                                                           : "retry");
      orders_.emplace(order.domain,
                      std::jthread([this, domain = order.domain](std::stop_token stop) {
                        Order(domain, stop);
                      }));
    }
  }
  return held_back ? std::min(plan.next_change, now + kRetryPass) : plan.next_change;
}

void CertificateOrderer::ForgetUnserved(const std::vector<std::string>& wanted,
                                        const std::vector<StoredCertificate>& kept, Time now) {
  for (const StoredCertificate& c : kept) {
    if (c.source != CertificateSource::kAcme || (c.has_certificate() && now < c.not_after))
      continue;
    if (std::binary_search(wanted.begin(), wanted.end(), c.domain)) continue;
    {
      std::lock_guard lock(mu_);
      if (stopping_ || orders_.contains(c.domain)) continue;
    }
    auto forgotten = certificates_->ForgetStale(c.domain, now, options_.fence_epoch);
    if (!forgotten && forgotten.error().code == ErrorCode::kFailedPrecondition) {
      Fenced(tl::unexpected(forgotten.error()));
      return;
    } else if (!forgotten) {
      SKIFF_LOG_WARN("certificates: the record of {} (no app serves it) stays for now: {}",
                     c.domain, forgotten.error().ToString());
    } else if (*forgotten) {
      SKIFF_LOG_INFO("certificates: forgot {}: no app serves it", c.domain);
    }
  }
}

void CertificateOrderer::Fenced(const Status& status) {
  if (status) return;
  if (status.error().code == ErrorCode::kFailedPrecondition) {
    if (!deposed_.exchange(true)) {
      SKIFF_LOG_WARN("certificates: another server leads now: no more orders from this one");
    }
    return;
  }
  SKIFF_LOG_WARN("certificates: {}", status.error().ToString());
}

void CertificateOrderer::Order(const std::string& domain, std::stop_token stop) {
  const auto finish = [&] {
    std::lock_guard lock(mu_);
    finished_.insert(domain);
  };
  auto account = account_->LoadOrCreate();
  if (!account) {
    if (!stop.stop_requested()) {
      Fenced(certificates_->RecordFailure(domain, "the ACME account: " + account.error().message,
                                          options_.fence_epoch));
    }
    return finish();
  }
  acme::OrderRequest request;
  request.domain = domain;
  request.account_key = account->key.get();
  request.contact = options_.contact;
  request.account_url = account->url;
  request.timeout = options_.order_timeout;
  request.poll_interval = options_.poll_interval;
  const auto progress = [](const acme::OrderProgress& p) {
    SKIFF_LOG_INFO("certificates: {}: {} {}", p.domain, acme::OrderStepName(p.step), p.detail);
  };
  auto issued = acme::ObtainCertificate(*directory_, *clock_, request, publisher_, progress, stop);
  if (stop.stop_requested()) return finish();  // stopped, not failed: the next term orders again
  if (!issued) {
    SKIFF_LOG_WARN("certificates: the order for {} failed: {}", domain, issued.error().ToString());
    Fenced(certificates_->RecordFailure(domain, issued.error().message, options_.fence_epoch));
    return finish();
  }
  if (issued->account_url != account->url) {
    if (Status kept = account_->SetUrl(issued->account_url); !kept) {
      SKIFF_LOG_WARN("certificates: the ACME account URL is not kept: {}", kept.error().ToString());
    }
  }
  auto put =
      certificates_->PutIssued(domain, issued->chain_pem, issued->key_pem, options_.fence_epoch);
  if (!put && put.error().code == ErrorCode::kAborted) {
    // A manual certificate came meanwhile: not a failure of the order.
    SKIFF_LOG_INFO("certificates: {}", put.error().message);
  } else if (!put && put.error().code != ErrorCode::kFailedPrecondition) {
    Fenced(certificates_->RecordFailure(
        domain, "the issued certificate is not kept: " + put.error().message,
        options_.fence_epoch));
  } else if (!put) {
    Fenced(tl::unexpected(put.error()));
  }
  finish();
}

}  // namespace skiff::controller
