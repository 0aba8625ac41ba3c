// ControlPlane: everything an agent says to and hears from the control plane
// (the messages are in protocol/node.h).
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
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "protocol/node.h"

namespace skiff::protocol {

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

}  // namespace skiff::protocol
