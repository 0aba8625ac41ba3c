#include "server/server.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "acme/http_directory.h"
#include "agent/agent.h"
#include "agent/local_state.h"
#include "agent/machine.h"
#include "agent/remote_control_plane.h"
#include "api/admin_token.h"
#include "api/api_server.h"
#include "api/auth.h"
#include "api/join_tokens.h"
#include "auth/audit_scope.h"
#include "auth/secrets.h"
#include "auth/users.h"
#include "common/dir_lock.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/quantity.h"
#include "controller/acme_account.h"
#include "controller/acme_challenges.h"
#include "controller/app_service.h"
#include "controller/autoscale_signals.h"
#include "controller/certificate_store.h"
#include "controller/drain_tracker.h"
#include "controller/leadership.h"
#include "controller/node_service.h"
#include "controller/routes.h"
#include "crypto/keyring.h"
#include "edge/edge_proxy.h"
#include "edge/traffic_reporter.h"
#include "metrics/live_series.h"
#include "metrics/registry.h"
#include "metrics/scrape_endpoint.h"
#include "net/host_port.h"
#include "net/http.h"
#include "net/http_server.h"
#include "net/join_token.h"
#include "net/server_pool.h"
#include "net/tls.h"
#include "runtime/driver_set.h"
#include "server/advertise.h"
#include "server/challenge_publisher.h"
#include "server/edge_roster.h"
#include "server/leader_loops.h"
#include "server/local_control_plane.h"
#include "server/metrics_rollup.h"
#include "server/open_store.h"
#include "server/own_edge.h"
#include "server/peer_pool.h"
#include "server/route_watcher.h"
#include "server/server_id.h"
#include "server/server_tls.h"
#include "server/shared_trust.h"
#include "server/takeover.h"
#include "store/postgres/postgres_store.h"
#include "store/shared_snapshot_cache.h"

namespace skiff::server {

namespace asio = boost::asio;

class Server::Impl {
 public:
  explicit Impl(ServerOptions options) : options_(std::move(options)) {}
  ~Impl() { Shutdown(); }

  Status Start();
  void Wait();
  void Shutdown();
  // Starts seeking the lease; the loops only the leader runs start when this
  // server leads (leader_loops.h). `edges` is what the drain tracker asks.
  void StartLeadership(controller::DrainTracker::EdgesFn edges);
  // Starts the server's own agent: in process with one server (SQLite); over
  // HTTP to the leader, as a standalone agent, when servers share the store.
  Status StartAgent();
  // Starts reporting the own edge's traffic: into the traffic book with one
  // server; to the leader, as a standalone edge, when servers share the store.
  Status StartTrafficReports();
  // Feeds live_ from the traffic book's reports and the agents' samples.
  void FeedLiveSeries();
  // Drops the audit entries past --audit-retention and the expired
  // sessions, then again an hour later. Runs on an io thread.
  void Housekeep();
  // This server's id among those sharing the store (default: the host name).
  std::string ServerId() const;
  // Its API's URL as the servers' list gives it.
  std::string OwnUrl() const;
  // With a shared store, before this server writes anything as itself:
  // kAlreadyExists when another live server has its id or its data
  // directory's node (takeover.h). Sets own_node_id_ when the agent runs.
  Status RefuseTakeover();
  // Loads the keyring (keyring_) and holds its file's PATH.lock; makes the
  // file only when the store names no key (else kFailedPrecondition naming
  // the file and a record sealed under a key it must hold).
  // REQUIRES: store_ is open.
  Status LoadKeyring();

