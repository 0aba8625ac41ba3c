#include "api/agent_secrets.h"

#include <set>

#include "common/logging.h"

namespace skiff::api {

void AttachSecrets(const auth::SecretStore* secrets, protocol::Assignments* assignments) {
  if (secrets == nullptr) return;
  // The secrets each app's assigned revisions name.
  std::map<std::string, std::set<std::string>> named;
  for (const auto& [key, spec] : assignments->specs) {
    for (const auto& [name, version] : spec.secret_versions) named[spec.name].insert(name);
  }
  for (const auto& [app, keys] : named) {
    auto values = secrets->Values(app);
    if (!values) {
      SKIFF_LOG_ERROR("the secrets of app {} cannot be given to its instances, which wait: {}", app,
                      values.error().ToString());
      continue;
    }
    auto& given = assignments->secrets[app];
    for (auto& [key, value] : *values) {
      if (keys.count(key) != 0) given[key] = std::move(value);
    }
  }
}

}  // namespace skiff::api
