#include "edge/endpoint_state.h"

#include <algorithm>

#include "edge/tls/cert_table.h"

namespace skiff::edge {

void EndpointState::End(std::chrono::microseconds latency, bool failed, SteadyTime now) {
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
  if (failed) {
    if (failures_.fetch_add(1, std::memory_order_relaxed) + 1 >= kEjectAfterFailures) {
      failures_.store(0, std::memory_order_relaxed);
      int n = std::min(ejections_.fetch_add(1, std::memory_order_relaxed), 4);
      auto period =
          std::min<std::chrono::steady_clock::duration>(kBaseEjection * (1 << n), kMaxEjection);
      ejected_until_.store((now + period).time_since_epoch().count(), std::memory_order_relaxed);
    }
    return;
  }
  failures_.store(0, std::memory_order_relaxed);
  ejections_.store(0, std::memory_order_relaxed);
  // EWMA with weight 1/8 for the new sample (as TCP's srtt); the first sample
  // sets it. Races between threads lose a sample at worst.
  const int64_t sample = latency.count();
  const int64_t old = ewma_us_.load(std::memory_order_relaxed);
  ewma_us_.store(old == 0 ? std::max<int64_t>(sample, 1) : old + (sample - old) / 8,
                 std::memory_order_relaxed);
}

std::shared_ptr<EndpointState> EdgeStates::Endpoint(const std::string& key) {
  std::lock_guard lock(mu_);
  auto& slot = endpoints_[key];
  if (!slot) slot = std::make_shared<EndpointState>();
  return slot;
}

std::shared_ptr<AppState> EdgeStates::App(const std::string& app) {
  std::lock_guard lock(mu_);
  auto& slot = apps_[app];
  if (!slot) slot = std::make_shared<AppState>();
  return slot;
}

std::shared_ptr<const tls::CertTable> EdgeStates::Certificates(
    const std::vector<protocol::RouteCertificate>& certificates) {
  std::lock_guard lock(mu_);
  if (!certificate_table_ || certificates != certificates_) {
    certificate_table_ = tls::CertTable::Build(certificates);
    certificates_ = certificates;
  }
  return certificate_table_;
}

void EdgeStates::Prune() {
  std::lock_guard lock(mu_);
  std::erase_if(endpoints_, [](const auto& kv) { return kv.second.use_count() == 1; });
  std::erase_if(apps_, [](const auto& kv) { return kv.second.use_count() == 1; });
}

}  // namespace skiff::edge
