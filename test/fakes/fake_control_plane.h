// FakeControlPlane: an in-memory protocol::ControlPlane for agent tests. Tests
// place instances and specs on it; it records every report, merges reports
// into its instances with the node service's own merge (controller/report_merge.h),
// keeps the events the merges make, and can be made unavailable to simulate an
// outage. The ControlPlane contract suite (test/integration) holds it to what
// LocalControlPlane and RemoteControlPlane do.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "protocol/control_plane.h"

namespace skiff::testing {

class FakeControlPlane final : public protocol::ControlPlane {
 public:
  // `clock` stamps merged reports and registrations; nullptr means the system
  // clock. Not owned; must outlive this object.
  explicit FakeControlPlane(const Clock* clock = nullptr);

  // protocol::ControlPlane:
  Result<model::Node> RegisterNode(const model::Node& node) override;
  Status Heartbeat(const std::string& node_id) override;
  Result<protocol::Assignments> ListAssignments(const std::string& node_id) override;
  Result<int64_t> WaitForChange(int64_t revision, Duration timeout) override;
  Status ReportInstance(const protocol::InstanceReport& report) override;
  Status ReportSamples(const std::string& node_id,
                       const std::vector<protocol::InstanceSample>& samples) override;

  // --- Scripting ---

  // Adds or replaces an instance (assigned to instance.node) and bumps the revision.
  void PutInstance(const model::Instance& instance);
  // Removes an instance (deleted) and bumps the revision.
  void RemoveInstance(const std::string& instance_id);
  // Forgets a registered node (heartbeats then answer kNotFound) and bumps the revision.
  void RemoveNode(const std::string& node_id);
  // The spec of app/revision, handed out with assignments.
  void PutSpec(const std::string& app, int64_t revision, const model::AppSpec& spec);
  // While false, every call answers kUnavailable (WaitForChange at once).
  void SetAvailable(bool available);
  // While set, RegisterNode answers this error.
  void SetRegisterError(std::optional<Error> error);

  // --- Inspection ---

  std::optional<model::Instance> instance(const std::string& instance_id) const;
  std::optional<model::Node> node(const std::string& node_id) const;
  // Every report accepted (stale ones included), in arrival order.
  std::vector<protocol::InstanceReport> reports() const;
  // The reports for one instance, in order.
  std::vector<protocol::InstanceReport> ReportsFor(const std::string& instance_id) const;
  // The states reported for one instance, in order (reports without a state skipped).
  std::vector<model::InstanceState> StatesFor(const std::string& instance_id) const;
  int heartbeats() const;
  // ListAssignments calls answered.
  int lists() const;
  int registrations() const;
  // Calls refused while unavailable.
  int refused() const;
  std::vector<protocol::InstanceSample> samples() const;
  // The events of the merged reports, in order.
  std::vector<model::Event> events() const;
  int64_t revision() const;

 private:
  void BumpLocked();

  const SystemClock system_clock_;
  const Clock* const clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool available_ = true;                             // GUARDED_BY(mu_)
  std::optional<Error> register_error_;               // GUARDED_BY(mu_)
  int64_t revision_ = 1;                              // GUARDED_BY(mu_)
  std::map<std::string, model::Instance> instances_;  // GUARDED_BY(mu_)
  std::map<std::string, model::AppSpec> specs_;       // GUARDED_BY(mu_)
  std::map<std::string, model::Node> nodes_;          // GUARDED_BY(mu_)
  std::vector<protocol::InstanceReport> reports_;     // GUARDED_BY(mu_)
  std::vector<protocol::InstanceSample> samples_;     // GUARDED_BY(mu_)
  std::vector<model::Event> events_;                  // GUARDED_BY(mu_)
  int heartbeats_ = 0;                                // GUARDED_BY(mu_)
  int lists_ = 0;                                     // GUARDED_BY(mu_)
  int registrations_ = 0;                             // GUARDED_BY(mu_)
  int refused_ = 0;                                   // GUARDED_BY(mu_)
};

}  // namespace skiff::testing
