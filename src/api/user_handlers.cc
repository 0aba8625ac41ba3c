// Handlers of people's users and sessions (auth/users.h): login and logout,
// which identify their caller themselves (a password, a session), and the
// admin's list of users.
#include <fmt/format.h>

#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/request_util.h"
#include "common/ids.h"
#include "common/quantity.h"

namespace skiff::api {
namespace json = boost::json;
namespace {

Error NoUsers() { return Error{ErrorCode::kNotFound, "this server keeps no users", ""}; }

// The string member `key` of `body` ("" when absent); kInvalidArgument
// (field = key) when present and not a string.
Result<std::string> StringMember(const json::object& body, std::string_view key) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) {
    return InvalidArgument(fmt::format("{}: must be a string", key), std::string(key));
  }
  return std::string(v->get_string());
}

Error NotAList() {
  return Error{ErrorCode::kInvalidArgument, "projects: must be a list of names", "projects"};
}

json::array ProjectsJson(const std::vector<std::string>& projects) {
  json::array out;
  for (const std::string& p : projects) out.emplace_back(p);
  return out;
}

json::object UserJson(const auth::User& user) {
  return json::object{{"name", user.name},
                      {"role", auth::ToString(user.role)},
                      {"projects", ProjectsJson(user.projects)},
                      {"created_at", FormatTime(user.created_at)}};
}

}  // namespace

std::string LoginAttemptKey(const net::HttpRequest& request) {
  // Keyed by a secret of this process: the limiter keeps (a hash of) its key
  // in memory, and a plain hash of a name and a password is quick to guess.
  // Both the bearer token and the body: a guess that varies either one is
  // another guess (a constant header cannot hide varied passwords).
  static const std::string kKey = RandomHex(16);
  const std::string bearer = BearerToken(request);
  if (bearer.empty() && request.body.empty()) return {};
  return "login:" + Sha256Hex(kKey + "\n" + bearer + "\n" + request.body);
}

net::HttpResponse Login(const ApiDeps& deps, const net::HttpRequest& request, const PathParams&) {
  if (deps.users == nullptr) return ErrorReply(NoUsers());
  auto body = JsonObjectBody(request);
  if (!body) return ErrorReply(body.error());
  auto name = StringMember(*body, "name");
  if (!name) return ErrorReply(name.error());
  auto password = StringMember(*body, "password");
  if (!password) return ErrorReply(password.error());
  auto session = deps.users->Login(*name, *password);
  if (!session) return ErrorReply(session.error());
  return net::JsonResponse(200, json::object{{"token", session->token},
                                             {"expires_at", FormatTime(session->expires_at)},
                                             {"user", session->user},
                                             {"role", auth::ToString(session->role)},
                                             {"projects", ProjectsJson(session->projects)}});
}

net::HttpResponse Logout(const ApiDeps& deps, const net::HttpRequest& request, const PathParams&) {
  if (deps.users == nullptr) return ErrorReply(NoUsers());
  const std::string token = BearerToken(request);
  if (token.empty()) {
    return ErrorReply(Error{ErrorCode::kUnauthenticated,
                            "missing bearer token: send the session as \"Authorization: Bearer "
                            "<token>\"",
                            ""});
  }
  if (Status ended = deps.users->Logout(token); !ended) return ErrorReply(ended.error());
  return net::HttpResponse{204, {}, ""};
}

net::HttpResponse AddUser(const ApiDeps& deps, const net::HttpRequest& request, const PathParams&) {
  if (deps.users == nullptr) return ErrorReply(NoUsers());
  auto body = JsonObjectBody(request);
  if (!body) return ErrorReply(body.error());
  auto name = StringMember(*body, "name");
  if (!name) return ErrorReply(name.error());
  auto role_text = StringMember(*body, "role");
  if (!role_text) return ErrorReply(role_text.error());
  auto password = StringMember(*body, "password");
  if (!password) return ErrorReply(password.error());
  auto role = auth::ParseRole(*role_text);
  if (!role) return ErrorReply(role.error());
  std::vector<std::string> projects;
  if (const json::value* list = body->if_contains("projects"); list && !list->is_null()) {
    const json::array* array = list->if_array();
    if (array == nullptr) {
      return ErrorReply(NotAList());
    }
    for (const json::value& p : *array) {
      if (!p.is_string()) {
        return ErrorReply(NotAList());
      }
      projects.emplace_back(p.get_string());
    }
  }
  if (deps.projects != nullptr) {
    for (size_t i = 0; i < projects.size(); ++i) {
      auto exists = deps.projects->Exists(projects[i]);
      if (!exists) return ErrorReply(exists.error());
      if (!*exists) {
        return ErrorReply(
            Error{ErrorCode::kNotFound,
                  fmt::format("projects[{}]: no project {} (skiff projects create {})", i,
                              projects[i], projects[i]),
                  fmt::format("projects[{}]", i)});
      }
    }
  }
  auto user = deps.users->Add(*name, *role, std::move(projects), *password);
  if (!user) return ErrorReply(user.error());
  return net::JsonResponse(201, UserJson(*user));
}

net::HttpResponse ListUsers(const ApiDeps& deps, const net::HttpRequest&, const PathParams&) {
  if (deps.users == nullptr) return ErrorReply(NoUsers());
  auto users = deps.users->List();
  if (!users) return ErrorReply(users.error());
  json::array list;
  for (const auth::User& user : *users) list.push_back(UserJson(user));
  return net::JsonResponse(200, json::object{{"users", std::move(list)}});
}

net::HttpResponse RemoveUser(const ApiDeps& deps, const net::HttpRequest&,
                             const PathParams& params) {
  if (deps.users == nullptr) return ErrorReply(NoUsers());
  if (Status removed = deps.users->Remove(params.at("name")); !removed) {
    return ErrorReply(removed.error());
  }
  return net::HttpResponse{204, {}, ""};
}

}  // namespace skiff::api
