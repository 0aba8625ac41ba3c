// What an API route needs of its caller. Every route declares one when it is
// added (Router::Add), and a test walks the router's own route list against
// a table of what each should need, so a route cannot be added unguarded.
//
// Today the admin token holds every permission that is not checked by the
// handler itself; roles (issue 15: admin, deployer, viewer, per project)
// will grant subsets of them.
#pragma once

#include <string_view>

namespace skiff::api {

enum class Permission {
  kPublic,     // anyone, no token: GET /health
  kMetrics,    // GET /metrics: no token unless ApiDeps::metrics_need_auth
  kAppsRead,   // apps, their deployments and instances, events, watch, traffic
  kAppsWrite,  // apply, scale, restart, rollback, promote, delete
  kAppLogs,    // an app's logs
  kRoutes,     // the routes document the edges route by (certificates' keys in it)
  kCluster,    // nodes, servers, drains, join tokens, certificates
  kEdgeSelf,   // an edge's own reports and goodbye: the handler identifies the edge
  kNodeSelf,   // the agents' calls: the handler identifies the node or join token
  kLogin,      // a person's login and logout: the handler checks the password or session
};

// "public", "metrics", "apps:read", ...: as tests and docs name them.
std::string_view PermissionName(Permission permission);

// Whether the handler identifies its caller itself (an edge or a node
// credential, a join token, a password, a session), so routing asks for no
// admin token.
inline bool CheckedByHandler(Permission permission) {
  return permission == Permission::kEdgeSelf || permission == Permission::kNodeSelf ||
         permission == Permission::kLogin;
}

}  // namespace skiff::api
