// What the edge's threads share (internal to edge_proxy.cc and its parts):
// the routing table, the rate limiter, the retry budget and the metric
// families. Everything here is safe to use from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edge/edge_proxy.h"
#include "edge/rate_limiter.h"
#include "edge/routing_table.h"
#include "edge/tls/tls_context.h"
#include "edge/waker.h"

namespace skiff::edge {

struct EdgeProxy::Shared {
  explicit Shared(EdgeOptions o);

  // Installs `table`; threads notice through table_version. Remembers the
  // endpoints the old table had and the new one has not, for Routes().
  void SetTable(std::shared_ptr<const RoutingTable> table);
  // See EdgeProxy::Routes.
  metrics::EdgeRoutes Routes();
  std::shared_ptr<const RoutingTable> table() const {
    return table_.load(std::memory_order_acquire);
  }

  // The route's app's series (cached on its AppState); null without metrics.
  const AppMetrics* MetricsOf(const Route& route);

  // Each request earns a tenth of a retry (up to a cap); a retry spends ten.
  // Beyond that bank, a floor of kMinRetriesPerSecond (Finagle's retry budget
  // does the same): at low traffic an instance that dies must not cost the
  // few requests that find it before it is ejected.
  void EarnRetry();
  // Whether one more retry fits the budget (and spends it).
  bool TakeRetry();

  const EdgeOptions options;
  // With a TLS listener: what its connections share, and its port (for the
  // redirect to https); null and 0 without.
  std::unique_ptr<tls::TlsContext> tls;
  uint16_t tls_port = 0;
  RateLimiter limiter;
  // Bumped by SetTable: a thread reloads its cached table when it changes, so
  // the request path reads one atomic instead of the shared pointer.
  std::atomic<uint64_t> table_version{1};
  std::atomic<size_t> connections{0};
  // Closed connections the loops still hold open (their last bytes go out):
  // they count against max_connections too.
  std::atomic<size_t> closing{0};

  // With options.wake: asks for the apps whose requests are held.
  std::unique_ptr<Waker> waker;
  // Requests held on every thread (for sleeping apps): while some are, a new
  // table makes each thread look at its held requests at once.
  std::atomic<int> held{0};

  metrics::CounterFamily* requests = nullptr;
  metrics::HistogramFamily* durations = nullptr;
  metrics::GaugeFamily* in_flight = nullptr;
  metrics::CounterFamily* bytes = nullptr;
  metrics::GaugeFamily* held_requests = nullptr;
  metrics::CounterFamily* wake_refusals = nullptr;
  metrics::Counter* unrouted = nullptr;  // requests no app serves

 private:
  std::atomic<std::shared_ptr<const RoutingTable>> table_;
  std::mutex leaving_mu_;  // serialises SetTable; guards leaving_
  // Instance id -> the states of its endpoints that left the routes; weak: a
  // state lives on only while some request's table holds it.
  std::map<std::string, std::vector<std::weak_ptr<EndpointState>>> leaving_;
  std::atomic<int64_t> retry_tenths_{30};  // a fresh edge may retry a few at once
  std::atomic<int64_t> floor_second_{0};   // the monotonic second floor_used_ counts
  std::atomic<int> floor_used_{0};
};

}  // namespace skiff::edge
