#include "server/local_control_plane.h"

#include "api/agent_secrets.h"

namespace skiff::server {

LocalControlPlane::LocalControlPlane(store::Store* store, controller::NodeService* nodes,
                                     const auth::SecretStore* secrets)
    : nodes_(nodes), secrets_(secrets), watcher_(store) {}

Result<model::Node> LocalControlPlane::RegisterNode(const model::Node& node) {
  return nodes_->Register(node);
}

Status LocalControlPlane::Heartbeat(const std::string& node_id) {
  return nodes_->Heartbeat(node_id);
}

Result<protocol::Assignments> LocalControlPlane::ListAssignments(const std::string& node_id) {
  SKIFF_ASSIGN_OR_RETURN(protocol::Assignments assignments, nodes_->Assignments(node_id));
  api::AttachSecrets(secrets_, &assignments);
  return assignments;
}

Result<int64_t> LocalControlPlane::WaitForChange(int64_t revision, Duration timeout) {
  return watcher_.WaitPast(revision, timeout);
}

Status LocalControlPlane::ReportInstance(const protocol::InstanceReport& report) {
  return nodes_->Report(report);
}

Status LocalControlPlane::ReportSamples(const std::string& node_id,
                                        const std::vector<protocol::InstanceSample>& samples) {
  nodes_->RecordSamples(node_id, samples);
  return OkStatus();
}

}  // namespace skiff::server
