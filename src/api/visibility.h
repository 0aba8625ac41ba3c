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

}  // namespace skiff::api
