#include "orchestrator/swarm/swarm_engine.h"

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "runtime/docker/engine_json.h"

namespace skiff::orchestrator::swarm {
namespace {

namespace json = boost::json;
using runtime::docker::JsonInt;
using runtime::docker::JsonLabels;
using runtime::docker::JsonString;
using runtime::docker::JsonTime;
using runtime::docker::QueryEscape;

const json::object* ObjectAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}

// `filters` for list calls: {"label": [...]} and the like, escaped.
std::string Filters(const json::object& filters) {
  return "filters=" + QueryEscape(json::serialize(filters));
}

}  // namespace

std::string_view NodeAvailabilityName(NodeAvailability availability) {
  switch (availability) {
    case NodeAvailability::kActive:
      return "active";
    case NodeAvailability::kPause:
      return "pause";
    case NodeAvailability::kDrain:
      return "drain";
  }
  return "active";
}

Error SwarmError(Error error) {
  const std::string& m = error.message;
  if (m.find("update out of sequence") != std::string::npos) {
    error.code = ErrorCode::kAborted;
    error.message = "swarm: the object changed since it was read (" + m + "); read it again";
  } else if (m.find("Worker nodes can't be used") != std::string::npos) {
    // A worker of a Swarm: `docker swarm init` would fail there.
    error.code = ErrorCode::kFailedPrecondition;
    error.message = "the docker engine is a Swarm worker, not a manager (" + m +
                    "); point Skiff at a manager's engine, or promote this node (`docker node "
                    "promote` on a manager)";
  } else if (m.find("not a swarm manager") != std::string::npos ||
             m.find("not part of a swarm") != std::string::npos) {
    error.code = ErrorCode::kFailedPrecondition;
    error.message = "the docker engine is not a Swarm manager (" + m +
                    "); make it one with `docker swarm init` (or join it to a Swarm as a manager)";
  }
  return error;
}

std::optional<SwarmInfo> ParseSwarmInfo(const json::value& v) {
  const json::object* info = v.if_object();
  if (info == nullptr) return std::nullopt;
  const json::object* s = ObjectAt(*info, "Swarm");
  if (s == nullptr) return std::nullopt;
  SwarmInfo out;
  out.node_id = JsonString(*s, "NodeID");
  out.node_addr = JsonString(*s, "NodeAddr");
  out.state = JsonString(*s, "LocalNodeState");
  if (const json::value* c = s->if_contains("ControlAvailable"); c && c->is_bool()) {
    out.control_available = c->get_bool();
  }
  out.error = JsonString(*s, "Error");
  if (const json::object* cluster = ObjectAt(*s, "Cluster")) {
    out.cluster_id = JsonString(*cluster, "ID");
  }
  out.nodes = static_cast<int>(JsonInt(*s, {"Nodes"}));
  out.managers = static_cast<int>(JsonInt(*s, {"Managers"}));
  return out;
}

std::optional<SwarmNode> ParseNode(const json::value& v) {
  const json::object* o = v.if_object();
  if (o == nullptr || JsonString(*o, "ID").empty()) return std::nullopt;
  SwarmNode node;
  node.id = JsonString(*o, "ID");
  node.version = JsonInt(*o, {"Version", "Index"});
  if (const json::object* spec = ObjectAt(*o, "Spec")) {
    node.spec = *spec;
    node.role = JsonString(*spec, "Role");
    node.availability = JsonString(*spec, "Availability");
    node.labels = JsonLabels(spec->if_contains("Labels"));
  }
  if (const json::object* d = ObjectAt(*o, "Description")) {
    node.hostname = JsonString(*d, "Hostname");
    node.nano_cpus = JsonInt(*d, {"Resources", "NanoCPUs"});
    node.memory_bytes = JsonInt(*d, {"Resources", "MemoryBytes"});
    if (const json::object* engine = ObjectAt(*d, "Engine")) {
      node.engine_version = JsonString(*engine, "EngineVersion");
    }
  }
  if (const json::object* status = ObjectAt(*o, "Status")) {
    node.state = JsonString(*status, "State");
    node.addr = JsonString(*status, "Addr");
  }
  if (const json::object* manager = ObjectAt(*o, "ManagerStatus")) {
    if (const json::value* l = manager->if_contains("Leader"); l && l->is_bool()) {
      node.leader = l->get_bool();
    }
  }
  return node;
}

