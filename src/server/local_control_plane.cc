#include "server/local_control_plane.h"

namespace skiff::server {

LocalControlPlane::LocalControlPlane(store::Store* store, controller::NodeService* nodes)
    : store_(store), nodes_(nodes), revision_(store->Revision()) {
  subscription_ = store_->Subscribe([this](int64_t revision) {
    {
      std::lock_guard lock(mu_);
      if (revision > revision_) revision_ = revision;
    }
    changed_.notify_all();
  });
}

LocalControlPlane::~LocalControlPlane() { subscription_.reset(); }

Result<model::Node> LocalControlPlane::RegisterNode(const model::Node& node) {
  return nodes_->Register(node);
}

Status LocalControlPlane::Heartbeat(const std::string& node_id) {
  return nodes_->Heartbeat(node_id);
}

Result<protocol::Assignments> LocalControlPlane::ListAssignments(const std::string& node_id) {
  return nodes_->Assignments(node_id);
}

Result<int64_t> LocalControlPlane::WaitForChange(int64_t revision, Duration timeout) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return revision_ > revision; });
  return revision_;
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
