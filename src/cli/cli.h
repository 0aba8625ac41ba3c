// The client commands of DESIGN.md (apply, apps, status, deployments, scale,
// restart, rollback, promote, delete, logs, events, nodes, drain, traffic,
// metrics, certs, secrets) with CLI11.
//
// main builds one CLI::App for the whole binary and calls AddClientCommands on
// it, so `skiff --help` lists the server roles and the client commands
// together; after a successful parse, if inv.command is set, it returns
// RunClientCommand(inv). RunCli is the same for a client-only program.
//
// Every command takes --addr (env SKIFF_ADDR, default http://127.0.0.1:7070;
// several servers' URLs comma-separated, tried in turn: net::ServerPool),
// --token (env SKIFF_TOKEN; when neither is given, the session `skiff login`
// keeps (credentials.h: SessionFilePath) is used, else ./.skiff/admin.token if
// it exists) and -o table|json.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "cli/api_client.h"

namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace skiff::cli {

inline constexpr const char* kDefaultAddr = "http://127.0.0.1:7070";
// Where a server started in the current directory with its default data dir
// keeps its token.
inline constexpr const char* kLocalTokenFile = ".skiff/admin.token";
// The server's CA beside it (server/server_tls.h), trusted when no --ca is given.
inline constexpr const char* kLocalCaFile = ".skiff/ca.crt";

struct ClientOptions {
  std::string addr = kDefaultAddr;
  std::string token;
  std::string ca;                // --ca / SKIFF_CA: PEM file of the CA https:// servers chain to
  std::string output = "table";  // "table" | "json"
};

// A parsed client command line.
struct Invocation {
  std::string command;  // "apply", "apps", ...; empty when no client command was parsed
  ClientOptions options;
  std::string app;                    // status, deployments, scale, restart, rollback, promote, ...
  std::string file;                   // apply -f
  bool detach = false;                // apply, rollback, promote: do not follow the rollout
  int timeout_seconds = 300;          // apply, rollback, promote: how long to follow the rollout
  int replicas = 0;                   // scale
  int64_t to_revision = 0;            // rollback --to (0: the previous revision)
  bool follow = false;                // logs -f, events -f
  int tail = 100;                     // logs --tail
  std::string event_app;              // events --app
  int64_t since = 0;                  // events --since
  std::string node;                   // drain
  std::string domain;                 // certs add, certs remove
  std::string cert_file;              // certs add --cert
  std::string key_file;               // certs add --key
  std::string name;                   // tokens create/revoke, projects create/delete, edges token
  std::string role;                   // tokens create --role, users add --role
  std::vector<std::string> projects;  // tokens create, users add --project
  std::string expires;                // tokens create, edges token --expires ("90d"; "": never)

  // The people's commands (user_commands.h).
  std::string user;  // users add, users remove, login

  // audit: --since (an age or a time), --who; --app and -f as events'.
  std::string audit_since;
  std::string who;

  // metrics: --since, --until (an age back from now or an RFC 3339 time), --step.
  std::string metrics_since = "1h";
  std::string metrics_until;
  std::string metrics_step;

  // The secrets' commands.
  std::string secret_key;  // secrets set, secrets unset
  std::string from_file;   // secrets set --from-file (else the value is read from stdin)
};

// A CLI11 check of a server list flag (--addr, --server: one URL or several
// comma-separated): its message is net::ServerPool::Check's.
CLI::Validator ServerListValidator();

// Registers the client subcommands on `app`; parsing fills *inv (which must
// outlive `app`).
void AddClientCommands(CLI::App& app, Invocation* inv);
// The options every client command takes (--addr, --token, --ca, -o).
void AddCommonOptions(CLI::App* sub, Invocation* inv);
// The people's commands: users, users add, users remove, login, logout
// (user_commands.cc).
void AddUserCommands(CLI::App& app, Invocation* inv);

// Seams for tests: where requests go, and how the rollout follower waits.
struct RunEnv {
  Transport* transport = nullptr;                              // null: HTTP to inv.options.addr
  std::function<void(std::chrono::milliseconds)> sleep;        // null: really sleep
  std::function<std::chrono::steady_clock::time_point()> now;  // null: steady_clock::now
  std::chrono::milliseconds poll_interval{1000};
  std::function<std::string(const std::string&)> read_file;  // null: the filesystem
  // Asks for a password (credentials.h: ReadPassword's contract); null: ReadPassword.
  std::function<Result<std::string>(std::string_view prompt, bool confirm)> read_password;
  std::string session_file;  // where `skiff login` keeps the session; "": SessionFilePath()
  std::function<std::string()> read_stdin;  // null: std::cin, to its end
};

// Runs a parsed invocation. Returns the process exit code: 0 success, 1 the
// command failed (message on `err`), 2 bad usage.
int RunClientCommand(const Invocation& inv, std::ostream& out, std::ostream& err,
                     const RunEnv& env = {});

// Parses argv as a client-only command line and runs it.
int RunCli(int argc, char** argv);

}  // namespace skiff::cli