std::optional<SwarmService> ParseService(const json::value& v) {
  const json::object* o = v.if_object();
  if (o == nullptr || JsonString(*o, "ID").empty()) return std::nullopt;
  SwarmService service;
  service.id = JsonString(*o, "ID");
  service.version = JsonInt(*o, {"Version", "Index"});
  service.created_at = JsonTime(*o, "CreatedAt");
  service.updated_at = JsonTime(*o, "UpdatedAt");
  if (const json::object* spec = ObjectAt(*o, "Spec")) {
    service.spec = *spec;
    service.name = JsonString(*spec, "Name");
    service.labels = JsonLabels(spec->if_contains("Labels"));
    if (const json::object* mode = ObjectAt(*spec, "Mode");
        mode != nullptr && mode->contains("Replicated")) {
      service.replicas = JsonInt(*mode, {"Replicated", "Replicas"});
    }
  }
  if (const json::object* update = ObjectAt(*o, "UpdateStatus")) {
    service.update_state = JsonString(*update, "State");
  }
  return service;
}

std::optional<SwarmTask> ParseTask(const json::value& v) {
  const json::object* o = v.if_object();
  if (o == nullptr || JsonString(*o, "ID").empty()) return std::nullopt;
  SwarmTask task;
  task.id = JsonString(*o, "ID");
  task.service_id = JsonString(*o, "ServiceID");
  task.slot = JsonInt(*o, {"Slot"});
  task.node_id = JsonString(*o, "NodeID");
  task.desired_state = JsonString(*o, "DesiredState");
  task.created_at = JsonTime(*o, "CreatedAt");
  task.updated_at = JsonTime(*o, "UpdatedAt");
  task.labels = JsonLabels(o->if_contains("Labels"));
  if (const json::object* status = ObjectAt(*o, "Status")) {
    task.state = JsonString(*status, "State");
    task.message = JsonString(*status, "Message");
    task.error = JsonString(*status, "Err");
    task.status_at = JsonTime(*status, "Timestamp");
    if (const json::object* c = ObjectAt(*status, "ContainerStatus")) {
      task.container_id = JsonString(*c, "ContainerID");
      task.exit_code = static_cast<int>(JsonInt(*c, {"ExitCode"}));
    }
  }
  return task;
}

SwarmEngine::SwarmEngine(std::string host) : engine_(std::move(host)) {}

Result<json::value> SwarmEngine::Call(std::string_view method, const std::string& path,
                                      std::string_view body) const {
  auto answer = engine_.ApiCall(method, path, body);
  if (!answer) return tl::unexpected(SwarmError(answer.error()));
  return answer;
}

Result<SwarmInfo> SwarmEngine::Info() const {
  SKIFF_ASSIGN_OR_RETURN(json::value v, Call("GET", "/info"));
  auto info = ParseSwarmInfo(v);
  if (!info) return Internal("docker: /info reply has no Swarm object");
  return *info;
}

Status SwarmEngine::RequireManager() const {
  // An engine too old for the API paths used here says so, not a 404 later.
  SKIFF_RETURN_IF_ERROR(engine_.Version());
  SKIFF_ASSIGN_OR_RETURN(SwarmInfo info, Info());
  if (info.IsManager()) return OkStatus();
  if (info.state == "active") {
    return FailedPrecondition(fmt::format(
        "the docker engine at {} is a Swarm worker, not a manager{}; point Skiff at a manager's "
        "engine, or promote this node (`docker node promote` on a manager)",
        host(), info.error.empty() ? "" : ": " + info.error));
  }
  std::string what = "not an active Swarm member (" + info.state + ")";
  if (!info.error.empty()) what += ": " + info.error;
  return FailedPrecondition(
      fmt::format("the docker engine at {} is {}; make it a manager with `docker swarm init` "
                  "(or `docker swarm join` with a manager token)",
                  host(), what));
}

