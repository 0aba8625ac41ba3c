// The client commands: each one a few calls and a printout.
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/cli.h"
#include "cli/table.h"
#include "model/yaml_json.h"

namespace skiff::cli {
namespace json = boost::json;
namespace {

std::string Str(const json::value& v, std::string_view key) {
  const json::object* o = v.if_object();
  if (o == nullptr) return {};
  const json::value* f = o->if_contains(key);
  if (f == nullptr) return {};
  if (f->is_string()) return std::string(f->as_string());
  if (f->is_null()) return {};
  return json::serialize(*f);
}

int64_t Int(const json::value& v, std::string_view key) {
  const json::object* o = v.if_object();
  const json::value* f = o != nullptr ? o->if_contains(key) : nullptr;
  if (f == nullptr) return 0;
  if (f->is_int64()) return f->as_int64();
  if (f->is_uint64()) return static_cast<int64_t>(f->as_uint64());
  if (f->is_double()) return static_cast<int64_t>(f->as_double());
  return 0;
}

const json::array& Array(const json::value& v, std::string_view key) {
  static const json::array kEmpty;
  const json::object* o = v.if_object();
  const json::value* f = o != nullptr ? o->if_contains(key) : nullptr;
  return f != nullptr && f->is_array() ? f->as_array() : kEmpty;
}

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
    if (c == "delete") return Simple("DELETE", "", "deleting");
    if (c == "logs") return Logs();
    if (c == "events") return Events();
    if (c == "nodes") return Nodes();
    if (c == "traffic") return Traffic();
    if (c == "drain") return Drain();
    if (c == "nodes join-token") return JoinToken();
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

  int Apply() {
    std::string text;
    if (env_.read_file) {
      text = env_.read_file(inv_.file);
    } else {
      std::ifstream in(inv_.file);
      if (!in) {
        err_ << "error: cannot read " << inv_.file << "\n";
        return 1;
      }
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
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

  // Polls the app and its deployment until the revision settles.
  int FollowRollout(const std::string& name, int64_t revision) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(inv_.timeout_seconds);
    std::string last_line;
    while (true) {
      auto app = client_->Call("GET", "/v1/apps/" + name);
      if (!app) return Fail(app.error());
      auto deployments = client_->Call("GET", "/v1/apps/" + name + "/deployments");
      if (!deployments) return Fail(deployments.error());
      std::string state = "pending";
      std::string message;
      for (const json::value& d : Array(deployments->body, "deployments")) {
        if (Int(d, "revision") == revision) {
          state = Str(d, "state");
          message = Str(d, "message");
        }
      }
      const json::value& status =
          app->body.as_object().contains("status") ? app->body.at("status") : app->body;
      std::string line =
          fmt::format("{}: {}/{} healthy (revision {} {})", name, Int(status, "healthy"),
                      Int(status, "desired"), revision, state);
      if (line != last_line && !Json()) out_ << line << "\n";
      last_line = line;
      if (state == "healthy") {
        if (!Json()) out_ << fmt::format("{}: revision {} is healthy\n", name, revision);
        return 0;
      }
      if (state == "failed" || state == "rolled_back" || state == "superseded") {
        err_ << fmt::format("{}: revision {} {}{}\n", name, revision, state,
                            message.empty() ? "" : ": " + message);
        return 1;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        err_ << fmt::format(
            "{}: revision {} not healthy after {}s (still {}); see `skiff status {}` and "
            "`skiff logs {}`\n",
            name, revision, inv_.timeout_seconds, state, name, name);
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
    out_ << fmt::format("replicas:  {} desired, {} running, {} healthy\n", Int(s, "desired"),
                        Int(s, "running"), Int(s, "healthy"));
    out_ << "\ninstances:\n";
    Table it({"ID", "REVISION", "NODE", "STATE", "HEALTH", "ADDRESS", "RESTARTS", "CPU", "MEMORY",
              "MESSAGE"});
    for (const json::value& i : Array(instances->body, "instances")) {
      // Resource figures appear once the agent has sampled the instance.
      const bool sampled = i.as_object().contains("memory_bytes");
      it.AddRow({Str(i, "id"), std::to_string(Int(i, "revision")), Str(i, "node"), Str(i, "state"),
                 Str(i, "health"), Str(i, "address"), std::to_string(Int(i, "restarts")),
                 sampled ? fmt::format("{}m", Int(i, "cpu_millis")) : "-",
                 sampled ? Bytes(Int(i, "memory_bytes")) : "-", Str(i, "message")});
    }
    out_ << (it.rows() == 0 ? "  (none)\n" : it.Render());
    out_ << "\ndeployments:\n";
    Table dt({"REVISION", "STATE", "CREATED", "MESSAGE"});
    const json::array& ds = Array(deployments->body, "deployments");
    // The five most recent, newest first.
    for (size_t n = 0; n < ds.size() && n < 5; ++n) {
      const json::value& d = ds[ds.size() - 1 - n];
      dt.AddRow({std::to_string(Int(d, "revision")), Str(d, "state"), Str(d, "created_at"),
                 Str(d, "message")});
    }
    out_ << (dt.rows() == 0 ? "  (none)\n" : dt.Render());
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
    if (PrintedJson(*reply)) return 0;
    out_ << fmt::format("{}: rolled back to {} as revision {}\n", inv_.app,
                        inv_.to_revision > 0 ? fmt::format("revision {}", inv_.to_revision)
                                             : std::string("the previous revision"),
                        Int(reply->body, "revision"));
    return 0;
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

  const Invocation& inv_;
  std::ostream& out_;
  std::ostream& err_;
  const RunEnv& env_;
  ApiClient* client_;
};

std::string ReadLocalToken() {
  std::ifstream in(kLocalTokenFile);
  std::string token;
  if (in) std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  return token;
}

}  // namespace

int RunClientCommand(const Invocation& inv, std::ostream& out, std::ostream& err,
                     const RunEnv& env) {
  std::string token = inv.options.token.empty() ? ReadLocalToken() : inv.options.token;
  std::unique_ptr<Transport> owned;
  Transport* transport = env.transport;
  if (transport == nullptr) {
    owned = std::make_unique<HttpTransport>(inv.options.addr);
    transport = owned.get();
  }
  ApiClient client(transport, token);
  return Runner(inv, out, err, env, &client).Run();
}

}  // namespace skiff::cli
