// NodeService: what agents call, through the HTTP API or in-process — node
// registration and heartbeats, their assignments, and their reports on
// instances. Reports are merged into the stored instances, and their transitions
// become events.
//
// Thread-safety: safe from any thread.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "protocol/node.h"
#include "store/store.h"

namespace skiff::controller {

class NodeService {
 public:
  NodeService(store::Store* store, const Clock* clock);

  // Creates the node (by id) or updates its name, address, labels, capacity,
  // drivers, region and notes; a node that was down becomes ready. kInvalidArgument
  // for an empty id or address.
  Result<model::Node> Register(const model::Node& node);
  // Records that the node is alive now (a node marked down becomes ready again,
  // with an event). Heartbeats are kept in memory, not
  // written to the store: only status changes are. kNotFound for an unknown node.
  Status Heartbeat(const std::string& node_id);
  // Time of the node's last heartbeat in this process; zero when none yet.
  Time LastHeartbeat(const std::string& node_id) const;
  // The instances placed on the node, and the specs of their revisions.
  Result<protocol::Assignments> Assignments(const std::string& node_id) const;
  // Merges an agent's report into the instance. Reports for an older generation
  // than the stored one are ignored (OK). kNotFound for an unknown instance;
  // kFailedPrecondition when the instance is placed on another node.
  Status Report(const protocol::InstanceReport& report);
  // Keeps a node's latest batch of resource samples (in memory; it replaces the
  // node's previous batch) for status and metrics.
  void RecordSamples(const std::string& node_id,
                     const std::vector<protocol::InstanceSample>& samples);
  std::map<std::string, model::ResourceSample> LatestSamples() const;
  // Told of every batch RecordSamples takes, on its caller's thread, outside
  // this service's lock (the metrics history's live series listens).
  // REQUIRES: set before the first RecordSamples, once.
  using SampleListener = std::function<void(const std::string& node_id,
                                            const std::vector<protocol::InstanceSample>& samples)>;
  void SetSampleListener(SampleListener listener) { sample_listener_ = std::move(listener); }
  // Marks the node draining: it takes nothing new and its instances move away.
  Status Drain(const std::string& node_id);

 private:
  store::Store* store_;
  const Clock* clock_;
  SampleListener sample_listener_;  // set before use, then only read
  mutable std::mutex mu_;
  std::map<std::string, Time> heartbeats_;  // GUARDED_BY(mu_)
  // node id -> instance id -> its latest sample. GUARDED_BY(mu_)
  std::map<std::string, std::map<std::string, model::ResourceSample>> samples_;
};

}  // namespace skiff::controller
