// Handlers of /v1/apps: apply, read, delete, scale, restart, rollback, promote.
#include <fmt/format.h>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/request_util.h"
#include "auth/audit_scope.h"
#include "model/codec.h"
#include "model/spec_parse.h"
#include "model/yaml_json.h"

namespace skiff::api {
namespace json = boost::json;
namespace {

// Specs are small; anything larger is a mistake (a binary uploaded by accident).
constexpr size_t kMaxSpecBytes = 256 * 1024;

// YAML when the Content-Type says so (application/yaml, text/yaml, x-yaml);
// without a Content-Type, or with the form type curl sends by default, a body
// that does not start like a JSON object is taken as YAML, so
// `curl -X PUT --data-binary @app.yaml` works too.
bool IsYaml(const net::HttpRequest& request) {
  std::string_view type = request.Header("Content-Type");
  if (!type.empty() && !type.starts_with("application/x-www-form-urlencoded")) {
    return type.find("yaml") != std::string_view::npos;
  }
  size_t first = request.body.find_first_not_of(" \t\r\n");
  return first != std::string::npos && request.body[first] != '{';
}

json::value ApplyJson(const controller::ApplyResult& r) {
  return json::object{{"app", r.app}, {"revision", r.revision}, {"created", r.created}};
}

// 201 when a revision was written, 200 when the spec was already current.
net::HttpResponse ApplyReply(const Result<controller::ApplyResult>& r) {
  if (!r) return ErrorReply(r.error());
  return net::JsonResponse(r->created ? 201 : 200, ApplyJson(*r));
}

json::value AppViewJson(const controller::AppView& view) {
  json::value v = model::ToJson(view.app);
  json::object status{{"state", view.status.state},
                      {"desired", view.status.desired},
                      {"running", view.status.running},
                      {"healthy", view.status.healthy}};
  if (const auto& policy = view.app.spec.autoscale) {
    // `desired` is the autoscaler's count here, not the spec's replicas.
    status["autoscale"] = json::object{{"min", policy->scale_to_zero ? 0 : policy->min},
                                       {"max", policy->max},
                                       {"scale_to_zero", policy->scale_to_zero}};
  }
  v.as_object()["status"] = std::move(status);
  return v;
}

// Whether the top level of a YAML document is a mapping without a `name` key;
// only the structure matters here, so every scalar is kept as text.
bool YamlLacksName(const std::string& text) {
  auto doc = model::YamlToJson(text, [](const model::YamlPath&) { return true; });
  return doc && doc->is_object() && !doc->as_object().contains("name");
}

bool StartsWithBlockMapping(const std::string& text) {
  // The prepended "name:" line only joins a block mapping: not a flow mapping
  // ("{...}"), nor a document with directives or an explicit start ("%", "---").
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find('\n', i);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + i, end - i);
    size_t first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] != '#') {
      return first == 0 && line[0] != '{' && line[0] != '%' && line.substr(0, 3) != "---";
    }
    i = end + 1;
  }
  return false;
}

// Parses the body as a spec for the app named in the URL. The URL's name is
// authoritative: a spec without `name` takes it (so one file can be applied
// under the name in the URL, `curl -T spec.yaml .../v1/apps/hello`), a spec
// naming another app is refused (400, field "name") rather than silently
// applied to either name.
Result<model::AppSpec> ParseSpecFor(const std::string& url_name, const net::HttpRequest& request) {
  if (request.body.size() > kMaxSpecBytes) {
    return MakeError(ErrorCode::kResourceExhausted,
                     fmt::format("body: a spec is at most {} bytes", kMaxSpecBytes), "body");
  }
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return InvalidArgument("body: empty; send the app spec as JSON or YAML", "body");
  }
  if (IsYaml(request)) {
    if (YamlLacksName(request.body) && StartsWithBlockMapping(request.body)) {
      return model::ParseAppSpec("name: " + url_name + "\n" + request.body,
                                 model::SpecFormat::kYaml);
    }
    return model::ParseAppSpec(request.body, model::SpecFormat::kYaml);
  }
  boost::system::error_code ec;
  json::value doc = json::parse(request.body, ec);
  if (ec || !doc.is_object() || doc.as_object().contains("name")) {
    // The parser gives the precise error (line and column) for bad JSON.
    return model::ParseAppSpec(request.body, model::SpecFormat::kJson);
  }
  doc.as_object()["name"] = url_name;
  return model::ParseAppSpecJson(doc);
}

