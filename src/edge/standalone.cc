#include "edge/standalone.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/logging.h"
#include "edge/edge_proxy.h"
#include "edge/post_wake.h"
#include "edge/remote_routes.h"
#include "edge/traffic_reporter.h"
#include "metrics/registry.h"
#include "metrics/scrape_endpoint.h"
#include "net/http_server.h"
#include "net/join_token.h"
#include "net/server_pool.h"

namespace skiff::edge {

class StandaloneEdge::Impl {
 public:
  explicit Impl(StandaloneOptions options) : options_(std::move(options)) {}

  StandaloneOptions options_;
  metrics::Registry metrics_;
  std::unique_ptr<AccessLog> access_log_;
  std::unique_ptr<EdgeProxy> proxy_;
  std::unique_ptr<RemoteRoutes> routes_;
  std::unique_ptr<TrafficReporter> reporter_;
  // The metrics listener: plain Asio, off the data path.
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<net::HttpServer> metrics_http_;
  std::thread metrics_thread_;
  bool from_cache_ = false;

  net::TlsTrust trust_;  // whom the servers must be (Start)

  // The edge's name in the server's book (and in its wake calls); set once
  // it listens, read by the proxy's waker thread.
  void SetEdgeName(std::string name) {
    std::lock_guard lock(name_mu_);
    name_ = std::move(name);
  }
  std::string EdgeName() {
    std::lock_guard lock(name_mu_);
    return name_;
  }

  std::mutex name_mu_;
  std::string name_;  // GUARDED_BY(name_mu_)
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  bool stopped_ = false;   // GUARDED_BY(mu_)
};

namespace {

Status StartMetrics(StandaloneEdge::Impl& m);
void StartReporting(StandaloneEdge::Impl& m);

}  // namespace

StandaloneEdge::StandaloneEdge(StandaloneOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

StandaloneEdge::~StandaloneEdge() { Shutdown(); }

Status StandaloneEdge::Start() {
  Impl& m = *impl_;
  SKIFF_ASSIGN_OR_RETURN(m.trust_, net::TrustForSecrets(m.options_.server, m.options_.ca_file,
                                                        m.options_.ca_fingerprint));
  std::error_code ec;
  std::filesystem::create_directories(m.options_.data_dir, ec);
  if (ec) {
    return Unavailable("cannot create data directory " + m.options_.data_dir + ": " + ec.message());
  }
  // It keeps the routes document, certificate keys included: private.
  ::chmod(m.options_.data_dir.c_str(), 0700);
  EdgeOptions edge;
  edge.threads = std::max(1, m.options_.io_threads);
  edge.io_engine = m.options_.io_engine;
  edge.metrics = &m.metrics_;
  if (!m.options_.access_log.empty()) {
    auto log = AccessLog::Open(m.options_.access_log);
    if (!log) return tl::unexpected(log.error());
    m.access_log_ = std::move(*log);
    edge.access_log = m.access_log_.get();
  }
  // Its name is known once it listens (StartReporting): till then it holds
  // no request to ask for.
  edge.wake = PostWake(net::ServerPool(m.options_.server, m.trust_), m.options_.token,
                       [&m] { return m.EdgeName(); });
  m.proxy_ = std::make_unique<EdgeProxy>(edge);
  RemoteRoutesOptions remote;
  remote.server = m.options_.server;
  remote.token = m.options_.token;
  remote.trust = m.trust_;
  remote.cache_path = (std::filesystem::path(m.options_.data_dir) / "routes.json").string();
  m.routes_ = std::make_unique<RemoteRoutes>(remote, m.proxy_.get());
  m.from_cache_ = m.routes_->LoadCache();
  if (m.from_cache_) {
    SKIFF_LOG_INFO("edge: serving {} routes from {} until the server answers",
                   m.proxy_->table()->size(), remote.cache_path);
  }

  if (Status listening = m.proxy_->Listen(m.options_.listen, m.options_.tls_listen); !listening) {
    m.routes_->Stop();
    return listening;
  }
  m.routes_->Start();
  if (Status served = StartMetrics(m); !served) {
    m.routes_->Stop();
    m.proxy_->Stop();
    return served;
  }
  StartReporting(m);
  SKIFF_LOG_INFO("skiff edge: serving on port {}{} ({}), routes from {}", m.proxy_->port(),
                 m.proxy_->tls_port() != 0 ? ", TLS on port " + std::to_string(m.proxy_->tls_port())
                                           : std::string(),
                 IoEngineName(m.proxy_->io_engine()), m.options_.server);
  return OkStatus();
}

void StandaloneEdge::Wait() {
  std::unique_lock lock(impl_->mu_);
  impl_->cv_.wait(lock, [&] { return impl_->stopped_; });
}

void StandaloneEdge::Shutdown() {
  Impl& m = *impl_;
  {
    std::unique_lock lock(m.mu_);
    if (m.stopping_) {
      m.cv_.wait(lock, [&] { return m.stopped_; });
      return;
    }
    m.stopping_ = true;
  }
  if (m.routes_) m.routes_->Stop();
  if (m.reporter_) m.reporter_->Stop();
  if (m.proxy_) m.proxy_->Stop();
  if (m.metrics_http_) m.metrics_http_->Stop([&m] { m.work_.reset(); });
  if (m.metrics_thread_.joinable()) m.metrics_thread_.join();
  m.metrics_http_.reset();
  {
    std::lock_guard lock(m.mu_);
    m.stopped_ = true;
  }
  m.cv_.notify_all();
}

uint16_t StandaloneEdge::metrics_port() const {
  return impl_->metrics_http_ ? impl_->metrics_http_->port() : 0;
}

namespace {

Status StartMetrics(StandaloneEdge::Impl& m) {
  if (m.options_.metrics_listen.empty()) return OkStatus();
  m.metrics_http_ = std::make_unique<net::HttpServer>(m.io_, metrics::ScrapeHandler(&m.metrics_));
  if (Status listening = m.metrics_http_->Listen(m.options_.metrics_listen); !listening) {
    m.metrics_http_.reset();
    return listening;
  }
  m.work_.emplace(m.io_.get_executor());
  m.metrics_thread_ = std::thread([&m] { m.io_.run(); });
  return OkStatus();
}

void StartReporting(StandaloneEdge::Impl& m) {
  std::string name = m.options_.name;
  if (name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    name = std::string(host) + ":" + std::to_string(m.proxy_->port());
  }
  m.SetEdgeName(name);
  const RemoteRoutes* routes = m.routes_.get();
  const EdgeProxy* proxy = m.proxy_.get();
  // One pool for every report, so they keep to the server that answered.
  m.reporter_ = std::make_unique<TrafficReporter>(
      m.proxy_.get(),
      PostTraffic(
          net::ServerPool(m.options_.server, m.trust_), m.options_.token, name,
          [routes, proxy] {
            // The tag first: the table read next is the tag's or a newer one.
            std::string tag = routes->tag();
            metrics::EdgeRoutes now = proxy->Routes();
            now.tag = std::move(tag);
            return now;
          },
          m.options_.report_interval),
      m.options_.report_interval);
  m.reporter_->Start();
}

}  // namespace

uint16_t StandaloneEdge::port() const { return impl_->proxy_ ? impl_->proxy_->port() : 0; }
uint16_t StandaloneEdge::tls_port() const { return impl_->proxy_ ? impl_->proxy_->tls_port() : 0; }
bool StandaloneEdge::started_from_cache() const { return impl_->from_cache_; }

}  // namespace skiff::edge