  ServerOptions options_;
  const Clock* clock_ = SystemClock::Get();
  std::unique_ptr<store::Store> opened_store_;
  // What every part is given: the store, with the API request's audit entry
  // put into the commit of its change (auth/audit_scope.h).
  std::unique_ptr<store::Store> store_;
  // The store's state for the API, the edge's routes and the drains (one
  // copy; the reconciler keeps its own, see shared_snapshot_cache.h).
  std::unique_ptr<store::SharedSnapshotCache> snapshots_;
  bool token_here_ = false;  // DATA/admin.token holds the accepted admin token
  ServerTls tls_;            // the data directory's CA and the API's certificate
  bool serves_tls_ = false;  // the API is HTTPS
  std::unique_ptr<controller::AppService> apps_;
  std::unique_ptr<controller::NodeService> nodes_;
  // The store is shared with other servers (PostgreSQL): the own agent and
  // edge report to the leader over HTTP (docs/postgres.md).
  bool shared_ = false;
  // This server's hold on its data directory, for its whole life.
  std::optional<DirLock> data_lock_;
  // PATH.lock beside the keyring file, shared with the other servers using
  // it: `skiff keys rotate` takes it exclusively, so never rotates under us.
  std::optional<DirLock> keys_lock_;
  // With a shared store: every server's URL, own first, for the own agent and edge.
  std::unique_ptr<PeerPool> peers_;
  // With a shared store: the own agent's node (its data directory's).
  std::string own_node_id_;
  runtime::DriverSet drivers_;
  std::unique_ptr<protocol::ControlPlane> control_plane_;
  std::unique_ptr<agent::Agent> agent_;
  std::unique_ptr<metrics::Registry> metrics_;
  metrics::TrafficBook traffic_;
  // The recent figures of apps and instances (fed by traffic_ and nodes_),
  // their minute roll-ups in the database, and the loop writing them.
  std::unique_ptr<metrics::LiveSeries> live_;
  std::unique_ptr<store::MetricsHistory> history_;
  std::unique_ptr<MetricsRollup> rollup_;
  std::unique_ptr<api::JoinTokenStore> join_tokens_;
  std::unique_ptr<auth::ApiTokenStore> api_tokens_;
  std::unique_ptr<auth::ProjectStore> projects_;
  // The keys that seal secrets at rest (--keys-file, or DATA/keyring.json),
  // and the certificates the edges serve.
  std::optional<crypto::Keyring> keyring_;
  std::unique_ptr<controller::CertificateStore> certificates_;
  // Apps' secrets, sealed under the same keyring.
  std::unique_ptr<auth::SecretStore> secrets_;
  // The ACME challenges the routes carry; the directory and account certificates
  // are ordered with, when --acme-directory is given.
  std::unique_ptr<controller::AcmeChallengeStore> challenges_;
  std::unique_ptr<acme::AcmeDirectory> acme_directory_;
  std::unique_ptr<controller::AcmeAccountStore> acme_account_;
  std::unique_ptr<EdgeRoster> edge_roster_;  // before api_: the API tells it of edges
  // People's users and sessions (before auth_, which asks it of sessions).
  std::unique_ptr<auth::UserStore> users_;
  std::unique_ptr<api::TokenAuthenticator> auth_;
  api::AuthFailureLimiter auth_failures_;
  std::unique_ptr<api::ApiServer> api_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  // Wakes Housekeep every hour, until Shutdown stops it.
  std::mutex housekeeping_mu_;
  std::optional<asio::steady_timer> housekeeping_;  // GUARDED_BY(housekeeping_mu_)
  bool housekeeping_stopped_ = false;               // GUARDED_BY(housekeeping_mu_)
  std::unique_ptr<net::HttpServer> http_;
  std::unique_ptr<net::HttpServer> metrics_http_;  // --metrics-listen
  std::unique_ptr<edge::AccessLog> access_log_;
  std::unique_ptr<edge::EdgeProxy> edge_;
  std::unique_ptr<RouteWatcher> routes_;
  // With a shared store: the own edge's name and credential (before the
  // reporter, which calls its sink).
  std::unique_ptr<OwnEdge> own_edge_;
  std::unique_ptr<edge::TrafficReporter> traffic_reporter_;
  // Who leads (leadership.h) and the loops only the leader runs.
  std::unique_ptr<store::LeaderLease> lease_;
  std::unique_ptr<LeaderLoops> leader_loops_;
  std::unique_ptr<controller::Leadership> leadership_;
  std::vector<std::thread> io_threads_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;   // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  bool stopped_ = false;   // GUARDED_BY(mu_)
};

namespace {

// The --acme-* flags, refused before anything starts.
Status CheckAcmeOptions(const ServerOptions& o) {
  if (o.acme_directory.empty()) {
    if (!o.acme_email.empty() || !o.acme_ca_cert.empty()) {
      return InvalidArgument("--acme-email and --acme-ca-cert need --acme-directory");
    }
    return OkStatus();
  }
  if (!o.acme_directory.starts_with("https://")) {
    return InvalidArgument("--acme-directory: an https:// URL (got \"" + o.acme_directory + "\")");
  }
  const size_t at = o.acme_email.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == o.acme_email.size() ||
      o.acme_email.find_first_of(" ,<>\"") != std::string::npos) {
    return InvalidArgument(o.acme_email.empty()
                               ? "--acme-email: needed with --acme-directory (the ACME account's "
                                 "contact address)"
                               : "--acme-email: not an e-mail address (\"" + o.acme_email + "\")");
  }
  return OkStatus();
}

}  // namespace

