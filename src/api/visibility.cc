#include "api/visibility.h"

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

}  // namespace skiff::api
