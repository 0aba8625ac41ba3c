// EdgeProxy: the edge's request handler (Flow 4 of DESIGN.md). It finds the
// route for a request's Host and path in the current routing table, picks an
// instance (balancer.h), forwards the request over a pooled keep-alive
// connection with the X-Forwarded-* and X-Request-Id headers, and answers with
// the instance's response.
//
//   404  no app serves the host (and path)
//   413  the body is larger than the app's edge.max_body (see BodyLimit)
//   429  the client is over the app's edge.rate_limit (with Retry-After)
//   503  the app has no healthy instance now (Retry-After: 1), or more than
//        edge.max_in_flight of its requests are in flight (circuit breaker)
//   502  the instance could not be reached or broke the connection
//   504  the instance did not answer in time
//
// An idempotent request (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) whose instance
// could not be connected to, or closed the connection without an answer, is
// sent to another instance, within a retry budget of
// about 10 % of the requests (so retries never multiply an overload); never a
// POST or PATCH. Connect failures and 5xx answers count toward ejecting an
// instance (endpoint_state.h).
//
// Thread-safety: Handle runs concurrently on the server's threads; SetTable
// may be called from any thread and never blocks a request.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <memory>

#include "edge/rate_limiter.h"
#include "edge/routing_table.h"
#include "metrics/registry.h"
#include "net/http.h"
#include "net/http_server.h"
#include "net/upstream_pool.h"

namespace skiff::edge {

// The edge's global connection cap: past it, new connections get a 503. Well
// under the 20,000 open files a process may have here, leaving room for
// upstream connections.
inline constexpr size_t kEdgeMaxConnections = 8192;

class EdgeProxy {
 public:
  // `pool` must outlive the proxy. When `metrics` is set, registers the edge's
  // families on it: skiff_edge_requests_total{app,code},
  // skiff_edge_request_duration_seconds{app}, skiff_edge_in_flight{app},
  // skiff_edge_response_bytes_total{app}, skiff_edge_routes.
  EdgeProxy(net::UpstreamPool* pool, metrics::Registry* metrics);
  EdgeProxy(const EdgeProxy&) = delete;
  EdgeProxy& operator=(const EdgeProxy&) = delete;

  // Makes `table` the one new requests use; requests in flight finish with the
  // table they started with.
  void SetTable(std::shared_ptr<const RoutingTable> table);
  std::shared_ptr<const RoutingTable> table() const;

  boost::asio::awaitable<void> Handle(const net::HttpRequest& request, net::ResponseWriter& writer);

  // The request body limit for a Host and path: the app's edge.max_body, or
  // the default for hosts no app serves. For HttpServerOptions::body_limit.
  size_t BodyLimit(std::string_view host, std::string_view path) const;

 private:
  // Whether one more retry fits the budget (and spends it).
  bool TakeRetry();
  // The route's app's series (cached on its AppState); null without metrics.
  const AppMetrics* MetricsOf(const Route& route);
  // The answer to send whole: the instance's response, or the edge's refusal
  // when there was no instance or no response.
  static net::HttpResponse Answer(const Route* route, Result<net::UpstreamReply>& result,
                                  const net::HttpRequest& request, const std::string& app);

  net::UpstreamPool* pool_;
  RateLimiter limiter_;
  std::atomic<std::shared_ptr<const RoutingTable>> table_;
  // The retry budget in tenths of a retry: each request adds 1 (up to a cap),
  // each retry costs 10.
  std::atomic<int64_t> retry_tenths_{30};  // a fresh edge may retry a few at once
  metrics::CounterFamily* requests_ = nullptr;
  metrics::HistogramFamily* durations_ = nullptr;
  metrics::GaugeFamily* in_flight_ = nullptr;
  metrics::CounterFamily* bytes_ = nullptr;
};

}  // namespace skiff::edge
