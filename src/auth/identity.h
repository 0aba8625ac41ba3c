// Who is calling the API, and what their role lets them do (docs/security.md,
// "Who may call what").
//
// People and tools call with an API token (auth/api_tokens.h) or a user's
// session (auth/users.h), each of one role: an admin does everything; a
// deployer and a viewer act only within their projects (a deployer changes
// apps there, a viewer reads them). Machines call with credentials of their
// own roles: a node (its agent) and an edge (a standalone edge, or a server's
// own). The cluster's admin token (DATA/admin.token) is an admin.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace skiff::auth {

// kAnonymous: a caller the router did not identify (a public route, or one
// whose handler identifies its caller itself); it may do nothing a role is
// needed for.
enum class Role { kAdmin, kDeployer, kViewer, kNode, kEdge, kAnonymous };

// "admin", "deployer", "viewer", "node", "edge", "anonymous".
std::string_view ToString(Role role);
// The role a person or a tool may be given (admin, deployer, viewer; edge for
// `skiff edges token`). kInvalidArgument naming the choices otherwise.
Result<Role> ParseRole(std::string_view text);

struct Identity {
  Role role = Role::kViewer;
  // Who, as the audit trail names them: a token's or a user's name, a node's
  // id, an edge's name; "admin" for the cluster's admin token.
  std::string name;
  // What sort of credential: "admin-token", "token", "user", "node", "edge".
  std::string credential;
  // The projects a deployer or a viewer acts in; ignored for the other roles.
  std::vector<std::string> projects;

  bool admin() const { return role == Role::kAdmin; }
  // Whether the caller may read the apps of `project` (and their events,
  // logs, traffic): an admin any, a deployer or viewer its own.
  bool MayRead(std::string_view project) const {
    if (role == Role::kAdmin) return true;
    if (role != Role::kDeployer && role != Role::kViewer) return false;
    return std::find(projects.begin(), projects.end(), project) != projects.end();
  }
  // Whether the caller may change the apps of `project` and their secrets.
  bool MayWrite(std::string_view project) const {
    if (role == Role::kAdmin) return true;
    return role == Role::kDeployer && MayRead(project);
  }
};

}  // namespace skiff::auth