// Whether `caller` may put an app into the project `spec` names (and out of
// the one it is in: ApiServer::AppScopeRefusal checked that), and whether
// that project exists.
Status CheckProject(const ApiDeps& deps, const Caller& caller, const model::AppSpec& spec) {
  const std::string& project = spec.project;
  if (!caller.MayRead(project)) {  // as for a project that does not exist
    return tl::unexpected(Error{ErrorCode::kNotFound,
                                fmt::format("project: no project {} (skiff projects lists "
                                            "those you may use)",
                                            project),
                                "project"});
  }
  if (!caller.MayWrite(project)) {
    return tl::unexpected(
        Error{ErrorCode::kPermissionDenied,
              fmt::format("{} {} ({}) may not deploy to project {}", caller.credential, caller.name,
                          auth::ToString(caller.role), project),
              "project"});
  }
  if (deps.projects == nullptr) return OkStatus();
  SKIFF_ASSIGN_OR_RETURN(bool exists, deps.projects->Exists(project));
  if (!exists) {
    return tl::unexpected(
        Error{ErrorCode::kNotFound,
              fmt::format("project: no project {}: create it first (skiff projects create {})",
                          project, project),
              "project"});
  }
  return OkStatus();
}

// A domain another app serves, said to a caller below admin without naming
// that app (it may be of a project the caller has no role in).
Error WithoutOtherApps(Error error) {
  const size_t by = error.message.find(" by app ");
  if (error.code == ErrorCode::kAlreadyExists && error.field.starts_with("domains") &&
      by != std::string::npos) {
    error.message =
        error.message.substr(0, by) + " by another app; remove it there first, or ask an admin";
  }
  return error;
}

}  // namespace

net::HttpResponse ApplyApp(const ApiDeps& deps, const net::HttpRequest& request,
                           const PathParams& params, const Caller& caller) {
  const std::string& name = params.at("name");
  if (Status s = model::ValidateName(name); !s) return ErrorReply(s.error());
  Result<model::AppSpec> spec = ParseSpecFor(name, request);
  if (!spec) return ErrorReply(spec.error());
  if (spec->name != name) {
    return ErrorReply(
        Error{ErrorCode::kInvalidArgument,
              fmt::format("name: the spec names \"{}\" but the URL names \"{}\"", spec->name, name),
              "name"});
  }
  if (spec->autoscale) {
    Status window = model::CheckAutoscaleWindow(*spec->autoscale, deps.sample_interval);
    if (!window) return ErrorReply(window.error());
  }
  if (Status allowed = CheckProject(deps, caller, *spec); !allowed) {
    return ErrorReply(allowed.error());
  }
  // Asked again of the app the commit replaces (the router's check read it
  // earlier: it may have been made or moved since).
  auto may_replace = [&caller](const model::App* existing) -> Status {
    if (existing == nullptr || caller.admin()) return OkStatus();
    if (!caller.MayRead(existing->spec.project)) {
      return tl::unexpected(
          Error{ErrorCode::kAlreadyExists,
                fmt::format("the app name {} is taken: choose another", existing->name), "name"});
    }
    if (!caller.MayWrite(existing->spec.project)) {
      return PermissionDenied(fmt::format("{} {} ({}) may not change the apps of project {}",
                                          caller.credential, caller.name,
                                          auth::ToString(caller.role), existing->spec.project));
    }
    return OkStatus();
  };
  if (auth::AuditScope* audit = auth::AuditScope::Pending()) audit->set_project(spec->project);
  Result<controller::ApplyResult> applied = deps.apps->Apply(*spec, may_replace);
  if (!applied && !caller.admin()) return ErrorReply(WithoutOtherApps(applied.error()));
  return ApplyReply(applied);
}

net::HttpResponse ListApps(const ApiDeps& deps, const net::HttpRequest&, const PathParams&,
                           const Caller& caller) {
  auto views = deps.snapshots->Read(controller::ListAppViews);
  if (!views) return ErrorReply(views.error());
  json::array apps;
  for (const controller::AppView& view : *views) {
    if (caller.MayRead(view.app.spec.project)) apps.push_back(AppViewJson(view));
  }
  return net::JsonResponse(200, json::object{{"apps", std::move(apps)}});
}

net::HttpResponse GetApp(const ApiDeps& deps, const net::HttpRequest&, const PathParams& params) {
  auto view = deps.apps->Get(params.at("name"));
  if (!view) return ErrorReply(view.error());
  return net::JsonResponse(200, AppViewJson(*view));
}

