// What a caller below admin may see of the apps: the apps of its projects
// (auth/identity.h). Lists are filtered by it; a named app it may not see is
// answered 404, as an app that does not exist (ApiServer::AppScopeRefusal).
#pragma once

#include <optional>
#include <set>
#include <string>

#include "api/api_deps.h"
#include "api/auth.h"
#include "common/result.h"

namespace skiff::api {

// The names of the apps `caller` may read, as of the shared snapshot;
// std::nullopt for the admin, who sees every app (and what belongs to none:
// nodes' events). kUnavailable when the state cannot be read.
Result<std::optional<std::set<std::string>>> VisibleApps(const ApiDeps& deps, const Caller& caller);

// Whether the caller of a followed stream (`request`'s) may still read it:
// its credential still live (not revoked, not expired) and, when `app` is
// not empty, that app still in one of its projects. The streams that follow
// ask every few seconds and end when it says no. kUnauthenticated or
// kNotFound as for a new request; a store that cannot be read is no reason
// to end a stream (OK then).
Status StillAllowed(const ApiDeps& deps, const net::HttpRequest& request, const std::string& app);

}  // namespace skiff::api
