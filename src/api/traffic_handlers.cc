// Handlers of edge traffic: what standalone edges and servers' own edges
// report, and the per-app rates the control plane (and `skiff traffic`) reads.
// A standalone edge reports with an edge token (`skiff edges token`; the
// admin token works too), a server's own edge with its edge credential, as
// itself only. A report may carry the
// edge's routes (revision and requests in flight to instances it no longer
// routes), which the drain tracker waits on (controller/drain_tracker.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <string_view>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/request_util.h"
#include "api/visibility.h"

namespace skiff::api {
namespace json = boost::json;
namespace {

// The report intervals taken, in ms (longer or shorter ones are clamped).
constexpr int64_t kMinIntervalMs = 100;
constexpr int64_t kMaxIntervalMs = 5 * 60 * 1000;

// An edge name: what `skiff edge --name` takes (host names and ports).
bool ValidEdgeName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// A rate or time rounded to 3 decimals; whole ones as integers, which read
// better than Boost.JSON's "4E0".
json::value Rounded(double v) {
  const double r = std::round(v * 1000) / 1000;
  if (r == std::floor(r) && std::abs(r) < 9e15) return static_cast<int64_t>(r);
  return r;
}

json::value Milliseconds(double seconds) { return Rounded(seconds * 1000); }

// The answer to an edge name that does not parse; nullopt when it does.
std::optional<net::HttpResponse> RefuseBadEdgeName(const std::string& name) {
  if (ValidEdgeName(name)) return std::nullopt;
  return ErrorReply(Error{
      ErrorCode::kInvalidArgument,
      "edge name \"" + name + "\" must be 1 to 128 letters, digits, '-', '.', '_' or ':'", "name"});
}

// Whether `name` is a server's own edge's (`<server-id>:edge`), which only
// that edge's credential reports under.
bool IsServersEdgeName(std::string_view name) { return name.ends_with(":edge"); }

// The answer to a call edge `name` makes about itself (`what`: a report, a
// goodbye) from anyone but that edge or the admin, or to a server that does
// not lead; nullopt when it may go on, with *admin saying whether the caller
// was the admin (rather than the edge itself).
// Refuses a caller that is neither the admin nor edge `name` (what it was
// refused: `what`); sets *admin when it is the admin.
std::optional<net::HttpResponse> RefuseUnlessEdge(const ApiDeps& deps,
                                                  const net::HttpRequest& request,
                                                  const std::string& name, std::string_view what,
                                                  bool* admin) {
  auto caller = deps.auth->Identify(request);
  if (!caller) return ErrorReply(caller.error());
  // An edge's own credential (a server's edge) speaks for that edge; an edge
  // token (`skiff edges token`, a standalone edge) for any standalone edge.
  const bool edge =
      caller->role == auth::Role::kEdge &&
      (caller->name == name || (caller->credential == "token" && !IsServersEdgeName(name)));
  *admin = caller->admin();
  if (!caller->admin() && !edge) {
    return ErrorReply(Error{ErrorCode::kPermissionDenied,
                            "only the admin or edge " + name + " may " + std::string(what),
                            "name"});
  }
  return std::nullopt;
}

std::optional<net::HttpResponse> RefuseUnlessEdgeAtLeader(const ApiDeps& deps,
                                                          const net::HttpRequest& request,
                                                          const std::string& name,
                                                          std::string_view what, bool* admin) {
  if (auto refused = RefuseUnlessEdge(deps, request, name, what, admin)) return refused;
  // After the caller: a stranger learns nothing, not even who leads.
  return RefuseUnlessLeading(deps);
}

}  // namespace

net::HttpResponse ReportTraffic(const ApiDeps& deps, const net::HttpRequest& request,
                                const PathParams& params) {
  const std::string& name = params.at("name");
  bool admin = false;
  if (auto refused = RefuseUnlessEdgeAtLeader(deps, request, name, "report its traffic", &admin)) {
    return *refused;
  }
  if (deps.traffic == nullptr) {
    return ErrorReply(Error{ErrorCode::kNotFound, "this server keeps no traffic book"});
  }
  if (auto refused = RefuseBadEdgeName(name)) return *refused;
  if (IsServersEdgeName(name) && admin) {
    // A standalone edge (the admin token) under a server's edge name would be
    // forgotten when that server shuts down.
    return ErrorReply(Error{ErrorCode::kInvalidArgument,
                            "edge name \"" + name +
                                "\" ends in \":edge\", which names a server's own edge: give "
                                "this edge another --name",
                            "name"});
  }
  auto body = JsonObjectBody(request);
  if (!body) return ErrorReply(body.error());
  auto snapshot = metrics::TrafficFromJson(*body);
  if (!snapshot) return ErrorReply(snapshot.error());
  // An interval far outside any an edge is given would keep the edge in the
  // roster for ever or forget it between reports: bounded to 100 ms..5 min.
  if (snapshot->routes && snapshot->routes->interval_ms > 0) {
    snapshot->routes->interval_ms =
        std::clamp<int64_t>(snapshot->routes->interval_ms, kMinIntervalMs, kMaxIntervalMs);
  }
  const int64_t interval_ms = snapshot->routes ? snapshot->routes->interval_ms : 0;
  deps.traffic->Record(name, std::move(*snapshot), std::chrono::steady_clock::now());
  if (deps.edge_heard && interval_ms > 0) deps.edge_heard(name, interval_ms);
  return net::JsonResponse(200, json::object{{"edge", name}});
}

// An edge that leaves (a server's own edge, on a clean shutdown) says so, so
// that the leader's drains stop waiting for it at once rather than three of
// its report intervals later. Only the leader holds the traffic book the
// drains read, so only it forgets.
net::HttpResponse ForgetEdge(const ApiDeps& deps, const net::HttpRequest& request,
                             const PathParams& params) {
  const std::string& name = params.at("name");
  bool admin = false;
  if (auto refused = RefuseUnlessEdgeAtLeader(deps, request, name, "say it left", &admin)) {
    return *refused;
  }
  if (auto refused = RefuseBadEdgeName(name)) return *refused;
  if (deps.traffic != nullptr) deps.traffic->Forget(name);
  if (deps.edge_gone) {
    if (Status gone = deps.edge_gone(name); !gone) return ErrorReply(gone.error());
  }
  return net::JsonResponse(200, json::object{{"edge", name}, {"forgotten", true}});
}

net::HttpResponse GetTraffic(const ApiDeps& deps, const net::HttpRequest&, const PathParams&,
                             const Caller& caller) {
  if (deps.traffic == nullptr) {
    return ErrorReply(Error{ErrorCode::kNotFound, "this server keeps no traffic book"});
  }
  auto visible = VisibleApps(deps, caller);
  if (!visible) return ErrorReply(visible.error());
  const auto now = std::chrono::steady_clock::now();
  json::object apps;
  for (const auto& [app, r] : deps.traffic->Rates(now)) {
    if (*visible && (*visible)->count(app) == 0) continue;
    apps[app] =
        json::object{{"requests_per_second", std::round(r.requests_per_second * 1000) / 1000},
                     {"errors_per_second", std::round(r.errors_per_second * 1000) / 1000},
                     {"bytes_per_second", std::round(r.bytes_per_second)},
                     {"latency_ms", json::object{{"p50", Milliseconds(r.p50)},
                                                 {"p95", Milliseconds(r.p95)},
                                                 {"p99", Milliseconds(r.p99)}}},
                     {"in_flight", r.in_flight},
                     {"edges", r.edges}};
  }
  // Which edges report is the cluster's, not a project's.
  json::array edges;
  if (caller.admin()) {
    for (const std::string& e : deps.traffic->Edges(now)) edges.emplace_back(e);
  }
  return net::JsonResponse(200,
                           json::object{{"apps", std::move(apps)}, {"edges", std::move(edges)}});
}

net::HttpResponse WakeApp(const ApiDeps& deps, const net::HttpRequest& request,
                          const PathParams& params) {
  const std::string& name = params.at("name");
  bool admin = false;
  // Any server may write the wake: it needs no figure the leader holds.
  if (auto refused = RefuseUnlessEdge(deps, request, name, "wake an app", &admin)) {
    return *refused;
  }
  auto body = JsonObjectBody(request);
  if (!body) return ErrorReply(body.error());
  const json::value* app = body->if_contains("app");
  if (app == nullptr || !app->is_string() || app->as_string().empty()) {
    return ErrorReply(Error{ErrorCode::kInvalidArgument,
                            "app: the name of the app to wake is required, e.g. {\"app\":\"web\"}",
                            "app"});
  }
  const std::string app_name(app->as_string());
  auto woke = deps.apps->Wake(app_name, "edge " + name);
  if (!woke) return ErrorReply(woke.error());
  return net::JsonResponse(200, json::object{{"app", app_name}, {"woken", *woke}});
}

}  // namespace skiff::api
