// skiff: one binary, every role (DESIGN.md, "Roles"). Wiring only: flags in,
// the role's component started, signals turned into a graceful shutdown.
#include <malloc.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

#include "agent/agent.h"
#include "agent/standalone.h"
#include "cli/cli.h"
#include "common/fd_limit.h"
#include "common/logging.h"
#include "common/quantity.h"
#include "edge/standalone.h"
#include "net/host_port.h"
#include "server/key_rotation.h"
#include "server/server.h"

namespace {

constexpr const char* kVersion = "0.1.0";

// Blocks SIGINT and SIGTERM in this thread and every thread it starts later, so
// that only WaitForSignal sees them.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Every instance costs descriptors (pidfd, logs, pipes, probes): a soft limit
// of 1024 would fail them at about a thousand instances.
void RaiseFileLimitOrWarn(const char* name) {
  if (auto raised = skiff::RaiseFileLimit(); !raised) {
    std::cerr << name << ": " << raised.error().message << "\n";
  }
}

// Waits for SIGINT or SIGTERM, then shuts `role` down (Wait/Shutdown).
template <typename Role>
void ServeUntilSignal(Role& role, sigset_t stop_signals, const char* name, const char* note) {
  std::thread signals([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    SKIFF_LOG_INFO("{}: {} received, shutting down{}", name,
                   signal == SIGINT ? "SIGINT" : "SIGTERM", note);
    role.Shutdown();
  });
  role.Wait();
  // If Wait returned for another reason than a signal, wake the signal thread.
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
}

int RunServer(const skiff::server::ServerOptions& options, const std::string& log_level) {
  skiff::InitLogging(log_level);
  sigset_t stop_signals = BlockStopSignals();
  RaiseFileLimitOrWarn("skiff server");
  skiff::server::Server server(options);
  if (skiff::Status started = server.Start(); !started) {
    std::cerr << "skiff server: " << started.error().message << "\n";
    return 1;
  }
  // The URL as bound (port 0 in --listen picks one), https:// when the API serves TLS.
  const std::string url = server.url();
  const std::string ca = url.starts_with("https://") ? " SKIFF_CA=" + server.ca_path() : "";
  if (!server.token_path().empty()) {
    std::cerr << "skiff server: ready. The admin token is in " << server.token_path()
              << "; clients on this machine can use:\n  export SKIFF_ADDR=" << url
              << " SKIFF_TOKEN=$(cat " << server.token_path() << ")" << ca << "\n";
  } else {
    std::cerr << "skiff server: ready at " << url
              << ". The admin token was made by another server of this database: it is in "
                 "that server's DATA/admin.token (`skiff server --new-admin-token` makes a "
                 "new one, here)\n";
  }
  ServeUntilSignal(server, stop_signals, "skiff server", " (instances keep running)");
  return 0;
}

int RunKeysRotate(const skiff::server::KeyRotationOptions& options, const std::string& output) {
  // Warnings only, on stderr: stdout holds the report (JSON with -o json).
  skiff::InitLogging("warn");
  auto rotated = skiff::server::RotateKeys(options, skiff::server::ProgressLines(std::cerr));
  if (!rotated) {
    std::cerr << "skiff keys rotate: " << rotated.error().message << "\n";
    return 1;
  }
  std::cout << (output == "json" ? skiff::server::RotationJson(*rotated)
                                 : skiff::server::RotationText(*rotated));
  return 0;
}

int RunAgent(const skiff::agent::StandaloneAgentOptions& options, const std::string& log_level) {
  skiff::InitLogging(log_level);
  sigset_t stop_signals = BlockStopSignals();
  RaiseFileLimitOrWarn("skiff agent");
  // The runner pool grows by hundreds of threads while a burst of starts
  // blocks, and glibc gives threads arenas of their own (up to 8 per core)
  // whose pages stay after the burst: at 500 idle instances that was 30 MB
  // against 23 MB with two arenas (bench/idle_agent.sh). The agent allocates
  // little; two arenas are plenty.
  mallopt(M_ARENA_MAX, 2);
  skiff::agent::StandaloneAgent agent(options);
  if (skiff::Status started = agent.Start(); !started) {
    std::cerr << "skiff agent: " << started.error().message << "\n";
    return started.error().code == skiff::ErrorCode::kInvalidArgument ? 2 : 1;
  }
  ServeUntilSignal(agent, stop_signals, "skiff agent", " (instances keep running)");
  return 0;
}

// --ports FIRST-LAST into *first and *last.
void AddPortsOption(CLI::App* cmd, const std::string& description, int* first, int* last) {
  cmd->add_option_function<std::string>(
         "--ports",
         [first, last](const std::string& range) {
           // FIRST-LAST; CLI11 validated the shape below.
           auto dash = range.find('-');
           *first = std::stoi(range.substr(0, dash));
           *last = std::stoi(range.substr(dash + 1));
         },
         description)
      ->default_str("20000-29999")
      ->check(
          [](const std::string& range) -> std::string {
            int first = 0, last = 0;
            char dash = 0, extra = 0;
            if (std::sscanf(range.c_str(), "%d%c%d%c", &first, &dash, &last, &extra) != 3 ||
                dash != '-' || first < 1 || last > 65535 || first > last) {
              return "expected FIRST-LAST with 1 <= FIRST <= LAST <= 65535, got \"" + range + "\"";
            }
            return "";
          },
          "FIRST-LAST");
}

// The flags several commands share, each defined here once.

// --keys-file PATH into *path: where a server's keyring is. Made absolute,
// so that its PATH.lock and the messages naming it do not depend on the
// working directory.
void AddKeysFileOption(CLI::App* cmd, std::string* path, const std::string& description) {
  cmd->add_option_function<std::string>(
      "--keys-file",
      [path](const std::string& given) {
        std::error_code ec;
        const std::filesystem::path absolute = std::filesystem::absolute(given, ec);
        *path = given.empty() || ec ? given : absolute.lexically_normal().string();
      },
      description);
}

// --log-level into *level.
void AddLogLevelOption(CLI::App* cmd, std::string* level) {
  cmd->add_option("--log-level", *level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
}

// --driver and --docker-host: the runtime drivers a local agent offers.
void AddDriverOptions(CLI::App* cmd, std::vector<std::string>* drivers, std::string* docker_host,
                      const std::string& description) {
  cmd->add_option("--driver", *drivers, description)
      ->delimiter(',')
      ->check(CLI::IsMember({"process", "docker"}));
  cmd->add_option("--docker-host", *docker_host,
                  "the Docker engine's socket, unix:///path (default: DOCKER_HOST, else "
                  "unix:///var/run/docker.sock)");
}

// --server URL[,URL...] (or SKIFF_ADDR) into *url: the servers a part works
// for, any of which answers (the next is asked when one does not).
void AddServerOption(CLI::App* cmd, std::string* url) {
  cmd->add_option("--server", *url,
                  "the Skiff server's API URL, or several servers' comma-separated "
                  "(http://a:7070,http://b:7070): the next is asked when one does not answer")
      ->envname("SKIFF_ADDR")
      ->required()
      ->check(skiff::cli::ServerListValidator());
}

// --access-log FILE into *path.
void AddAccessLogOption(CLI::App* cmd, std::string* path, const std::string& whose) {
  cmd->add_option("--access-log", *path,
                  "write " + whose +
                      " access log, a JSON object a line, to this file (- for "
                      "standard output)");
}

// --io-engine (or SKIFF_IO_ENGINE) into *engine: the I/O engine of an edge's
// threads (skiff edge's, or the one skiff server embeds).
void AddIoEngineOption(CLI::App* cmd, skiff::edge::IoEngine* engine, const std::string& whose) {
  cmd->add_option_function<std::string>(
         "--io-engine",
         [engine](const std::string& text) { *engine = *skiff::edge::ParseIoEngine(text); },
         "the I/O engine of " + whose +
             " threads: epoll, io_uring, or auto (io_uring where the kernel allows it, else "
             "epoll)")
      ->envname("SKIFF_IO_ENGINE")
      ->check(CLI::IsMember({"auto", "io_uring", "epoll"}))
      ->default_str(std::string(skiff::edge::IoEngineName(*engine)));
}

// A duration flag (500ms, 5s, 1m) within [least, most] into *out.
template <typename D>
void AddDurationOption(CLI::App* cmd, const std::string& name, D* out, const std::string& fallback,
                       skiff::Duration least, skiff::Duration most,
                       const std::string& description) {
  cmd->add_option_function<std::string>(
         name,
         [out](const std::string& text) {
           *out = std::chrono::duration_cast<D>(*skiff::ParseDuration(text));
         },
         description)
      ->default_str(fallback)
      ->check(
          [least, most](const std::string& text) -> std::string {
            auto d = skiff::ParseDuration(text);
            if (!d) return d.error().message;
            if (*d < least || *d > most) {
              return "must be between " + skiff::FormatDuration(least) + " and " +
                     skiff::FormatDuration(most) + " (got " + text + ")";
            }
            return "";
          },
          "DURATION");
}

// --sample-interval: how often `who` samples its instances' cpu and memory
// (`also`: what else follows that pace).
void AddSampleIntervalOption(CLI::App* cmd, skiff::Duration* out, const std::string& who,
                             const std::string& also = "") {
  AddDurationOption(cmd, "--sample-interval", out, "5s", skiff::agent::kMinSampleInterval,
                    std::chrono::minutes(5),
                    "how often " + who + " samples its instances' cpu and memory" + also);
}

// "k=v,k2=v2" pieces (CLI11 split them at commas) into a map; "" when fine,
// else what is wrong.
std::string ParsePairs(const std::vector<std::string>& pieces,
                       std::map<std::string, std::string>* out) {
  for (const std::string& piece : pieces) {
    auto eq = piece.find('=');
    if (eq == std::string::npos || eq == 0) return "expected key=value, got \"" + piece + "\"";
    (*out)[piece.substr(0, eq)] = piece.substr(eq + 1);
  }
  return "";
}

// --capacity cpu=2000m,memory=4Gi into *capacity; "" when fine.
std::string ParseCapacity(const std::vector<std::string>& pieces,
                          skiff::model::Resources* capacity) {
  std::map<std::string, std::string> pairs;
  if (std::string bad = ParsePairs(pieces, &pairs); !bad.empty()) return bad;
  for (const auto& [key, value] : pairs) {
    if (key == "cpu") {
      auto cpu = skiff::ParseCpuMillis(value);
      if (!cpu) return "cpu: " + cpu.error().message;
      capacity->cpu_millis = *cpu;
    } else if (key == "memory") {
      auto memory = skiff::ParseMemoryBytes(value);
      if (!memory) return "memory: " + memory.error().message;
      capacity->memory_bytes = *memory;
    } else {
      return "unknown resource \"" + key + "\" (cpu, memory)";
    }
  }
  return "";
}

int RunEdge(const skiff::edge::StandaloneOptions& options, const std::string& log_level) {
  skiff::InitLogging(log_level);
  if (options.token.empty()) {
    std::cerr << "skiff edge: no token: set SKIFF_TOKEN or --token to an edge token (make one "
                 "with `skiff edges token NAME`)\n";
    return 2;
  }
  sigset_t stop_signals = BlockStopSignals();
  skiff::edge::StandaloneEdge edge(options);
  if (skiff::Status started = edge.Start(); !started) {
    std::cerr << "skiff edge: " << started.error().message << "\n";
    return 1;
  }
  ServeUntilSignal(edge, stop_signals, "skiff edge", "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"skiff: deploy apps on your own machines and keep them running"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kVersion);
  app.footer(
      "Start a server with `skiff server`; the other commands talk to it (SKIFF_ADDR, "
      "SKIFF_TOKEN).\nEvery command has --help.\n");

  skiff::server::ServerOptions server_options;
  std::string log_level = "info";
  CLI::App* server = app.add_subcommand(
      "server",
      "Run the control plane. Alone it is all-in-one: API, store, scheduler, reconciler and a "
      "local agent running apps (processes, containers) on this machine.");
  server
      ->add_option("--data", server_options.data_dir,
                   "data directory: the SQLite store, the admin token, instance logs")
      ->capture_default_str();
  AddKeysFileOption(server, &server_options.keys_file,
                    "the keyring file: the keys that seal apps' secrets and certificate keys in "
                    "the store (default: DATA/keyring.json; made 0600 at the first start, refused "
                    "when it is a symbolic link or others may read it). Kept outside the data "
                    "directory, a copy of that directory does not open the secrets");
  server
      ->add_option("--store", server_options.store,
                   "where the state lives: sqlite (in --data), or PostgreSQL as a libpq "
                   "connection string or URI, e.g. postgres://skiff@db.internal/skiff "
                   "(several hosts: postgres://h1,h2/skiff?target_session_attrs=read-write)")
      ->capture_default_str();
  server
      ->add_option("--listen", server_options.listen,
                   "address of the API (host:port): HTTPS with the server's own CA "
                   "(DATA/ca.crt) unless it is a loopback address")
      ->capture_default_str();
  server->add_flag("--https", server_options.https,
                   "serve the API over HTTPS on a loopback --listen too");
  server->add_option("--tls-name", server_options.tls_names,
                     "a DNS name or IP the API's certificate names besides the --listen and "
                     "--advertise hosts (and, listening on every address, the machine's name "
                     "and addresses); repeatable");
  server->add_flag("--insecure-http", server_options.insecure_http,
                   "serve the API over plain HTTP off loopback (only where TLS ends in front of "
                   "it: tokens and credentials would otherwise cross the network in clear)");
  server
      ->add_option("--edge-listen", server_options.edge_listen,
                   "address of the edge router that serves apps at their domains (host:port)")
      ->capture_default_str();
  server->add_option("--edge-tls-listen", server_options.edge_tls_listen,
                     "address where the edge router serves apps over TLS (HTTPS; host:port, "
                     "e.g. :443): TLS 1.2 and 1.3, the certificate by SNI, HTTP/1.1 only "
                     "(no HTTP/2 yet); none by default");
  server->add_flag(
      "--no-edge", [&](int64_t) { server_options.run_edge = false; },
      "run no edge router (apps are reached at their instances' addresses)");
  server
      ->add_option("--edge-threads", server_options.edge_threads,
                   "threads of the edge router, each its own event loop")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  AddIoEngineOption(server, &server_options.edge_io_engine, "the edge router's");
  AddAccessLogOption(server, &server_options.access_log, "the edge's");
  server
      ->add_option("--node-address", server_options.node_address,
                   "address the local agent's instances bind (their HOST)")
      ->capture_default_str();
  AddPortsOption(server, "range the local agent allocates instance ports (PORT) from",
                 &server_options.port_first, &server_options.port_last);
  AddDriverOptions(server, &server_options.drivers, &server_options.docker_host,
                   "the local agent's drivers, e.g. process,docker (default: process, and docker "
                   "when its engine answers)");
  server->add_flag(
      "--no-agent", [&](int64_t) { server_options.run_agent = false; },
      "run no local agent: this machine runs no instances");
  AddDurationOption(server, "--node-ttl", &server_options.node_ttl, "5s", std::chrono::seconds(2),
                    std::chrono::minutes(10),
                    "a node without a heartbeat for this long is down: its instances are "
                    "replaced elsewhere");
  AddSampleIntervalOption(server, &server_options.sample_interval, "the local agent",
                          ", and the server's own edge posts its traffic");
  AddDurationOption(server, "--audit-retention", &server_options.audit_retention, "90d",
                    std::chrono::hours(1), std::chrono::hours(24 * 3650),
                    "how long the audit trail keeps an entry (skiff audit)");
  AddDurationOption(server, "--metrics-retention", &server_options.metrics_retention, "7d",
                    std::chrono::hours(1), std::chrono::hours(24 * 3650),
                    "how long the apps' minute metrics are kept (skiff metrics, "
                    "GET /v1/apps/{app}/metrics)");
  server->add_flag("--new-admin-token", server_options.new_admin_token,
                   "make a new admin token in DATA/admin.token; it replaces the database's "
                   "(the old one stops working on every server)");
  server->add_option("--metrics-listen", server_options.metrics_listen,
                     "also serve GET /metrics (and GET /health) with no token at this host:port, "
                     "for Prometheus; the API's /metrics needs the admin token");
  server->add_flag("--new-shared-trust", server_options.new_shared_trust,
                   "with a shared database: record this server's CA and keyring as the ones "
                   "every server must hold (after replacing the CA on purpose); copy its ca.crt, "
                   "ca.key and keyring file to the others");
  server->add_option("--server-id", server_options.server_id,
                     "this server's id among those sharing the store, unique among them "
                     "(default: the host name)");
  server->add_option("--advertise", server_options.advertise,
                     "the URL other servers and clients reach this server's API at "
                     "(default: http:// and the --listen address as bound)");
  AddDurationOption(server, "--leader-ttl", &server_options.leader_ttl, "5s",
                    std::chrono::milliseconds(300), std::chrono::minutes(1),
                    "the leader's lease (servers sharing a PostgreSQL store elect one to run the "
                    "controller): renewed every third of it; another server takes over within "
                    "about this long after the leader dies");
  server->add_option("--acme-directory", server_options.acme_directory,
                     "order certificates for the domains of apps with edge.tls auto from this ACME "
                     "directory (https:// URL, e.g. Let's Encrypt's); without it none is ordered "
                     "and such a domain is served with a manual certificate or the fallback");
  server->add_option("--acme-email", server_options.acme_email,
                     "the ACME account's contact address (needed with --acme-directory)");
  server->add_option("--acme-ca-cert", server_options.acme_ca_cert,
                     "PEM file of the CAs to trust for the ACME directory's HTTPS (default: the "
                     "system's roots)");
  server_options.version = kVersion;
  AddLogLevelOption(server, &log_level);

  skiff::edge::StandaloneOptions edge_options;
  CLI::App* edge = app.add_subcommand(
      "edge",
      "Run a standalone edge router: serve apps at their domains with routes from a Skiff "
      "server, and keep serving the last ones when it cannot be reached.");
  AddServerOption(edge, &edge_options.server);
  edge->add_option("--token", edge_options.token,
                   "an edge token (skiff edges token NAME): it reads the routes and reports "
                   "traffic, nothing else")
      ->envname("SKIFF_TOKEN");
  edge->add_option("--ca", edge_options.ca_file,
                   "PEM file of the CA an https:// server must chain to (the server's DATA/ca.crt)")
      ->envname("SKIFF_CA");
  edge->add_option("--ca-fingerprint", edge_options.ca_fingerprint,
                   "the server CA's SHA-256 fingerprint (hex, as in a join token), when --ca is "
                   "not given")
      ->envname("SKIFF_CA_FINGERPRINT");
  edge->add_option("--listen", edge_options.listen, "address to serve on (host:port)")
      ->capture_default_str();
  edge->add_option("--tls-listen", edge_options.tls_listen,
                   "address to serve on over TLS (HTTPS; host:port, e.g. :443): TLS 1.2 and "
                   "1.3, the certificate by SNI, HTTP/1.1 only (no HTTP/2 yet); none by default");
  edge->add_option("--data", edge_options.data_dir, "where the last routes are kept")
      ->capture_default_str();
  edge->add_option("--threads", edge_options.io_threads,
                   "threads serving requests, each its own event loop")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  AddIoEngineOption(edge, &edge_options.io_engine, "the");
  edge->add_option("--metrics-listen", edge_options.metrics_listen,
                   "also serve GET /metrics (Prometheus) and GET /health at this address "
                   "(host:port)");
  edge->add_option("--name", edge_options.name,
                   "this edge's name in the server's traffic figures (default: hostname:port)")
      ->check([](const std::string& name) -> std::string {
        // (Servers' own edges are "<server-id>:edge".)
        return name.ends_with(":edge") ? "ends in \":edge\", which names a server's own edge; "
                                         "choose another name"
                                       : "";
      });
  AddDurationOption(edge, "--report-interval", &edge_options.report_interval, "5s",
                    std::chrono::milliseconds(100), std::chrono::minutes(5),
                    "how often per-app traffic counters are posted to the server");
  AddAccessLogOption(edge, &edge_options.access_log, "an");
  AddLogLevelOption(edge, &log_level);

  skiff::agent::StandaloneAgentOptions agent_options;
  CLI::App* agent = app.add_subcommand(
      "agent",
      "Run a node on this machine: join a Skiff server's cluster and run the instances it "
      "places here (processes, containers), which keep running while the server is away.");
  AddServerOption(agent, &agent_options.server);
  agent
      ->add_option("--join-token", agent_options.join_token,
                   "a join token (`skiff nodes join-token` on the server); needed the first "
                   "time only: the node's credential is then kept in the data directory")
      ->envname("SKIFF_JOIN_TOKEN");
  agent
      ->add_option("--ca", agent_options.ca_file,
                   "PEM file of the CA an https:// server must chain to (default: the CA the "
                   "join token names, then the one remembered from the join)")
      ->envname("SKIFF_CA");
  agent->add_option("--name", agent_options.name, "the node's name (default: the host name)");
  agent
      ->add_option("--address", agent_options.address,
                   "this machine's address the server's edge can reach: instances bind it (their "
                   "HOST)")
      ->required();
  std::vector<std::string> label_pieces;
  agent->add_option("--labels", label_pieces, "the node's labels, k=v,k2=v2 (for constraints)")
      ->delimiter(',')
      ->check(
          [](const std::string& piece) {
            std::map<std::string, std::string> pairs;
            return ParsePairs({piece}, &pairs);
          },
          "K=V");
  std::vector<std::string> capacity_pieces;
  agent
      ->add_option("--capacity", capacity_pieces,
                   "what the node offers, cpu=2000m,memory=4Gi (default: detected; a resource "
                   "left out is detected)")
      ->delimiter(',')
      ->check(
          [](const std::string& piece) {
            skiff::model::Resources r;
            return ParseCapacity({piece}, &r);
          },
          "cpu=C,memory=M");
  AddDriverOptions(agent, &agent_options.drivers, &agent_options.docker_host,
                   "the drivers to offer, e.g. process,docker (default: process, and docker when "
                   "its engine answers)");
  agent
      ->add_option("--data", agent_options.data_dir,
                   "data directory: the node credential, the instances' state and logs")
      ->capture_default_str();
  AddPortsOption(agent, "range instance ports (PORT) are allocated from", &agent_options.port_first,
                 &agent_options.port_last);
  AddSampleIntervalOption(agent, &agent_options.sample_interval, "this agent");
  AddLogLevelOption(agent, &log_level);

  skiff::server::KeyRotationOptions rotate_options;
  std::string rotate_output = "table";
  CLI::App* keys = app.add_subcommand(
      "keys", "Manage the keyring that seals apps' secrets and certificate keys in the store");
  keys->require_subcommand(1);
  CLI::App* rotate = keys->add_subcommand(
      "rotate",
      "Seal everything the store keeps sealed under a new key, made the active key of the "
      "keyring file; the old keys stay in the file (so nothing sealed under them, in this store "
      "or another using the file, is lost) unless --drop-old-keys. Run it with the servers of "
      "the store stopped (instances keep running); a run cut short is completed by running it "
      "again. On a shared database, copy the new file to every other server before starting "
      "them.");
  rotate
      ->add_option("--data", rotate_options.data_dir,
                   "the data directory of the server whose keys to rotate")
      ->capture_default_str();
  rotate
      ->add_option("--store", rotate_options.store,
                   "the server's --store: sqlite (in --data), or its PostgreSQL connection string")
      ->capture_default_str();
  AddKeysFileOption(rotate, &rotate_options.keys_file,
                    "the server's --keys-file: its keyring file (default: DATA/keyring.json)");
  AddDurationOption(rotate, "--leader-ttl", &rotate_options.leader_ttl, "5s",
                    std::chrono::milliseconds(300), std::chrono::minutes(1),
                    "the servers' --leader-ttl: with a shared database, a server heard within "
                    "it may still run, and the rotation is refused");
  rotate->add_flag(
      "--drop-old-keys", rotate_options.drop_old_keys,
      "then drop the old keys from the keyring file once no record of this store names them: "
      "what retires a leaked key. Only when the file serves this store alone: no other data "
      "directory or database uses it (what it sealed under an old key would be lost)");
  rotate->add_option("-o,--output", rotate_output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  skiff::cli::Invocation invocation;
  skiff::cli::AddClientCommands(app, &invocation);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a usage error exits 2, as documented.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (server->parsed()) {
    // The own edge posts its traffic as often as the agent samples: the
    // autoscaler's window fills from both at one pace.
    server_options.traffic_interval = server_options.sample_interval;
    return RunServer(server_options, log_level);
  }
  if (edge->parsed()) return RunEdge(edge_options, log_level);
  if (rotate->parsed()) return RunKeysRotate(rotate_options, rotate_output);
  if (agent->parsed()) {
    ParsePairs(label_pieces, &agent_options.labels);  // checked while parsing
    ParseCapacity(capacity_pieces, &agent_options.capacity);
    return RunAgent(agent_options, log_level);
  }
  return skiff::cli::RunClientCommand(invocation, std::cout, std::cerr);
}
