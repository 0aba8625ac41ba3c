#include "fakes/fake_control_plane.h"

#include <chrono>
#include <utility>

#include "controller/report_merge.h"

namespace skiff::testing {

#define SKIFF_FAKE_REFUSE_IF_DOWN()                    \
  do {                                                 \
    if (!available_) {                                 \
      ++refused_;                                      \
      return Unavailable("control plane down (fake)"); \
    }                                                  \
  } while (0)

FakeControlPlane::FakeControlPlane(const Clock* clock)
    : clock_(clock != nullptr ? clock : &system_clock_) {}

Result<model::Node> FakeControlPlane::RegisterNode(const model::Node& node) {
  std::lock_guard lock(mu_);
  SKIFF_FAKE_REFUSE_IF_DOWN();
  if (register_error_) return tl::unexpected(*register_error_);
  // As NodeService::Register.
  if (node.id.empty()) return InvalidArgument("a node needs an id", "id");
  if (node.address.empty()) return InvalidArgument("a node needs an address", "address");
  ++registrations_;
  model::Node& stored = nodes_[node.id];
  const bool draining = stored.status == model::NodeStatus::kDraining;
  stored = node;
  stored.status = draining ? model::NodeStatus::kDraining : model::NodeStatus::kReady;
  stored.last_heartbeat = clock_->Now();
  BumpLocked();
  return stored;
}

Status FakeControlPlane::Heartbeat(const std::string& node_id) {
  std::lock_guard lock(mu_);
  SKIFF_FAKE_REFUSE_IF_DOWN();
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return NotFound("node " + node_id);
  ++heartbeats_;
  return OkStatus();
}

Result<protocol::Assignments> FakeControlPlane::ListAssignments(const std::string& node_id) {
  std::lock_guard lock(mu_);
  SKIFF_FAKE_REFUSE_IF_DOWN();
  ++lists_;
  protocol::Assignments out;
  out.revision = revision_;
  for (const auto& [id, instance] : instances_) {
    if (instance.node != node_id) continue;
    out.instances.push_back(instance);
    std::string key = instance.app + "/" + std::to_string(instance.revision);
    if (auto spec = specs_.find(key); spec != specs_.end()) out.specs[key] = spec->second;
  }
  return out;
}

Result<int64_t> FakeControlPlane::WaitForChange(int64_t revision, Duration timeout) {
  std::unique_lock lock(mu_);
  SKIFF_FAKE_REFUSE_IF_DOWN();
  cv_.wait_for(lock, timeout, [&] { return revision_ > revision || !available_; });
  SKIFF_FAKE_REFUSE_IF_DOWN();
  return revision_;
}

Status FakeControlPlane::ReportInstance(const protocol::InstanceReport& report) {
  std::lock_guard lock(mu_);
  SKIFF_FAKE_REFUSE_IF_DOWN();
  auto it = instances_.find(report.instance_id);
  if (it == instances_.end()) return NotFound("instance " + report.instance_id);
  SKIFF_ASSIGN_OR_RETURN(controller::MergedReport merged,
                         controller::MergeReport(it->second, report, clock_->Now()));
  reports_.push_back(report);
  if (!merged.applied) return OkStatus();
  it->second = std::move(merged.instance);
  events_.insert(events_.end(), merged.events.begin(), merged.events.end());
  BumpLocked();
  return OkStatus();
}

Status FakeControlPlane::ReportSamples(const std::string& node_id,
                                       const std::vector<protocol::InstanceSample>& samples) {
  std::lock_guard lock(mu_);
  SKIFF_FAKE_REFUSE_IF_DOWN();
  (void)node_id;
  samples_.insert(samples_.end(), samples.begin(), samples.end());
  return OkStatus();
}

void FakeControlPlane::PutInstance(const model::Instance& instance) {
  std::lock_guard lock(mu_);
  instances_[instance.id] = instance;
  BumpLocked();
}

void FakeControlPlane::RemoveInstance(const std::string& instance_id) {
  std::lock_guard lock(mu_);
  instances_.erase(instance_id);
  BumpLocked();
}

void FakeControlPlane::RemoveNode(const std::string& node_id) {
  std::lock_guard lock(mu_);
  nodes_.erase(node_id);
  BumpLocked();
}

void FakeControlPlane::PutSpec(const std::string& app, int64_t revision,
                               const model::AppSpec& spec) {
  std::lock_guard lock(mu_);
  specs_[app + "/" + std::to_string(revision)] = spec;
  BumpLocked();
}

void FakeControlPlane::SetAvailable(bool available) {
  {
    std::lock_guard lock(mu_);
    available_ = available;
  }
  cv_.notify_all();
}

void FakeControlPlane::SetRegisterError(std::optional<Error> error) {
  std::lock_guard lock(mu_);
  register_error_ = std::move(error);
}

std::optional<model::Instance> FakeControlPlane::instance(const std::string& instance_id) const {
  std::lock_guard lock(mu_);
  auto it = instances_.find(instance_id);
  if (it == instances_.end()) return std::nullopt;
  return it->second;
}

std::optional<model::Node> FakeControlPlane::node(const std::string& node_id) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return std::nullopt;
  return it->second;
}

std::vector<protocol::InstanceReport> FakeControlPlane::reports() const {
  std::lock_guard lock(mu_);
  return reports_;
}

std::vector<protocol::InstanceReport> FakeControlPlane::ReportsFor(
    const std::string& instance_id) const {
  std::lock_guard lock(mu_);
  std::vector<protocol::InstanceReport> out;
  for (const auto& r : reports_) {
    if (r.instance_id == instance_id) out.push_back(r);
  }
  return out;
}

std::vector<model::InstanceState> FakeControlPlane::StatesFor(
    const std::string& instance_id) const {
  std::vector<model::InstanceState> out;
  for (const auto& r : ReportsFor(instance_id)) {
    if (r.state) out.push_back(*r.state);
  }
  return out;
}

int FakeControlPlane::heartbeats() const {
  std::lock_guard lock(mu_);
  return heartbeats_;
}

int FakeControlPlane::lists() const {
  std::lock_guard lock(mu_);
  return lists_;
}

int FakeControlPlane::registrations() const {
  std::lock_guard lock(mu_);
  return registrations_;
}

int FakeControlPlane::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

std::vector<protocol::InstanceSample> FakeControlPlane::samples() const {
  std::lock_guard lock(mu_);
  return samples_;
}

std::vector<model::Event> FakeControlPlane::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

int64_t FakeControlPlane::revision() const {
  std::lock_guard lock(mu_);
  return revision_;
}

void FakeControlPlane::BumpLocked() {
  ++revision_;
  cv_.notify_all();
}

}  // namespace skiff::testing
