#include "edge/edge_proxy.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <random>
#include <string_view>
#include <vector>

#include "edge/balancer.h"

// g++ 12 reports a mismatched operator delete for some coroutine frames of
// Boost.Asio's awaitable (a known false positive: the frame's own operator new
// and delete are a matching pair).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace skiff::edge {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

constexpr int kMaxAttempts = 3;
constexpr int64_t kRetryBudgetCapTenths = 100;  // at most 10 retries banked

// Headers that describe one connection, not the message (RFC 9110 7.6.1),
// plus the framing the server and the pool set themselves.
bool IsHopByHop(std::string_view name) {
  // Expect too: the edge has read the whole body, so the instance must not
  // answer "100 Continue" (which would pass for the response).
  for (std::string_view h : {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                             "transfer-encoding", "upgrade", "content-length", "expect"}) {
    if (net::EqualsIgnoreCase(name, h)) return true;
  }
  return false;
}

// The headers a Connection header names are hop-by-hop too.
std::vector<std::string> ConnectionTokens(const net::HttpHeaders& headers) {
  std::vector<std::string> tokens;
  for (const auto& [name, value] : headers) {
    if (!net::EqualsIgnoreCase(name, "connection")) continue;
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      std::string token = value.substr(start, comma == std::string::npos ? comma : comma - start);
      token.erase(0, token.find_first_not_of(" \t"));
      token.erase(token.find_last_not_of(" \t") + 1);
      if (!token.empty()) tokens.push_back(token);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return tokens;
}

net::HttpHeaders EndToEnd(const net::HttpHeaders& headers) {
  std::vector<std::string> named = ConnectionTokens(headers);
  net::HttpHeaders out;
  out.reserve(headers.size() + 4);
  for (const auto& [name, value] : headers) {
    if (IsHopByHop(name)) continue;
    bool listed = std::any_of(named.begin(), named.end(),
                              [&](const std::string& t) { return net::EqualsIgnoreCase(name, t); });
    if (!listed) out.emplace_back(name, value);
  }
  return out;
}

// "127.0.0.1:53412" -> "127.0.0.1"; "[::1]:53412" -> "::1".
std::string ClientIp(const std::string& remote) {
  if (!remote.empty() && remote.front() == '[') return remote.substr(1, remote.find(']') - 1);
  return remote.substr(0, remote.rfind(':'));
}

bool IsIdempotent(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}) {
    if (method == m) return true;
  }
  return false;
}

uint64_t Random() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

// A request id: 128 random bits in hex. Not a secret, so no syscall per request.
std::string NewRequestId() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = Random();
    for (int i = 0; i < 16; ++i, bits >>= 4) id[half * 16 + i] = kHex[bits & 15];
  }
  return id;
}

// Relays a response to the client as it arrives, when holding it whole would
// be wrong (server-sent events, bodies without a length) or wasteful (large
// ones); smaller responses are read whole, framed with their length.
class RelaySink final : public net::StreamSink {
 public:
  static constexpr uint64_t kReadWholeUpTo = 1 << 20;

  RelaySink(net::ResponseWriter& writer, std::string request_id)
      : writer_(writer), request_id_(std::move(request_id)) {}

  bool WantsStream(int /*status*/, const net::HttpHeaders& headers,
                   std::optional<uint64_t> length) override {
    if (!length || *length > kReadWholeUpTo) return true;
    return net::FindHeader(headers, "Content-Type").starts_with("text/event-stream");
  }

  asio::awaitable<bool> Begin(int status, const net::HttpHeaders& headers) override {
    net::HttpHeaders out = EndToEnd(headers);
    std::erase_if(out,
                  [](const auto& h) { return net::EqualsIgnoreCase(h.first, "X-Request-Id"); });
    out.emplace_back("X-Request-Id", request_id_);
    began_ = true;
    co_return co_await writer_.Begin(status, std::move(out));
  }

  asio::awaitable<bool> Write(std::string_view piece) override {
    bytes_ += piece.size();
    co_return co_await writer_.Write(piece);
  }

  bool began() const { return began_; }
  size_t bytes() const { return bytes_; }

 private:
  net::ResponseWriter& writer_;
  const std::string request_id_;
  bool began_ = false;
  size_t bytes_ = 0;
};

net::HttpResponse Refusal(int status, std::string message, int retry_after_seconds = 1) {
  net::HttpResponse r = net::TextResponse(status, std::move(message) + "\n");
  if (status == 503 || status == 429) {
    r.headers.emplace_back("Retry-After", std::to_string(retry_after_seconds));
  }
  return r;
}