net::HttpResponse DeleteApp(const ApiDeps& deps, const net::HttpRequest&,
                            const PathParams& params) {
  const std::string& name = params.at("name");
  if (Status s = deps.apps->Delete(name); !s) return ErrorReply(s.error());
  // Its instances are stopping: they need no secret, and a later app of
  // that name must not inherit one.
  RemoveAppSecrets(deps, name);
  // 202: the instances are stopped and the app removed in the background.
  return net::JsonResponse(202, json::object{{"app", name}, {"deleting", true}});
}

net::HttpResponse ScaleApp(const ApiDeps& deps, const net::HttpRequest& request,
                           const PathParams& params) {
  auto body = JsonObjectBody(request);
  if (!body) return ErrorReply(body.error());
  auto replicas = OptionalInt(*body, "replicas");
  if (!replicas) return ErrorReply(replicas.error());
  if (!*replicas) {
    return ErrorReply(Error{ErrorCode::kInvalidArgument,
                            "replicas: required, e.g. {\"replicas\": 3}", "replicas"});
  }
  int64_t n = **replicas;
  if (n < 0 || n > 10000) {
    return ErrorReply(Error{ErrorCode::kInvalidArgument,
                            fmt::format("replicas: must be between 0 and 10000 (got {})", n),
                            "replicas"});
  }
  return ApplyReply(deps.apps->Scale(params.at("name"), static_cast<int>(n)));
}

net::HttpResponse RestartApp(const ApiDeps& deps, const net::HttpRequest&,
                             const PathParams& params) {
  const std::string& name = params.at("name");
  if (Status s = deps.apps->Restart(name); !s) return ErrorReply(s.error());
  // 202: instances are replaced one at a time, in the background.
  return net::JsonResponse(202, json::object{{"app", name}, {"restarting", true}});
}

net::HttpResponse RollbackApp(const ApiDeps& deps, const net::HttpRequest& request,
                              const PathParams& params) {
  auto body = JsonObjectBody(request);
  if (!body) return ErrorReply(body.error());
  auto revision = OptionalInt(*body, "revision");
  if (!revision) return ErrorReply(revision.error());
  int64_t to = revision->value_or(0);  // 0: the revision before the current one
  if (to < 0) {
    return ErrorReply(Error{
        ErrorCode::kInvalidArgument,
        fmt::format("revision: must be >= 1, or 0 for the previous one (got {})", to), "revision"});
  }
  return ApplyReply(deps.apps->Rollback(params.at("name"), to));
}

// 200 {"app", "revision", "promoted": true}; failed_precondition (412) unless
// the app's current revision is a canary in progress.
net::HttpResponse PromoteApp(const ApiDeps& deps, const net::HttpRequest&,
                             const PathParams& params) {
  auto promoted = deps.apps->Promote(params.at("name"));
  if (!promoted) return ErrorReply(promoted.error());
  return net::JsonResponse(
      200,
      json::object{{"app", promoted->app}, {"revision", promoted->revision}, {"promoted", true}});
}

net::HttpResponse ListDeployments(const ApiDeps& deps, const net::HttpRequest&,
                                  const PathParams& params) {
  auto deployments = deps.apps->Deployments(params.at("name"));
  if (!deployments) return ErrorReply(deployments.error());
  json::array out;
  for (const model::Deployment& d : *deployments) out.push_back(model::ToJson(d));
  return net::JsonResponse(200, json::object{{"deployments", std::move(out)}});
}

net::HttpResponse ListInstances(const ApiDeps& deps, const net::HttpRequest&,
                                const PathParams& params) {
  auto instances = deps.apps->Instances(params.at("name"));
  if (!instances) return ErrorReply(instances.error());
  // The latest resource samples ride along (kept in memory, not in the store).
  std::map<std::string, model::ResourceSample> samples;
  if (deps.nodes != nullptr) samples = deps.nodes->LatestSamples();
  json::array out;
  for (const model::Instance& i : *instances) {
    json::value v = model::ToJson(i);
    if (auto it = samples.find(i.id); it != samples.end() && model::IsLive(i.state)) {
      v.as_object()["cpu_millis"] = it->second.cpu_millis;
      v.as_object()["memory_bytes"] = it->second.memory_bytes;  // the working set
      v.as_object()["memory_limit_bytes"] = it->second.memory_limit_bytes;
    }
    out.push_back(std::move(v));
  }
  return net::JsonResponse(200, json::object{{"instances", std::move(out)}});
}

}  // namespace skiff::api