void Server::Impl::StartLeadership(controller::DrainTracker::EdgesFn edges) {
  LeaderLoops::Deps loops;
  loops.store = store_.get();
  loops.nodes = nodes_.get();
  loops.clock = clock_;
  loops.loop.resync_interval = options_.resync_interval;
  loops.loop.node_timeout = options_.node_ttl;
  loops.edges = std::move(edges);
  // The tag of what the edges route by, certificates and challenges included
  // (read after the snapshot, as the edges' routes are).
  loops.routes_tag = [certificates = certificates_.get(),
                      challenges = challenges_.get()](const store::Snapshot& snapshot) {
    return controller::RoutesTagOf(snapshot, controller::CertificatesForRoutes(certificates),
                                   controller::ChallengesForRoutes(challenges));
  };
  loops.snapshots = snapshots_.get();
  // The autoscaler decides on what the edges and agents report to the
  // leader, which is where these loops run.
  loops.autoscale_signals = [live = live_.get()](const model::App& app, Duration window, Time) {
    return controller::SignalsFromWindow(live->Window(app.name, window), app.spec);
  };
  // A pass per sample: a decision sees each new sample.
  loops.autoscale_interval = options_.sample_interval;
  loops.sample_interval = options_.sample_interval;
  if (acme_directory_) {
    controller::CertificateOrdererOptions orders;
    orders.contact = {"mailto:" + options_.acme_email};
    orders.private_ca = !options_.acme_ca_cert.empty();
    loops.certificates = [this, orders, edges = loops.edges,
                          tag = loops.routes_tag](int64_t epoch) mutable {
      orders.fence_epoch = epoch;
      // A term starts with no order of its own in flight: challenges still
      // kept are of orders a crash or a deposition cut short.
      if (auto stale = challenges_->List()) {
        for (const protocol::AcmeChallenge& c : *stale) (void)challenges_->Withdraw(c.token);
      } else {
        SKIFF_LOG_WARN("certificates: challenges left by an earlier term stay for now: {}",
                       stale.error().ToString());
      }
      store::SharedSnapshotCache* snapshots = snapshots_.get();
      auto current_tag = [snapshots, tag] {
        return snapshots->Read([&](const store::Snapshot& s) { return tag(s); }).value_or("");
      };
      return std::make_unique<controller::CertificateOrderer>(
          store_.get(), certificates_.get(), acme_account_.get(), acme_directory_.get(), clock_,
          MakeChallengePublisher(challenges_.get(), edges, current_tag, clock_, epoch), orders,
          snapshots);
    };
  }
  leader_loops_ = std::make_unique<LeaderLoops>(std::move(loops));
  controller::LeadershipOptions leadership;
  leadership.server.id = ServerId();
  leadership.server.address = OwnUrl();
  leadership.server.version = options_.version;
  leadership.ttl = options_.leader_ttl;
  LeaderLoops* leader_loops = leader_loops_.get();
  leadership_ = std::make_unique<controller::Leadership>(
      lease_.get(), clock_, std::move(leadership),
      controller::Leadership::Callbacks{
          .elected = [leader_loops](int64_t epoch) { leader_loops->Elected(epoch); },
          .deposed = [leader_loops] { leader_loops->Deposed(); },
      });
  leadership_->Start();
}

std::string Server::Impl::ServerId() const {
  return options_.server_id.empty() ? agent::MachineName() : options_.server_id;
}

std::string Server::Impl::OwnUrl() const {
  return AdvertisedUrl(options_.advertise, options_.listen, http_->port(), agent::MachineName(),
                       serves_tls_);
}

namespace {

// The id of the node the agent of data directory `data` keeps (a new one when
// it keeps none yet: the agent keeps it from its start on).
Result<std::string> OwnNodeId(const std::string& data) {
  agent::LocalState state((std::filesystem::path(data) / "agent-state.json").string());
  SKIFF_RETURN_IF_ERROR(state.Load());
  std::string id = state.node_id();
  return id.empty() ? NewId("node") : id;
}

}  // namespace

Status Server::Impl::RefuseTakeover() {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::ServerRecord> servers, lease_->ListServers());
  std::optional<model::Node> node;
  if (options_.run_agent) {
    SKIFF_ASSIGN_OR_RETURN(own_node_id_, OwnNodeId(options_.data_dir));
    auto stored = store_->GetNode(own_node_id_);
    if (stored) {
      node = std::move(*stored);
    } else if (stored.error().code != ErrorCode::kNotFound) {
      return tl::unexpected(stored.error());
    }
  }
  // Alive: heard within one leader TTL, as the peers' pool judges it.
  return CheckNoTakeover(StartingServer{ServerId(), OwnUrl()}, node, servers, options_.leader_ttl);
}

Status Server::Impl::LoadKeyring() {
  const std::string& data = options_.data_dir;
  const std::string path = crypto::KeyringPath(data, options_.keys_file);
  // A missing file with sealed records is a mistyped --keys-file or an
  // unmounted volume, not a first start: a new key would seal new secrets
  // apart from the old ones, which would be lost with the file.
  if (std::error_code ec; !std::filesystem::exists(path, ec) && !ec) {
    SKIFF_ASSIGN_OR_RETURN(auto named, KeyIdsInStore(store_.get()));
    if (!named.empty()) {
      const std::string what_to_do =
          shared_
              ? fmt::format("copy the keyring file of another server of this database to {}", path)
              : std::string("restore the keys file");
      return FailedPrecondition(fmt::format(
          "no keyring file {}, but the store's record {} is sealed under key {}: {}, or point "
          "--keys-file at it (nothing was created)",
          path, named.begin()->second, named.begin()->first, what_to_do));
    }
  }
  auto lock = DirLock::AcquireFile(path + ".lock", DirLock::Mode::kShared);
  if (lock) {
    keys_lock_.emplace(std::move(*lock));
  } else if (lock.error().code == ErrorCode::kFailedPrecondition) {
    return FailedPrecondition(fmt::format(
        "`skiff keys rotate` runs on the keyring file {}: start the server once it is done", path));
  } else if (const std::string dir = std::filesystem::path(path).parent_path().string();
             ::access(dir.c_str(), W_OK) != 0 && std::filesystem::exists(path)) {
    // A keys file on a read-only mount (a secrets volume) has no room for its
    // lock; nor can `skiff keys rotate`, as this user, replace the file there,
    // so the lock would guard nothing.
    SKIFF_LOG_WARN(
        "no lock beside the keys file {} ({}): its directory is read-only here, so "
        "`skiff keys rotate` cannot change it either",
        path, lock.error().message);
  } else {
    return tl::unexpected(lock.error());
  }
  // Refused when others may read it: it opens every secret and certificate key.
  SKIFF_ASSIGN_OR_RETURN(crypto::Keyring keyring, crypto::Keyring::LoadOrCreate(path));
  keyring_.emplace(std::move(keyring));
  if (!options_.keys_file.empty()) {
    const std::string left = crypto::KeyringPath(data, "");
    if (std::error_code exists_ec; std::filesystem::exists(left, exists_ec)) {
      SKIFF_LOG_WARN(
          "{} is still in the data directory while the keys are read from {}: remove it, or a "
          "copy of the data directory keeps opening what it sealed",
          left, path);
    }
  }
  return OkStatus();
}

