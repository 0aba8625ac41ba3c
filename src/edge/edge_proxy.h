// EdgeProxy: the edge router's data path (Flow 4 of DESIGN.md). It listens on
// an address with one or more threads, each its own event loop
// (event_loop.h: io_uring, or epoll where the kernel has no io_uring) accepting
// on the one listening socket (a new connection wakes one thread) and holding
// its own upstream keep-alive pool. For each
// request it finds the route for Host and path in the current routing table,
// picks an instance (balancer.h), forwards the request with X-Forwarded-For,
// -Proto, -Host and X-Request-Id (kept or generated), and relays the answer as
// it arrives, never buffering a body whole.
//
//   400  a malformed request or one that could be smuggled (request_head.h);
//        the connection is closed
//   404  no app serves the host (and path)
//   408  the request head or body did not arrive in time
//   413  the body is larger than the app's edge.max_body
//   414 / 431  request line / header lines too long or too many
//   429  the client is over the app's edge.rate_limit (with Retry-After)
//   503  the app has no healthy instance now (Retry-After: 1), or more than
//        edge.max_in_flight of its requests are in flight (circuit breaker),
//        or the edge holds max_connections already
//   502  the instance could not be reached, broke the connection or answered
//        something that is not HTTP
//   504  the instance did not answer within the app's edge.timeouts.response
//        (or could not be connected to within edge.timeouts.connect)
//
// A request for an app that sleeps (scale to zero: RouteSet's `sleeping`) is
// held rather than refused, in order, until a routing table gives the app an
// instance; options.wake asks the control plane to wake it (from a thread of
// its own, waker.h). At most the app's edge.wake_queue requests are held per
// edge and each at most edge.wake_timeout; past either, 503 with
// Retry-After: 5. A held request's body is not read until it goes on; a
// client that closes its connection while held is dropped (499 in the log).
// Held requests count as in flight (edge.max_in_flight, the in-flight gauge).
// docs/scale-to-zero.md.
//
// An idempotent request (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) whose
// instance could not be connected to, or closed the connection without an
// answer, is sent to another instance, within a retry budget of about 10 % of
// the requests; never a POST or PATCH. Connect failures and 5xx answers count
// toward ejecting an instance (endpoint_state.h). Responses are gzipped when
// the client accepts it and they are worth it (gzip.h); "Upgrade" requests
// (WebSocket) become a two-way tunnel once the instance answers 101.
//
// An instance that leaves the routing table gets no new requests; those in
// flight to it finish (each request keeps the table it started with), and
// idle pooled connections to it are closed rather than reused.
//
// Plain HTTP only: a request on the plain listener for
// /.well-known/acme-challenge/TOKEN (any host) is answered, before routing,
// from the routing table's pending ACME challenges (200 with the key
// authorization); a token the table does not know is routed as any other
// request, so an app's own ACME client keeps working.
//
// Thread-safety: all public methods may be called from any thread; SetTable
// never blocks a request.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "edge/access_log.h"
#include "edge/event_loop.h"
#include "edge/routing_table.h"
#include "edge/tls/tls_context.h"
#include "metrics/registry.h"
#include "metrics/traffic.h"

namespace skiff::edge {

// The edge's global connection cap: past it, new connections get a 503. Well
// under the 20,000 open files a process may have here, leaving room for
// upstream connections.
inline constexpr size_t kEdgeMaxConnections = 8192;

struct EdgeOptions {
  int threads = 1;
  // Each thread's I/O engine (event_loop.h). kAuto: io_uring where the
  // kernel allows it (it costs about a third less CPU a request than epoll,
  // bench/edge_proxy.sh), else epoll.
  IoEngine io_engine = IoEngine::kAuto;
  // Makes each thread's loop (tests put failing ones in); null:
  // EventLoop::Create.
  std::function<Result<std::unique_ptr<EventLoop>>(IoEngine)> make_loop;
  size_t max_connections = kEdgeMaxConnections;
  // A request head (request line and fields) larger than this: 431.
  size_t max_head_bytes = 32 << 10;
  // From a request's first byte to the end of its head (slow clients): 408.
  Duration header_timeout = std::chrono::seconds(10);
  // Between two pieces of a request body: 408.
  Duration body_timeout = std::chrono::seconds(60);
  // A kept-alive client connection without a request is closed after this.
  Duration idle_timeout = std::chrono::seconds(60);
  // A client that reads none of a response for this long is dropped.
  Duration write_timeout = std::chrono::seconds(30);
  // A tunnel (WebSocket) with no traffic either way for this long is closed.
  Duration tunnel_idle_timeout = std::chrono::hours(1);
  // Idle upstream connections older than this are closed rather than reused:
  // shorter than common servers' keep-alive timeouts.
  Duration upstream_idle_timeout = std::chrono::seconds(30);
  size_t max_idle_per_upstream = 64;
  // After Stop(), how long requests in flight may still run.
  Duration stop_grace = std::chrono::seconds(10);
  // Optional: the edge's families go here (see EdgeProxy()).
  metrics::Registry* metrics = nullptr;
  // Optional: one JSON line per request. Must outlive the proxy.
  AccessLog* access_log = nullptr;
  // The retry budget's per-second floor counts seconds of this clock's
  // monotonic time, and the Waker's periods (`wake_repeat`) are timed on it.
  // Must outlive the proxy.
  const Clock* clock = SystemClock::Get();
  // Asks the control plane to wake an app that sleeps while requests for it
  // are held (waker.h): called on a thread of the edge's own, never a
  // worker's, so it may block. Null: held requests wait for a wake someone
  // else asks for (or time out). What it uses must outlive the proxy.
  std::function<void(const std::string& app)> wake;
  // How often `wake` is called again for an app while its requests are held.
  std::chrono::milliseconds wake_repeat{1000};
  // With a TLS listener: its session tickets' key rotation (tls_context.h;
  // its clock is tests').
  tls::TlsOptions tls;
};

class EdgeProxy {
 public:
  // When options.metrics is set, registers the edge's families on it:
  // skiff_edge_requests_total{app,code}, skiff_edge_request_duration_seconds{app},
  // skiff_edge_in_flight{app}, skiff_edge_response_bytes_total{app},
  // skiff_edge_held_requests{app}, skiff_edge_wake_refusals_total{app,reason},
  // skiff_edge_routes, skiff_edge_connections.
  explicit EdgeProxy(EdgeOptions options = {});
  // Stop(), then waits for the threads.
  ~EdgeProxy();
  EdgeProxy(const EdgeProxy&) = delete;
  EdgeProxy& operator=(const EdgeProxy&) = delete;

