// The client commands: each one a few calls and a printout.
#include <fmt/format.h>

#include <algorithm>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/cli.h"
#include "cli/credentials.h"
#include "cli/json_fields.h"
#include "cli/metrics_command.h"
#include "cli/rollout.h"
#include "cli/table.h"
#include "cli/user_commands.h"
#include "model/yaml_json.h"
#include "net/join_token.h"

namespace skiff::cli {
namespace json = boost::json;
namespace {

// "1.5Gi", "512Mi", "0" — memory for humans.
std::string Bytes(int64_t b) {
  constexpr int64_t kGi = int64_t{1} << 30;
  constexpr int64_t kMi = int64_t{1} << 20;
  if (b >= kGi) return fmt::format("{:.1f}Gi", static_cast<double>(b) / kGi);
  if (b >= kMi) return fmt::format("{}Mi", b / kMi);
  return std::to_string(b);
}

// An app name from a spec file, for the URL (the server checks the rest).
Result<std::string> SpecName(const std::string& text, bool is_json, const std::string& file) {
  json::value doc;
  if (is_json) {
    boost::system::error_code ec;
    doc = json::parse(text, ec);
    if (ec) return InvalidArgument(fmt::format("{}: not JSON: {}", file, ec.message()));
  } else {
    SKIFF_ASSIGN_OR_RETURN(doc,
                           model::YamlToJson(text, [](const model::YamlPath&) { return true; }));
  }
  std::string name = Str(doc, "name");
  if (name.empty()) {
    return InvalidArgument(fmt::format("{}: the spec has no `name:`; add one", file), "name");
  }
  return name;
}

class Runner {
 public:
  Runner(const Invocation& inv, std::ostream& out, std::ostream& err, const RunEnv& env,
         ApiClient* client)
      : inv_(inv), out_(out), err_(err), env_(env), client_(client) {}

  int Run() {
    const std::string& c = inv_.command;
    if (c == "apply") return Apply();
    if (c == "apps") return Apps();
    if (c == "status") return ShowStatus();
    if (c == "scale") return Scale();
    if (c == "restart") return Simple("POST", "/restart", "restarting");
    if (c == "rollback") return Rollback();
    if (c == "promote") return Promote();
    if (c == "deployments") return Deployments();
    if (c == "delete") return Simple("DELETE", "", "deleting");
    if (c == "logs") return Logs();
    if (c == "events") return Events();
    if (c == "nodes") return Nodes();
    if (c == "servers") return Servers();
    if (c == "traffic") return Traffic();
    if (c == "metrics") return RunMetrics(inv_, client_, out_, err_);
    if (c == "drain") return Drain();
    if (c == "nodes join-token") return JoinToken();
    if (c == "certs") return Certs();
    if (c == "certs add") return AddCert();
    if (c == "certs remove") return RemoveCert();
    if (c == "audit") return AuditTrail();
    if (c == "tokens") return Tokens();
    if (c == "tokens create") return CreateToken(inv_.role, inv_.projects);
    if (c == "tokens revoke") return RevokeToken();
    if (c == "edges token") return CreateToken("edge", {});
    if (c == "projects") return Projects();
    if (c == "projects create") return CreateProject();
    if (c == "projects delete") return DeleteProject();
    if (c == "secrets") return Secrets();
    if (c == "secrets set") return SetSecret();
    if (c == "secrets unset") return UnsetSecret();
    err_ << "unknown command \"" << c << "\"; see skiff --help\n";
    return 2;
  }

 private:
  bool Json() const { return inv_.options.output == "json"; }
  std::string AppPath() const { return "/v1/apps/" + inv_.app; }

  int Fail(const Error& e) {
    err_ << "error: " << Explain(e, inv_.options.addr) << "\n";
    return 1;
  }

  // Prints the reply as JSON for -o json; returns true when it did.
  bool PrintedJson(const Reply& r) {
    if (!Json()) return false;
    out_ << (r.body.is_null() ? r.text : json::serialize(r.body)) << "\n";
    return true;
  }

