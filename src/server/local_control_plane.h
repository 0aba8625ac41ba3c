// LocalControlPlane: the agent's ControlPlane inside the all-in-one server. It
// calls NodeService, the one place agents' calls land: the HTTP endpoints of
// remote agents (/v1/agent/..., api/agent_handlers.cc, spoken by
// agent::RemoteControlPlane) call it too, so the local agent and a remote one
// take the same paths.
#pragma once

#include "auth/secrets.h"
#include "controller/node_service.h"
#include "protocol/control_plane.h"
#include "store/commit_watcher.h"
#include "store/store.h"

namespace skiff::server {

class LocalControlPlane final : public protocol::ControlPlane {
 public:
  // Does not take ownership; store, nodes and secrets (null: no secrets are
  // given to the agent) must outlive this object.
  LocalControlPlane(store::Store* store, controller::NodeService* nodes,
                    const auth::SecretStore* secrets = nullptr);

  // protocol::ControlPlane
  Result<model::Node> RegisterNode(const model::Node& node) override;
  Status Heartbeat(const std::string& node_id) override;
  Result<protocol::Assignments> ListAssignments(const std::string& node_id) override;
  Result<int64_t> WaitForChange(int64_t revision, Duration timeout) override;
  Status ReportInstance(const protocol::InstanceReport& report) override;
  Status ReportSamples(const std::string& node_id,
                       const std::vector<protocol::InstanceSample>& samples) override;

 private:
  controller::NodeService* nodes_;
  const auth::SecretStore* secrets_;
  store::CommitWatcher watcher_;  // WaitForChange's
};

}  // namespace skiff::server
