#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "net/server_pool.h"

namespace skiff::cli {
namespace {}  // namespace

CLI::Validator ServerListValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        Status checked = net::ServerPool(value).Check();
        return checked ? std::string() : checked.error().message;
      },
      "URL[,URL...]");
}

void AddCommonOptions(CLI::App* sub, Invocation* inv) {
  sub->add_option("--addr", inv->options.addr,
                  "Skiff server URL, or several servers' comma-separated (the next is asked "
                  "when one does not answer)")
      ->envname("SKIFF_ADDR")
      ->capture_default_str()
      ->check(ServerListValidator());
  sub->add_option("--token", inv->options.token,
                  "API bearer token (env SKIFF_TOKEN; when neither is given, the session of "
                  "`skiff login` ($XDG_CONFIG_HOME/skiff/session, else ~/.config/skiff/session) "
                  "is used if there is one, else .skiff/admin.token in the current directory if "
                  "it exists)")
      ->envname("SKIFF_TOKEN");
  sub->add_option("--ca", inv->options.ca,
                  "PEM file of the CA an https:// server chains to (env SKIFF_CA; when neither "
                  "is given, .skiff/ca.crt in the current directory is used if it exists, else "
                  "the system's roots)")
      ->envname("SKIFF_CA");
  sub->add_option("-o,--output", inv->options.output, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
}

namespace {

CLI::App* Command(CLI::App& app, Invocation* inv, const std::string& name,
                  const std::string& description) {
  CLI::App* sub = app.add_subcommand(name, description);
  AddCommonOptions(sub, inv);
  sub->callback([inv, name] { inv->command = name; });
  return sub;
}

// --detach and --timeout of the commands that follow a rollout.
void AddFollowOptions(CLI::App* sub, Invocation* inv) {
  sub->add_flag("--detach", inv->detach,
                "return at once instead of following the rollout (exit 0 once the server "
                "accepted the request)");
  sub->add_option("--timeout", inv->timeout_seconds,
                  "seconds to follow the rollout; exit 1 if it is not healthy by then (a canary "
                  "waiting for `skiff promote` included)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

// `skiff secrets APP`, `secrets set APP KEY`, `secrets unset APP KEY`.
void AddSecretsCommands(CLI::App& app, Invocation* inv) {
  CLI::App* secrets =
      Command(app, inv, "secrets",
              "List an app's secrets: names, versions, when each was set (never values)");
  secrets->add_option("app", inv->app, "app name");
  secrets->callback([inv] {
    if (!inv->command.empty()) return;  // set or unset
    if (inv->app.empty()) throw CLI::RequiredError("app");
    inv->command = "secrets";
  });
  CLI::App* set = secrets->add_subcommand(
      "set",
      "Set a secret of an app from stdin (or --from-file): its instances get it as the "
      "environment variable KEY, through a new revision rolled out like any change");
  AddCommonOptions(set, inv);
  set->add_option("app", inv->app, "app name")->required();
  set->add_option("key", inv->secret_key, "its name: an environment variable's")->required();
  set->add_option("--from-file", inv->from_file,
                  "read the value from this file (as it is, a final newline included) rather "
                  "than from stdin");
  set->callback([inv] { inv->command = "secrets set"; });
  CLI::App* unset = secrets->add_subcommand(
      "unset", "Remove a secret of an app (a new revision: its instances no longer get it)");
  AddCommonOptions(unset, inv);
  unset->add_option("app", inv->app, "app name")->required();
  unset->add_option("key", inv->secret_key, "its name")->required();
  unset->callback([inv] { inv->command = "secrets unset"; });
}

}  // namespace

void AddClientCommands(CLI::App& app, Invocation* inv) {
  CLI::App* apply =
      Command(app, inv, "apply",
              "Apply an app spec (YAML or JSON) and follow the rollout until the new revision is "
              "healthy (exit 0) or failed, rolled back or superseded (exit 1)");
  apply->add_option("-f,--file", inv->file, "spec file (.json is JSON, anything else YAML)")
      ->required();
  AddFollowOptions(apply, inv);
  Command(app, inv, "apps", "List apps with their status");

  CLI::App* status = Command(app, inv, "status", "Show an app: status, instances, deployments");
  status->add_option("app", inv->app, "app name")->required();

  CLI::App* deployments =
      Command(app, inv, "deployments", "List an app's revisions and their rollout states");
  deployments->add_option("app", inv->app, "app name")->required();

  CLI::App* scale = Command(app, inv, "scale", "Set an app's replica count (a new revision)");
  scale->add_option("app", inv->app, "app name")->required();
  scale->add_option("replicas", inv->replicas, "replicas")
      ->required()
      ->check(CLI::NonNegativeNumber);

  CLI::App* restart =
      Command(app, inv, "restart", "Replace every instance of an app, one at a time");
  restart->add_option("app", inv->app, "app name")->required();

  CLI::App* rollback =
      Command(app, inv, "rollback",
              "Go back to an earlier revision's spec (as a new revision) and follow that rollout");
  rollback->add_option("app", inv->app, "app name")->required();
  rollback
      ->add_option("--to", inv->to_revision,
                   "revision to go back to (default: the newest earlier one that was healthy, "
                   "else the one before)")
      ->check(CLI::PositiveNumber);
  AddFollowOptions(rollback, inv);

  CLI::App* promote =
      Command(app, inv, "promote",
              "Move a canary rollout waiting at its canary step on to the rest of the instances, "
              "and follow it (exit 1 with an explanation when no canary waits)");
  promote->add_option("app", inv->app, "app name")->required();
  AddFollowOptions(promote, inv);

  CLI::App* del = Command(app, inv, "delete", "Delete an app: its instances are stopped");
  del->add_option("app", inv->app, "app name")->required();

  CLI::App* logs = Command(app, inv, "logs", "Show an app's logs, merged over its instances");
  logs->add_option("app", inv->app, "app name")->required();
  logs->add_flag("-f,--follow", inv->follow, "keep printing new lines");
  logs->add_option("--tail", inv->tail, "lines per instance to start with")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();

  CLI::App* metrics = Command(app, inv, "metrics",
                              "Show an app's metrics: a row per step (requests and 5xx a "
                              "second, p50/p95/p99 latency, cpu, memory) under sparklines; -f "
                              "follows the live figures");
  metrics->add_option("app", inv->app, "app name")->required();
  metrics->add_option("--since", inv->metrics_since, "from this long ago (1h, 7d) or this time")
      ->capture_default_str();
  metrics->add_option("--until", inv->metrics_until,
                      "up to this long ago or this time (default: now)");
  metrics->add_option("--step", inv->metrics_step,
                      "a point every STEP, whole minutes (default: at most 300 points)");
  metrics->add_flag("-f,--follow", inv->follow, "print the live figures every 5 s");

  CLI::App* events = Command(app, inv, "events", "Show the event trail");
  events->add_flag("-f,--follow", inv->follow, "keep printing new events");
  events->add_option("--app", inv->event_app, "only this app's events");
  events->add_option("--since", inv->since, "only events after this id")
      ->check(CLI::NonNegativeNumber);

  CLI::App* audit = Command(app, inv, "audit",
                            "Show the audit trail (admin): who changed what through the API, "
                            "and every refused request");
  audit->add_option("--since", inv->audit_since,
                    "only entries this recent (1h, 7d) or since a time");
  audit->add_option("--who", inv->who, "only this token's or user's entries");
  audit->add_option("--app", inv->event_app, "only this app's entries");
  audit->add_flag("-f,--follow", inv->follow, "keep printing new entries");

  CLI::App* nodes = Command(app, inv, "nodes", "List nodes");
  // A subcommand's callback runs before its parent's: the parent keeps the
  // more specific command.
  nodes->callback([inv] {
    if (inv->command.empty()) inv->command = "nodes";
  });
  CLI::App* join = nodes->add_subcommand(
      "join-token",
      "Make a join token and print it: `skiff agent --join-token T` adds a machine with it");
  AddCommonOptions(join, inv);
  join->callback([inv] { inv->command = "nodes join-token"; });
  Command(app, inv, "traffic",
          "Show each app's traffic at the edges: requests and errors a second, latency");
  Command(app, inv, "servers",
          "List the servers sharing the control plane's store: which one leads (and its "
          "epoch), their addresses and when each was last seen");

  CLI::App* certs = Command(app, inv, "certs",
                            "List the TLS certificates the edges serve: domain, issuer, "
                            "not-after, source (manual or acme) and the last renewal error");
  certs->callback([inv] {
    if (inv->command.empty()) inv->command = "certs";
  });
  CLI::App* certs_add = certs->add_subcommand(
      "add",
      "Keep a certificate and its key for a domain (wildcards allowed: '*.example.com'); the "
      "server checks them (the key matches, not expired, the domain among its names) and the "
      "edges serve it for the apps at that domain");
  AddCommonOptions(certs_add, inv);
  certs_add->add_option("--domain", inv->domain, "the domain: web.com or '*.web.com'")->required();
  certs_add->add_option("--cert", inv->cert_file, "PEM file: the certificate, then its chain")
      ->required();
  certs_add->add_option("--key", inv->key_file, "PEM file: its private key")->required();
  certs_add->callback([inv] { inv->command = "certs add"; });
  CLI::App* certs_remove = certs->add_subcommand(
      "remove", "Forget the certificate of a domain: the edges stop serving it");
  AddCommonOptions(certs_remove, inv);
  certs_remove->add_option("domain", inv->domain, "its domain, as listed")->required();
  certs_remove->callback([inv] { inv->command = "certs remove"; });

  CLI::App* tokens = Command(app, inv, "tokens",
                             "List the API tokens: name, role, projects, created, expires, last "
                             "used (never the tokens themselves)");
  tokens->callback([inv] {
    if (inv->command.empty()) inv->command = "tokens";
  });
  CLI::App* tokens_create = tokens->add_subcommand(
      "create",
      "Make an API token and print it (shown once: only its hash is kept). Roles: admin "
      "(everything), deployer (apply, scale, restart, rollback, promote, delete, logs and "
      "secrets in its projects), viewer (read and logs in its projects)");
  AddCommonOptions(tokens_create, inv);
  tokens_create->add_option("name", inv->name, "the token's name (a DNS label)")->required();
  tokens_create
      ->add_option("--role", inv->role, "admin, deployer or viewer (an edge's: skiff edges token)")
      ->required();
  tokens_create->add_option("--project", inv->projects,
                            "a project it acts in (deployer, viewer; repeat for several)");
  tokens_create->add_option("--expires", inv->expires,
                            "its lifetime, e.g. 90d or 12h (default: it does not expire)");
  tokens_create->callback([inv] { inv->command = "tokens create"; });
  CLI::App* tokens_revoke =
      tokens->add_subcommand("revoke", "Revoke an API token: every server refuses it from then on");
  AddCommonOptions(tokens_revoke, inv);
  tokens_revoke->add_option("name", inv->name, "the token's name, as listed")->required();
  tokens_revoke->callback([inv] { inv->command = "tokens revoke"; });

  CLI::App* projects = Command(app, inv, "projects",
                               "List the projects (those you have a role in); every app is in "
                               "one (`project:` in its spec, default \"default\")");
  projects->callback([inv] {
    if (inv->command.empty()) inv->command = "projects";
  });
  CLI::App* projects_create = projects->add_subcommand("create", "Make a project (admin)");
  AddCommonOptions(projects_create, inv);
  projects_create->add_option("name", inv->name, "the project's name (a DNS label)")->required();
  projects_create->callback([inv] { inv->command = "projects create"; });
  CLI::App* projects_delete = projects->add_subcommand("delete", "Delete an empty project (admin)");
  AddCommonOptions(projects_delete, inv);
  projects_delete->add_option("name", inv->name, "the project's name")->required();
  projects_delete->callback([inv] { inv->command = "projects delete"; });

  CLI::App* edges = app.add_subcommand("edges", "Standalone edges' credentials");
  edges->require_subcommand(1);
  CLI::App* edges_token = edges->add_subcommand(
      "token",
      "Make an edge token and print it: `skiff edge --token T` routes with it (routes, "
      "certificates, traffic reports; nothing else)");
  AddCommonOptions(edges_token, inv);
  edges_token->add_option("name", inv->name, "the token's name (a DNS label)")->required();
  edges_token->add_option("--expires", inv->expires,
                          "its lifetime, e.g. 365d (default: it does not expire)");
  edges_token->callback([inv] { inv->command = "edges token"; });

  AddSecretsCommands(app, inv);

  CLI::App* drain = Command(app, inv, "drain", "Drain a node: its instances move elsewhere");
  drain->add_option("node", inv->node, "node id")->required();
  AddUserCommands(app, inv);
}

int RunCli(int argc, char** argv) {
  CLI::App app{"skiff: deploy and run apps"};
  app.require_subcommand(1);
  Invocation inv;
  AddClientCommands(app, &inv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // usage errors exit 2
  }
  return RunClientCommand(inv, std::cout, std::cerr);
}

}  // namespace skiff::cli
