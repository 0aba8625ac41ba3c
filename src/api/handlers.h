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
net::HttpResponse ApplyApp(const ApiDeps& deps, const net::HttpRequest& request,
                           const PathParams& params);
net::HttpResponse ListApps(const ApiDeps& deps, const net::HttpRequest& request,
                           const PathParams& params);
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
net::HttpResponse GetTraffic(const ApiDeps& deps, const net::HttpRequest& request,
                             const PathParams& params);

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

// Streams (stream_handlers.cc). Without follow=true they answer once.
// The NDJSON ones write one JSON object per line, flushed per line.
boost::asio::awaitable<void> Logs(const ApiDeps& deps, const net::HttpRequest& request,
                                  const PathParams& params, net::ResponseWriter& writer);
boost::asio::awaitable<void> Events(const ApiDeps& deps, const net::HttpRequest& request,
                                    const PathParams& params, net::ResponseWriter& writer);
// Always streams: {"revision","kind","deleted","object"} per change after `since`
// (default: now), then live ones. 410 when `since` is compacted.
boost::asio::awaitable<void> Watch(const ApiDeps& deps, const net::HttpRequest& request,
                                   const PathParams& params, net::ResponseWriter& writer);
// The routes document for standalone edges, long-polled: ?unless=TAG&wait=SECONDS
// (route_handlers.cc).
boost::asio::awaitable<void> Routes(const ApiDeps& deps, const net::HttpRequest& request,
                                    const PathParams& params, net::ResponseWriter& writer);

// 503 (kUnavailable) when this server does not lead, for what agents and
// edges report to the leader only (api_server.cc); nullopt when it leads or
// is alone. Thread-safe.
std::optional<net::HttpResponse> RefuseUnlessLeading(const ApiDeps& deps);

}  // namespace skiff::api
