// Handlers of /v1/apps/{name}/secrets: set, list and unset an app's secrets
// (auth/secrets.h). A change writes the secret's record, then a new revision
// naming the secrets' versions (AppService::SetSecretVersions), which rolls
// the instances out like any change. No answer, event or error message
// carries a value: only keys, versions and times.
//
// The two writes are not one transaction yet (records are written outside
// the store's transactions): a server that stops between them keeps the
// secret with no revision naming it; the next change of the app's secrets
// makes one. TODO(store Txn records): put the record in the revision's
// transaction (AppService::SetSecretVersions taking the record write).
#include <fmt/format.h>

#include "api/errors.h"
#include "api/handlers.h"
#include "common/logging.h"
#include "common/quantity.h"

namespace skiff::api {
namespace json = boost::json;
namespace {

// The app of the URL, when secrets are kept here and it exists and is not
// being deleted: 404 (no secrets here, or no such app), 412 (deleting).
Status CheckApp(const ApiDeps& deps, const std::string& name) {
  if (deps.secrets == nullptr) return NotFound("this server keeps no secrets");
  SKIFF_ASSIGN_OR_RETURN(model::App app, deps.store->GetApp(name));
  if (app.deleting) return FailedPrecondition(fmt::format("app {} is being deleted", name));
  return OkStatus();
}

// A secret's value is sent as it is: application/octet-stream or text/plain
// (what `curl --data-binary` sends by default too, or no type at all).
bool RawBody(const net::HttpRequest& request) {
  std::string_view type = request.Header("Content-Type");
  return type.empty() || type.starts_with("application/octet-stream") ||
         type.starts_with("text/plain") || type.starts_with("application/x-www-form-urlencoded");
}

// The new revision naming the app's secrets' versions now.
Result<controller::ApplyResult> RollOut(const ApiDeps& deps, const std::string& app,
                                        const std::string& change) {
  return deps.apps->SetSecretVersions(
      app, [&] { return deps.secrets->Versions(app); }, change);
}

}  // namespace

net::HttpResponse SetSecret(const ApiDeps& deps, const net::HttpRequest& request,
                            const PathParams& params) {
  const std::string& name = params.at("name");
  const std::string& key = params.at("key");
  if (Status s = CheckApp(deps, name); !s) return ErrorReply(s.error());
  if (Status s = auth::ValidateSecretKey(key); !s) return ErrorReply(s.error());
  if (!RawBody(request)) {
    return ErrorReply(Error{ErrorCode::kInvalidArgument,
                            "send the value itself as the body, with Content-Type "
                            "application/octet-stream or text/plain",
                            "Content-Type"});
  }
  auto version = deps.secrets->Set(name, key, request.body);
  if (!version) return ErrorReply(version.error());
  auto applied = RollOut(deps, name, fmt::format("secret {} changed (version {})", key, *version));
  if (!applied) return ErrorReply(applied.error());
  return net::JsonResponse(
      200,
      json::object{
          {"app", name}, {"key", key}, {"version", *version}, {"revision", applied->revision}});
}

net::HttpResponse ListSecrets(const ApiDeps& deps, const net::HttpRequest&,
                              const PathParams& params) {
  const std::string& name = params.at("name");
  if (deps.secrets == nullptr) return ErrorReply(NotFound("this server keeps no secrets").value());
  // A deleting app's secrets are listed still (none, once its delete removed them).
  if (auto app = deps.store->GetApp(name); !app) return ErrorReply(app.error());
  auto listed = deps.secrets->List(name);
  if (!listed) return ErrorReply(listed.error());
  json::array secrets;
  for (const auth::SecretInfo& s : *listed) {
    secrets.push_back(json::object{
        {"key", s.key}, {"version", s.version}, {"updated_at", FormatTime(s.updated_at)}});
  }
  return net::JsonResponse(200, json::object{{"app", name}, {"secrets", std::move(secrets)}});
}

net::HttpResponse UnsetSecret(const ApiDeps& deps, const net::HttpRequest&,
                              const PathParams& params) {
  const std::string& name = params.at("name");
  const std::string& key = params.at("key");
  if (Status s = CheckApp(deps, name); !s) return ErrorReply(s.error());
  if (Status s = deps.secrets->Unset(name, key); !s) return ErrorReply(s.error());
  auto applied = RollOut(deps, name, fmt::format("secret {} unset", key));
  if (!applied) return ErrorReply(applied.error());
  return net::JsonResponse(
      200, json::object{{"app", name}, {"key", key}, {"revision", applied->revision}});
}

void RemoveAppSecrets(const ApiDeps& deps, const std::string& app) {
  if (deps.secrets == nullptr) return;
  auto removed = deps.secrets->RemoveApp(app);
  if (!removed) {
    SKIFF_LOG_WARN("app {} deleted, but its secrets could not be removed: {}", app,
                   removed.error().ToString());
  }
}

}  // namespace skiff::api
