#include "api/permission.h"

namespace skiff::api {

std::string_view PermissionName(Permission permission) {
  switch (permission) {
    case Permission::kPublic:
      return "public";
    case Permission::kMetrics:
      return "metrics";
    case Permission::kAppsRead:
      return "apps:read";
    case Permission::kAppsWrite:
      return "apps:write";
    case Permission::kAppLogs:
      return "apps:logs";
    case Permission::kRoutes:
      return "routes";
    case Permission::kCluster:
      return "cluster";
    case Permission::kEdgeSelf:
      return "edge:self";
    case Permission::kNodeSelf:
      return "node:self";
    case Permission::kLogin:
      return "login";
  }
  return "unknown";
}

}  // namespace skiff::api
