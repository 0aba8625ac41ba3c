#include "auth/identity.h"

#include <fmt/format.h>

namespace skiff::auth {

std::string_view ToString(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kDeployer:
      return "deployer";
    case Role::kViewer:
      return "viewer";
    case Role::kNode:
      return "node";
    case Role::kEdge:
      return "edge";
    case Role::kAnonymous:
      return "anonymous";
  }
  return "unknown";
}

Result<Role> ParseRole(std::string_view text) {
  for (Role r : {Role::kAdmin, Role::kDeployer, Role::kViewer, Role::kEdge}) {
    if (text == ToString(r)) return r;
  }
  return tl::unexpected(Error{
      ErrorCode::kInvalidArgument,
      fmt::format("role: must be admin, deployer, viewer or edge (got \"{}\")", text), "role"});
}

}  // namespace skiff::auth