void Server::Impl::FeedLiveSeries() {
  live_ = std::make_unique<metrics::LiveSeries>(clock_);
  metrics::LiveSeries* live = live_.get();
  traffic_.SetListener([live](const std::string& edge, const metrics::TrafficSnapshot* snapshot) {
    if (snapshot != nullptr) {
      live->RecordTraffic(edge, *snapshot);
    } else {
      live->ForgetEdge(edge);
    }
  });
  // Samples name instances only: their apps are the store's.
  store::SharedSnapshotCache* snapshots = snapshots_.get();
  nodes_->SetSampleListener(
      [live, snapshots](const std::string&, const std::vector<protocol::InstanceSample>& samples) {
        if (samples.empty()) return;
        auto apps = snapshots->Read([&](const store::Snapshot& snapshot) {
          std::map<std::string, std::string> app_of;
          for (const model::Instance& i : snapshot.instances) app_of.emplace(i.id, i.app);
          return app_of;
        });
        if (!apps) return;  // the store is away: these samples are missed
        for (const protocol::InstanceSample& s : samples) {
          auto it = apps->find(s.instance_id);
          if (it != apps->end()) live->RecordSample(it->second, s.instance_id, s.sample);
        }
      });
}

Status Server::Impl::StartAgent() {
  const std::string& data = options_.data_dir;
  runtime::DriverSetOptions driver_options;
  driver_options.names = options_.drivers;
  driver_options.docker_host = options_.docker_host;
  driver_options.cgroup_parent = options_.cgroup_parent;
  driver_options.home = data;
  driver_options.logs_dir = data + "/logs";  // where the agent puts them
  SKIFF_ASSIGN_OR_RETURN(drivers_, runtime::MakeDrivers(driver_options));
  agent::AgentOptions agent_options;
  // The server's id names its node: servers sharing a store have distinct ids.
  agent_options.node_name = ServerId();
  agent_options.address = options_.node_address;
  agent_options.data_dir = data;
  agent_options.capacity = agent::MachineCapacity();
  agent_options.port_first = options_.port_first;
  agent_options.port_last = options_.port_last;
  agent_options.sample_interval = options_.sample_interval;
  if (!shared_) {
    control_plane_ =
        std::make_unique<LocalControlPlane>(store_.get(), nodes_.get(), secrets_.get());
  } else {
    // The leader judges the node by the heartbeats it hears, so the agent
    // speaks to it as a standalone agent does, with a credential this server
    // makes for its node in the store the servers share (no join token).
    agent_options.node_id = own_node_id_;  // RefuseTakeover found it
    agent::RemoteControlPlaneOptions remote;
    // A frozen leader must not hold a heartbeat past a third of the node TTL:
    // the next server in the pool gets it then (the new leader, soon).
    remote.report_timeout = options_.node_ttl / 3;
    SKIFF_ASSIGN_OR_RETURN(remote.credential, join_tokens_->IssueCredential(agent_options.node_id));
    control_plane_ = std::make_unique<agent::RemoteControlPlane>(std::move(remote), peers_->pool());
  }
  agent_ = std::make_unique<agent::Agent>(agent_options, control_plane_.get(), drivers_.ByName(),
                                          clock_);
  return agent_->Start();
}