// Decrements a counter when the scope ends, however it ends.
class InFlight {
 public:
  explicit InFlight(std::atomic<int>& n) : n_(n) { n_.fetch_add(1, std::memory_order_relaxed); }
  ~InFlight() { n_.fetch_sub(1, std::memory_order_relaxed); }
  int value_before() const { return n_.load(std::memory_order_relaxed) - 1; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::atomic<int>& n_;
};

}  // namespace

EdgeProxy::EdgeProxy(net::UpstreamPool* pool, metrics::Registry* metrics)
    : pool_(pool), table_(RoutingTable::Build(store::Snapshot{})) {
  if (metrics == nullptr) return;
  requests_ =
      metrics->AddCounter("skiff_edge_requests_total",
                          "Requests the edge answered, by app and status class.", {"app", "code"});
  durations_ = metrics->AddHistogram("skiff_edge_request_duration_seconds",
                                     "Time from a request's arrival to its answer, by app.",
                                     {"app"}, metrics::DefaultLatencyBuckets());
  in_flight_ = metrics->AddGauge("skiff_edge_in_flight", "Requests in flight, by app.", {"app"});
  bytes_ = metrics->AddCounter("skiff_edge_response_bytes_total",
                               "Response body bytes sent to clients, by app.", {"app"});
  metrics::GaugeFamily* routes =
      metrics->AddGauge("skiff_edge_routes", "Routes (domains) in the edge's routing table.");
  metrics->AddCollectHook(
      [this, routes] { routes->With().Set(static_cast<double>(table()->size())); });
}

void EdgeProxy::SetTable(std::shared_ptr<const RoutingTable> table) {
  table_.store(std::move(table), std::memory_order_release);
}

std::shared_ptr<const RoutingTable> EdgeProxy::table() const {
  return table_.load(std::memory_order_acquire);
}

const AppMetrics* EdgeProxy::MetricsOf(const Route& route) {
  if (requests_ == nullptr) return nullptr;
  AppState& state = *route.state;
  std::call_once(state.metrics_once, [&] {
    const std::string& app = route.app;
    state.metrics.in_flight = &in_flight_->With({app});
    state.metrics.duration = &durations_->With({app});
    state.metrics.bytes = &bytes_->With({app});
    for (int c = 1; c <= 5; ++c) {
      state.metrics.by_class[c] = &requests_->With({app, std::to_string(c) + "xx"});
    }
  });
  return &state.metrics;
}

size_t EdgeProxy::BodyLimit(std::string_view host, std::string_view path) const {
  std::shared_ptr<const RoutingTable> table = this->table();
  const Route* route = table->Find(host, path);
  return static_cast<size_t>(route != nullptr ? route->policy.max_body
                                              : model::EdgePolicy{}.max_body);
}

