#include "api/api_server.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/instance_metrics.h"
#include "auth/audit_scope.h"
#include "common/check.h"
#include "common/ids.h"
#include "common/logging.h"
#include "model/spec_parse.h"

namespace skiff::api {
namespace asio = boost::asio;
namespace {

// Forwards to the server's writer and remembers the status, for the metrics.
class StatusRecorder final : public net::ResponseWriter {
 public:
  explicit StatusRecorder(net::ResponseWriter& inner) : inner_(inner) {}
  int status() const { return status_; }
  // Called with the status once, when the response starts: a stream's at its
  // beginning, not when it ends.
  void OnStatus(std::function<void(int)> on_status) { on_status_ = std::move(on_status); }

  // net::ResponseWriter:
  asio::awaitable<bool> Send(net::HttpResponse response) override {
    Record(response.status);
    return inner_.Send(std::move(response));
  }
  asio::awaitable<bool> Begin(int status, net::HttpHeaders headers) override {
    Record(status);
    return inner_.Begin(status, std::move(headers));
  }
  asio::awaitable<bool> Write(std::string_view chunk) override { return inner_.Write(chunk); }
  asio::awaitable<bool> End() override { return inner_.End(); }
  bool started() const override { return inner_.started(); }

 private:
  void Record(int status) {
    status_ = status;
    if (on_status_) std::exchange(on_status_, nullptr)(status);
  }

  net::ResponseWriter& inner_;
  int status_ = 500;  // what the server answers a handler that sent nothing
  std::function<void(int)> on_status_;
};

// Ends an AuthFailureLimiter admission once: as good when the router has
// checked the token, else as soon as the response starts (a stream holds no
// room for its whole life), with what the status says of the token.
// A request that ends with no response (an exception, a dropped connection)
// ends it with nothing learned.
struct AdmissionGuard {
  AdmissionGuard(AuthFailureLimiter* limiter, std::string address, const Clock* clock)
      : limiter(limiter), address(std::move(address)), clock(clock) {}
  AdmissionGuard(const AdmissionGuard&) = delete;
  AdmissionGuard& operator=(const AdmissionGuard&) = delete;
  ~AdmissionGuard() {
    try {
      End(AuthFailureLimiter::Outcome::kNeither);
    } catch (...) {  // a destructor must not throw (an allocation failing)
    }
  }

  void Ended(int status) {
    using Outcome = AuthFailureLimiter::Outcome;
    End(status == 401                   ? Outcome::kRefused
        : status >= 200 && status < 400 ? Outcome::kAuthenticated
                                        : Outcome::kNeither);
  }
  void End(AuthFailureLimiter::Outcome outcome) {
    if (ended || !admission.admitted) return;
    limiter->Finish(address, admission, outcome, clock->MonotonicNow());
    ended = true;
  }

