// What an API route needs of its caller. Every route declares one when it is
// added (Router::Add), and a test walks the router's own route list against
// a table of what each should need, so a route cannot be added unguarded.
//
// A role grants some of them (RoleAllows): the router refuses the others
// with 403 before the handler runs. What a deployer or a viewer may reach
// is further limited to their projects by the handlers, which answer 404
// for an app of another project (names do not leak; docs/security.md).
#pragma once

#include <string>
#include <string_view>

#include "auth/identity.h"

namespace skiff::api {

enum class Permission {
  kPublic,     // anyone, no token: GET /health
  kMetrics,    // GET /metrics (every app's figures): the admin, or no token unless
               // ApiDeps::metrics_need_auth
  kAppsRead,   // apps, their deployments and instances, events, traffic, projects:
               // the caller's projects'
  kAppsWrite,  // apply, scale, restart, rollback, promote, delete: in the caller's projects
  kAppLogs,    // an app's logs: the caller's projects'
  kRoutes,     // the routes document the edges route by (certificates' keys in it)
  kCluster,    // the admin's: nodes, servers, drains, join tokens, certificates,
               // tokens, projects, the change stream (GET /v1/watch)
  kEdgeSelf,   // an edge's own reports and goodbye: the handler identifies the edge
  kNodeSelf,   // the agents' calls: the handler identifies the node or join token
  kLogin,      // a person's login and logout: the handler checks the password or session
};

// "public", "metrics", "apps:read", ...: as tests and docs name them.
std::string_view PermissionName(Permission permission);

// Whether a caller of `role` may call a route needing `permission` at all.
// Not asked for the routes whose handlers check their callers (CheckedByHandler).
bool RoleAllows(auth::Role role, Permission permission);

// Who may call a route needing `permission`, for messages: "an admin", "an
// admin, a deployer or a viewer", ...
std::string WhoMay(Permission permission);

// Whether `caller` may call a route needing `permission` at all: as its
// role allows, but that a server's own edge (its edge credential, not an
// edge token) reads its routes in process and only reports its traffic.
bool Allows(const auth::Identity& caller, Permission permission);

// Whether the handler identifies its caller itself (an edge or a node
// credential, a join token, a password, a session), so routing asks for no
// admin token.
inline bool CheckedByHandler(Permission permission) {
  return permission == Permission::kEdgeSelf || permission == Permission::kNodeSelf ||
         permission == Permission::kLogin;
}

}  // namespace skiff::api
