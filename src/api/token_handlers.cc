// Handlers of /v1/tokens: API tokens with a role (auth/api_tokens.h).
#include <fmt/format.h>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/request_util.h"
#include "common/quantity.h"

namespace skiff::api {
namespace json = boost::json;
namespace {

Error TokensUnconfigured() {
  return Error{ErrorCode::kNotFound, "this server keeps no API tokens", ""};
}

json::object TokenJson(const auth::ApiToken& t) {
  json::array projects;
  for (const std::string& p : t.projects) projects.emplace_back(p);
  json::object o{{"name", t.name},
                 {"role", auth::ToString(t.role)},
                 {"projects", std::move(projects)},
                 {"created_at", FormatTime(t.created_at)}};
  o["expires_at"] = t.expires_at ? json::value(FormatTime(*t.expires_at)) : json::value(nullptr);
  o["last_used_at"] =
      t.last_used_at ? json::value(FormatTime(*t.last_used_at)) : json::value(nullptr);
  if (!t.token.empty()) o["token"] = t.token;
  return o;
}

Error Bad(std::string field, std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message), std::move(field)};
}

// {name, role, projects?, expires?} as a request for a token.
Result<auth::NewApiToken> ReadRequest(const json::object& body) {
  auth::NewApiToken r;
  for (const auto& [key, value] : body) {
    if (key != "name" && key != "role" && key != "projects" && key != "expires") {
      return tl::unexpected(Bad(std::string(key), fmt::format("{}: unknown field; known: name, "
                                                              "role, projects, expires",
                                                              std::string_view(key))));
    }
  }
  const json::value* name = body.if_contains("name");
  if (name == nullptr || !name->is_string()) {
    return tl::unexpected(Bad("name", "name: required, a DNS label naming the token"));
  }
  r.name = std::string(name->get_string());
  const json::value* role = body.if_contains("role");
  if (role == nullptr || !role->is_string()) {
    return tl::unexpected(Bad("role", "role: required: admin, deployer, viewer or edge"));
  }
  SKIFF_ASSIGN_OR_RETURN(r.role, auth::ParseRole(std::string_view(role->get_string())));
  if (const json::value* projects = body.if_contains("projects")) {
    if (!projects->is_array()) return tl::unexpected(Bad("projects", "projects: a list of names"));
    for (const json::value& p : projects->get_array()) {
      if (!p.is_string()) return tl::unexpected(Bad("projects", "projects: a list of names"));
      r.projects.emplace_back(p.get_string());
    }
  }
  if (const json::value* expires = body.if_contains("expires"); expires && !expires->is_null()) {
    if (!expires->is_string()) {
      return tl::unexpected(Bad("expires", "expires: a duration such as 90d or 12h"));
    }
    auto lifetime = ParseDuration(std::string_view(expires->get_string()));
    if (!lifetime) return tl::unexpected(Bad("expires", "expires: " + lifetime.error().message));
    r.lifetime = *lifetime;
  }
  return r;
}

}  // namespace

net::HttpResponse CreateApiToken(const ApiDeps& deps, const net::HttpRequest& request,
                                 const PathParams&) {
  if (deps.tokens == nullptr) return ErrorReply(TokensUnconfigured());
  auto body = JsonObjectBody(request);
  if (!body) return ErrorReply(body.error());
  auto wanted = ReadRequest(*body);
  if (!wanted) return ErrorReply(wanted.error());
  if (deps.projects != nullptr) {
    for (size_t i = 0; i < wanted->projects.size(); ++i) {
      auto exists = deps.projects->Exists(wanted->projects[i]);
      if (!exists) return ErrorReply(exists.error());
      if (!*exists) {
        return ErrorReply(Error{ErrorCode::kNotFound,
                                fmt::format("projects[{}]: no project {} (skiff projects create "
                                            "{})",
                                            i, wanted->projects[i], wanted->projects[i]),
                                fmt::format("projects[{}]", i)});
      }
    }
  }
  auto token = deps.tokens->Create(*wanted);
  if (!token) return ErrorReply(token.error());
  return net::JsonResponse(201, TokenJson(*token));
}

net::HttpResponse ListApiTokens(const ApiDeps& deps, const net::HttpRequest&, const PathParams&) {
  if (deps.tokens == nullptr) return ErrorReply(TokensUnconfigured());
  auto tokens = deps.tokens->List();
  if (!tokens) return ErrorReply(tokens.error());
  json::array list;
  for (const auth::ApiToken& t : *tokens) list.push_back(TokenJson(t));
  return net::JsonResponse(200, json::object{{"tokens", std::move(list)}});
}

net::HttpResponse RevokeApiToken(const ApiDeps& deps, const net::HttpRequest&,
                                 const PathParams& params) {
  if (deps.tokens == nullptr) return ErrorReply(TokensUnconfigured());
  if (Status revoked = deps.tokens->Revoke(params.at("name")); !revoked) {
    return ErrorReply(revoked.error());
  }
  return net::JsonResponse(200, json::object{{"name", params.at("name")}, {"revoked", true}});
}

}  // namespace skiff::api
