#include "api/permission.h"

#include <vector>

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

bool RoleAllows(auth::Role role, Permission permission) {
  using auth::Role;
  switch (permission) {
    case Permission::kPublic:
    case Permission::kLogin:  // the handler checks a password or a session
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

std::string WhoMay(Permission permission) {
  using auth::Role;
  std::vector<std::string> names;
  for (Role role : {Role::kAdmin, Role::kDeployer, Role::kViewer, Role::kNode, Role::kEdge}) {
    if (!RoleAllows(role, permission)) continue;
    names.push_back(std::string(role == Role::kAdmin ? "an " : "a ") +
                    std::string(auth::ToString(role)) +
                    (role == Role::kEdge   ? " token"
                     : role == Role::kNode ? " credential"
                                           : ""));
  }
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  return out.empty() ? "nobody" : out;
}

bool Allows(const auth::Identity& caller, Permission permission) {
  if (caller.role == auth::Role::kEdge && caller.credential != "token") {
    return permission == Permission::kPublic || permission == Permission::kEdgeSelf;
  }
  return RoleAllows(caller.role, permission);
}

}  // namespace skiff::api