Status Server::Impl::StartTrafficReports() {
  edge::TrafficReporter::Sink sink;
  if (!shared_) {
    metrics::TrafficBook* book = &traffic_;
    sink = [book](const metrics::TrafficSnapshot& snapshot) {
      book->Record("local", snapshot, std::chrono::steady_clock::now());
      return OkStatus();
    };
  } else {
    // The leader's drain tracker waits for this edge as for a standalone one
    // (its reports, its roster entry), so it reports as one, as itself only.
    OwnEdge::Deps own;
    own.tokens = join_tokens_.get();
    own.server_id = ServerId();
    const std::string name = OwnEdge::NameOf(own.server_id);
    const net::ServerPool& pool = peers_->pool();
    const edge::EdgeProxy* proxy = edge_.get();
    const Duration interval = options_.traffic_interval;
    own.post = [pool, name, proxy, interval](const std::string& credential) {
      return edge::PostTraffic(
          pool, credential, name, [proxy] { return proxy->Routes(); }, interval);
    };
    own.leave = [pool, name](const std::string& credential) -> Status {
      // Idempotent: sent on past a server that does not answer, each asked
      // for a second at most (this runs in Shutdown).
      auto reply =
          pool.Do("DELETE", "/v1/edges/" + name, {}, {{"Authorization", "Bearer " + credential}},
                  std::chrono::seconds(1), net::ServerPool::Resend::kAlways);
      if (!reply) return tl::unexpected(reply.error());
      if (reply->status != 200) {
        return tl::unexpected(net::ErrorFromResponse(reply->status, reply->body));
      }
      return OkStatus();
    };
    EdgeRoster* roster = edge_roster_.get();
    own.forget = [roster, name] { return roster->Forget(name); };
    own_edge_ = std::make_unique<OwnEdge>(std::move(own));
    SKIFF_RETURN_IF_ERROR(own_edge_->Start());
    sink = own_edge_->sink();
  }
  traffic_reporter_ = std::make_unique<edge::TrafficReporter>(edge_.get(), std::move(sink),
                                                              options_.traffic_interval);
  traffic_reporter_->Start();
  return OkStatus();
}

