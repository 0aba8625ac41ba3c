#include "server/own_edge.h"

#include "common/logging.h"

namespace skiff::server {

std::string OwnEdge::NameOf(std::string_view server_id) { return std::string(server_id) + ":edge"; }

OwnEdge::OwnEdge(Deps deps)
    : deps_(std::move(deps)), name_(NameOf(deps_.server_id)), family_(deps_.server_id + ":") {}

Status OwnEdge::IssueLocked() {
  SKIFF_ASSIGN_OR_RETURN(credential_, deps_.tokens->IssueEdgeCredential(name_, family_));
  post_ = deps_.post(credential_);
  return OkStatus();
}

Status OwnEdge::Start() {
  std::lock_guard lock(mu_);
  return IssueLocked();
}

OwnEdge::Sink OwnEdge::sink() {
  return [this](const metrics::TrafficSnapshot& snapshot) { return Report(snapshot); };
}

Status OwnEdge::Report(const metrics::TrafficSnapshot& snapshot) {
  std::lock_guard lock(mu_);
  Status reported = post_(snapshot);
  if (reported || reported.error().code != ErrorCode::kUnauthenticated) return reported;
  SKIFF_LOG_WARN("edge {}: the leader no longer takes its credential; issuing a new one", name_);
  SKIFF_RETURN_IF_ERROR(IssueLocked());
  return post_(snapshot);
}

void OwnEdge::Leave(bool tell_leader) {
  std::lock_guard lock(mu_);
  if (credential_.empty()) return;  // never started
  // Not told when no other leads yet: then no leader holds a report of it,
  // and the roster entry goes below all the same (a second delete after the
  // leader's is a no-op, and clears this server's own note of it).
  if (tell_leader) {
    if (Status told = deps_.leave(credential_); !told) {
      SKIFF_LOG_INFO("edge {}: no leader told that it leaves: {}", name_, told.error().ToString());
    }
  }
  if (Status forgotten = deps_.forget(); !forgotten) {
    SKIFF_LOG_WARN("edge {}: cannot leave the edge roster: {}", name_,
                   forgotten.error().ToString());
  }
  if (Status revoked = deps_.tokens->RevokeEdgeCredentials(family_); !revoked) {
    SKIFF_LOG_WARN("edge {}: cannot delete its credential: {}", name_, revoked.error().ToString());
  }
  credential_.clear();
}

}  // namespace skiff::server
