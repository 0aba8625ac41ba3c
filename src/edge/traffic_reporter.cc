#include "edge/traffic_reporter.h"

#include <algorithm>
#include <boost/json/serialize.hpp>

#include "common/logging.h"

namespace skiff::edge {

TrafficReporter::TrafficReporter(const EdgeProxy* proxy, Sink sink, Duration interval)
    : proxy_(proxy), sink_(std::move(sink)), interval_(interval) {}

TrafficReporter::~TrafficReporter() { Stop(); }

void TrafficReporter::Start() {
  thread_ = std::thread([this] { Run(); });
}

void TrafficReporter::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TrafficReporter::Run() {
  bool failing = false;
  std::unique_lock lock(mu_);
  for (;;) {
    const bool stopping = stop_;
    lock.unlock();
    Status reported = sink_(proxy_->Traffic());
    if (!reported && !failing) {
      SKIFF_LOG_WARN("edge: cannot report traffic to the control plane (will retry): {}",
                     reported.error().message);
    } else if (reported && failing) {
      SKIFF_LOG_INFO("edge: reporting traffic to the control plane again");
    }
    failing = !reported;
    lock.lock();
    if (stopping) return;
    cv_.wait_for(lock, interval_, [this] { return stop_; });
  }
}

TrafficReporter::Sink PostTraffic(net::ServerPool servers, std::string token,
                                  const std::string& name,
                                  std::function<metrics::EdgeRoutes()> routes, Duration interval) {
  std::string path = "/v1/edges/" + name + "/traffic";
  // About one interval, so that reports keep their pace past a frozen server.
  const Duration timeout =
      std::clamp<Duration>(interval, std::chrono::seconds(1), std::chrono::seconds(5));
  return [servers = std::move(servers), token = std::move(token), path = std::move(path),
          routes = std::move(routes), interval,
          timeout](const metrics::TrafficSnapshot& counted) -> Status {
    metrics::TrafficSnapshot snapshot = counted;
    snapshot.routes = routes();
    snapshot.routes->interval_ms = interval.count();
    // Sent on after any transport error (a server frozen with its port open
    // holds it one timeout only), at the risk of a report counted twice by a
    // server that was slow, not gone: the rates it feeds are estimates.
    auto reply =
        servers.Do("POST", path, boost::json::serialize(metrics::ToJson(snapshot)),
                   {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}},
                   timeout, net::ServerPool::Resend::kAlways);
    if (!reply) return tl::unexpected(reply.error());
    if (reply->status != 200) {
      return tl::unexpected(net::ErrorFromResponse(reply->status, reply->body));
    }
    return OkStatus();
  };
}

}  // namespace skiff::edge
