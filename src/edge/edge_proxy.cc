#include "edge/edge_proxy.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <future>
#include <set>
#include <system_error>

#include "common/logging.h"
#include "edge/edge_worker.h"
#include "edge/proxy_shared.h"
#include "net/host_port.h"

namespace skiff::edge {
namespace {

constexpr int64_t kRetryBudgetCapTenths = 100;  // at most 10 retries banked
constexpr int kMinRetriesPerSecond = 10;

// Binds and listens on "host:port" ("127.0.0.1:8080", "[::1]:0",
// "localhost:8080", ":8080" for every IPv4 address).
Result<int> OpenListener(std::string_view address) {
  SKIFF_ASSIGN_OR_RETURN(net::HostPort where, net::ParseHostPort(address, "listen address"));
  const std::string& host = where.host;
  const std::string port = std::to_string(where.port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return InvalidArgument("cannot resolve listen host \"" + host + "\": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, freeaddrinfo);
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable(std::string("cannot make a socket: ") + std::strerror(errno));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
    const int error = errno;
    close(fd);
    return Unavailable("cannot listen on " + std::string(address) + ": " + std::strerror(error));
  }
  return fd;
}

uint16_t BoundPort(int fd) {
  sockaddr_storage bound{};
  socklen_t size = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &size);
  if (bound.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(bound).sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in&>(bound).sin_port);
}

}  // namespace

// ------------------------------------------------------------------ Shared

EdgeProxy::Shared::Shared(EdgeOptions o)
    : options(std::move(o)), table_(RoutingTable::Build(protocol::RouteSet{})) {
  if (options.wake)
    waker = std::make_unique<Waker>(options.wake, options.wake_repeat, options.clock);
  metrics::Registry* registry = options.metrics;
  if (registry == nullptr) return;
  requests =
      registry->AddCounter("skiff_edge_requests_total",
                           "Requests the edge answered, by app and status class.", {"app", "code"});
  durations = registry->AddHistogram("skiff_edge_request_duration_seconds",
                                     "Time from a request's arrival to its answer, by app.",
                                     {"app"}, metrics::DefaultLatencyBuckets());
  in_flight = registry->AddGauge("skiff_edge_in_flight", "Requests in flight, by app.", {"app"});
  bytes = registry->AddCounter("skiff_edge_response_bytes_total",
                               "Response body bytes sent to clients, by app.", {"app"});
  held_requests = registry->AddGauge(
      "skiff_edge_held_requests",
      "Requests held now for an app that sleeps or wakes (scale to zero), by app.", {"app"});
  wake_refusals = registry->AddCounter(
      "skiff_edge_wake_refusals_total",
      "Requests for a sleeping app answered 503 instead of being held to the end, by app and "
      "reason (timeout: held edge.wake_timeout; queue_full: past edge.wake_queue; app_gone: "
      "the app was deleted or replaced while held).",
      {"app", "reason"});
  unrouted = &registry
                  ->AddCounter("skiff_edge_unrouted_requests_total",
                               "Requests for a host (and path) no app serves (answered 404).")
                  ->With();
  metrics::GaugeFamily* routes =
      registry->AddGauge("skiff_edge_routes", "Routes (domains) in the edge's routing table.");
  metrics::GaugeFamily* open =
      registry->AddGauge("skiff_edge_connections", "Client connections open at the edge.");
  registry->AddCollectHook([this, routes, open] {
    routes->With().Set(static_cast<double>(table()->size()));
    open->With().Set(static_cast<double>(connections.load(std::memory_order_relaxed)));
  });
}

void EdgeProxy::Shared::SetTable(std::shared_ptr<const RoutingTable> table) {
  std::lock_guard lock(leaving_mu_);
  std::set<const EndpointState*> kept;
  std::set<std::string> routed;
  table->ForEachEndpoint([&](const Endpoint& e) {
    kept.insert(e.state.get());
    routed.insert(e.instance_id);
  });
  std::shared_ptr<const RoutingTable> old = table_.load(std::memory_order_acquire);
  old->ForEachEndpoint([&](const Endpoint& e) {
    if (kept.contains(e.state.get())) return;
    auto& states = leaving_[e.instance_id];
    const bool known = std::any_of(states.begin(), states.end(),
                                   [&](const auto& w) { return w.lock() == e.state; });
    if (!known) states.push_back(e.state);
  });
  for (auto it = leaving_.begin(); it != leaving_.end();) {
    std::erase_if(it->second, [](const auto& w) { return w.expired(); });
    if (it->second.empty() || routed.contains(it->first)) {
      it = leaving_.erase(it);
    } else {
      ++it;
    }
  }
  table_.store(std::move(table), std::memory_order_release);
  table_version.fetch_add(1, std::memory_order_acq_rel);
}

metrics::EdgeRoutes EdgeProxy::Shared::Routes() {
  std::lock_guard lock(leaving_mu_);
  metrics::EdgeRoutes out;
  out.revision = table()->revision();
  for (auto& [id, states] : leaving_) {
    int64_t in_flight = 0;
    for (const auto& w : states) {
      if (auto state = w.lock()) in_flight += state->open();
    }
    if (in_flight > 0) out.leaving[id] = in_flight;
  }
  return out;
}

const AppMetrics* EdgeProxy::Shared::MetricsOf(const Route& route) {
  if (requests == nullptr) return nullptr;
  AppState& state = *route.state;
  std::call_once(state.metrics_once, [&] {
    const std::string& app = route.app;
    state.metrics.in_flight = &in_flight->With({app});
    state.metrics.duration = &durations->With({app});
    state.metrics.bytes = &bytes->With({app});
    state.metrics.held = &held_requests->With({app});
    state.metrics.wake_timeouts = &wake_refusals->With({app, "timeout"});
    state.metrics.wake_queue_full = &wake_refusals->With({app, "queue_full"});
    state.metrics.wake_app_gone = &wake_refusals->With({app, "app_gone"});
    for (int c = 1; c <= 5; ++c) {
      state.metrics.by_class[c] = &requests->With({app, std::to_string(c) + "xx"});
    }
  });
  return &state.metrics;
}

void EdgeProxy::Shared::EarnRetry() {
  if (retry_tenths_.load(std::memory_order_relaxed) < kRetryBudgetCapTenths) {
    retry_tenths_.fetch_add(1, std::memory_order_relaxed);
  }
}

bool EdgeProxy::Shared::TakeRetry() {
  int64_t have = retry_tenths_.load(std::memory_order_relaxed);
  while (have >= 10) {
    if (retry_tenths_.compare_exchange_weak(have, have - 10, std::memory_order_relaxed)) {
      return true;
    }
  }
  const int64_t second = std::chrono::duration_cast<std::chrono::seconds>(
                             options.clock->MonotonicNow().time_since_epoch())
                             .count();
  int64_t counted = floor_second_.load(std::memory_order_relaxed);
  if (counted != second &&
      floor_second_.compare_exchange_strong(counted, second, std::memory_order_relaxed)) {
    floor_used_.store(0, std::memory_order_relaxed);
  }
  return floor_used_.fetch_add(1, std::memory_order_relaxed) < kMinRetriesPerSecond;
}

// --------------------------------------------------------------- EdgeProxy

EdgeProxy::EdgeProxy(EdgeOptions options) : shared_(std::make_unique<Shared>(std::move(options))) {}

EdgeProxy::~EdgeProxy() {
  Stop();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (tls_listen_fd_ >= 0) close(tls_listen_fd_);
}

void EdgeProxy::SetTable(std::shared_ptr<const RoutingTable> table) {
  shared_->SetTable(std::move(table));
  // Held requests go on as soon as their app has an instance, not at the
  // next sweep.
  if (shared_->held.load(std::memory_order_acquire) > 0) {
    for (const auto& worker : workers_) {
      Worker* w = worker.get();
      w->loop().Post([w] { w->ResumeHeld(); });
    }
  }
}

std::shared_ptr<const RoutingTable> EdgeProxy::table() const { return shared_->table(); }

int EdgeProxy::held_count() const { return shared_->held.load(std::memory_order_acquire); }

metrics::EdgeRoutes EdgeProxy::Routes() const { return shared_->Routes(); }

Status EdgeProxy::Listen(std::string_view address, std::string_view tls_address) {
  if (!tls_address.empty()) {
    SKIFF_ASSIGN_OR_RETURN(shared_->tls, tls::TlsContext::Create(shared_->options.tls));
    Result<int> fd = OpenListener(tls_address);
    if (!fd) return tl::unexpected(fd.error());
    tls_listen_fd_ = *fd;
    tls_port_ = BoundPort(tls_listen_fd_);
    shared_->tls_port = tls_port_;
  }
  Result<int> fd = OpenListener(address);
  if (!fd) {
    CloseListeners();
    return tl::unexpected(fd.error());
  }
  listen_fd_ = *fd;
  port_ = BoundPort(listen_fd_);
  const IoEngine asked = shared_->options.io_engine;
  // One engine for every thread: auto is decided here, once.
  const IoEngine engine = asked != IoEngine::kAuto      ? asked
                          : EventLoop::UringAvailable() ? IoEngine::kUring
                                                        : IoEngine::kEpoll;
  Status started = StartWorkers(engine);
  if (!started && asked == IoEngine::kAuto && engine == IoEngine::kUring) {
    // The kernel gave io_uring to the probe but not to a thread (memory or a
    // limit ran out since): epoll serves as well, at more CPU a request.
    SKIFF_LOG_WARN("edge: io_uring failed on a thread ({}); serving with epoll",
                   started.error().message);
    started = StartWorkers(IoEngine::kEpoll);
  }
  if (!started) {
    CloseListeners();
    return started;
  }
  if (asked == IoEngine::kAuto && engine_ == IoEngine::kEpoll && !EventLoop::UringAvailable()) {
    SKIFF_LOG_WARN("edge: io_uring is not available ({}); serving with epoll",
                   EventLoop::UringAvailable().error().message);
  }
  return OkStatus();
}

Status EdgeProxy::StartWorkers(IoEngine engine) {
  const int threads = std::max(1, shared_->options.threads);
  std::vector<std::unique_ptr<EventLoop>> loops;
  for (int i = 0; i < threads; ++i) {
    SKIFF_ASSIGN_OR_RETURN(std::unique_ptr<EventLoop> loop, shared_->options.make_loop
                                                                ? shared_->options.make_loop(engine)
                                                                : EventLoop::Create(engine));
    // A closed connection's last bytes (held by io_uring) get the time an
    // open one's get (and at a stop, what is left of the stop's grace).
    loop->SetCloseGrace(shared_->options.write_timeout);
    loop->SetClosingGauge(&shared_->closing);
    loops.push_back(std::move(loop));
  }
  // Shared with the threads: a thread may still be inside set_value when its
  // waiter here has woken and moved on.
  auto prepared = std::make_shared<std::vector<std::promise<Status>>>(loops.size());
  std::promise<bool> go;
  std::shared_future<bool> go_future = go.get_future().share();
  for (auto& loop : loops) {
    workers_.push_back(
        std::make_unique<Worker>(shared_.get(), listen_fd_, tls_listen_fd_, std::move(loop)));
  }
  Status all = OkStatus();
  try {
    threads_.reserve(workers_.size());
    for (size_t i = 0; i < workers_.size(); ++i) {
      threads_.emplace_back(
          [w = workers_[i].get(), prepared, i, go_future] { w->Run(&(*prepared)[i], go_future); });
    }
  } catch (const std::exception& e) {  // (a limit on threads, or memory)
    all = Unavailable(std::string("cannot start the edge's threads: ") + e.what());
  }
  for (size_t i = 0; i < threads_.size(); ++i) {
    Status one = (*prepared)[i].get_future().get();
    if (!one && all) all = std::move(one);
  }
  go.set_value(static_cast<bool>(all));
  if (all) {
    engine_ = engine;
    return all;
  }
  for (std::thread& t : threads_) t.join();  // they end without accepting
  threads_.clear();
  workers_.clear();
  return all;
}

void EdgeProxy::CloseListeners() {
  for (int* fd : {&listen_fd_, &tls_listen_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  port_ = 0;
  tls_port_ = 0;
  shared_->tls_port = 0;
}

void EdgeProxy::Stop() {
  if (stopped_.exchange(true)) return;
  for (auto& worker : workers_) worker->Stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  workers_.clear();
}

size_t EdgeProxy::connection_count() const {
  return shared_->connections.load(std::memory_order_relaxed);
}

}  // namespace skiff::edge

namespace skiff::edge {

metrics::TrafficSnapshot EdgeProxy::Traffic() const {
  metrics::TrafficSnapshot out;
  const Shared& s = *shared_;
  if (s.requests == nullptr) return out;
  s.requests->ForEach([&](const metrics::LabelValues& labels, const metrics::Counter& c) {
    const int cls = labels[1].empty() ? 0 : labels[1][0] - '0';
    if (cls >= 1 && cls <= 5) {
      out.apps[labels[0]].by_class[cls] = static_cast<uint64_t>(c.Value());
    }
  });
  s.bytes->ForEach([&](const metrics::LabelValues& labels, const metrics::Counter& c) {
    out.apps[labels[0]].bytes = static_cast<uint64_t>(c.Value());
  });
  s.in_flight->ForEach([&](const metrics::LabelValues& labels, const metrics::Gauge& g) {
    out.apps[labels[0]].in_flight = static_cast<int64_t>(g.Value());
  });
  s.durations->ForEach([&](const metrics::LabelValues& labels, const metrics::Histogram& h) {
    metrics::Histogram::Snapshot read = h.Read();
    metrics::AppTraffic& t = out.apps[labels[0]];
    t.bounds = std::move(read.bounds);
    t.cumulative.assign(read.cumulative.begin(), read.cumulative.begin() + t.bounds.size());
    t.sum = read.sum;
    t.count = read.count;
  });
  return out;
}

}  // namespace skiff::edge