bool EdgeProxy::TakeRetry() {
  int64_t have = retry_tenths_.load(std::memory_order_relaxed);
  while (have >= 10) {
    if (retry_tenths_.compare_exchange_weak(have, have - 10, std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

asio::awaitable<void> EdgeProxy::Handle(const net::HttpRequest& request,
                                        net::ResponseWriter& writer) {
  const auto start = SteadyClock::now();
  // Every request earns a tenth of a retry, up to the cap.
  if (retry_tenths_.load(std::memory_order_relaxed) < kRetryBudgetCapTenths) {
    retry_tenths_.fetch_add(1, std::memory_order_relaxed);
  }
  std::shared_ptr<const RoutingTable> table = this->table();
  const std::string_view host = request.Header("Host");
  const Route* route = table->Find(host, request.path);
  if (route == nullptr) {
    net::HttpResponse refusal =
        Refusal(404, "no app is served at " + NormaliseHost(host) + request.path);
    co_await writer.Send(std::move(refusal));
    co_return;
  }
  const std::string& app = route->app;
  const model::EdgePolicy& policy = route->policy;
  if (policy.rate_limit) {
    std::chrono::seconds wait{1};
    if (!limiter_.Allow(app + '\n' + ClientIp(request.remote_address), *policy.rate_limit,
                        SteadyClock::now(), &wait)) {
      net::HttpResponse refusal =
          Refusal(429, "too many requests to app " + app + " from this address", wait.count());
      co_await writer.Send(std::move(refusal));
      if (const AppMetrics* m = MetricsOf(*route)) m->by_class[4]->Inc();
      co_return;
    }
  }
  InFlight in_flight(route->state->in_flight);
  if (in_flight.value_before() >= policy.max_in_flight) {
    net::HttpResponse refusal =
        Refusal(503, "app " + app + " has too many requests in flight (edge.max_in_flight " +
                         std::to_string(policy.max_in_flight) + ")");
    co_await writer.Send(std::move(refusal));
    if (const AppMetrics* m = MetricsOf(*route)) m->by_class[5]->Inc();
    co_return;
  }
  const AppMetrics* metrics = MetricsOf(*route);
  if (metrics != nullptr) metrics->in_flight->Add(1);

  // The request as the instance gets it.
  net::HttpRequest upstream;
  upstream.method = request.method;
  upstream.target = request.target;
  upstream.body = request.body;
  upstream.headers = EndToEnd(request.headers);
  std::string forwarded_for;  // what earlier proxies said, in order, then this client
  std::string request_id;
  for (auto it = upstream.headers.begin(); it != upstream.headers.end();) {
    if (net::EqualsIgnoreCase(it->first, "X-Forwarded-For")) {
      forwarded_for += it->second + ", ";
    } else if (net::EqualsIgnoreCase(it->first, "X-Request-Id")) {
      request_id = it->second;
    } else if (!net::EqualsIgnoreCase(it->first, "X-Forwarded-Proto") &&
               !net::EqualsIgnoreCase(it->first, "X-Forwarded-Host")) {
      ++it;
      continue;
    }
    it = upstream.headers.erase(it);
  }
  forwarded_for += ClientIp(request.remote_address);
  if (request_id.empty()) request_id = NewRequestId();
  upstream.headers.emplace_back("X-Forwarded-For", forwarded_for);
  upstream.headers.emplace_back("X-Forwarded-Proto", "http");
  upstream.headers.emplace_back("X-Forwarded-Host", std::string(host));
  upstream.headers.emplace_back("X-Request-Id", request_id);

  const bool idempotent = IsIdempotent(request.method);
  std::vector<int> tried;
  RelaySink sink(writer, request_id);
  Result<net::UpstreamReply> result = Unavailable("no attempt");
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    int pick = PickEndpoint(*route, Random(), SteadyClock::now(), tried);
    if (pick < 0) break;
    tried.push_back(pick);
    const Endpoint& endpoint = route->endpoints[pick];
    const auto sent = SteadyClock::now();
    endpoint.state->Begin();
    result = co_await pool_->Send(endpoint.address, upstream, idempotent, &sink);
    const bool failed = !result || result->response.status >= 500;
    endpoint.state->End(
        std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - sent), failed,
        SteadyClock::now());
    // An idempotent request goes to another instance when this one could not
    // be reached or dropped the connection before answering (it may be dying:
    // SIGKILL races with connects); never after a timeout, which may mean it
    // is still at work.
    const bool lost = !result && (result.error().code == ErrorCode::kUnavailable ||
                                  result.error().code == ErrorCode::kAborted);
    const bool retry = lost && idempotent && tried.size() < route->endpoints.size() && TakeRetry();
    if (!retry) break;
  }

  int status = 0;
  size_t body_bytes = 0;
  if (result && result->streamed) {
    // Relayed as it came; a stream cut short just ends (its head is long sent).
    if (sink.began()) co_await writer.End();
    status = result->response.status;
    body_bytes = sink.bytes();
  } else {
    net::HttpResponse response = Answer(route, result, request, app);
    std::erase_if(response.headers,
                  [](const auto& h) { return net::EqualsIgnoreCase(h.first, "X-Request-Id"); });
    response.headers.emplace_back("X-Request-Id", request_id);
    status = response.status;
    body_bytes = response.body.size();
    co_await writer.Send(std::move(response));
  }

  if (metrics != nullptr) {
    metrics->in_flight->Add(-1);
    metrics->by_class[std::clamp(status / 100, 1, 5)]->Inc();
    metrics->bytes->Inc(static_cast<double>(body_bytes));
    metrics->duration->Observe(std::chrono::duration<double>(SteadyClock::now() - start).count());
  }
}

net::HttpResponse EdgeProxy::Answer(const Route* route, Result<net::UpstreamReply>& result,
                                    const net::HttpRequest& request, const std::string& app) {
  net::HttpResponse response;
  if (route->endpoints.empty()) {
    response = Refusal(503, "app " + app + " has no healthy instance now");
  } else if (!result) {
    const bool timeout = result.error().code == ErrorCode::kDeadlineExceeded;
    response = Refusal(timeout ? 504 : 502, "app " + app + ": " + result.error().message);
  } else {
    net::HttpResponse& upstream = result->response;
    response.status = upstream.status;
    response.headers = EndToEnd(upstream.headers);
    response.body = std::move(upstream.body);
    if (request.method == "HEAD") {
      // The length a GET would have: the server keeps it for a HEAD answer.
      std::string_view length = upstream.Header("Content-Length");
      if (!length.empty()) response.headers.emplace_back("Content-Length", std::string(length));
    }
  }
  return response;
}

}  // namespace skiff::edge