  void Sleep() {
    if (env_.sleep) {
      env_.sleep(env_.poll_interval);
    } else {
      std::this_thread::sleep_for(env_.poll_interval);
    }
  }

  // The file's text; false (said on err_) when it cannot be read.
  bool ReadFile(const std::string& path, std::string& text) {
    if (env_.read_file) {
      text = env_.read_file(path);
      return true;
    }
    std::ifstream in(path);
    if (!in) {
      err_ << "error: cannot read " << path << "\n";
      return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    return true;
  }

  int Apply() {
    std::string text;
    if (!ReadFile(inv_.file, text)) return 1;
    bool is_json = inv_.file.size() >= 5 && inv_.file.substr(inv_.file.size() - 5) == ".json";
    auto name = SpecName(text, is_json, inv_.file);
    if (!name) {
      err_ << "error: " << name.error().message << "\n";
      return 1;
    }
    auto reply = client_->Call("PUT", "/v1/apps/" + *name, text,
                               is_json ? "application/json" : "application/yaml");
    if (!reply) return Fail(reply.error());
    int64_t revision = Int(reply->body, "revision");
    bool created = reply->status == 201;
    if (Json()) {
      PrintedJson(*reply);
    } else if (created) {
      out_ << fmt::format("{}: revision {} created\n", *name, revision);
    } else {
      out_ << fmt::format("{}: unchanged (revision {})\n", *name, revision);
    }
    if (!created || inv_.detach) return 0;
    return FollowRollout(*name, revision);
  }

  std::chrono::steady_clock::time_point Now() const {
    return env_.now ? env_.now() : std::chrono::steady_clock::now();
  }

  // Polls the app's deployments and instances until revision N settles,
  // printing a progress line whenever it changes (not for -o json). Exit code:
  // 0 healthy; 1 failed, rolled back, superseded, or --timeout passed.
  int FollowRollout(const std::string& name, int64_t revision) {
    const auto deadline = Now() + std::chrono::seconds(inv_.timeout_seconds);
    const std::string app_path = "/v1/apps/" + name;
    std::string last_line;
    bool hinted = false;
    while (true) {
      auto deployments = client_->Call("GET", app_path + "/deployments");
      if (!deployments) return Fail(deployments.error());
      auto instances = client_->Call("GET", app_path + "/instances");
      if (!instances) return Fail(instances.error());
      // An autoscaled app runs the autoscaler's count: the app's status says it.
      json::value app_view;
      if (NeedsAppView(revision, deployments->body)) {
        auto got = client_->Call("GET", app_path);
        if (!got) return Fail(got.error());
        app_view = std::move(got->body);
      }
      RolloutView view = ViewRollout(name, revision, deployments->body, instances->body, app_view);
      if (!Json() && view.progress != last_line) {
        out_ << view.progress << "\n";
        out_.flush();
      }
      last_line = view.progress;
      if (view.outcome != RolloutOutcome::kWaiting) {
        (view.outcome == RolloutOutcome::kHealthy ? out_ : err_) << view.verdict << "\n";
        return ExitCode(view.outcome);
      }
      if (view.awaiting_promotion && !hinted && !Json()) {
        out_ << PromoteHint(name) << "\n";
        out_.flush();
        hinted = true;
      }
      if (Now() >= deadline) {
        if (view.awaiting_promotion) {
          err_ << fmt::format(
              "{}: revision {} still waits for `skiff promote {}` after {}s; the canary keeps "
              "running\n",
              name, revision, name, inv_.timeout_seconds);
        } else {
          err_ << fmt::format(
              "{}: revision {} not healthy after {}s (still {}); see `skiff status {}` and "
              "`skiff logs {}`\n",
              name, revision, inv_.timeout_seconds, view.state, name, name);
        }
        return 1;
      }
      Sleep();
    }
  }

  int Apps() {
    auto reply = client_->Call("GET", "/v1/apps");
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    Table t({"NAME", "REVISION", "STATE", "DESIRED", "RUNNING", "HEALTHY", "DOMAINS"});
    for (const json::value& a : Array(reply->body, "apps")) {
      const json::value& s = a.at("status");
      std::string domains;
      if (const json::value* spec = a.as_object().if_contains("spec")) {
        for (const json::value& d : Array(*spec, "domains")) {
          if (!domains.empty()) domains += ",";
          domains += std::string(d.as_string());
        }
      }
      t.AddRow({Str(a, "name"), std::to_string(Int(a, "revision")), Str(s, "state"),
                std::to_string(Int(s, "desired")), std::to_string(Int(s, "running")),
                std::to_string(Int(s, "healthy")), domains});
    }
    if (t.rows() == 0) {
      out_ << "no apps yet; deploy one with `skiff apply -f app.yaml`\n";
      return 0;
    }
    out_ << t.Render();
    return 0;
  }

  int ShowStatus() {
    auto app = client_->Call("GET", AppPath());
    if (!app) return Fail(app.error());
    auto instances = client_->Call("GET", AppPath() + "/instances");
    if (!instances) return Fail(instances.error());
    auto deployments = client_->Call("GET", AppPath() + "/deployments");
    if (!deployments) return Fail(deployments.error());
    if (Json()) {
      json::object all{{"app", app->body},
                       {"instances", Array(instances->body, "instances")},
                       {"deployments", Array(deployments->body, "deployments")}};
      out_ << json::serialize(all) << "\n";
      return 0;
    }
    const json::value& s = app->body.at("status");
    out_ << fmt::format("app:       {}\n", Str(app->body, "name"));
    out_ << fmt::format("revision:  {}\n", Int(app->body, "revision"));
    out_ << fmt::format("state:     {}\n", Str(s, "state"));
    std::string desired = fmt::format("{} desired", Int(s, "desired"));
    if (const json::value* bounds = s.as_object().if_contains("autoscale")) {
      desired = fmt::format("{} (autoscaled, {}\u2013{})", Int(s, "desired"), Int(*bounds, "min"),
                            Int(*bounds, "max"));
    }
    out_ << fmt::format("replicas:  {}, {} running, {} healthy\n", desired, Int(s, "running"),
                        Int(s, "healthy"));
    out_ << "\ninstances:\n";
    const json::array& is = Array(instances->body, "instances");
    // TRAFFIC only while a rollout gives some instance another share than normal.
    const bool shares = std::any_of(is.begin(), is.end(), [](const json::value& i) {
      std::string traffic = Str(i, "traffic");
      return !traffic.empty() && traffic != "serve";
    });
    std::vector<std::string> headers{"ID",      "REVISION", "NODE", "STATE",  "HEALTH",
                                     "ADDRESS", "RESTARTS", "CPU",  "MEMORY", "MESSAGE"};
    if (shares) headers.insert(headers.begin() + 5, "TRAFFIC");
    Table it(headers);
    for (const json::value& i : is) {
      // Resource figures appear once the agent has sampled the instance.
      const bool sampled = i.as_object().contains("memory_bytes");
      std::vector<std::string> row{Str(i, "id"),
                                   std::to_string(Int(i, "revision")),
                                   Str(i, "node"),
                                   Str(i, "state"),
                                   Str(i, "health"),
                                   Str(i, "address"),
                                   std::to_string(Int(i, "restarts")),
                                   sampled ? fmt::format("{}m", Int(i, "cpu_millis")) : "-",
                                   sampled ? Bytes(Int(i, "memory_bytes")) : "-",
                                   Str(i, "message")};
      if (shares) row.insert(row.begin() + 5, Str(i, "traffic"));
      it.AddRow(std::move(row));
    }
    out_ << (it.rows() == 0 ? "  (none)\n" : it.Render());
    out_ << "\ndeployments:\n";
    out_ << DeploymentsTable(Array(deployments->body, "deployments"), 5);
    return 0;
  }

  int Scale() {
    auto reply = client_->Call("POST", AppPath() + "/scale",
                               json::serialize(json::object{{"replicas", inv_.replicas}}));
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    if (reply->status == 201) {
      out_ << fmt::format("{}: scaled to {} (revision {})\n", inv_.app, inv_.replicas,
                          Int(reply->body, "revision"));
    } else {
      out_ << fmt::format("{}: already at {} replicas\n", inv_.app, inv_.replicas);
    }
    return 0;
  }

  int Rollback() {
    std::string body;
    if (inv_.to_revision > 0) body = json::serialize(json::object{{"revision", inv_.to_revision}});
    auto reply = client_->Call("POST", AppPath() + "/rollback", body);
    if (!reply) return Fail(reply.error());
    const int64_t revision = Int(reply->body, "revision");
    if (!PrintedJson(*reply)) {
      out_ << fmt::format("{}: rolling back to {} as revision {}\n", inv_.app,
                          inv_.to_revision > 0 ? fmt::format("revision {}", inv_.to_revision)
                                               : std::string("the previous revision"),
                          revision);
    }
    if (inv_.detach) return 0;
    return FollowRollout(inv_.app, revision);
  }

  int Promote() {
    auto reply = client_->Call("POST", AppPath() + "/promote");
    if (!reply) {
      int code = Fail(reply.error());
      if (reply.error().code == ErrorCode::kFailedPrecondition) {
        err_ << fmt::format(
            "`skiff promote` moves a canary rollout that waits at its canary step on to the "
            "rest of the instances; `skiff deployments {}` shows the app's rollouts\n",
            inv_.app);
      }
      return code;
    }
    const int64_t revision = Int(reply->body, "revision");
    if (!PrintedJson(*reply)) {
      out_ << fmt::format("{}: revision {} promoted: the rest of its instances roll out now\n",
                          inv_.app, revision);
    }
    if (inv_.detach) return 0;
    return FollowRollout(inv_.app, revision);
  }

  // Newest first; -o json is the server's answer (oldest first).
  int Deployments() {
    auto reply = client_->Call("GET", AppPath() + "/deployments");
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    const json::array& ds = Array(reply->body, "deployments");
    out_ << (ds.empty() ? "no deployments\n" : DeploymentsTable(ds, ds.size()));
    return 0;
  }

  // The `limit` newest of `ds` (oldest first), newest first.
  static std::string DeploymentsTable(const json::array& ds, size_t limit) {
    std::vector<const json::value*> sorted;
    for (const json::value& d : ds) sorted.push_back(&d);
    std::stable_sort(sorted.begin(), sorted.end(), [](const json::value* a, const json::value* b) {
      return Int(*a, "revision") > Int(*b, "revision");
    });
    Table t({"REVISION", "STATE", "CREATED", "MESSAGE"});
    for (size_t n = 0; n < sorted.size() && n < limit; ++n) {
      const json::value& d = *sorted[n];
      t.AddRow({std::to_string(Int(d, "revision")), Str(d, "state"), Str(d, "created_at"),
                Str(d, "message")});
    }
    return t.rows() == 0 ? "  (none)\n" : t.Render();
  }

  int Simple(const char* method, const std::string& suffix, const char* done) {
    auto reply = client_->Call(method, AppPath() + suffix);
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    out_ << fmt::format("{}: {}\n", inv_.app, done);
    return 0;
  }

  int Logs() {
    std::string path =
        fmt::format("{}/logs?tail={}{}", AppPath(), inv_.tail, inv_.follow ? "&follow=true" : "");
    skiff::Status s = client_->StreamLines(path, [&](std::string_view line) {
      out_ << line << "\n";
      out_.flush();
      return true;
    });
    return s ? 0 : Fail(s.error());
  }

  std::string EventLine(const json::value& e) {
    std::string app = Str(e, "app");
    return fmt::format("{}  {}  {}{}", Str(e, "time"), Str(e, "kind"),
                       app.empty() ? "" : app + ": ", Str(e, "message"));
  }

  int Events() {
    std::string query = fmt::format("since={}", inv_.since);
    if (!inv_.event_app.empty()) query += "&app=" + inv_.event_app;
    if (inv_.follow) {
      skiff::Status s =
          client_->StreamLines("/v1/events?" + query + "&follow=true", [&](std::string_view line) {
            if (line.empty()) return true;
            if (Json()) {
              out_ << line << "\n";
            } else {
              boost::system::error_code ec;
              json::value e = json::parse(line, ec);
              if (!ec && e.is_object() && e.as_object().contains("error")) {
                // The server ended the stream, saying why.
                err_ << "error: " << Str(e.at("error"), "message") << "\n";
                return false;
              }
              out_ << (ec ? std::string(line) : EventLine(e)) << "\n";
            }
            out_.flush();
            return true;
          });
      return s ? 0 : Fail(s.error());
    }
    auto reply = client_->Call("GET", "/v1/events?" + query);
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    Table t({"ID", "TIME", "APP", "KIND", "MESSAGE"});
    for (const json::value& e : Array(reply->body, "events")) {
      t.AddRow({std::to_string(Int(e, "id")), Str(e, "time"), Str(e, "app"), Str(e, "kind"),
                Str(e, "message")});
    }
    out_ << (t.rows() == 0 ? "no events\n" : t.Render());
    return 0;
  }

  // `text` as a query parameter's value (percent-encoded: a time's '+').
  static std::string QueryValue(const std::string& text) {
    return boost::urls::encode(text, boost::urls::unreserved_chars);
  }

  static std::string AuditLine(const json::value& e) {
    return fmt::format("{}  {} {} ({}) from {}  {} {}  {}{}", Str(e, "time"), Str(e, "who"),
                       Str(e, "credential"), Str(e, "role"), Str(e, "source"), Str(e, "method"),
                       Str(e, "path"), Int(e, "code"),
                       Str(e, "app").empty() ? "" : "  app " + Str(e, "app"));
  }

  int AuditTrail() {
    std::string query = "limit=1000";
    if (!inv_.audit_since.empty()) query += "&since=" + QueryValue(inv_.audit_since);
    if (!inv_.who.empty()) query += "&who=" + QueryValue(inv_.who);
    if (!inv_.event_app.empty()) query += "&app=" + QueryValue(inv_.event_app);
    if (inv_.follow) {
      skiff::Status s =
          client_->StreamLines("/v1/audit?" + query + "&follow=true", [&](std::string_view line) {
            if (line.empty()) return true;
            boost::system::error_code ec;
            json::value e = json::parse(line, ec);
            out_ << (Json() || ec ? std::string(line) : AuditLine(e)) << "\n";
            out_.flush();
            return true;
          });
      return s ? 0 : Fail(s.error());
    }
    auto reply = client_->Call("GET", "/v1/audit?" + query);
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    Table t({"TIME", "WHO", "ROLE", "SOURCE", "METHOD", "PATH", "CODE", "REQUEST"});
    for (const json::value& e : Array(reply->body, "entries")) {
      t.AddRow({Str(e, "time"), Str(e, "who"), Str(e, "role"), Str(e, "source"), Str(e, "method"),
                Str(e, "path"), std::to_string(Int(e, "code")), Str(e, "request_id")});
    }
    out_ << (t.rows() == 0 ? "no audit entries\n" : t.Render());
    return 0;
  }

  int Nodes() {
    auto reply = client_->Call("GET", "/v1/nodes");
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    Table t({"ID", "NAME", "ADDRESS", "STATUS", "DRIVERS", "CPU", "MEMORY", "REGION", "LABELS"});
    for (const json::value& n : Array(reply->body, "nodes")) {
      const json::value& cap = n.at("capacity");
      const json::value& alloc = n.at("allocated");
      std::string labels;
      if (const json::object* l = n.at("labels").if_object()) {
        for (const auto& kv : *l) {
          if (!labels.empty()) labels += ",";
          labels += std::string(kv.key()) + "=" + Str(*l, kv.key());
        }
      }
      std::string drivers;
      for (const json::value& d : Array(n, "drivers")) {
        if (!d.is_string()) continue;
        if (!drivers.empty()) drivers += ",";
        drivers += std::string(d.get_string());
      }
      t.AddRow({Str(n, "id"), Str(n, "name"), Str(n, "address"), Str(n, "status"), drivers,
                fmt::format("{}/{}m", Int(alloc, "cpu"), Int(cap, "cpu")),
                fmt::format("{}/{}", Bytes(Int(alloc, "memory")), Bytes(Int(cap, "memory"))),
                Str(n, "region"), labels});
    }
    out_ << (t.rows() == 0 ? "no nodes\n" : t.Render());
    // What each node can and cannot enforce, said where the operator looks.
    for (const json::value& n : Array(reply->body, "nodes")) {
      if (!Str(n, "notes").empty())
        out_ << fmt::format("{}: {}\n", Str(n, "name"), Str(n, "notes"));
    }
    return 0;
  }

  int Servers() {
    auto reply = client_->Call("GET", "/v1/servers");
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    Table t({"ID", "ADDRESS", "LEADER", "EPOCH", "LAST SEEN", "VERSION"});
    for (const json::value& s : Array(reply->body, "servers")) {
      const bool leads = Bool(s, "leader");
      t.AddRow({Str(s, "id"), Str(s, "address"), leads ? "yes" : "no",
                leads ? std::to_string(Int(s, "epoch")) : "-", Str(s, "last_seen"),
                Str(s, "version")});
    }
    out_ << (t.rows() == 0 ? "no servers\n" : t.Render());
    return 0;
  }

  int Traffic() {
    auto reply = client_->Call("GET", "/v1/traffic");
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    const json::value& doc = reply->body;
    Table t({"APP", "REQ/S", "5XX/S", "P50", "P95", "P99", "IN-FLIGHT", "EDGES"});
    const json::value* apps_value =
        doc.is_object() ? doc.get_object().if_contains("apps") : nullptr;
    if (const json::object* apps = apps_value != nullptr ? apps_value->if_object() : nullptr) {
      for (const auto& [name, a] : *apps) {
        const json::value& latency = a.at("latency_ms");
        auto number = [](const json::value& v) {
          return v.is_double() ? v.get_double() : v.to_number<double>();
        };
        t.AddRow({std::string(name), fmt::format("{:.1f}", number(a.at("requests_per_second"))),
                  fmt::format("{:.1f}", number(a.at("errors_per_second"))),
                  fmt::format("{:.1f}ms", number(latency.at("p50"))),
                  fmt::format("{:.1f}ms", number(latency.at("p95"))),
                  fmt::format("{:.1f}ms", number(latency.at("p99"))),
                  std::to_string(a.at("in_flight").to_number<int64_t>()),
                  std::to_string(a.at("edges").to_number<int64_t>())});
      }
    }
    out_ << (t.rows() == 0 ? "no traffic reported by any edge in the last 30s\n" : t.Render());
    return 0;
  }

  int Drain() {
    auto reply = client_->Call("POST", "/v1/nodes/" + inv_.node + "/drain");
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    out_ << fmt::format("{}: draining\n", inv_.node);
    return 0;
  }

  // Prints the token alone, for `T=$(skiff nodes join-token)`.
  int JoinToken() {
    auto reply = client_->Call("POST", "/v1/join-tokens");
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    const json::object* o = reply->body.if_object();
    const json::value* token = o != nullptr ? o->if_contains("token") : nullptr;
    if (token == nullptr || !token->is_string()) {
      err_ << "error: the server answered no token\n";
      return 1;
    }
    out_ << token->get_string().c_str() << "\n";
    return 0;
  }

  int Certs() {
    auto reply = client_->Call("GET", "/v1/certificates");
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    Table t({"DOMAIN", "ISSUER", "NOT AFTER", "SOURCE", "LAST ERROR"});
    for (const json::value& c : Array(reply->body, "certificates")) {
      t.AddRow({Str(c, "domain"), Str(c, "issuer"), Str(c, "not_after"), Str(c, "source"),
                Str(c, "last_error")});
    }
    out_ << (t.rows() == 0 ? "no certificates\n" : t.Render());
    return 0;
  }

  // The files are read here and sent in the body: the server need not see
  // the client's disk (the key travels as the API's traffic does).
  int AddCert() {
    std::string cert;
    std::string key;
    if (!ReadFile(inv_.cert_file, cert) || !ReadFile(inv_.key_file, key)) return 1;
    const json::object body{{"domain", inv_.domain}, {"cert", cert}, {"key", key}};
    auto reply = client_->Call("POST", "/v1/certificates", json::serialize(body));
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    out_ << fmt::format("{}: certificate kept (issuer {}, valid until {})\n",
                        Str(reply->body, "domain"), Str(reply->body, "issuer"),
                        Str(reply->body, "not_after"));
    return 0;
  }

  int RemoveCert() {
    auto reply = client_->Call("DELETE", "/v1/certificates/" + inv_.domain);
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    out_ << fmt::format("{}: certificate removed\n", inv_.domain);
    return 0;
  }

  int Tokens() {
    auto reply = client_->Call("GET", "/v1/tokens");
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    Table t({"NAME", "ROLE", "PROJECTS", "CREATED", "EXPIRES", "LAST USED"});
    for (const json::value& token : Array(reply->body, "tokens")) {
      std::string projects;
      for (const json::value& p : Array(token, "projects")) {
        projects += (projects.empty() ? "" : ",") + std::string(p.as_string());
      }
      const std::string role = Str(token, "role");
      if (projects.empty()) projects = role == "admin" ? "*" : "-";
      t.AddRow({Str(token, "name"), role, projects, Str(token, "created_at"),
                Or(Str(token, "expires_at"), "never"), Or(Str(token, "last_used_at"), "never")});
    }
    out_ << (t.rows() == 0 ? "no tokens\n" : t.Render());
    return 0;
  }

  // Prints the token alone, for `T=$(skiff tokens create ...)`: it is shown once.
  int CreateToken(const std::string& role, const std::vector<std::string>& projects) {
    json::object body{{"name", inv_.name}, {"role", role}};
    json::array list;
    for (const std::string& p : projects) list.emplace_back(p);
    body["projects"] = std::move(list);
    if (!inv_.expires.empty()) body["expires"] = inv_.expires;
    auto reply = client_->Call("POST", "/v1/tokens", json::serialize(body));
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    const std::string token = Str(reply->body, "token");
    if (token.empty()) {
      err_ << "error: the server answered no token\n";
      return 1;
    }
    out_ << token << "\n";
    return 0;
  }

  int RevokeToken() {
    auto reply = client_->Call("DELETE", "/v1/tokens/" + inv_.name);
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    out_ << fmt::format("{}: revoked\n", inv_.name);
    return 0;
  }

  int Projects() {
    auto reply = client_->Call("GET", "/v1/projects");
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    Table t({"NAME", "CREATED"});
    for (const json::value& p : Array(reply->body, "projects")) {
      t.AddRow({Str(p, "name"), Str(p, "created_at")});
    }
    out_ << (t.rows() == 0 ? "no projects you have a role in\n" : t.Render());
    return 0;
  }

  int CreateProject() {
    const json::object body{{"name", inv_.name}};
    auto reply = client_->Call("POST", "/v1/projects", json::serialize(body));
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    out_ << fmt::format("{}: created\n", inv_.name);
    return 0;
  }

  int DeleteProject() {
    auto reply = client_->Call("DELETE", "/v1/projects/" + inv_.name);
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    out_ << fmt::format("{}: deleted\n", inv_.name);
    return 0;
  }

  static std::string Or(const std::string& value, const char* fallback) {
    return value.empty() ? fallback : value;
  }

  int Secrets() {
    auto reply = client_->Call("GET", AppPath() + "/secrets");
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    Table t({"KEY", "VERSION", "UPDATED"});
    for (const json::value& s : Array(reply->body, "secrets")) {
      t.AddRow({Str(s, "key"), std::to_string(Int(s, "version")), Str(s, "updated_at")});
    }
    out_ << (t.rows() == 0 ? fmt::format("{} has no secrets\n", inv_.app) : t.Render());
    return 0;
  }

  // The value is never printed, nor put in an error message: only its size.
  int SetSecret() {
    std::string value;
    if (!inv_.from_file.empty()) {
      if (!ReadFile(inv_.from_file, value)) return 1;
    } else if (env_.read_stdin) {
      value = env_.read_stdin();
    } else {
      std::stringstream ss;
      ss << std::cin.rdbuf();
      value = ss.str();
    }
    if (value.empty()) {
      err_ << "error: the value is empty: give it on stdin (`printf %s VALUE | skiff secrets set "
              "APP KEY`) or with --from-file\n";
      return 1;
    }
    auto reply = client_->Call("PUT", AppPath() + "/secrets/" + inv_.secret_key, value,
                               "application/octet-stream");
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    out_ << fmt::format("{}: secret {} set (version {}), revision {}\n", inv_.app, inv_.secret_key,
                        Int(reply->body, "version"), Int(reply->body, "revision"));
    return 0;
  }

  int UnsetSecret() {
    auto reply = client_->Call("DELETE", AppPath() + "/secrets/" + inv_.secret_key);
    if (!reply) return Fail(reply.error());
    if (PrintedJson(*reply)) return 0;
    out_ << fmt::format("{}: secret {} unset, revision {}\n", inv_.app, inv_.secret_key,
                        Int(reply->body, "revision"));
    return 0;
  }

  const Invocation& inv_;
  std::ostream& out_;
  std::ostream& err_;
  const RunEnv& env_;
  ApiClient* client_;
};

// The session of `skiff login`, else the admin token of a server whose data
// directory is here.
std::string ReadLocalToken(const RunEnv& env, std::ostream& err) {
  const std::string session_file = env.session_file.empty() ? SessionFilePath() : env.session_file;
  auto session = ReadSessionFile(session_file);
  if (!session) {
    err << "skiff: not using the session of `skiff login`: " << session.error().message << "\n";
  } else if (!session->empty()) {
    return *session;
  }
  std::ifstream in(kLocalTokenFile);
  std::string token;
  if (in) std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  return token;
}

}  // namespace

int RunClientCommand(const Invocation& inv, std::ostream& out, std::ostream& err,
                     const RunEnv& env) {
  std::string token = inv.options.token.empty() ? ReadLocalToken(env, err) : inv.options.token;
  // A login shows a password, not a token.
  if (inv.command == "login") token.clear();
  // The token (or password) would cross the network in clear to an http://
  // server off loopback: refuse before anything is sent.
  if (!token.empty() || inv.command == "login") {
    if (auto checked = net::TrustForSecrets(inv.options.addr, "", ""); !checked) {
      err << "skiff: " << checked.error().message << " (--addr, SKIFF_ADDR)\n";
      return 2;
    }
  }
  std::unique_ptr<Transport> owned;
  Transport* transport = env.transport;
  if (transport == nullptr) {
    // --ca, else the CA of a server whose data directory is here.
    std::string ca = inv.options.ca;
    if (ca.empty() && std::filesystem::exists(kLocalCaFile)) ca = kLocalCaFile;
    net::TlsTrust trust;
    if (!ca.empty()) {
      auto read = net::TlsTrust::FromCaFile(ca);
      if (!read) {
        err << "skiff: " << read.error().message << "\n";
        return 2;
      }
      trust = std::move(*read);
    }
    owned = std::make_unique<HttpTransport>(inv.options.addr, std::move(trust));
    transport = owned.get();
  }
  ApiClient client(transport, token);
  if (IsUserCommand(inv.command)) return RunUserCommand(inv, out, err, env, client, token);
  return Runner(inv, out, err, env, &client).Run();
}

}  // namespace skiff::cli
