// ApiServer: the HTTP API of DESIGN.md ("API"), one entry point for main to
// hand to net::HttpServer. It routes, authenticates (/v1 is default deny),
// answers errors in the one shape, and counts requests for /metrics.
//
//   api::ApiServer api(deps);
//   net::HttpServer server(io, [&api](const net::HttpRequest& r, net::ResponseWriter& w) {
//     return api.Handle(r, w);
//   });
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/api_deps.h"
#include "api/router.h"
#include "net/http.h"
#include "net/http_server.h"

namespace skiff::api {

class ApiServer {
 public:
  // REQUIRES: deps.store, deps.apps and deps.auth set. When deps.metrics is set,
  // registers the API's metric families on it (skiff_http_requests_total,
  // skiff_http_request_duration_seconds, skiff_apps, skiff_instances,
  // skiff_store_revision, skiff_nodes): one ApiServer per registry, and the registry is
  // rendered only while this ApiServer lives.
  explicit ApiServer(ApiDeps deps);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Answers one request. Runs on the connection's strand; never blocks on I/O
  // (a followed stream waits on timers). Thread-safe: called concurrently for
  // different connections.
  boost::asio::awaitable<void> Handle(const net::HttpRequest& request, net::ResponseWriter& writer);

  // Every route with the permission it needs (tests walk it).
  const std::vector<Route>& routes() const { return router_.routes(); }

 private:
  // The answer to a request that gets no further than routing and
  // authentication (404, 405, 401, 403, and 404 for an app of a project the
  // caller has no role in); nullopt when its handler should run, with
  // *caller who it is (anonymous for a public route or one whose handler
  // checks its caller) and *identified whether the router checked a token.
  std::optional<net::HttpResponse> Refusal(const net::HttpRequest& request,
                                           const Router::Match& match, Caller* caller,
                                           bool* identified) const;
  // For a route of one app (/v1/apps/{name}...), the refusal of a caller
  // below admin that may not see it (404) or change it (403); nullopt
  // otherwise.
  std::optional<net::HttpResponse> AppScopeRefusal(const Router::Match& match, const Caller& caller,
                                                   const std::string& method) const;
  // Whether `route` takes no credential (GET /health; /metrics unless
  // deps.metrics_need_auth).
  bool IsPublic(const Route& route) const;
  // The audit entry of a request (store/audit.h; its code still 0), when it
  // is audited: every write but the machines' reports, and every refusal
  // (401, 403, 429: those that tried no credential, one a minute per
  // address). `refused`: the status of the refusal, if any.
  std::optional<store::AuditEntry> AuditEntryFor(const net::HttpRequest& request,
                                                 const Router::Match& match, const Caller& caller,
                                                 const std::optional<int>& refused);
  // Whether `key` (a status and an address) has had no entry for a minute
  // (noting this one).
  bool FirstRefusalInAWhile(const std::string& key);
  void AddRoutes();
  void AddMetrics();
  void AddTrafficMetrics();

  ApiDeps deps_;
  std::unique_ptr<LogSource> default_logs_;
  std::unique_ptr<store::SharedSnapshotCache> default_snapshots_;
  Router router_;
  metrics::CounterFamily* requests_ = nullptr;
  metrics::HistogramFamily* durations_ = nullptr;
  std::mutex throttle_mu_;
  std::map<std::string, MonoTime> throttles_logged_;  // GUARDED_BY(throttle_mu_)
};

}  // namespace skiff::api
