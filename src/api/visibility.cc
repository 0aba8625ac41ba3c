#include "api/visibility.h"

#include <fmt/format.h>

namespace skiff::api {

Result<std::optional<std::set<std::string>>> VisibleApps(const ApiDeps& deps,
                                                         const Caller& caller) {
  if (caller.admin()) return std::optional<std::set<std::string>>();
  return deps.snapshots->Read([&caller](const store::Snapshot& snapshot) {
    std::set<std::string> names;
    for (const model::App& app : snapshot.apps) {
      if (caller.MayRead(app.spec.project)) names.insert(app.name);
    }
    return std::optional<std::set<std::string>>(std::move(names));
  });
}

Status StillAllowed(const ApiDeps& deps, const net::HttpRequest& request, const std::string& app) {
  Result<Caller> caller = deps.auth->Identify(request);
  if (!caller) {
    if (caller.error().code == ErrorCode::kUnavailable) return OkStatus();
    return tl::unexpected(caller.error());
  }
  if (app.empty() || caller->admin()) return OkStatus();
  auto stored = deps.store->GetApp(app);
  if (!stored && stored.error().code == ErrorCode::kUnavailable) return OkStatus();
  if (!stored || !caller->MayRead(stored->spec.project)) {
    return NotFound(fmt::format("app {} not found", app));
  }
  return OkStatus();
}

}  // namespace skiff::api
