// What the API handlers work on. Plain pointers: everything is owned by main
// and outlives the ApiServer.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "api/auth.h"
#include "api/auth_failure_limiter.h"
#include "api/join_tokens.h"
#include "api/log_source.h"
#include "auth/api_tokens.h"
#include "auth/projects.h"
#include "auth/secrets.h"
#include "auth/users.h"
#include "common/clock.h"
#include "controller/acme_challenges.h"
#include "controller/app_service.h"
#include "controller/certificate_store.h"
#include "controller/leadership.h"
#include "controller/node_service.h"
#include "metrics/live_series.h"
#include "metrics/registry.h"
#include "metrics/traffic.h"
#include "store/leader_lease.h"
#include "store/metrics_history.h"
#include "store/shared_snapshot_cache.h"
#include "store/store.h"

namespace skiff::api {

struct ApiDeps {
  store::Store* store = nullptr;           // required
  controller::AppService* apps = nullptr;  // required
  // The whole state for what needs it per request (GET /v1/apps, /v1/nodes,
  // /v1/routes, /metrics), kept up to date from the change log and shared
  // with the server's other readers of it; null: the ApiServer keeps its own
  // over `store`.
  store::SharedSnapshotCache* snapshots = nullptr;
  // Drain goes through it when set; otherwise the API writes the node's status itself.
  controller::NodeService* nodes = nullptr;
  const Clock* clock = nullptr;         // null: the system clock
  const Authenticator* auth = nullptr;  // required; /v1 is default deny
  // Failed authentications (401s) per source address: past its burst, an
  // address gets 429 for everything but GET /health. Null: not limited.
  AuthFailureLimiter* auth_failures = nullptr;
  // API tokens (/v1/tokens) and projects (/v1/projects, and the projects
  // specs name); null: those routes answer 404, and any project a spec names
  // is taken as existing.
  auth::ApiTokenStore* tokens = nullptr;
  auth::ProjectStore* projects = nullptr;
  // Whether requests are audited (store/audit.h): every write but the
  // machines' reports, and every refusal. The server gives its parts an
  // auth::AuditingStore, so that a change carries its entry in its commit.
  bool audit = true;
  // Join tokens and node credentials; null: /v1/join-tokens and /v1/agent/... answer 404.
  // The agent calls also need `nodes`.
  JoinTokenStore* join_tokens = nullptr;
  // People's users and sessions; null: /v1/login, /v1/logout and /v1/users answer 404.
  auth::UserStore* users = nullptr;
  // The edges' TLS certificates (/v1/certificates), also sent in the routes
  // document; null: /v1/certificates answers 404 and the routes carry none.
  controller::CertificateStore* certificates = nullptr;
  // The ACME challenges the routes document carries; null: none.
  controller::AcmeChallengeStore* challenges = nullptr;
  // Apps' secrets (/v1/apps/{name}/secrets), also given to agents with their
  // assignments; null: those routes answer 404 and agents get no secrets.
  auth::SecretStore* secrets = nullptr;
  // Where the logs come from; null: a FileLogSource over `log_dir`.
  LogSource* logs = nullptr;
  std::string log_dir;  // <data>/logs
  // Rendered by GET /metrics and fed with request counts; null: /metrics is 404.
  metrics::Registry* metrics = nullptr;
  // GET /metrics needs the admin token: it names every app and its traffic.
  // Prometheus, which scrapes without one, is given its own listener instead
  // (skiff server --metrics-listen). Clear to serve it with no token.
  bool metrics_need_auth = true;
  // How often agents sample their instances (the server's --sample-interval):
  // the shortest window resource figures can be averaged over: an autoscale
  // window shorter than it is refused on apply (it would hold no sample).
  Duration sample_interval = std::chrono::seconds(5);
  // Where edges' traffic is gathered (POST /v1/edges/{name}/traffic, GET
  // /v1/traffic); null: those answer 404.
  metrics::TrafficBook* traffic = nullptr;
  // The apps' recent figures (GET /v1/apps/{app}/metrics/live, and the
  // minutes not yet in the history); null: the live view answers 404.
  metrics::LiveSeries* live = nullptr;
  // The apps' minute roll-ups (GET /v1/apps/{app}/metrics); null: 404.
  store::MetricsHistory* history = nullptr;
  // How far back the history goes (--metrics-retention): older ranges are refused.
  Duration metrics_retention = std::chrono::hours(24 * 7);
  // Told of each traffic report with a report interval: the edge's name and
  // its interval in ms (server/edge_roster.h keeps them); optional. Called on
  // the I/O thread.
  std::function<void(const std::string& edge, int64_t interval_ms)> edge_heard;
  // Told of an edge that left (DELETE /v1/edges/{name}): forgets it as
  // edge_heard's keeper would after three intervals of silence. Errors are
  // the answer's. Optional; called on the I/O thread.
  std::function<Status(const std::string& edge)> edge_gone;
  // The servers sharing the store and which one leads (GET /v1/servers);
  // null: that answers 404.
  store::LeaderLease* lease = nullptr;
  // Whether this server leads now, and in which epoch (GET /health says);
  // null: /health says nothing of leading. Called on the I/O thread.
  std::function<controller::Leadership::State()> leadership;
  // Extra components for GET /health ("edge": "ok", "agent": "ok", ...); optional.
  // Called on the I/O thread: must be quick and thread-safe.
  std::function<std::map<std::string, std::string>()> components;
  // How often the live metrics stream sends an event.
  std::chrono::milliseconds live_metrics_interval{5000};
  // How often a followed log is checked for growth.
  std::chrono::milliseconds log_poll_interval{200};
};

}  // namespace skiff::api
