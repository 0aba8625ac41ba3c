// ControlPlane: everything an agent says to and hears from the control plane.
// The local agent of the all-in-one server uses an in-process implementation
// over the controller's NodeService (LocalControlPlane); a remote agent uses
// one over HTTP (RemoteControlPlane). Either way the agent sees one contract.
//
// Thread-safety: all methods may be called from any thread. Errors: kUnavailable
// when the control plane cannot be reached (the agent keeps its instances
// running and retries); kNotFound for an unknown node; kUnauthenticated for a
// bad credential.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "model/resources.h"
#include "runtime/driver.h"

namespace skiff::agent {

// What an agent reports about one of its instances. Fields that are unset are
// left as they are on the stored instance.
struct InstanceReport {
  std::string instance_id;
  std::string node_id;
  int64_t generation = 0;  // the generation the agent acted on; stale ones are ignored
  std::optional<model::InstanceState> state;
  std::optional<model::Health> health;
  std::optional<std::string> address;
  std::optional<int> port;
  std::optional<std::string> handle;
  std::optional<int> last_exit;
  std::optional<std::string> message;
  std::optional<Time> started_at;
  std::optional<Time> finished_at;
};

struct Assignments {
  int64_t revision = 0;                    // store revision the list is consistent with
  std::vector<model::Instance> instances;  // every instance placed on the node
  // The spec of each revision those instances run, keyed "app/revision".
  std::map<std::string, model::AppSpec> specs;
};

struct InstanceSample {
  std::string instance_id;
  runtime::ResourceSample sample;
};

class ControlPlane {
 public:
  virtual ~ControlPlane() = default;

  // Creates the node or refreshes its address, capacity, drivers and notes;
  // marks it ready. Returns the stored node.
  virtual Result<model::Node> RegisterNode(const model::Node& node) = 0;
  // Marks the node alive now.
  virtual Status Heartbeat(const std::string& node_id) = 0;
  virtual Result<Assignments> ListAssignments(const std::string& node_id) = 0;
  // Blocks until the store revision is past `revision` or `timeout` passes;
  // returns the current revision (== revision on timeout).
  virtual Result<int64_t> WaitForChange(int64_t revision, Duration timeout) = 0;
  virtual Status ReportInstance(const InstanceReport& report) = 0;
  virtual Status ReportSamples(const std::string& node_id,
                               const std::vector<InstanceSample>& samples) = 0;
};

}  // namespace skiff::agent
