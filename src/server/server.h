// Server: the all-in-one control plane of `skiff server` (DESIGN.md, "Roles"):
// the store (SQLite under the data directory, or PostgreSQL), the app and node services, the
// reconciler loop, the HTTP API, the edge router serving apps at their domains,
// the drain tracker (controller/drain_tracker.h: when a stopping instance may get its
// SIGTERM), and a local agent with the process driver that reaches the control plane
// through the same ControlPlane contract a remote agent uses (edge and agent can
// be turned off). Several servers may share one PostgreSQL store: each serves
// the whole API, and the reconciler loop and the drain tracker run only on the
// one that holds the leader's lease (server/leader_loops.h). Then the local
// agent and the edge's traffic reports reach the leader over HTTP, as those of
// a standalone agent and edge do (server/peer_pool.h), since the leader judges
// nodes and drains by what it hears itself.
//
//   Server server(options);
//   if (Status s = server.Start(); !s) { ... }
//   server.Wait();   // until Shutdown() (from a signal handler thread, say)
//
// Thread-safety: Start, Wait and Shutdown may be called from different
// threads; Start once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "edge/event_loop.h"

namespace skiff::server {

struct ServerOptions {
  std::string data_dir = ".skiff";  // skiff.db, admin.token, agent state, logs/
  // The keyring's file (crypto/keyring.h): "" for DATA/keyring.json; kept
  // elsewhere, a copy of the data directory does not open the secrets.
  // Made only when the store names no key; PATH.lock beside it is held
  // (shared) while the server runs, so `skiff keys rotate` waits for it.
  std::string keys_file;
  // Where the state lives: "sqlite" (DATA/skiff.db) or a PostgreSQL connection
  // string or URI (postgres://USER@HOST/DB, several hosts allowed).
  std::string store = "sqlite";
  std::string listen = "127.0.0.1:7070";  // the API
  // Where GET /metrics is also served with no token, for Prometheus ("":
  // nowhere; the API's /metrics needs the admin token).
  std::string metrics_listen;
  // The API serves HTTPS (server/server_tls.h: the data directory's CA) when
  // --listen is not a loopback address, or with `https` on loopback too;
  // `insecure_http` keeps plain HTTP off loopback (TLS ends in front of it).
  bool https = false;
  bool insecure_http = false;
  // More names (DNS names or IPs) for the API's certificate (--tls-name): a
  // name clients dial that neither --listen nor --advertise gives.
  std::vector<std::string> tls_names;
  std::string edge_listen = "127.0.0.1:8080";             // the edge router: apps at their domains
  std::string edge_tls_listen;                            // and over TLS (HTTPS); none when empty
  bool run_edge = true;                                   // --no-edge turns the edge off
  int edge_threads = 1;                                   // threads of the edge router
  edge::IoEngine edge_io_engine = edge::IoEngine::kAuto;  // their I/O engine
  std::string access_log;                  // the edge's JSON access log: a file, "-", or none
  std::string node_address = "127.0.0.1";  // where the local agent's instances listen
  bool run_agent = true;                   // --no-agent turns the local agent off
  int io_threads = 2;                      // threads serving the API
  int port_first = 20000;                  // the local agent's instance ports
  int port_last = 29999;
  // The local agent's drivers ("process", "docker"). Empty: process, and docker
  // too when the engine at docker_host answers. A docker named here whose
  // engine does not answer fails Start.
  std::vector<std::string> drivers;
  std::string docker_host;  // empty: DOCKER_HOST, else unix:///var/run/docker.sock
  // Where the process driver may create cgroups; empty: never use cgroups.
  std::string cgroup_parent = "/sys/fs/cgroup/skiff";
  Duration resync_interval = std::chrono::seconds(5);
  // How often the local agent samples its instances' cpu and memory
  // (--sample-interval, at least kMinSampleInterval). The API knows it
  // (api::ApiDeps::sample_interval): the autoscaler's window is checked against it.
  Duration sample_interval = std::chrono::seconds(5);
  // A node without a heartbeat for this long is down: its instances are
  // replaced elsewhere and no longer routed to.
  Duration node_ttl = std::chrono::seconds(5);
  // How long the audit trail keeps an entry (pruned every hour).
  Duration audit_retention = std::chrono::hours(24 * 90);
  // How long the apps' and instances' minute roll-ups are kept (docs/metrics.md).
  Duration metrics_retention = std::chrono::hours(24 * 7);
  // How often the roll-up loop writes the minutes it has complete and prunes
  // (a test makes it short; it writes whole minutes whatever it is).
  Duration metrics_rollup_interval = std::chrono::seconds(60);
  // How often the edge's counters go into the traffic book (GET /v1/traffic).
  Duration traffic_interval = std::chrono::seconds(5);
  // This server among those sharing the store (GET /v1/servers): its id (unique
  // among them; empty: the host name), the URL others reach its API at
  // (empty: http:// and the bound --listen address) and the build's version.
  std::string server_id;
  std::string advertise;
  std::string version;
  // The leader's lease (controller/leadership.h): renewed every ttl/3; a
  // leader that cannot renew stops acting before it runs out.
  Duration leader_ttl = std::chrono::seconds(5);
  // Make a new admin token (DATA/admin.token) that replaces the database's:
  // the old one stops working on every server.
  bool new_admin_token = false;
  // Record this server's CA and keyring as the ones every server of the
  // shared database must hold (server/shared_trust.h), over what was recorded.
  bool new_shared_trust = false;
  // ACME (RFC 8555): the directory URL certificates are ordered from (empty:
  // none is ordered; edge.tls auto then serves a manual certificate or the
  // fallback), the account's contact address, and a PEM file of CAs to trust
  // for the directory's HTTPS (empty: the system's roots).
  std::string acme_directory;
  std::string acme_email;
  std::string acme_ca_cert;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();  // Shuts down.
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the store (creating the data directory and the admin token on first
  // start), starts the reconciler and the local agent, binds the API. Errors:
  // kUnavailable (data directory not writable, address in use, PostgreSQL not
  // reachable or refusing the credentials: libpq's message and what to check),
  // kInvalidArgument (bad listen address, a --store that is neither "sqlite"
  // nor a connection string), kFailedPrecondition (database of a newer
  // version, token file not private, the data directory's CA half there
  // or not parsing: server/server_tls.h; the keyring file a symbolic link,
  // not private, not parsing, or lacking a key the store's records name;
  // no keyring file while the store's records name a key: named with the
  // file and one such record, nothing made; a `skiff keys rotate` holding
  // the file's PATH.lock).
  // On error nothing keeps running.
  Status Start();

  // Blocks until Shutdown() has finished stopping everything.
  void Wait();

  // Stops the API (letting requests in flight finish), the agent and the loop.
  // Instances keep running; the next start adopts them. Idempotent, any thread.
  void Shutdown();

  // The bound API and edge ports (after Start; 0 when off) and the admin
  // token's path: empty when this server's data directory holds no accepted
  // token (another server of its database made it).
  uint16_t port() const;
  uint16_t edge_port() const;
  uint16_t edge_tls_port() const;  // 0 without edge_tls_listen
  std::string token_path() const;
  // The URL of this server's API (https:// when it serves TLS) and the path
  // of its CA's certificate (DATA/ca.crt). After Start.
  std::string url() const;
  std::string ca_path() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::server