Status Server::Impl::Start() {
  {
    std::lock_guard lock(mu_);
    started_ = true;
  }
  SKIFF_RETURN_IF_ERROR(CheckAcmeOptions(options_));
  // Before anything starts: a shared store's servers list must say where
  // this one is.
  SKIFF_RETURN_IF_ERROR(CheckTlsFlags(options_.https, options_.insecure_http));
  if (options_.new_shared_trust && options_.store == "sqlite") {
    return InvalidArgument(
        "--new-shared-trust: only with a shared database (--store postgres://...); a server on "
        "SQLite has no other servers to agree with");
  }
  serves_tls_ = ServesTls(options_.listen, options_.https, options_.insecure_http);
  SKIFF_RETURN_IF_ERROR(CheckAdvertise(options_.advertise, options_.listen,
                                       store::IsPostgresUri(options_.store), serves_tls_));
  const std::string& data = options_.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(data, ec);
  if (ec)
    return Unavailable(fmt::format("cannot create data directory {}: {}", data, ec.message()));
  // The directory holds the admin token and the database: keep it private.
  ::chmod(data.c_str(), 0700);
  // It also makes this server one node (the agent's id, its containers'
  // labels): one server in it at a time.
  SKIFF_ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(data));
  data_lock_.emplace(std::move(lock));
  shared_ = options_.store != "sqlite";
  // It names the edge in the leader's reports with a shared store, the node
  // whenever given.
  if (shared_ || !options_.server_id.empty()) SKIFF_RETURN_IF_ERROR(CheckServerId(ServerId()));
  SKIFF_ASSIGN_OR_RETURN(opened_store_, OpenStore(options_.store, data, options_.leader_ttl));
  store_ = std::make_unique<auth::AuditingStore>(opened_store_.get());
  snapshots_ = std::make_unique<store::SharedSnapshotCache>(store_.get());
  lease_ = OpenLease(options_.store, clock_, options_.leader_ttl);
  SKIFF_RETURN_IF_ERROR(LoadKeyring());
  // The CA, whether the API serves TLS or not: join tokens carry its
  // fingerprint, and a later start with TLS keeps it.
  SKIFF_ASSIGN_OR_RETURN(
      tls_, LoadOrCreateServerTls(data,
                                  ServerCertificateNames(options_.listen, options_.advertise,
                                                         options_.tls_names, MachineNames()),
                                  std::chrono::system_clock::now()));
  if (tls_.ca_created) {
    SKIFF_LOG_INFO("created the server's CA in {} (fingerprint {})",
                   (std::filesystem::path(data) / kCaCertFile).string(), tls_.ca_fingerprint);
  }
  net::HttpServerOptions http_options;
  if (serves_tls_) {
    SKIFF_ASSIGN_OR_RETURN(http_options.tls,
                           net::MakeServerTlsContext(tls_.server.cert_pem, tls_.server.key_pem));
  } else if (ServesClearOffLoopback(options_.listen, serves_tls_)) {
    SKIFF_LOG_WARN(
        "the API serves plain HTTP on {} (--insecure-http): tokens and credentials cross the "
        "network in clear unless TLS ends in front of it",
        options_.listen);
  }
  // The API's socket first: the takeover check needs this server's URL.
  // Nothing is served before the io threads start (below), with api_ set.
  http_ = std::make_unique<net::HttpServer>(
      io_, [this](const net::HttpRequest& r, net::ResponseWriter& w) { return api_->Handle(r, w); },
      http_options);
  SKIFF_RETURN_IF_ERROR(http_->Listen(options_.listen));
  // Before anything is written as this server: the admin token it may
  // renew, the join tokens it imports, its servers' list entry, its node's
  // and its edge's credentials.
  if (shared_) SKIFF_RETURN_IF_ERROR(RefuseTakeover());
  // Servers of one database must share the CA and the keyring: one that
  // does not stops here, saying which files to copy. (--new-shared-trust
  // records this server's instead, below, once its keyring is known to open
  // every sealed key.)
  if (shared_ && !options_.new_shared_trust) {
    SKIFF_RETURN_IF_ERROR(CheckSharedTrust(store_.get(), *keyring_, tls_.ca_fingerprint, data));
  }
  bool created = false;
  api::AdminTokenOptions token_options;
  token_options.shared_store = shared_;
  token_options.renew = options_.new_admin_token;
  SKIFF_ASSIGN_OR_RETURN(std::string admin_hash, api::LoadOrCreateClusterAdminTokenHash(
                                                     store_.get(), data, token_options, &created));
  token_here_ = api::AdminTokenFileHolds(data, admin_hash);
  if (created) {
    SKIFF_LOG_INFO("created the admin token in {} (give it to clients as SKIFF_TOKEN)",
                   (std::filesystem::path(data) / api::kAdminTokenFile).string());
  }

  apps_ = std::make_unique<controller::AppService>(store_.get(), clock_);
  nodes_ = std::make_unique<controller::NodeService>(store_.get(), clock_);
  FeedLiveSeries();
  SKIFF_ASSIGN_OR_RETURN(history_, OpenMetricsHistory(options_.store, data));
  certificates_ = std::make_unique<controller::CertificateStore>(store_.get(), &*keyring_, clock_);
  secrets_ = std::make_unique<auth::SecretStore>(store_.get(), &*keyring_, clock_);
  // A server of a shared database without the others' keyring could not
  // send their certificates to its edges: it says so rather than serve
  // without them.
  SKIFF_RETURN_IF_ERROR(certificates_->CheckKeys());
  if (options_.new_shared_trust) {
    SKIFF_ASSIGN_OR_RETURN(std::vector<store::ServerRecord> servers, lease_->ListServers());
    SKIFF_RETURN_IF_ERROR(
        RefuseReplaceWhileOthersRun(servers, ServerId(), options_.leader_ttl, keyring_->path()));
    SKIFF_RETURN_IF_ERROR(CheckSharedTrust(store_.get(), *keyring_, tls_.ca_fingerprint, data,
                                           /*replace=*/true));
    SKIFF_LOG_WARN(
        "recorded this server's CA (fingerprint {}) and keyring as the ones every server of this "
        "database must hold: copy its ca.crt, ca.key and keyring file ({}) to the others before "
        "they start",
        tls_.ca_fingerprint, keyring_->path());
  }
  challenges_ = std::make_unique<controller::AcmeChallengeStore>(store_.get(), clock_);
  if (!options_.acme_directory.empty()) {
    net::TlsTrust trust;
    if (!options_.acme_ca_cert.empty()) {
      SKIFF_ASSIGN_OR_RETURN(trust, net::TlsTrust::FromCaFile(options_.acme_ca_cert));
    }
    acme_directory_ = std::make_unique<acme::HttpAcmeDirectory>(options_.acme_directory, trust);
    acme_account_ = std::make_unique<controller::AcmeAccountStore>(store_.get(), &*keyring_,
                                                                   options_.acme_directory);
  }

  // One server: the agent in process, at once. A shared store's agent
  // reaches the leader over HTTP, so it starts once the API serves.
  if (options_.run_agent && !shared_) SKIFF_RETURN_IF_ERROR(StartAgent());

  metrics_ = std::make_unique<metrics::Registry>();
  join_tokens_ = std::make_unique<api::JoinTokenStore>(store_.get(), clock_, tls_.ca_fingerprint);
  SKIFF_RETURN_IF_ERROR(join_tokens_->ImportFile(data));
  api_tokens_ = std::make_unique<auth::ApiTokenStore>(store_.get(), clock_);
  projects_ = std::make_unique<auth::ProjectStore>(store_.get(), clock_);

  users_ = std::make_unique<auth::UserStore>(store_.get(), clock_);
  // Logins drop expired sessions too; these are those of a server that was down.
  if (auto dropped = users_->DropExpiredSessions(); !dropped) {
    SKIFF_LOG_WARN("cannot drop expired sessions: {}", dropped.error().ToString());
  }

  auth_ = api::TokenAuthenticator::FromHashes({admin_hash}, join_tokens_.get(), api_tokens_.get(),
                                              users_.get());
  // The standalone edges heard, shared with the servers of the database so
  // that each waits for them in drains (edge_roster.h).
  SKIFF_ASSIGN_OR_RETURN(edge_roster_, EdgeRoster::Open(store_.get(), clock_, data));
  EdgeRoster* roster = edge_roster_.get();
  api::ApiDeps deps;
  deps.store = store_.get();
  deps.snapshots = snapshots_.get();
  deps.apps = apps_.get();
  deps.nodes = nodes_.get();
  deps.clock = clock_;
  deps.auth = auth_.get();
  deps.auth_failures = &auth_failures_;
  deps.join_tokens = join_tokens_.get();
  deps.tokens = api_tokens_.get();
  deps.projects = projects_.get();
  deps.users = users_.get();
  deps.certificates = certificates_.get();
  deps.secrets = secrets_.get();
  deps.challenges = challenges_.get();
  deps.log_dir = (std::filesystem::path(data) / "logs").string();
  deps.metrics = metrics_.get();
  deps.sample_interval = options_.sample_interval;
  deps.traffic = &traffic_;
  deps.live = live_.get();
  deps.history = history_.get();
  deps.metrics_retention = options_.metrics_retention;
  deps.edge_heard = [roster](const std::string& edge, int64_t interval_ms) {
    roster->Heard(edge, interval_ms);
  };
  deps.edge_gone = [roster](const std::string& edge) { return roster->Forget(edge); };
  // The API checks the store itself; these are the parts it cannot see.
  const bool agent_on = options_.run_agent;
  deps.components = [this, agent_on] {
    std::map<std::string, std::string> components{
        {"reconciler", leader_loops_ ? leader_loops_->health() : "ok"}};
    if (agent_on) components["agent"] = "ok";
    return components;
  };
  deps.lease = lease_.get();
  deps.leadership = [this] {
    return leadership_ ? leadership_->state() : controller::Leadership::State{};
  };
  api_ = std::make_unique<api::ApiServer>(std::move(deps));
  if (!options_.metrics_listen.empty()) {
    metrics_http_ = std::make_unique<net::HttpServer>(io_, metrics::ScrapeHandler(metrics_.get()));
    if (Status listening = metrics_http_->Listen(options_.metrics_listen); !listening) {
      return InvalidArgument("--metrics-listen " + options_.metrics_listen + ": " +
                             listening.error().message);
    }
    auto where = net::ParseHostPort(options_.metrics_listen, "--metrics-listen");
    if (!where || !net::IsLoopbackHost(where->host)) {
      SKIFF_LOG_WARN(
          "/metrics is served with no token on {}: every app's name and traffic can "
          "be read there by whoever reaches it",
          options_.metrics_listen);
    }
  }
  if (shared_ && (options_.run_agent || options_.run_edge)) {
    // Refreshed every ttl; a server that missed three heartbeats (one ttl)
    // is no longer tried, unless it still holds the lease.
    peers_ =
        std::make_unique<PeerPool>(lease_.get(), clock_, OwnUrl(), options_.leader_ttl,
                                   options_.leader_ttl, net::TlsTrust{.ca_pem = tls_.ca_cert_pem});
    peers_->Start();
  }

  if (options_.run_edge) {
    edge::EdgeOptions edge_options;
    edge_options.threads = options_.edge_threads;
    edge_options.io_engine = options_.edge_io_engine;
    edge_options.metrics = metrics_.get();
    // A request held for a sleeping app wakes it in-process: any server may
    // write the wake (AppService::Wake), so this edge needs no credential
    // for it, shared database or not. (apps_ outlives edge_.)
    controller::AppService* apps = apps_.get();
    edge_options.wake = [apps](const std::string& app) {
      if (Result<bool> woke = apps->Wake(app, "the server's own edge"); !woke) {
        SKIFF_LOG_WARN("edge: cannot wake app {} (will retry): {}", app, woke.error().message);
      }
    };
    if (!options_.access_log.empty()) {
      auto log = edge::AccessLog::Open(options_.access_log);
      if (!log) return tl::unexpected(log.error());
      access_log_ = std::move(*log);
      edge_options.access_log = access_log_.get();
    }
    edge_ = std::make_unique<edge::EdgeProxy>(edge_options);
    routes_ = std::make_unique<RouteWatcher>(store_.get(), snapshots_.get(), edge_.get(),
                                             certificates_.get(), challenges_.get());
    routes_->Start();
    SKIFF_RETURN_IF_ERROR(edge_->Listen(options_.edge_listen, options_.edge_tls_listen));
    SKIFF_RETURN_IF_ERROR(StartTrafficReports());
  }
  // Marks stopping instances drained once no edge routes them or has requests
  // in flight to them: this server's edge and the standalone ones reporting.
  // Standalone edges heard lately by any server of the store are waited for
  // until they report here (edge_roster.h). With a shared store every
  // server's edge reports to the leader, this one's too: none is asked in
  // process.
  edge::EdgeProxy* own_edge = shared_ ? nullptr : edge_.get();
  metrics::TrafficBook* book = &traffic_;
  controller::DrainTracker::EdgesFn edges = [own_edge, book, roster] {
    auto edges = roster->Merge(book->Routes(std::chrono::steady_clock::now()));
    // A name no standalone edge can have (edge names take no parentheses).
    if (own_edge != nullptr) edges["(server)"] = own_edge->Routes();
    return edges;
  };
  StartLeadership(std::move(edges));
  MetricsRollup::Deps rollup;
  rollup.live = live_.get();
  rollup.history = history_.get();
  rollup.clock = clock_;
  rollup.leading = [this] { return leadership_->state().leading; };
  rollup.interval = options_.metrics_rollup_interval;
  rollup.retention = options_.metrics_retention;
  rollup_ = std::make_unique<MetricsRollup>(std::move(rollup));
  rollup_->Start();
  work_.emplace(io_.get_executor());
  for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
    io_threads_.emplace_back([this] { io_.run(); });
  }
  {
    std::lock_guard lock(housekeeping_mu_);
    housekeeping_.emplace(io_);
  }
  asio::post(io_, [this] { Housekeep(); });
  if (options_.run_agent && shared_) SKIFF_RETURN_IF_ERROR(StartAgent());
  SKIFF_LOG_INFO("skiff server: API on port {} ({}), edge {}, data in {}, store revision {}",
                 http_->port(), options_.listen,
                 edge_ ? fmt::format("on port {}{} ({})", edge_->port(),
                                     edge_->tls_port() != 0
                                         ? fmt::format(", TLS on port {}", edge_->tls_port())
                                         : std::string(),
                                     edge::IoEngineName(edge_->io_engine()))
                       : std::string("off"),
                 data, store_->Revision());
  return OkStatus();
}

