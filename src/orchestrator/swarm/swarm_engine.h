// SwarmEngine: the Docker Swarm calls of the Engine API (v1.41) that the
// Swarm orchestrator needs: whether the engine is a manager, the nodes and
// their availability, services (create, inspect, update, list by label,
// remove) and their tasks. Never the `docker` CLI.
//
// It is its own class over DockerEngine rather than more methods of it:
// DockerEngine is the docker driver's client of one node's containers and
// images, this is the control plane's client of a cluster. It reuses
// DockerEngine's transport and error mapping through DockerEngine::ApiCall.
//
// Thread-safety: every call opens its own connection, so one engine may be
// shared by any number of threads.
//
// Errors, for every call unless it says otherwise (SwarmError): kUnavailable
// when the socket does not answer; kFailedPrecondition when the engine is not
// a Swarm manager (the message says how to make it one); kNotFound for a
// missing node, service or task; kAborted when the object changed since the
// version given ("update out of sequence": read it again and retry) or a
// name is in use; kInvalidArgument when the engine refuses a spec (its own
// words: "invalid constraint", ...); kInternal for a reply that is not what
// the API documents.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "runtime/docker/engine.h"

namespace skiff::orchestrator::swarm {

// The Swarm part of GET /info.
struct SwarmInfo {
  std::string node_id;             // this engine's node; empty outside a Swarm
  std::string node_addr;           // "127.0.0.1"
  std::string state;               // LocalNodeState: inactive, pending, active, error, locked
  bool control_available = false;  // this node is a manager
  std::string error;               // why the state is "error"
  std::string cluster_id;          // empty on a worker
  int nodes = 0;                   // managers only
  int managers = 0;

  bool IsManager() const { return state == "active" && control_available; }
};

enum class NodeAvailability { kActive, kPause, kDrain };
std::string_view NodeAvailabilityName(NodeAvailability availability);

struct SwarmNode {
  std::string id;
  int64_t version = 0;  // Version.Index: what an update must name
  std::string hostname;
  std::string role;          // "manager" or "worker"
  std::string availability;  // "active", "pause", "drain"
  std::string state;         // Status.State: "ready", "down", "unknown", "disconnected"
  std::string addr;          // Status.Addr
  bool leader = false;       // ManagerStatus.Leader
  std::map<std::string, std::string> labels;  // Spec.Labels (the operator's)
  int64_t nano_cpus = 0;                      // Description.Resources
  int64_t memory_bytes = 0;
  std::string engine_version;
  boost::json::object spec;  // Spec as the engine holds it (an update sends it whole)
};

struct SwarmService {
  std::string id;
  std::string name;
  int64_t version = 0;  // Version.Index: what an update must name
  std::map<std::string, std::string> labels;
  std::optional<int64_t> replicas;  // nullopt for a global service
  Time created_at;
  Time updated_at;
  std::string update_state;  // UpdateStatus.State ("updating", "completed", ...); "" before any
  boost::json::object spec;  // Spec as the engine holds it
};

struct SwarmTask {
  std::string id;
  std::string service_id;
  int64_t slot = 0;  // 1.. for a replicated service; 0 for a global one
  std::string node_id;
  std::string desired_state;  // "running", "shutdown", ...
  std::string state;          // Status.State: "new" .. "running", "complete", "failed", ...
  std::string message;        // Status.Message ("started")
  std::string error;          // Status.Err ("no suitable node ...", "task: non-zero exit (3)")
  std::string container_id;   // Status.ContainerStatus.ContainerID; "" before it has one
  int exit_code = 0;
  Time created_at;
  Time updated_at;
  Time status_at;  // Status.Timestamp: when the state last changed
  std::map<std::string, std::string> labels;
};

class SwarmEngine {
 public:
  // `host` as DockerEngine's ("unix:///path/to/docker.sock").
  explicit SwarmEngine(std::string host);

  const std::string& host() const { return engine_.host(); }
  const runtime::docker::DockerEngine& engine() const { return engine_; }

  // The engine's Swarm state. Answers outside a Swarm too (state "inactive").
  Result<SwarmInfo> Info() const;
  // OK when the engine speaks API 1.41 or later and is an active Swarm
  // manager; kFailedPrecondition otherwise, saying what it is and how to fix
  // it (`docker swarm init`; for a worker, a manager or `docker node
  // promote`); errors of Version() and Info().
  Status RequireManager() const;

  Result<std::vector<SwarmNode>> ListNodes() const;
  Result<SwarmNode> InspectNode(std::string_view id) const;
  // Sets `node`'s availability (drain: Swarm moves its tasks elsewhere),
  // keeping the rest of its spec. `node` as read (its version): kAborted when
  // it changed since.
  Status SetNodeAvailability(const SwarmNode& node, NodeAvailability availability) const;

  // Creates a service from `spec` (a ServiceSpec: service_spec.h); its id.
  // kAborted when a service of that name exists.
  Result<std::string> CreateService(const boost::json::object& spec) const;
  // By id or name.
  Result<SwarmService> InspectService(std::string_view id_or_name) const;
  // Replaces the spec of service `id`, read at `version`: kAborted when it
  // changed since (read it again). REQUIRES: `spec` whole (an update is not a
  // patch; what it leaves out goes back to the default).
  Status UpdateService(std::string_view id, int64_t version, const boost::json::object& spec) const;
  // Services carrying every label of `labels` ("key=value", or "key" for any
  // value); all when empty.
  Result<std::vector<SwarmService>> ListServices(const std::vector<std::string>& labels) const;
  // Removes it and, with it, its tasks (Swarm stops their containers).
  // Removing a missing one succeeds.
  Status RemoveService(std::string_view id_or_name) const;

  // The tasks of service `id_or_name`, old ones (shut down, failed) included
  // as far as Swarm keeps them (TaskHistoryRetentionLimit), in no order.
  Result<std::vector<SwarmTask>> ListTasks(std::string_view service) const;

 private:
  Result<boost::json::value> Call(std::string_view method, const std::string& path,
                                  std::string_view body = {}) const;

  runtime::docker::DockerEngine engine_;
};

// What an error of the engine means to the orchestrator: "update out of
// sequence" (a 500) becomes kAborted, "not a swarm manager" (a 503; a
// worker's "Worker nodes can't be used" says to use a manager or promote the
// node) and "not part of a swarm" become kFailedPrecondition with how to fix
// it; the rest is as DockerEngine maps it.
Error SwarmError(Error error);

// Readers of the API's objects (pure; nullopt when `v` is not one).
std::optional<SwarmInfo> ParseSwarmInfo(const boost::json::value& info);
std::optional<SwarmNode> ParseNode(const boost::json::value& v);
std::optional<SwarmService> ParseService(const boost::json::value& v);
std::optional<SwarmTask> ParseTask(const boost::json::value& v);

}  // namespace skiff::orchestrator::swarm
