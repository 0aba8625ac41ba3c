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
  }
  return "unknown";
}

bool RoleAllows(auth::Role role, Permission permission) {
  using auth::Role;
  switch (permission) {
    case Permission::kPublic:
      return true;
    case Permission::kAppsRead:
    case Permission::kAppLogs:
      return role == Role::kAdmin || role == Role::kDeployer || role == Role::kViewer;
    case Permission::kAppsWrite:
      return role == Role::kAdmin || role == Role::kDeployer;
    case Permission::kRoutes:
    case Permission::kEdgeSelf:
      return role == Role::kAdmin || role == Role::kEdge;
    case Permission::kNodeSelf:
      return role == Role::kAdmin || role == Role::kNode;
    case Permission::kMetrics:
    case Permission::kCluster:
      return role == Role::kAdmin;
  }
  return false;
}

bool Allows(const auth::Identity& caller, Permission permission) {
  if (caller.role == auth::Role::kEdge && caller.credential != "token") {
    return permission == Permission::kPublic || permission == Permission::kEdgeSelf;
  }
  return RoleAllows(caller.role, permission);
}

}  // namespace skiff::api
