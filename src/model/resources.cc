#include "model/resources.h"

#include <algorithm>
#include <array>
#include <utility>

namespace skiff::model {
namespace {

// One table per enum keeps ToString and Parse* exact inverses of each other.
template <typename E, size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<DeploymentState, 6> kDeploymentStates = {{
    {DeploymentState::kPending, "pending"},
    {DeploymentState::kProgressing, "progressing"},
    {DeploymentState::kHealthy, "healthy"},
    {DeploymentState::kFailed, "failed"},
    {DeploymentState::kRolledBack, "rolled_back"},
    {DeploymentState::kSuperseded, "superseded"},
}};
constexpr Names<InstanceState, 6> kInstanceStates = {{
    {InstanceState::kPending, "pending"},
    {InstanceState::kStarting, "starting"},
    {InstanceState::kRunning, "running"},
    {InstanceState::kStopping, "stopping"},
    {InstanceState::kStopped, "stopped"},
    {InstanceState::kFailed, "failed"},
}};
constexpr Names<Health, 3> kHealths = {{
    {Health::kUnknown, "unknown"},
    {Health::kHealthy, "healthy"},
    {Health::kUnhealthy, "unhealthy"},
}};
constexpr Names<DesiredState, 2> kDesiredStates = {{
    {DesiredState::kRun, "run"},
    {DesiredState::kStop, "stop"},
}};
constexpr Names<NodeStatus, 3> kNodeStatuses = {{
    {NodeStatus::kReady, "ready"},
    {NodeStatus::kDown, "down"},
    {NodeStatus::kDraining, "draining"},
}};
constexpr Names<HealthType, 3> kHealthTypes = {{
    {HealthType::kHttp, "http"},
    {HealthType::kTcp, "tcp"},
    {HealthType::kNone, "none"},
}};
constexpr Names<PlacementStrategy, 4> kPlacementStrategies = {{
    {PlacementStrategy::kSpread, "spread"},
    {PlacementStrategy::kBinpack, "binpack"},
    {PlacementStrategy::kLeastLoaded, "least-loaded"},
    {PlacementStrategy::kRoundRobin, "round-robin"},
}};
constexpr Names<UpdateStrategy, 3> kUpdateStrategies = {{
    {UpdateStrategy::kRolling, "rolling"},
    {UpdateStrategy::kBlueGreen, "blue-green"},
    {UpdateStrategy::kCanary, "canary"},
}};
constexpr Names<LoadBalancer, 3> kLoadBalancers = {{
    {LoadBalancer::kP2c, "p2c"},
    {LoadBalancer::kLeastRequest, "least-request"},
    {LoadBalancer::kRoundRobin, "round-robin"},
}};
constexpr Names<EdgeTls, 3> kEdgeTls = {{
    {EdgeTls::kAuto, "auto"},
    {EdgeTls::kManual, "manual"},
    {EdgeTls::kOff, "off"},
}};

template <typename E, size_t N>
std::string_view NameOf(const Names<E, N>& names, E value) {
  for (const auto& [e, name] : names) {
    if (e == value) return name;
  }
  return "unknown";  // unreachable for a valid enumerator
}

template <typename E, size_t N>
std::optional<E> ValueOf(const Names<E, N>& names, std::string_view name) {
  for (const auto& [e, n] : names) {
    if (n == name) return e;
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(DeploymentState s) { return NameOf(kDeploymentStates, s); }
std::string_view ToString(InstanceState s) { return NameOf(kInstanceStates, s); }
std::string_view ToString(Health h) { return NameOf(kHealths, h); }
std::string_view ToString(DesiredState d) { return NameOf(kDesiredStates, d); }
std::string_view ToString(NodeStatus s) { return NameOf(kNodeStatuses, s); }
std::string_view ToString(HealthType t) { return NameOf(kHealthTypes, t); }
std::string_view ToString(PlacementStrategy s) { return NameOf(kPlacementStrategies, s); }
std::string_view ToString(UpdateStrategy s) { return NameOf(kUpdateStrategies, s); }

std::optional<DeploymentState> ParseDeploymentState(std::string_view s) {
  return ValueOf(kDeploymentStates, s);
}
std::optional<InstanceState> ParseInstanceState(std::string_view s) {
  return ValueOf(kInstanceStates, s);
}
std::optional<Health> ParseHealth(std::string_view s) { return ValueOf(kHealths, s); }
std::optional<DesiredState> ParseDesiredState(std::string_view s) {
  return ValueOf(kDesiredStates, s);
}
std::optional<NodeStatus> ParseNodeStatus(std::string_view s) { return ValueOf(kNodeStatuses, s); }
std::optional<HealthType> ParseHealthType(std::string_view s) { return ValueOf(kHealthTypes, s); }
std::optional<PlacementStrategy> ParsePlacementStrategy(std::string_view s) {
  return ValueOf(kPlacementStrategies, s);
}
std::optional<UpdateStrategy> ParseUpdateStrategy(std::string_view s) {
  return ValueOf(kUpdateStrategies, s);
}
constexpr Names<Traffic, 3> kTraffics = {{
    {Traffic::kServe, "serve"},
    {Traffic::kCanary, "canary"},
    {Traffic::kHold, "hold"},
}};
constexpr Names<NetworkMode, 2> kNetworkModes = {{
    {NetworkMode::kBridge, "bridge"},
    {NetworkMode::kHost, "host"},
}};

std::string_view ToString(LoadBalancer b) { return NameOf(kLoadBalancers, b); }
std::optional<LoadBalancer> ParseLoadBalancer(std::string_view s) {
  return ValueOf(kLoadBalancers, s);
}
std::string_view ToString(EdgeTls t) { return NameOf(kEdgeTls, t); }
std::optional<EdgeTls> ParseEdgeTls(std::string_view s) { return ValueOf(kEdgeTls, s); }
std::string_view ToString(NetworkMode n) { return NameOf(kNetworkModes, n); }
std::string_view ToString(Traffic t) { return NameOf(kTraffics, t); }
std::optional<Traffic> ParseTraffic(std::string_view s) { return ValueOf(kTraffics, s); }
std::optional<NetworkMode> ParseNetworkMode(std::string_view s) {
  return ValueOf(kNetworkModes, s);
}

bool IsLive(InstanceState s) {
  switch (s) {
    case InstanceState::kStarting:
    case InstanceState::kRunning:
    case InstanceState::kStopping:
      return true;
    case InstanceState::kPending:
    case InstanceState::kStopped:
    case InstanceState::kFailed:
      return false;
  }
  return false;
}

int DesiredReplicas(const App& app) {
  if (app.deleting) return 0;
  const AppSpec& spec = app.spec;
  if (!spec.autoscale) return std::max(0, spec.replicas);
  const Autoscale& policy = *spec.autoscale;
  const int floor = policy.scale_to_zero ? 0 : std::max(0, policy.min);
  // A count of 0 is only ever the autoscaler's (asleep): a spec's replicas
  // below min start at min.
  int wanted = app.autoscaled_replicas.value_or(std::max(spec.replicas, policy.min));
  return std::clamp(wanted, floor, std::max(floor, policy.max));
}

bool InRollout(DeploymentState s) {
  return s == DeploymentState::kPending || s == DeploymentState::kProgressing;
}

bool IsSleeping(const App& app) {
  return !app.deleting && app.spec.autoscale && app.spec.autoscale->scale_to_zero &&
         DesiredReplicas(app) == 0;
}

}  // namespace skiff::model