  AuthFailureLimiter* const limiter;
  const std::string address;
  const Clock* const clock;
  AuthFailureLimiter::Admission admission;
  bool ended = false;
};

// Bounded label values: a client cannot grow the series with made-up methods.
std::string MethodLabel(const std::string& method) {
  for (const char* m : {"GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS"}) {
    if (method == m) return method;
  }
  return "other";
}

// Binds a handler function to the deps: routes hold small closures. Most
// handlers need not know their caller (the router checked it); those that
// filter by it or check a spec's project take it.
UnaryHandler Bind(const ApiDeps* deps,
                  net::HttpResponse (*fn)(const ApiDeps&, const net::HttpRequest&,
                                          const PathParams&)) {
  return [deps, fn](const net::HttpRequest& request, const PathParams& params, const Caller&) {
    return fn(*deps, request, params);
  };
}

UnaryHandler Bind(const ApiDeps* deps,
                  net::HttpResponse (*fn)(const ApiDeps&, const net::HttpRequest&,
                                          const PathParams&, const Caller&)) {
  return [deps, fn](const net::HttpRequest& request, const PathParams& params,
                    const Caller& caller) { return fn(*deps, request, params, caller); };
}

Handler BindStream(const ApiDeps* deps,
                   asio::awaitable<void> (*fn)(const ApiDeps&, const net::HttpRequest&,
                                               const PathParams&, net::ResponseWriter&)) {
  return [deps, fn](const net::HttpRequest& request, const PathParams& params, const Caller&,
                    net::ResponseWriter& writer) { return fn(*deps, request, params, writer); };
}

Handler BindStream(const ApiDeps* deps,
                   asio::awaitable<void> (*fn)(const ApiDeps&, const net::HttpRequest&,
                                               const PathParams&, const Caller&,
                                               net::ResponseWriter&)) {
  return [deps, fn](const net::HttpRequest& request, const PathParams& params, const Caller& caller,
                    net::ResponseWriter& writer) {
    return fn(*deps, request, params, caller, writer);
  };
}

UnaryHandler LeaderOnly(const ApiDeps* deps, UnaryHandler handler) {
  return [deps, handler = std::move(handler)](const net::HttpRequest& request,
                                              const PathParams& params, const Caller& caller) {
    if (auto refused = RefuseUnlessLeading(*deps)) return *refused;
    return handler(request, params, caller);
  };
}

Handler LeaderOnly(const ApiDeps* deps, Handler handler) {
  return [deps, handler = std::move(handler)](
             const net::HttpRequest& request, const PathParams& params, const Caller& caller,
             net::ResponseWriter& writer) -> asio::awaitable<void> {
    if (auto refused = RefuseUnlessLeading(*deps)) {
      co_await writer.Send(std::move(*refused));
      co_return;
    }
    co_await handler(request, params, caller, writer);
  };
}

}  // namespace

// Why a server that does not lead refuses what agents and edges report: the
// leader's loops judge nodes by their heartbeats and drains by the edges'
// reports, both kept in the memory of the server that gets them. A 503 (it did
// nothing) sends their net::ServerPool on to the next server, until the leader.
// Null without a leadership (one server): it always leads.
std::optional<net::HttpResponse> RefuseUnlessLeading(const ApiDeps& deps) {
  if (!deps.leadership || deps.leadership().leading) return std::nullopt;
  return net::ErrorResponse(
      Error{ErrorCode::kUnavailable,
            "this server does not lead: agents and edges report to the leader (GET /v1/servers "
            "names it); list every server in --server"});
}

ApiServer::ApiServer(ApiDeps deps) : deps_(std::move(deps)) {
  SKIFF_CHECK(deps_.store != nullptr);
  SKIFF_CHECK(deps_.apps != nullptr);
  SKIFF_CHECK(deps_.auth != nullptr);
  if (deps_.clock == nullptr) deps_.clock = SystemClock::Get();
  if (deps_.logs == nullptr) {
    default_logs_ = std::make_unique<FileLogSource>(deps_.store, deps_.log_dir);
    deps_.logs = default_logs_.get();
  }
  if (deps_.snapshots == nullptr) {
    default_snapshots_ = std::make_unique<store::SharedSnapshotCache>(deps_.store);
    deps_.snapshots = default_snapshots_.get();
  }
  AddRoutes();
  if (deps_.metrics != nullptr) AddMetrics();
}

ApiServer::~ApiServer() = default;

void ApiServer::AddRoutes() {
  const ApiDeps* d = &deps_;
  Router& r = router_;
  r.AddUnary("GET", "/health", Permission::kPublic, Bind(d, &Health));
  r.AddUnary("GET", "/metrics", Permission::kMetrics, Bind(d, &Metrics));
  r.AddUnary("GET", "/v1/apps", Permission::kAppsRead, Bind(d, &ListApps));
  r.AddUnary("PUT", "/v1/apps/{name}", Permission::kAppsWrite, Bind(d, &ApplyApp));
  r.AddUnary("GET", "/v1/apps/{name}", Permission::kAppsRead, Bind(d, &GetApp));
  r.AddUnary("DELETE", "/v1/apps/{name}", Permission::kAppsWrite, Bind(d, &DeleteApp));
  r.AddUnary("POST", "/v1/apps/{name}/scale", Permission::kAppsWrite, Bind(d, &ScaleApp));
  r.AddUnary("POST", "/v1/apps/{name}/restart", Permission::kAppsWrite, Bind(d, &RestartApp));
  r.AddUnary("POST", "/v1/apps/{name}/rollback", Permission::kAppsWrite, Bind(d, &RollbackApp));
  r.AddUnary("POST", "/v1/apps/{name}/promote", Permission::kAppsWrite, Bind(d, &PromoteApp));
  r.AddUnary("GET", "/v1/apps/{name}/deployments", Permission::kAppsRead,
             Bind(d, &ListDeployments));
  r.AddUnary("GET", "/v1/apps/{name}/instances", Permission::kAppsRead, Bind(d, &ListInstances));
  r.AddUnary("GET", "/v1/apps/{name}/secrets", Permission::kAppsRead, Bind(d, &ListSecrets));
  r.AddUnary("PUT", "/v1/apps/{name}/secrets/{key}", Permission::kAppsWrite, Bind(d, &SetSecret));
  r.AddUnary("DELETE", "/v1/apps/{name}/secrets/{key}", Permission::kAppsWrite,
             Bind(d, &UnsetSecret));
  r.Add("GET", "/v1/apps/{name}/logs", Permission::kAppLogs, BindStream(d, &Logs));
  r.AddUnary("GET", "/v1/apps/{name}/metrics", Permission::kAppsRead, Bind(d, &GetAppMetrics));
  r.Add("GET", "/v1/apps/{name}/metrics/live", Permission::kAppsRead,
        BindStream(d, &LiveAppMetrics));
  r.Add("GET", "/v1/events", Permission::kAppsRead, BindStream(d, &Events));
  // Every change of every app and node: the admin's (the others' lists are filtered).
  r.Add("GET", "/v1/watch", Permission::kCluster, BindStream(d, &Watch));
  r.Add("GET", "/v1/routes", Permission::kRoutes, BindStream(d, &Routes));
  r.AddUnary("GET", "/v1/nodes", Permission::kCluster, Bind(d, &ListNodes));
  r.AddUnary("GET", "/v1/servers", Permission::kCluster, Bind(d, &ListServers));
  r.AddUnary("POST", "/v1/nodes/{id}/drain", Permission::kCluster, Bind(d, &DrainNode));
  // Checks its caller itself: the admin, or the reporting edge (its credential).
  // Asks whether this server leads once it knows the caller.
  r.AddUnary("POST", "/v1/edges/{name}/traffic", Permission::kEdgeSelf, Bind(d, &ReportTraffic));
  r.AddUnary("DELETE", "/v1/edges/{name}", Permission::kEdgeSelf, Bind(d, &ForgetEdge));
  r.AddUnary("POST", "/v1/edges/{name}/wake", Permission::kEdgeSelf, Bind(d, &WakeApp));
  r.AddUnary("GET", "/v1/traffic", Permission::kAppsRead, Bind(d, &GetTraffic));
  r.AddUnary("POST", "/v1/certificates", Permission::kCluster, Bind(d, &AddCertificate));
  r.AddUnary("GET", "/v1/certificates", Permission::kCluster, Bind(d, &ListCertificates));
  r.AddUnary("DELETE", "/v1/certificates/{domain}", Permission::kCluster,
             Bind(d, &RemoveCertificate));
  r.AddUnary("POST", "/v1/tokens", Permission::kCluster, Bind(d, &CreateApiToken));
  r.AddUnary("GET", "/v1/tokens", Permission::kCluster, Bind(d, &ListApiTokens));
  r.AddUnary("DELETE", "/v1/tokens/{name}", Permission::kCluster, Bind(d, &RevokeApiToken));
  r.AddUnary("GET", "/v1/projects", Permission::kAppsRead, Bind(d, &ListProjects));
  r.AddUnary("POST", "/v1/projects", Permission::kCluster, Bind(d, &CreateProject));
  r.AddUnary("DELETE", "/v1/projects/{name}", Permission::kCluster, Bind(d, &DeleteProject));
  r.Add("GET", "/v1/audit", Permission::kCluster, BindStream(d, &Audit));
  r.AddUnary("POST", "/v1/join-tokens", Permission::kCluster, Bind(d, &CreateJoinToken));
  r.AddUnary("GET", "/v1/join-tokens", Permission::kCluster, Bind(d, &ListJoinTokens));
  r.AddUnary("DELETE", "/v1/join-tokens/{id}", Permission::kCluster, Bind(d, &RevokeJoinToken));
  // People: login and logout check the password or the session themselves.
  r.AddUnary("POST", "/v1/login", Permission::kLogin, Bind(d, &Login));
  r.AddUnary("POST", "/v1/logout", Permission::kLogin, Bind(d, &Logout));
  r.AddUnary("POST", "/v1/users", Permission::kCluster, Bind(d, &AddUser));
  r.AddUnary("GET", "/v1/users", Permission::kCluster, Bind(d, &ListUsers));
  r.AddUnary("DELETE", "/v1/users/{name}", Permission::kCluster, Bind(d, &RemoveUser));
  // The agent's calls check their caller themselves (a node credential or a
  // join token), and go to the leader only (RefuseUnlessLeading).
  r.AddUnary("POST", "/v1/agent/register", Permission::kNodeSelf,
             LeaderOnly(d, Bind(d, &AgentRegister)));
  r.AddUnary("POST", "/v1/agent/nodes/{id}/heartbeat", Permission::kNodeSelf,
             LeaderOnly(d, Bind(d, &AgentHeartbeat)));
  r.AddUnary("GET", "/v1/agent/nodes/{id}/assignments", Permission::kNodeSelf,
             LeaderOnly(d, Bind(d, &AgentAssignments)));
  r.AddUnary("POST", "/v1/agent/nodes/{id}/reports", Permission::kNodeSelf,
             LeaderOnly(d, Bind(d, &AgentReport)));
  r.AddUnary("POST", "/v1/agent/nodes/{id}/samples", Permission::kNodeSelf,
             LeaderOnly(d, Bind(d, &AgentSamples)));
  r.Add("GET", "/v1/agent/wait", Permission::kNodeSelf, LeaderOnly(d, BindStream(d, &AgentWait)));
}

void ApiServer::AddMetrics() {
  metrics::Registry* m = deps_.metrics;
  requests_ = m->AddCounter("skiff_http_requests_total",
                            "API requests answered, by method and status.", {"method", "code"});
  durations_ = m->AddHistogram("skiff_http_request_duration_seconds",
                               "Time to answer an API request (to the end of a stream).", {},
                               metrics::DefaultLatencyBuckets());
  metrics::GaugeFamily* apps = m->AddGauge("skiff_apps", "Apps stored.");
  metrics::GaugeFamily* instances =
      m->AddGauge("skiff_instances", "Instances stored, by state.", {"state"});
  metrics::GaugeFamily* revision =
      m->AddGauge("skiff_store_revision", "The store's last committed revision.");
  metrics::GaugeFamily* nodes = m->AddGauge("skiff_nodes", "Nodes, by status.", {"status"});
  // The counts above keep their last values when the state cannot be read:
  // this says whether they are of this scrape.
  metrics::GaugeFamily* store_up = m->AddGauge(
      "skiff_store_up",
      "1 when this scrape read the state from the store, 0 when it could not (skiff_apps, "
      "skiff_instances and skiff_nodes then hold the last values read).");
  store::Store* store = deps_.store;
  store::SharedSnapshotCache* snapshots = deps_.snapshots;
  m->AddCollectHook([store, snapshots, apps, instances, revision, nodes, store_up] {
    revision->With().Set(static_cast<double>(store->Revision()));
    // Every status and state gets a series, so one that empties reads 0, not stale.
    struct Counts {
      size_t apps = 0;
      std::map<std::string, int> nodes;
      std::map<std::string, int> instances;
    };
    auto counted = snapshots->Read([](const store::Snapshot& snapshot) {
      Counts counts;
      counts.apps = snapshot.apps.size();
      for (model::NodeStatus s :
           {model::NodeStatus::kReady, model::NodeStatus::kDown, model::NodeStatus::kDraining}) {
        counts.nodes[std::string(model::ToString(s))] = 0;
      }
      for (const model::Node& n : snapshot.nodes) {
        ++counts.nodes[std::string(model::ToString(n.status))];
      }
      for (model::InstanceState s :
           {model::InstanceState::kPending, model::InstanceState::kStarting,
            model::InstanceState::kRunning, model::InstanceState::kStopping,
            model::InstanceState::kStopped, model::InstanceState::kFailed}) {
        counts.instances[std::string(model::ToString(s))] = 0;
      }
      for (const model::Instance& i : snapshot.instances) {
        ++counts.instances[std::string(model::ToString(i.state))];
      }
      return counts;
    });
    store_up->With().Set(counted ? 1 : 0);
    if (!counted) return;
    apps->With().Set(static_cast<double>(counted->apps));
    for (const auto& [status, n] : counted->nodes) nodes->With({status}).Set(n);
    for (const auto& [state, n] : counted->instances) instances->With({state}).Set(n);
  });
  if (deps_.traffic != nullptr) AddTrafficMetrics();
  if (deps_.nodes != nullptr) AddInstanceMetrics(m, snapshots, deps_.nodes);
}

void ApiServer::AddTrafficMetrics() {
  metrics::Registry* m = deps_.metrics;
  metrics::GaugeFamily* rps = m->AddGauge(
      "skiff_app_requests_per_second",
      "Requests a second to the app over the last report interval, summed over the edges.",
      {"app"});
  metrics::SummaryFamily* latency = m->AddSummary(
      "skiff_app_request_latency_seconds",
      "The app's request latency at the edges: quantiles over the last report interval (NaN "
      "without requests), sum and count since this server started.",
      {"app"});
  metrics::TrafficBook* book = deps_.traffic;
  // Apps seen before read 0 requests a second once no edge reports them, rather than stale rates.
  auto seen = std::make_shared<std::set<std::string>>();
  m->AddCollectHook([book, rps, latency, seen] {
    auto rates = book->Rates(std::chrono::steady_clock::now());
    const std::map<std::string, metrics::LatencyTotal> totals = book->LatencyTotals();
    for (const std::string& app : *seen) {
      if (rates.count(app) == 0) rates[app] = metrics::AppRates{};
    }
    for (const auto& [app, r] : rates) {
      seen->insert(app);
      rps->With({app}).Set(r.requests_per_second);
      // A summary's quantiles over a window without observations are NaN, as the
      // Prometheus client libraries render them: 0 would read as a fast app.
      const bool idle = r.requests_per_second == 0;
      auto q = [idle](double v) { return idle ? std::numeric_limits<double>::quiet_NaN() : v; };
      auto total = totals.find(app);
      latency->With({app}).Set({.quantiles = {{0.5, q(r.p50)}, {0.95, q(r.p95)}, {0.99, q(r.p99)}},
                                .sum = total != totals.end() ? total->second.sum : 0,
                                .count = total != totals.end() ? total->second.count : 0});
    }
  });
}

bool ApiServer::IsPublic(const Route& route) const {
  return route.permission == Permission::kPublic ||
         (route.permission == Permission::kMetrics && !deps_.metrics_need_auth);
}

namespace {

bool IsWrite(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// The machines' reports: heartbeats, instance reports, samples, traffic.
// Many a minute from every agent and edge, they are audited only when
// refused.
bool IsTelemetry(const Route& route) {
  return route.pattern == "/v1/agent/nodes/{id}/heartbeat" ||
         route.pattern == "/v1/agent/nodes/{id}/reports" ||
         route.pattern == "/v1/agent/nodes/{id}/samples" ||
         route.pattern == "/v1/edges/{name}/traffic";
}

// Who calls a public route, or one whose handler identifies its caller.
Caller AnonymousCaller() {
  return Caller{.role = auth::Role::kAnonymous, .name = "anonymous", .credential = "none"};
}

// 429 for an address past its failed authentications.
net::HttpResponse Throttled(const std::string& address,
                            const AuthFailureLimiter::Admission& admission) {
  const int64_t wait = admission.retry_after.count();
  net::HttpResponse response = ErrorReply(Error{
      ErrorCode::kResourceExhausted,
      admission.table_full
          ? fmt::format("too many addresses are authenticating at once: try again in {} s", wait)
          : fmt::format("too many failed authentications from {}: try again in {} s", address,
                        wait),
      ""});
  response.status = 429;
  response.headers.emplace_back("Retry-After", std::to_string(wait));
  return response;
}

}  // namespace

std::optional<net::HttpResponse> ApiServer::Refusal(const net::HttpRequest& request,
                                                    const Router::Match& match, Caller* caller,
                                                    bool* identified) const {
  *identified = false;
  if (match.route == nullptr && !match.allowed.empty()) {
    net::HttpResponse response =
        ErrorReply(Error{ErrorCode::kInvalidArgument,
                         fmt::format("{} is not allowed on {}; allowed: {}", request.method,
                                     request.path, match.allowed),
                         ""});
    response.status = 405;
    response.headers.emplace_back("Allow", match.allowed);
    return response;
  }
  if (match.route == nullptr) {
    return ErrorReply(Error{ErrorCode::kNotFound,
                            fmt::format("no API call {} {}", request.method, request.path), ""});
  }
  // Default deny: every other route needs a caller whose role allows it, but
  // the calls whose handlers identify their caller themselves.
  if (IsPublic(*match.route) || CheckedByHandler(match.route->permission)) return std::nullopt;
  Result<Caller> identity = deps_.auth->Identify(request);
  if (!identity) return ErrorReply(identity.error());
  *identified = true;
  *caller = *identity;  // the audit trail names who was refused too
  if (!Allows(*identity, match.route->permission)) {
    return ErrorReply(
        Error{ErrorCode::kPermissionDenied,
              fmt::format("{} {} ({}) may not call {} {}: it takes {}", identity->credential,
                          identity->name, auth::ToString(identity->role), request.method,
                          match.route->pattern, WhoMay(match.route->permission)),
              ""});
  }
  return AppScopeRefusal(match, *caller, request.method);
}

std::optional<net::HttpResponse> ApiServer::AppScopeRefusal(const Router::Match& match,
                                                            const Caller& caller,
                                                            const std::string& method) const {
  constexpr std::string_view kAppRoute = "/v1/apps/{name}";
  if (caller.admin() || !match.route->pattern.starts_with(kAppRoute)) return std::nullopt;
  const std::string& name = match.params.at("name");
  const bool apply = method == "PUT" && match.route->pattern == kAppRoute;
  auto app = deps_.store->GetApp(name);
  if (!app && app.error().code != ErrorCode::kNotFound) return ErrorReply(app.error());
  if (!app) {
    if (apply) return std::nullopt;  // a new app: ApplyApp checks its spec's project
    return ErrorReply(Error{ErrorCode::kNotFound, fmt::format("app {} not found", name), ""});
  }
  const std::string& project = app->spec.project;
  if (!caller.MayRead(project)) {
    // The same answer as for no app at all, so that names do not leak; but
    // names are unique across projects, so an apply can only say it is taken.
    if (apply) {
      return ErrorReply(Error{ErrorCode::kAlreadyExists,
                              fmt::format("the app name {} is taken: choose another", name),
                              "name"});
    }
    return ErrorReply(Error{ErrorCode::kNotFound, fmt::format("app {} not found", name), ""});
  }
  if (match.route->permission == Permission::kAppsWrite && !caller.MayWrite(project)) {
    return ErrorReply(
        Error{ErrorCode::kPermissionDenied,
              fmt::format("{} {} ({}) may not change the apps of project {}", caller.credential,
                          caller.name, auth::ToString(caller.role), project),
              ""});
  }
  return std::nullopt;
}

std::optional<store::AuditEntry> ApiServer::AuditEntryFor(const net::HttpRequest& request,
                                                          const Router::Match& match,
                                                          const Caller& caller,
                                                          const std::optional<int>& refused) {
  if (!deps_.audit || match.route == nullptr) return std::nullopt;
  if (refused) {
    if (*refused != 401 && *refused != 403 && *refused != 429) {
      if (!IsWrite(request.method)) return std::nullopt;  // a read answered 404, 405
    } else if ((*refused == 429 || (*refused == 401 && BearerToken(request).empty())) &&
               !FirstRefusalInAWhile(std::to_string(*refused) + " " +
                                     AddressKey(request.remote_address))) {
      // Nothing limits these (no credential was tried): one entry a minute
      // per address, so that nobody fills the trail for free.
      return std::nullopt;
    }
  } else if (!IsWrite(request.method) || IsTelemetry(*match.route)) {
    return std::nullopt;
  }
  store::AuditEntry entry;
  entry.time = deps_.clock->Now();
  entry.who = caller.name;
  entry.role = std::string(auth::ToString(caller.role));
  entry.credential = caller.credential;
  if (CheckedByHandler(match.route->permission) && !(refused && *refused == 429)) {
    // The router did not identify the caller: its handler will. Said here
    // as well as can be, so that the entry names who it was (not for a 429:
    // the limiter promises not to look at the credential of an address it
    // keeps out).
    if (match.route->pattern == "/v1/login") {
      boost::system::error_code ec;
      boost::json::value body = boost::json::parse(request.body, ec);
      const boost::json::value* name =
          !ec && body.is_object() ? body.get_object().if_contains("name") : nullptr;
      // Only a name a user could have: the body is the caller's to write.
      if (name != nullptr && name->is_string() && model::ValidateName(name->get_string()) &&
          name->get_string() != "admin") {
        entry.who = std::string(name->get_string());
      }
      entry.credential = "password";
    } else if (auto who = deps_.auth->Identify(request)) {
      entry.who = who->name;
      entry.role = std::string(auth::ToString(who->role));
      entry.credential = who->credential;
    } else {
      entry.credential = "unknown";  // a join token, or a credential no longer valid
    }
  }
  entry.source = request.remote_address;
  entry.method = request.method;
  entry.path = request.path;                  // never the body: secrets' values travel there
  entry.request_id = "req-" + RandomHex(16);  // unique over any retention
  if (match.route->pattern.starts_with("/v1/apps/{name}")) {
    entry.app = match.params.at("name");
    if (auto app = deps_.store->GetApp(entry.app)) entry.project = app->spec.project;
  }
  return entry;
}

bool ApiServer::FirstRefusalInAWhile(const std::string& key) {
  constexpr auto kQuiet = std::chrono::minutes(1);
  constexpr size_t kMaxKeys = 10'000;
  const MonoTime now = deps_.clock->MonotonicNow();
  std::lock_guard lock(throttle_mu_);
  if (throttles_logged_.size() >= kMaxKeys && throttles_logged_.count(key) == 0) {
    // Full: what is quiet goes; while it stays full, new keys get no entry
    // (clearing it would let many addresses reset every key's minute).
    std::erase_if(throttles_logged_, [&](const auto& kept) { return now - kept.second >= kQuiet; });
    if (throttles_logged_.size() >= kMaxKeys) return false;
  }
  auto [it, fresh] = throttles_logged_.try_emplace(key, now);
  if (!fresh && now - it->second < kQuiet) return false;
  it->second = now;
  return true;
}

// Whether `entry` is of a refusal by a handler that checks its caller of a
// caller it could not identify (a login's bad body, a logout or an agent's
// call without a credential): nothing bounds those, so they are kept at
// one entry a minute per address. A wrong password is not one of them: the
// failed-authentication limiter bounds those, and each is kept.
static bool UnknownCallerRefused(const store::AuditEntry& entry, int status) {
  if (status < 400 || status >= 500) return false;
  if (entry.credential == "password") return status != 401;
  return entry.credential == "none" || entry.credential == "unknown";
}

// What a request whose audit entry cannot be written gets instead of its
// answer (its change, had it made one, would have carried the entry).
static net::HttpResponse AuditUnavailable(const Error& why) {
  return ErrorReply(
      Error{ErrorCode::kUnavailable,
            "the audit trail cannot be written, so the request is refused: " + why.message, ""});
}

// Kept free of braced temporaries inside co_await expressions: g++ 12
// miscompiles those (it frees them twice).
asio::awaitable<void> ApiServer::Handle(const net::HttpRequest& request,
                                        net::ResponseWriter& writer) {
  auto start = std::chrono::steady_clock::now();
  StatusRecorder recorder(writer);
  Router::Match match = router_.Find(request.method, request.path);
  std::optional<net::HttpResponse> refusal;
  // Routes that take a credential are limited by their failed ones
  // (AuthFailureLimiter); the guard ends the admission however the
  // handler ends, an exception included.
  std::optional<AdmissionGuard> admitted;
  if (deps_.auth_failures != nullptr && match.route != nullptr && !IsPublic(*match.route)) {
    admitted.emplace(deps_.auth_failures, AddressKey(request.remote_address), deps_.clock);
    const std::string credential = match.route->permission == Permission::kLogin
                                       ? LoginAttemptKey(request)
                                       : BearerToken(request);
    admitted->admission =
        deps_.auth_failures->Admit(admitted->address, credential, deps_.clock->MonotonicNow());
    if (!admitted->admission.admitted) {
      refusal = Throttled(admitted->address, admitted->admission);
      admitted.reset();
    } else {
      AdmissionGuard* guard = &*admitted;
      recorder.OnStatus([guard](int status) { guard->Ended(status); });
    }
  }
  Caller caller = AnonymousCaller();
  if (!refusal) {
    bool identified = false;
    refusal = Refusal(request, match, &caller, &identified);
    // Past the router's check with a token of its own: the token is good,
    // and its room is given back now, not when a long poll answers.
    if (identified && admitted) admitted->End(AuthFailureLimiter::Outcome::kAuthenticated);
  }
  std::optional<int> refused;
  if (refusal) refused = refusal->status;
  std::optional<store::AuditEntry> audit = AuditEntryFor(request, match, caller, refused);
  if (refusal) {
    if (audit) {
      audit->code = refusal->status;
      refusal->headers.emplace_back("X-Request-Id", audit->request_id);
      if (auto kept = deps_.store->AppendAudit(*audit); !kept) {
        refusal = AuditUnavailable(kept.error());
      }
    }
    co_await recorder.Send(std::move(*refusal));
  } else if (!audit && match.route->unary) {
    // Not audited (a read, a machine's report), unless its handler refuses
    // it: once a minute per address and credential (a removed node's agent
    // keeps calling with its old credential).
    net::HttpResponse response = match.route->unary(request, match.params, caller);
    if ((response.status == 401 || response.status == 403) &&
        FirstRefusalInAWhile(fmt::format("{} {} {}", response.status,
                                         AddressKey(request.remote_address),
                                         Sha256Hex(BearerToken(request)).substr(0, 16)))) {
      std::optional<int> status = response.status;
      if (auto entry = AuditEntryFor(request, match, caller, status)) {
        entry->code = response.status;
        response.headers.emplace_back("X-Request-Id", entry->request_id);
        if (auto kept = deps_.store->AppendAudit(*entry); !kept) {
          response = AuditUnavailable(kept.error());
        }
      }
    }
    co_await recorder.Send(std::move(response));
  } else if (audit && match.route->unary) {
    // The handler runs inside the scope: the first write it makes carries
    // the entry (auth/audit_scope.h). It never suspends, so no other
    // request's writes run on this thread meanwhile.
    net::HttpResponse response;
    bool committed = false;
    {
      auth::AuditScope scope(*audit);
      response = match.route->unary(request, match.params, caller);
      committed = scope.committed();
      *audit = scope.entry();  // with what the handler added (a new app's project)
    }
    if (committed) {
      // The change and its entry are in; only the answer's code is missing
      // if this fails (0: "committed, answer unknown", as after a crash).
      if (Status coded = deps_.store->SetAuditCode(audit->request_id, response.status); !coded) {
        SKIFF_LOG_WARN("audit entry {}: cannot record its answer {}: {}", audit->request_id,
                       response.status, coded.error().ToString());
      }
    } else if (!UnknownCallerRefused(*audit, response.status) ||
               FirstRefusalInAWhile(
                   fmt::format("{} {}", response.status, AddressKey(request.remote_address)))) {
      audit->code = response.status;
      if (auto kept = deps_.store->AppendAudit(*audit); !kept) {
        response = AuditUnavailable(kept.error());
      }
    }
    response.headers.emplace_back("X-Request-Id", audit->request_id);
    co_await recorder.Send(std::move(response));
  } else {
    co_await match.route->handler(request, match.params, caller, recorder);
  }
  recorder.OnStatus(nullptr);
  admitted.reset();
  if (requests_ != nullptr) {
    requests_->With({MethodLabel(request.method), std::to_string(recorder.status())}).Inc();
    durations_->With().Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
}

}  // namespace skiff::api
