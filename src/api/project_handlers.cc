// Handlers of /v1/projects (auth/projects.h).
#include <fmt/format.h>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/request_util.h"
#include "common/quantity.h"

namespace skiff::api {
namespace json = boost::json;
namespace {

Error ProjectsUnconfigured() {
  return Error{ErrorCode::kNotFound, "this server keeps no projects", ""};
}

json::object ProjectJson(const auth::Project& p) {
  return json::object{{"name", p.name}, {"created_at", FormatTime(p.created_at)}};
}

}  // namespace

net::HttpResponse ListProjects(const ApiDeps& deps, const net::HttpRequest&, const PathParams&,
                               const Caller& caller) {
  if (deps.projects == nullptr) return ErrorReply(ProjectsUnconfigured());
  auto projects = deps.projects->List();
  if (!projects) return ErrorReply(projects.error());
  json::array list;
  for (const auth::Project& p : *projects) {
    if (caller.MayRead(p.name)) list.push_back(ProjectJson(p));
  }
  return net::JsonResponse(200, json::object{{"projects", std::move(list)}});
}

net::HttpResponse CreateProject(const ApiDeps& deps, const net::HttpRequest& request,
                                const PathParams&) {
  if (deps.projects == nullptr) return ErrorReply(ProjectsUnconfigured());
  auto body = JsonObjectBody(request);
  if (!body) return ErrorReply(body.error());
  const json::value* name = body->if_contains("name");
  if (name == nullptr || !name->is_string()) {
    return ErrorReply(Error{ErrorCode::kInvalidArgument,
                            "name: required, a DNS label naming the project", "name"});
  }
  auto project = deps.projects->Create(std::string(name->get_string()));
  if (!project) return ErrorReply(project.error());
  return net::JsonResponse(201, ProjectJson(*project));
}

net::HttpResponse DeleteProject(const ApiDeps& deps, const net::HttpRequest&,
                                const PathParams& params) {
  if (deps.projects == nullptr) return ErrorReply(ProjectsUnconfigured());
  if (Status deleted = deps.projects->Delete(params.at("name")); !deleted) {
    return ErrorReply(deleted.error());
  }
  return net::JsonResponse(200, json::object{{"name", params.at("name")}, {"deleted", true}});
}

}  // namespace skiff::api
