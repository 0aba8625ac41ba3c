#include "edge/standalone.h"

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
#include "edge/remote_routes.h"
#include "metrics/registry.h"
#include "net/http_server.h"
#include "net/upstream_pool.h"

namespace skiff::edge {

namespace asio = boost::asio;

class StandaloneEdge::Impl {
 public:
  explicit Impl(StandaloneOptions options)
      : options_(std::move(options)),
        // One thread needs no locking inside the io_context.
        io_(options_.io_threads == 1 ? 1 : BOOST_ASIO_CONCURRENCY_HINT_DEFAULT) {}

  StandaloneOptions options_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  metrics::Registry metrics_;
  std::unique_ptr<net::UpstreamPool> pool_;
  std::unique_ptr<EdgeProxy> proxy_;
  std::unique_ptr<RemoteRoutes> routes_;
  std::unique_ptr<net::HttpServer> http_;
  std::vector<std::thread> threads_;
  bool from_cache_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  bool stopped_ = false;   // GUARDED_BY(mu_)
};

StandaloneEdge::StandaloneEdge(StandaloneOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

StandaloneEdge::~StandaloneEdge() { Shutdown(); }

Status StandaloneEdge::Start() {
  Impl& m = *impl_;
  std::error_code ec;
  std::filesystem::create_directories(m.options_.data_dir, ec);
  if (ec) {
    return Unavailable("cannot create data directory " + m.options_.data_dir + ": " + ec.message());
  }
  m.pool_ = std::make_unique<net::UpstreamPool>(m.io_);
  m.proxy_ = std::make_unique<EdgeProxy>(m.pool_.get(), &m.metrics_);
  RemoteRoutesOptions remote;
  remote.server = m.options_.server;
  remote.token = m.options_.token;
  remote.cache_path = (std::filesystem::path(m.options_.data_dir) / "routes.json").string();
  m.routes_ = std::make_unique<RemoteRoutes>(remote, m.proxy_.get());
  m.from_cache_ = m.routes_->LoadCache();
  if (m.from_cache_) {
    SKIFF_LOG_INFO("edge: serving {} routes from {} until the server answers",
                   m.proxy_->table()->size(), remote.cache_path);
  }

  net::HttpServerOptions http;
  http.max_body_bytes = static_cast<size_t>(model::kMaxEdgeBodyBytes);
  http.max_header_bytes = 32 << 10;  // what nginx and HAProxy allow
  http.max_connections = kEdgeMaxConnections;
  EdgeProxy* proxy = m.proxy_.get();
  http.body_limit = [proxy](std::string_view host, std::string_view path) {
    return proxy->BodyLimit(host, path);
  };
  m.http_ = std::make_unique<net::HttpServer>(
      m.io_,
      [proxy](const net::HttpRequest& r, net::ResponseWriter& w) { return proxy->Handle(r, w); },
      http);
  if (Status listening = m.http_->Listen(m.options_.listen); !listening) {
    m.routes_->Stop();
    return listening;
  }
  m.routes_->Start();
  m.work_.emplace(m.io_.get_executor());
  for (int i = 0; i < std::max(1, m.options_.io_threads); ++i) {
    m.threads_.emplace_back([&m] { m.io_.run(); });
  }
  SKIFF_LOG_INFO("skiff edge: serving on port {}, routes from {}", m.http_->port(),
                 m.options_.server);
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
  if (m.http_) {
    if (m.threads_.empty()) {
      m.http_->Stop();
    } else {
      m.http_->Stop([&m] { m.work_.reset(); });
    }
  }
  for (std::thread& t : m.threads_) t.join();
  m.threads_.clear();
  m.http_.reset();
  {
    std::lock_guard lock(m.mu_);
    m.stopped_ = true;
  }
  m.cv_.notify_all();
}

uint16_t StandaloneEdge::port() const { return impl_->http_ ? impl_->http_->port() : 0; }
bool StandaloneEdge::started_from_cache() const { return impl_->from_cache_; }

}  // namespace skiff::edge
