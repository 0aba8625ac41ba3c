// What the edge learns about each upstream while it sends it traffic: requests
// in flight, a moving average of latency, and failures in a row (passive
// outlier ejection). Shared by every routing table that names the endpoint,
// so the learning survives a table swap. Lock-free: the request path only
// touches atomics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "metrics/registry.h"
#include "protocol/routes.h"

namespace skiff::edge {
namespace tls {
class CertTable;
}

class EndpointState {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // An endpoint failing this many requests in a row (connect errors, 5xx) is
  // ejected: it gets no traffic for kBaseEjection, doubled for each ejection in
  // a row up to kMaxEjection, unless every endpoint of the app is ejected.
  static constexpr int kEjectAfterFailures = 5;
  static constexpr std::chrono::seconds kBaseEjection{5};
  static constexpr std::chrono::seconds kMaxEjection{60};

  void Begin() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  // Ends a request Begin() started without judging the endpoint (the client
  // left, or its request was refused): nothing learnt either way.
  void Cancel() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  // Ends a request Begin() started: its latency and whether it failed.
  void End(std::chrono::microseconds latency, bool failed, SteadyTime now);

  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

  // Exchanges using a connection to the endpoint, from the attempt until the
  // connection is let go: unlike in_flight, a response body still being
  // relayed and a tunnel count. What a graceful drain waits for.
  void Open() { open_.fetch_add(1, std::memory_order_relaxed); }
  void Close() { open_.fetch_sub(1, std::memory_order_relaxed); }
  int open() const { return open_.load(std::memory_order_relaxed); }
  // Latency EWMA in microseconds; 0 before the first answer.
  int64_t ewma_us() const { return ewma_us_.load(std::memory_order_relaxed); }
  bool ejected(SteadyTime now) const {
    return now.time_since_epoch().count() < ejected_until_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<int> in_flight_{0};
  std::atomic<int> open_{0};
  std::atomic<int64_t> ewma_us_{0};
  std::atomic<int> failures_{0};
  std::atomic<int> ejections_{0};
  std::atomic<SteadyTime::rep> ejected_until_{0};
};

// The app's series in the edge's metric families, looked up once (a family
// lookup takes a lock; the request path should not).
struct AppMetrics {
  metrics::Gauge* in_flight = nullptr;
  metrics::Histogram* duration = nullptr;
  metrics::Counter* bytes = nullptr;
  std::array<metrics::Counter*, 6> by_class{};  // requests by status class: [2] is 2xx
  metrics::Gauge* held = nullptr;               // requests held now (the app sleeps)
  metrics::Counter* wake_timeouts = nullptr;    // held edge.wake_timeout, answered 503
  metrics::Counter* wake_queue_full = nullptr;  // past edge.wake_queue, answered 503
  metrics::Counter* wake_app_gone = nullptr;    // deleted or replaced while held
};

// What the edge keeps per app across routing tables.
struct AppState {
  std::atomic<uint64_t> cursor{0};  // round-robin position
  std::atomic<int> in_flight{0};    // for the circuit breaker (edge.max_in_flight)
  // Requests held while the app sleeps or wakes (edge.wake_queue), on every
  // thread of the edge; the Waker asks for a wake while it is above zero.
  std::atomic<int> held{0};
  std::once_flag metrics_once;
  AppMetrics metrics;  // set once under metrics_once
};

// The states of the endpoints and apps the edge knows, by address and app.
// Used only when a routing table is built (off the request path).
// Thread-safe.
class EdgeStates {
 public:
  // The state of endpoint `key` (instance@address), created on first use.
  std::shared_ptr<EndpointState> Endpoint(const std::string& key);
  // The state of `app`, created on first use.
  std::shared_ptr<AppState> App(const std::string& app);
  // The certificate table of `certificates`: the last one made when they
  // are the same as last time (a table is built on every change of the
  // routes; parsing every certificate each time would not do).
  std::shared_ptr<const tls::CertTable> Certificates(
      const std::vector<protocol::RouteCertificate>& certificates);
  // Drops the states no routing table holds any more.
  void Prune();

 private:
  std::mutex mu_;
  std::vector<protocol::RouteCertificate> certificates_;             // GUARDED_BY(mu_)
  std::shared_ptr<const tls::CertTable> certificate_table_;          // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<EndpointState>> endpoints_;  // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<AppState>> apps_;            // GUARDED_BY(mu_)
};

}  // namespace skiff::edge