Result<std::vector<SwarmNode>> SwarmEngine::ListNodes() const {
  SKIFF_ASSIGN_OR_RETURN(json::value v, Call("GET", "/nodes"));
  if (!v.is_array()) return Internal("docker: /nodes reply is not an array");
  std::vector<SwarmNode> out;
  for (const json::value& item : v.get_array()) {
    if (auto node = ParseNode(item)) out.push_back(std::move(*node));
  }
  return out;
}

Result<SwarmNode> SwarmEngine::InspectNode(std::string_view id) const {
  SKIFF_ASSIGN_OR_RETURN(json::value v, Call("GET", "/nodes/" + QueryEscape(id)));
  auto node = ParseNode(v);
  if (!node) return Internal("docker: node reply has no ID");
  return *node;
}

Status SwarmEngine::SetNodeAvailability(const SwarmNode& node,
                                        NodeAvailability availability) const {
  json::object spec = node.spec;
  spec["Availability"] = NodeAvailabilityName(availability);
  SKIFF_RETURN_IF_ERROR(
      Call("POST", fmt::format("/nodes/{}/update?version={}", QueryEscape(node.id), node.version),
           json::serialize(spec)));
  return OkStatus();
}

Result<std::string> SwarmEngine::CreateService(const json::object& spec) const {
  SKIFF_ASSIGN_OR_RETURN(json::value v, Call("POST", "/services/create", json::serialize(spec)));
  const json::object* o = v.if_object();
  if (o == nullptr || JsonString(*o, "ID").empty()) {
    return Internal("docker: service create reply has no ID");
  }
  return JsonString(*o, "ID");
}

Result<SwarmService> SwarmEngine::InspectService(std::string_view id_or_name) const {
  SKIFF_ASSIGN_OR_RETURN(json::value v, Call("GET", "/services/" + QueryEscape(id_or_name)));
  auto service = ParseService(v);
  if (!service) return Internal("docker: service reply has no ID");
  return *service;
}

Status SwarmEngine::UpdateService(std::string_view id, int64_t version,
                                  const json::object& spec) const {
  SKIFF_RETURN_IF_ERROR(
      Call("POST", fmt::format("/services/{}/update?version={}", QueryEscape(id), version),
           json::serialize(spec)));
  return OkStatus();
}

Result<std::vector<SwarmService>> SwarmEngine::ListServices(
    const std::vector<std::string>& labels) const {
  json::array label_filter(labels.begin(), labels.end());
  std::string path = "/services";
  if (!label_filter.empty()) path += "?" + Filters(json::object{{"label", label_filter}});
  SKIFF_ASSIGN_OR_RETURN(json::value v, Call("GET", path));
  if (!v.is_array()) return Internal("docker: /services reply is not an array");
  std::vector<SwarmService> out;
  for (const json::value& item : v.get_array()) {
    if (auto service = ParseService(item)) out.push_back(std::move(*service));
  }
  return out;
}

Status SwarmEngine::RemoveService(std::string_view id_or_name) const {
  auto removed = Call("DELETE", "/services/" + QueryEscape(id_or_name));
  if (!removed && removed.error().code == ErrorCode::kNotFound) return OkStatus();
  if (!removed) return tl::unexpected(removed.error());
  return OkStatus();
}

Result<std::vector<SwarmTask>> SwarmEngine::ListTasks(std::string_view service) const {
  SKIFF_ASSIGN_OR_RETURN(
      json::value v,
      Call("GET", "/tasks?" + Filters(json::object{{"service", json::array{service}}})));
  if (!v.is_array()) return Internal("docker: /tasks reply is not an array");
  std::vector<SwarmTask> out;
  for (const json::value& item : v.get_array()) {
    if (auto task = ParseTask(item)) out.push_back(std::move(*task));
  }
  return out;
}

}  // namespace skiff::orchestrator::swarm
