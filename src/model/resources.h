// The stored resources of DESIGN.md: App, Deployment, Instance, Node, Event.
// Every stored object carries `version`: the global store revision of its last
// write, which is also the token for optimistic concurrency (see store/store.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "model/spec.h"

namespace skiff::model {

struct App {
  std::string name;
  int64_t revision = 0;  // the deployment revision that is current (what should run)
  AppSpec spec;          // the current revision's spec
  Time created_at;
  Time updated_at;
  bool deleting = false;  // delete requested: instances are being stopped
  // Bumped by `skiff restart`: instances of an older epoch are replaced one at a
  // time, like those of an older revision.
  int64_t restart_epoch = 0;
  // The autoscaler's count (controller/autoscaler.h) while the spec has
  // `autoscale`: how many instances run, in place of spec.replicas, changed
  // without a new revision. nullopt: none decided yet (DesiredReplicas).
  std::optional<int> autoscaled_replicas;
  // When the autoscaler last added, and last removed, instances: its
  // cooldowns count from them. Time{}: never.
  Time scaled_up_at;
  Time scaled_down_at;
  // When a request last asked to wake the app (AppService::Wake, written on
  // every ask, asleep or not, and by an apply that wakes it). The autoscaler
  // counts it as a request: the app does not sleep again before `idle` has
  // passed since. It starts no cooldown: a woken app under a burst scales
  // out at once. Time{}: never.
  Time woken_at;
  int64_t version = 0;
  friend bool operator==(const App&, const App&) = default;
};

// How many instances of `app` should run: 0 while it is being deleted; with
// `autoscale`, the autoscaler's count (spec.replicas until it decided one),
// kept within [min, max]; else spec.replicas.
int DesiredReplicas(const App& app);
// Whether `app` scaled to zero (autoscale.scale_to_zero) and waits for a
// request to wake it: `skiff status` says "sleeping", and edges hold its
// requests while it wakes.
bool IsSleeping(const App& app);

enum class DeploymentState { kPending, kProgressing, kHealthy, kFailed, kRolledBack, kSuperseded };

// Whether a deployment in state `s` is rolling out (pending or progressing);
// the others are settled.
bool InRollout(DeploymentState s);

struct Deployment {
  std::string app;
  int64_t revision = 0;  // 1, 2, ... per app
  AppSpec spec;
  DeploymentState state = DeploymentState::kPending;
  Time created_at;
  Time updated_at;
  std::string message;  // why it is in its state ("3/3 healthy", "crash loop: ...")
  // Rollout bookkeeping of the planner (rollout.h):
  int healthy = 0;        // its instances available when last counted
  Time progressed_at;     // when that count last grew (healthy_deadline counts from it)
  Time healthy_at;        // when it first became healthy (blue-green keep_old counts from it)
  bool promoted = false;  // canary: promoted past the canary step
  int64_t version = 0;
  friend bool operator==(const Deployment&, const Deployment&) = default;
};

// Which share of the app's traffic an instance takes (set by the rollout planner):
// kServe the normal share, kCanary a part of the app's update.canary_weight,
// kHold none while any other instance can serve (blue-green's set not yet
// switched to, or the old set kept after the switch).
enum class Traffic { kServe, kCanary, kHold };

enum class InstanceState { kPending, kStarting, kRunning, kStopping, kStopped, kFailed };
enum class Health { kUnknown, kHealthy, kUnhealthy };
// What the control plane wants of an instance; the agent converges to it.
enum class DesiredState { kRun, kStop };

struct Instance {
  std::string id;
  std::string app;
  int64_t revision = 0;
  std::string node;  // empty while unplaced
  DesiredState desired = DesiredState::kRun;
  InstanceState state = InstanceState::kPending;
  Health health = Health::kUnknown;
  std::string address;        // host:port where it listens, once known
  int port = 0;               // allocated on the node
  int64_t restart_epoch = 0;  // the app's restart_epoch when it was created
  int restarts = 0;
  // Failures in a row (a run of controller::kCrashCountResetAfter ends the
  // count); drives the backoff and crash-loop detection.
  int crash_count = 0;
  // Bumped by the controller to ask the agent for a fresh start of the same
  // instance (restart after a crash); the agent reports the generation it runs.
  int64_t generation = 1;
  int64_t running_generation = 0;
  std::optional<int> last_exit;  // exit code, or 128+signal
  std::string handle;            // the driver's handle (pid + start time, container id)
  std::string message;           // why it is in its state ("exited with 1", "no node fits: ...")
  Time started_at;
  Time finished_at;
  Time restart_at;  // a failed instance is restarted no earlier than this (backoff)
  Traffic traffic = Traffic::kServe;
  Time healthy_since;  // when its health last turned healthy (unset while not healthy)
  // Graceful stop: once desired = stop the agent sends SIGTERM when the edges
  // drained it (`drained`) or at `drain_until`, whichever comes first.
  Time drain_until;
  bool drained = false;
  Time created_at;
  Time updated_at;
  int64_t version = 0;
  friend bool operator==(const Instance&, const Instance&) = default;
};

enum class NodeStatus { kReady, kDown, kDraining };

struct Node {
  std::string id;
  std::string name;
  std::string address;  // where its instances listen
  std::map<std::string, std::string> labels;
  Resources capacity;
  Resources allocated;  // derived from placed instances; kept for display
  NodeStatus status = NodeStatus::kReady;
  Time last_heartbeat;
  std::string region;
  std::vector<std::string> drivers;  // "process", "docker"
  // What the node can and cannot enforce ("cgroup v2 limits", "no cgroups: limits not enforced").
  std::string notes;
  int64_t version = 0;
  friend bool operator==(const Node&, const Node&) = default;
};

// One measurement of a task's resources, taken by its node's driver, with
// what the task runs with (docs/metrics.md, "Collection").
struct ResourceSample {
  Time at;
  // Average use since the previous sample, in millicores (1000 = one core
  // busy); percent of one core is cpu_millis / 10.
  int64_t cpu_millis = 0;
  // The WORKING SET of the whole task (all its processes): what it uses that
  // cannot be reclaimed, as the kernel's OOM killer and `docker stats` see it.
  // A cgroup's usage minus its inactive file pages (v2 memory.current -
  // inactive_file, v1 memory.usage_in_bytes - total_inactive_file, the
  // Engine's usage - inactive_file); resident memory (RSS) without a cgroup.
  int64_t memory_bytes = 0;
  // The memory limit the kernel enforces on the task (memory.max,
  // memory.limit_in_bytes, the container's limit); 0: none.
  int64_t memory_limit_bytes = 0;
  // What the task's spec reserves (resources.cpu / resources.memory, which
  // are also its limits where the driver enforces them); 0: none. Filled by
  // the agent, which knows the spec: the percent of the reservation is
  // cpu_millis * 100 / cpu_reserved_millis.
  int64_t cpu_reserved_millis = 0;
  int64_t memory_reserved_bytes = 0;
  friend bool operator==(const ResourceSample&, const ResourceSample&) = default;
};

struct Event {
  int64_t id = 0;  // the store revision at which it was recorded
  Time time;
  std::string app;   // empty for cluster-wide events
  std::string kind;  // "deployment.created", "instance.unhealthy", ...
  std::string message;
  std::map<std::string, std::string> details;
};

// Lowercase API spellings: "pending", "rolled_back", "least-loaded", "blue-green", ...
std::string_view ToString(DeploymentState s);
std::string_view ToString(InstanceState s);
std::string_view ToString(Health h);
std::string_view ToString(DesiredState d);
std::string_view ToString(NodeStatus s);
std::string_view ToString(HealthType t);
std::string_view ToString(PlacementStrategy s);
std::string_view ToString(UpdateStrategy s);
std::string_view ToString(LoadBalancer b);
std::string_view ToString(EdgeTls t);
std::string_view ToString(NetworkMode n);
std::string_view ToString(Traffic t);
// The inverses; std::nullopt for an unknown spelling.
std::optional<DeploymentState> ParseDeploymentState(std::string_view s);
std::optional<InstanceState> ParseInstanceState(std::string_view s);
std::optional<Health> ParseHealth(std::string_view s);
std::optional<DesiredState> ParseDesiredState(std::string_view s);
std::optional<NodeStatus> ParseNodeStatus(std::string_view s);
std::optional<HealthType> ParseHealthType(std::string_view s);
std::optional<PlacementStrategy> ParsePlacementStrategy(std::string_view s);
std::optional<UpdateStrategy> ParseUpdateStrategy(std::string_view s);
std::optional<LoadBalancer> ParseLoadBalancer(std::string_view s);
std::optional<EdgeTls> ParseEdgeTls(std::string_view s);
std::optional<NetworkMode> ParseNetworkMode(std::string_view s);
std::optional<Traffic> ParseTraffic(std::string_view s);

// True for instance states in which a process may be alive on the node.
bool IsLive(InstanceState s);

}  // namespace skiff::model