void Server::Impl::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return stopped_ || !started_; });
}

void Server::Impl::Housekeep() {
  const Time horizon = clock_->Now() - options_.audit_retention;
  if (auto pruned = store_->PruneAudit(horizon); !pruned) {
    SKIFF_LOG_WARN("audit trail: cannot drop entries older than {}: {}", FormatTime(horizon),
                   pruned.error().ToString());
  } else if (*pruned > 0) {
    SKIFF_LOG_INFO("audit trail: dropped {} entries older than {}", *pruned, FormatTime(horizon));
  }
  if (auto dropped = users_->DropExpiredSessions(); !dropped) {
    SKIFF_LOG_WARN("cannot drop expired sessions: {}", dropped.error().ToString());
  }
  std::lock_guard lock(housekeeping_mu_);
  if (housekeeping_stopped_ || !housekeeping_) return;
  housekeeping_->expires_after(std::chrono::hours(1));
  housekeeping_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Housekeep();
  });
}

void Server::Impl::Shutdown() {
  {
    std::unique_lock lock(mu_);
    if (stopping_) {  // another thread is at it: wait until it is done
      cv_.wait(lock, [&] { return stopped_; });
      return;
    }
    stopping_ = true;
  }
  // First: the leader's loops stop (the drain tracker before the edge it
  // asks) and the lease is released, so another server leads at once.
  // (A leader's edge then tells no leader it leaves: none holds its reports.)
  const bool led = leadership_ && leadership_->state().leading;
  // Its last report goes to itself while it still leads: then no other
  // server can hold one (see the Leave below).
  if (led && traffic_reporter_) traffic_reporter_->Stop();
  if (rollup_) rollup_->Stop();
  if (leadership_) leadership_->Stop();
  if (http_) {
    // Requests in flight finish; then the io threads run out of work. The edge
    // stops taking requests at the same time (its Stop waits for its own).
    // The io threads run out of work once the API and the metrics listener
    // (--metrics-listen) have both drained.
    auto listening = std::make_shared<std::atomic<int>>(metrics_http_ ? 2 : 1);
    auto drained = [this, listening] {
      if (--*listening == 0) work_.reset();
    };
    http_->Stop(drained);
    if (metrics_http_) metrics_http_->Stop(drained);
    if (io_threads_.empty()) work_.reset();
    if (traffic_reporter_) traffic_reporter_->Stop();
    if (edge_) edge_->Stop();
    // Once it has no request in flight: the leader's drains need not wait
    // for it any longer.
    if (own_edge_) own_edge_->Leave(/*tell_leader=*/!led);
  }
  // The housekeeping timer keeps the io threads busy until it is cancelled.
  {
    std::lock_guard lock(housekeeping_mu_);
    housekeeping_stopped_ = true;
    if (housekeeping_) housekeeping_->cancel();
  }
  for (std::thread& t : io_threads_) t.join();
  io_threads_.clear();
  metrics_http_.reset();
  http_.reset();
  if (routes_) routes_->Stop();
  if (agent_) agent_->Stop();
  if (peers_) peers_->Stop();
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;
Status Server::Start() {
  Status status = impl_->Start();
  if (!status) impl_->Shutdown();
  return status;
}
void Server::Wait() { impl_->Wait(); }
void Server::Shutdown() { impl_->Shutdown(); }
uint16_t Server::port() const { return impl_->http_ ? impl_->http_->port() : 0; }
uint16_t Server::edge_port() const { return impl_->edge_ ? impl_->edge_->port() : 0; }
std::string Server::url() const { return impl_->OwnUrl(); }
std::string Server::ca_path() const {
  return (std::filesystem::path(impl_->options_.data_dir) / kCaCertFile).string();
}
uint16_t Server::edge_tls_port() const { return impl_->edge_ ? impl_->edge_->tls_port() : 0; }
std::string Server::token_path() const {
  if (!impl_->token_here_) return "";
  return (std::filesystem::path(impl_->options_.data_dir) / api::kAdminTokenFile).string();
}

}  // namespace skiff::server
