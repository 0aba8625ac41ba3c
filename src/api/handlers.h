// The API's handlers: each maps one request to one response through the
// controller services and the store ("request in, response out"); the
// streaming ones (logs, events, watch) write through the ResponseWriter.
// Routes are in api_server.cc; shapes are those of DESIGN.md ("API").
//
// Every handler validates its input before it writes anything, and answers
// errors with the one error shape (errors.h).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>

#include "api/api_deps.h"
#include "api/router.h"
#include "net/http.h"
#include "net/http_server.h"

namespace skiff::api {

// Apps (app_handlers.cc).
// Apply checks the spec's project: the caller's to deploy to (404 for one it
// has no role in, 403 for a viewer's), and existing (404). Lists hold only
// what the caller may read (api/visibility.h).
net::HttpResponse ApplyApp(const ApiDeps& deps, const net::HttpRequest& request,
                           const PathParams& params, const Caller& caller);
net::HttpResponse ListApps(const ApiDeps& deps, const net::HttpRequest& request,
                           const PathParams& params, const Caller& caller);
net::HttpResponse GetApp(const ApiDeps& deps, const net::HttpRequest& request,
                         const PathParams& params);
net::HttpResponse DeleteApp(const ApiDeps& deps, const net::HttpRequest& request,
                            const PathParams& params);
net::HttpResponse ScaleApp(const ApiDeps& deps, const net::HttpRequest& request,
                           const PathParams& params);
net::HttpResponse RestartApp(const ApiDeps& deps, const net::HttpRequest& request,
                             const PathParams& params);
net::HttpResponse RollbackApp(const ApiDeps& deps, const net::HttpRequest& request,
                              const PathParams& params);
net::HttpResponse PromoteApp(const ApiDeps& deps, const net::HttpRequest& request,
                             const PathParams& params);
net::HttpResponse ListDeployments(const ApiDeps& deps, const net::HttpRequest& request,
                                  const PathParams& params);
net::HttpResponse ListInstances(const ApiDeps& deps, const net::HttpRequest& request,
                                const PathParams& params);

// Metrics (metrics_handlers.cc): GET /v1/apps/{name}/metrics?since=&until=&step=
// (the minute history re-aggregated into steps; 400 naming the parameter for
// a bad range or step; 404 without ApiDeps::history) and GET
// /v1/apps/{name}/metrics/live (Server-Sent Events, one every
// ApiDeps::live_metrics_interval; 503 on a server that does not lead).
net::HttpResponse GetAppMetrics(const ApiDeps& deps, const net::HttpRequest& request,
                                const PathParams& params);
boost::asio::awaitable<void> LiveAppMetrics(const ApiDeps& deps, const net::HttpRequest& request,
                                            const PathParams& params, net::ResponseWriter& writer);

// Secrets (secret_handlers.cc): PUT /v1/apps/{name}/secrets/{key} (the body
// is the value), GET /v1/apps/{name}/secrets (never values), DELETE
// /v1/apps/{name}/secrets/{key}; 404 when ApiDeps::secrets is null.
net::HttpResponse SetSecret(const ApiDeps& deps, const net::HttpRequest& request,
                            const PathParams& params);
net::HttpResponse ListSecrets(const ApiDeps& deps, const net::HttpRequest& request,
                              const PathParams& params);
net::HttpResponse UnsetSecret(const ApiDeps& deps, const net::HttpRequest& request,
                              const PathParams& params);
// Forgets the secrets of `app`, being deleted (logged when it cannot).
void RemoveAppSecrets(const ApiDeps& deps, const std::string& app);

// Cluster (cluster_handlers.cc).
net::HttpResponse ListNodes(const ApiDeps& deps, const net::HttpRequest& request,
                            const PathParams& params);
net::HttpResponse DrainNode(const ApiDeps& deps, const net::HttpRequest& request,
                            const PathParams& params);
net::HttpResponse Health(const ApiDeps& deps, const net::HttpRequest& request,
                         const PathParams& params);
// GET /v1/servers: every server sharing the store, which leads, its epoch.
net::HttpResponse ListServers(const ApiDeps& deps, const net::HttpRequest& request,
                              const PathParams& params);
net::HttpResponse Metrics(const ApiDeps& deps, const net::HttpRequest& request,
                          const PathParams& params);

// Edge traffic (traffic_handlers.cc): POST /v1/edges/{name}/traffic takes a
// standalone edge's counters (metrics/traffic.h); GET /v1/traffic answers each
// app's requests a second, errors a second and latency quantiles over the
// last interval, summed over the edges that reported; DELETE
// /v1/edges/{name} forgets an edge that left.
net::HttpResponse ReportTraffic(const ApiDeps& deps, const net::HttpRequest& request,
                                const PathParams& params);
net::HttpResponse ForgetEdge(const ApiDeps& deps, const net::HttpRequest& request,
                             const PathParams& params);
// POST /v1/edges/{name}/wake {"app":"web"}: an edge holding a request for an
// app asleep (model::IsSleeping) asks for it to be woken (AppService::Wake);
// {"app":"web","woken":true} when this call woke it.
net::HttpResponse WakeApp(const ApiDeps& deps, const net::HttpRequest& request,
                          const PathParams& params);
net::HttpResponse GetTraffic(const ApiDeps& deps, const net::HttpRequest& request,
                             const PathParams& params, const Caller& caller);

// The edges' TLS certificates (certificate_handlers.cc): POST /v1/certificates
// {domain, cert, key} checks and keeps one (400 naming what is wrong, nothing
// kept), GET lists them (never a key), DELETE /v1/certificates/{domain}
// forgets one. 404 when the server keeps none (ApiDeps::certificates null).
net::HttpResponse AddCertificate(const ApiDeps& deps, const net::HttpRequest& request,
                                 const PathParams& params);
net::HttpResponse ListCertificates(const ApiDeps& deps, const net::HttpRequest& request,
                                   const PathParams& params);
net::HttpResponse RemoveCertificate(const ApiDeps& deps, const net::HttpRequest& request,
                                    const PathParams& params);

// Joining and remote agents (agent_handlers.cc). Join tokens are the admin's;
// the /v1/agent/... calls identify their caller themselves (routed without the
// admin check): a join token or a node credential (or the admin token) to
// register, then the node's credential, which acts only on its own node (403).
net::HttpResponse CreateJoinToken(const ApiDeps& deps, const net::HttpRequest& request,
                                  const PathParams& params);
net::HttpResponse ListJoinTokens(const ApiDeps& deps, const net::HttpRequest& request,
                                 const PathParams& params);
net::HttpResponse RevokeJoinToken(const ApiDeps& deps, const net::HttpRequest& request,
                                  const PathParams& params);
net::HttpResponse AgentRegister(const ApiDeps& deps, const net::HttpRequest& request,
                                const PathParams& params);
net::HttpResponse AgentHeartbeat(const ApiDeps& deps, const net::HttpRequest& request,
                                 const PathParams& params);
net::HttpResponse AgentAssignments(const ApiDeps& deps, const net::HttpRequest& request,
                                   const PathParams& params);
net::HttpResponse AgentReport(const ApiDeps& deps, const net::HttpRequest& request,
                              const PathParams& params);
net::HttpResponse AgentSamples(const ApiDeps& deps, const net::HttpRequest& request,
                               const PathParams& params);
// Long poll: answers {"revision":N} once the store is past ?revision, or after
// ?timeout_ms (at most 30000) with the current revision.
boost::asio::awaitable<void> AgentWait(const ApiDeps& deps, const net::HttpRequest& request,
                                       const PathParams& params, net::ResponseWriter& writer);

// People (user_handlers.cc). POST /v1/login {"name","password"} answers a
// session {"token","expires_at","user","role","projects"} (401 for a wrong
// name or password alike); POST /v1/logout ends the session of the bearer
// token (204). Both identify their caller themselves (Permission::kLogin).
// POST /v1/users {"name","role","projects","password"} adds a user (201),
// GET /v1/users lists them (never a hash), DELETE /v1/users/{name} removes
// one and ends their sessions (204). 404 when ApiDeps::users is null.
net::HttpResponse Login(const ApiDeps& deps, const net::HttpRequest& request,
                        const PathParams& params);
net::HttpResponse Logout(const ApiDeps& deps, const net::HttpRequest& request,
                         const PathParams& params);
net::HttpResponse AddUser(const ApiDeps& deps, const net::HttpRequest& request,
                          const PathParams& params);
net::HttpResponse ListUsers(const ApiDeps& deps, const net::HttpRequest& request,
                            const PathParams& params);
net::HttpResponse RemoveUser(const ApiDeps& deps, const net::HttpRequest& request,
                             const PathParams& params);
// What the failed-authentication limit (AuthFailureLimiter) counts a login
// or logout by: its credentials are in the body (and the bearer token), not
// in the bearer token alone. "" when there are none.
std::string LoginAttemptKey(const net::HttpRequest& request);

// Streams (stream_handlers.cc). Without follow=true they answer once.
// The NDJSON ones write one JSON object per line, flushed per line.
boost::asio::awaitable<void> Logs(const ApiDeps& deps, const net::HttpRequest& request,
                                  const PathParams& params, net::ResponseWriter& writer);
boost::asio::awaitable<void> Events(const ApiDeps& deps, const net::HttpRequest& request,
                                    const PathParams& params, const Caller& caller,
                                    net::ResponseWriter& writer);
// Always streams: {"revision","kind","deleted","object"} per change after `since`
// (default: now), then live ones. 410 when `since` is compacted.
boost::asio::awaitable<void> Watch(const ApiDeps& deps, const net::HttpRequest& request,
                                   const PathParams& params, net::ResponseWriter& writer);
// The routes document for standalone edges, long-polled: ?unless=TAG&wait=SECONDS
// (route_handlers.cc).
boost::asio::awaitable<void> Routes(const ApiDeps& deps, const net::HttpRequest& request,
                                    const PathParams& params, net::ResponseWriter& writer);

// API tokens (token_handlers.cc), the admin's: POST /v1/tokens {name, role,
// projects, expires} answers the token once (201); GET lists them (never a
// token); DELETE /v1/tokens/{name} revokes one. 404 when the server keeps
// none (ApiDeps::tokens null).
net::HttpResponse CreateApiToken(const ApiDeps& deps, const net::HttpRequest& request,
                                 const PathParams& params);
net::HttpResponse ListApiTokens(const ApiDeps& deps, const net::HttpRequest& request,
                                const PathParams& params);
net::HttpResponse RevokeApiToken(const ApiDeps& deps, const net::HttpRequest& request,
                                 const PathParams& params);

// Projects (project_handlers.cc): GET /v1/projects lists those the caller has
// a role in (every one for the admin); POST {name} and DELETE
// /v1/projects/{name} are the admin's.
net::HttpResponse ListProjects(const ApiDeps& deps, const net::HttpRequest& request,
                               const PathParams& params, const Caller& caller);
net::HttpResponse CreateProject(const ApiDeps& deps, const net::HttpRequest& request,
                                const PathParams& params);
net::HttpResponse DeleteProject(const ApiDeps& deps, const net::HttpRequest& request,
                                const PathParams& params);

// The audit trail (audit_handlers.cc), the admin's: GET /v1/audit?since=1h
// (an age or an RFC 3339 time)&who=&app=&after=ID&limit=N (default 100, at
// most 1000: the newest) answers {"entries":[...]}; with follow=true it
// streams them as NDJSON, then new ones as they come.
boost::asio::awaitable<void> Audit(const ApiDeps& deps, const net::HttpRequest& request,
                                   const PathParams& params, net::ResponseWriter& writer);

// 503 (kUnavailable) when this server does not lead, for what agents and
// edges report to the leader only (api_server.cc); nullopt when it leads or
// is alone. Thread-safe.
std::optional<net::HttpResponse> RefuseUnlessLeading(const ApiDeps& deps);

}  // namespace skiff::api