  // Makes `table` the one new requests use; requests in flight finish with the
  // table they started with.
  void SetTable(std::shared_ptr<const RoutingTable> table);
  std::shared_ptr<const RoutingTable> table() const;

  // What a graceful drain waits on (controller/drain_tracker.h): the revision of
  // the current table, and the requests in flight to each instance an earlier
  // table routed and the current one does not (only those with some; a
  // request counts until its connection to the instance is let go, so a
  // response body still relayed or a tunnel counts too). Cheap:
  // a lock SetTable also takes, never one of the request path.
  metrics::EdgeRoutes Routes() const;

  // Binds "host:port" (port 0 picks one, see port()) and starts the threads;
  // returns once each has set its engine up (they accept from then on).
  // kInvalidArgument for an address that does not parse, kUnavailable when it
  // cannot be bound or options.io_engine is kUring and io_uring is not
  // available (or a thread cannot set its ring up); with kAuto such a thread
  // makes the threads start again on epoll (logged). REQUIRES: called once.
  //
  // With `tls_address`, the threads also accept TLS on it (tls/tls_context.h:
  // TLS 1.2 and 1.3, the certificate by SNI from the routing table's
  // certificates, else a self-signed fallback); everything else is served
  // alike. The plain listener then redirects the apps that ask for it
  // (edge.https_redirect) and the TLS listener refuses those with
  // edge.tls: off (421). Errors as for `address`, and kInternal when the TLS
  // context cannot be made.
  Status Listen(std::string_view address, std::string_view tls_address = {});
  uint16_t port() const { return port_.load(); }
  // The TLS listener's port; 0 without one.
  uint16_t tls_port() const { return tls_port_.load(); }
  // The I/O engine the threads run (kEpoll or kUring), once listening.
  IoEngine io_engine() const { return engine_; }

  // Graceful: stops accepting, closes idle connections, lets requests in
  // flight finish (and closed connections' last bytes go out) for up to
  // stop_grace, then cuts the rest (their clients get a reset); returns when
  // the threads have ended: within stop_grace and a sweep
  // (EventLoop::kSweepInterval). Later calls do nothing.
  void Stop();

  // Open client connections now (for tests and metrics).
  size_t connection_count() const;
  // Requests held now for apps that sleep, on every thread (tests, metrics).
  int held_count() const;

  // Each app's counters so far (cumulative), for the control plane's traffic
  // book (metrics/traffic.h). Empty without options.metrics.
  metrics::TrafficSnapshot Traffic() const;

  // The internals (proxy_shared.h, edge_worker.h).
  struct Shared;
  class Worker;

 private:
  // Starts the threads with `engine` (kEpoll or kUring): each sets its loop
  // up, and only when all could do they accept; else they end and it says
  // why, with nothing accepted.
  Status StartWorkers(IoEngine engine);
  void CloseListeners();

  std::unique_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  int listen_fd_ = -1;
  int tls_listen_fd_ = -1;
  std::atomic<uint16_t> port_{0};
  std::atomic<uint16_t> tls_port_{0};
  IoEngine engine_ = IoEngine::kAuto;
  std::atomic<bool> stopped_{false};
};

}  // namespace skiff::edge
