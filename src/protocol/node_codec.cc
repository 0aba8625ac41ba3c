#include "protocol/node_codec.h"

#include <fmt/format.h>

#include "common/quantity.h"
#include "model/codec.h"
#include "protocol/json_fields.h"

namespace skiff::protocol {
namespace json = boost::json;

json::value ToJson(const InstanceReport& r) {
  json::object o{{"instance", r.instance_id}, {"node", r.node_id}, {"generation", r.generation}};
  if (r.state) o["state"] = model::ToString(*r.state);
  if (r.health) o["health"] = model::ToString(*r.health);
  if (r.address) o["address"] = *r.address;
  if (r.port) o["port"] = *r.port;
  if (r.handle) o["handle"] = *r.handle;
  if (r.last_exit) o["last_exit"] = *r.last_exit;
  if (r.message) o["message"] = *r.message;
  if (r.started_at) o["started_at"] = FormatTime(*r.started_at);
  if (r.finished_at) o["finished_at"] = FormatTime(*r.finished_at);
  return o;
}

Result<InstanceReport> InstanceReportFromJson(const json::value& json) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* o, AsObject(json, "report"));
  InstanceReport r;
  SKIFF_ASSIGN_OR_RETURN(auto instance, OptString(*o, "instance"));
  SKIFF_ASSIGN_OR_RETURN(auto node, OptString(*o, "node"));
  if (!instance || instance->empty()) return tl::unexpected(BadField("instance", "required"));
  r.instance_id = *instance;
  r.node_id = node.value_or("");
  SKIFF_ASSIGN_OR_RETURN(auto generation, OptInt(*o, "generation"));
  r.generation = generation.value_or(0);
  SKIFF_ASSIGN_OR_RETURN(auto state, OptString(*o, "state"));
  if (state) {
    r.state = model::ParseInstanceState(*state);
    if (!r.state) return tl::unexpected(BadField("state", fmt::format("unknown \"{}\"", *state)));
  }
  SKIFF_ASSIGN_OR_RETURN(auto health, OptString(*o, "health"));
  if (health) {
    r.health = model::ParseHealth(*health);
    if (!r.health) {
      return tl::unexpected(BadField("health", fmt::format("unknown \"{}\"", *health)));
    }
  }
  SKIFF_ASSIGN_OR_RETURN(r.address, OptString(*o, "address"));
  SKIFF_ASSIGN_OR_RETURN(r.port, OptSmallInt(*o, "port"));
  SKIFF_ASSIGN_OR_RETURN(r.handle, OptString(*o, "handle"));
  SKIFF_ASSIGN_OR_RETURN(r.last_exit, OptSmallInt(*o, "last_exit"));
  SKIFF_ASSIGN_OR_RETURN(r.message, OptString(*o, "message"));
  SKIFF_ASSIGN_OR_RETURN(r.started_at, OptTime(*o, "started_at"));
  SKIFF_ASSIGN_OR_RETURN(r.finished_at, OptTime(*o, "finished_at"));
  return r;
}

json::value ToJson(const model::ResourceSample& s) {
  json::object o{
      {"at", FormatTime(s.at)}, {"cpu_millis", s.cpu_millis}, {"memory_bytes", s.memory_bytes}};
  // Zeros (none) are left out: what an agent of before these fields sent.
  if (s.memory_limit_bytes != 0) o["memory_limit_bytes"] = s.memory_limit_bytes;
  if (s.cpu_reserved_millis != 0) o["cpu_reserved_millis"] = s.cpu_reserved_millis;
  if (s.memory_reserved_bytes != 0) o["memory_reserved_bytes"] = s.memory_reserved_bytes;
  return o;
}

Result<model::ResourceSample> ResourceSampleFromJson(const json::value& json) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* o, AsObject(json, "sample"));
  model::ResourceSample s;
  SKIFF_ASSIGN_OR_RETURN(auto at, OptTime(*o, "at"));
  SKIFF_ASSIGN_OR_RETURN(auto cpu, OptInt(*o, "cpu_millis"));
  SKIFF_ASSIGN_OR_RETURN(auto memory, OptInt(*o, "memory_bytes"));
  s.at = at.value_or(Time{});
  s.cpu_millis = cpu.value_or(0);
  s.memory_bytes = memory.value_or(0);
  // Absent from an older agent's samples: none known.
  SKIFF_ASSIGN_OR_RETURN(auto limit, OptInt(*o, "memory_limit_bytes"));
  SKIFF_ASSIGN_OR_RETURN(auto cpu_reserved, OptInt(*o, "cpu_reserved_millis"));
  SKIFF_ASSIGN_OR_RETURN(auto memory_reserved, OptInt(*o, "memory_reserved_bytes"));
  s.memory_limit_bytes = limit.value_or(0);
  s.cpu_reserved_millis = cpu_reserved.value_or(0);
  s.memory_reserved_bytes = memory_reserved.value_or(0);
  return s;
}

json::value SamplesToJson(const std::vector<InstanceSample>& samples) {
  json::array list;
  for (const InstanceSample& s : samples) {
    json::value v = ToJson(s.sample);
    v.get_object()["instance"] = s.instance_id;
    list.push_back(std::move(v));
  }
  return json::object{{"samples", std::move(list)}};
}

Result<std::vector<InstanceSample>> SamplesFromJson(const json::value& json) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* o, AsObject(json, "body"));
  std::vector<InstanceSample> samples;
  const json::value* list = Member(*o, "samples");
  if (list == nullptr) return samples;
  if (!list->is_array()) return tl::unexpected(BadField("samples", "must be an array"));
  for (const json::value& item : list->get_array()) {
    SKIFF_ASSIGN_OR_RETURN(model::ResourceSample sample, ResourceSampleFromJson(item));
    SKIFF_ASSIGN_OR_RETURN(auto instance, OptString(item.get_object(), "instance"));
    if (!instance || instance->empty()) {
      return tl::unexpected(BadField("samples.instance", "required"));
    }
    samples.push_back(InstanceSample{*instance, sample});
  }
  return samples;
}

json::value ToJson(const Assignments& a) {
  json::array instances;
  for (const model::Instance& i : a.instances) instances.push_back(model::ToJson(i));
  json::object specs;
  for (const auto& [key, spec] : a.specs) specs[key] = model::SpecToJson(spec);
  json::object out{
      {"revision", a.revision}, {"instances", std::move(instances)}, {"specs", std::move(specs)}};
  if (!a.secrets.empty()) {
    json::object secrets;
    for (const auto& [app, values] : a.secrets) {
      json::object of_app;
      for (const auto& [key, value] : values) of_app[key] = value;
      secrets[app] = std::move(of_app);
    }
    out["secrets"] = std::move(secrets);
  }
  return out;
}

Result<Assignments> AssignmentsFromJson(const json::value& json) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* o, AsObject(json, "assignments"));
  Assignments a;
  SKIFF_ASSIGN_OR_RETURN(auto revision, OptInt(*o, "revision"));
  a.revision = revision.value_or(0);
  if (const json::value* list = Member(*o, "instances")) {
    if (!list->is_array()) return tl::unexpected(BadField("instances", "must be an array"));
    const json::array& items = list->get_array();
    for (size_t n = 0; n < items.size(); ++n) {
      auto instance = model::InstanceFromJson(items[n]);
      if (!instance) {
        return tl::unexpected(Within(fmt::format("instances[{}]", n), instance.error()));
      }
      a.instances.push_back(std::move(*instance));
    }
  }
  if (const json::value* specs = Member(*o, "specs")) {
    if (!specs->is_object()) return tl::unexpected(BadField("specs", "must be an object"));
    for (const auto& [key, value] : specs->get_object()) {
      // Fields a newer server's spec has and this agent does not know are
      // ignored (model::SpecFromJson), so an agent one version behind keeps running.
      auto spec = model::SpecFromJson(value);
      if (!spec) return tl::unexpected(Within(fmt::format("specs.{}", key), spec.error()));
      a.specs.emplace(std::string(key), std::move(*spec));
    }
  }
  if (const json::value* secrets = Member(*o, "secrets")) {
    // The errors name where, never a value.
    if (!secrets->is_object()) return tl::unexpected(BadField("secrets", "must be an object"));
    for (const auto& [app, values] : secrets->get_object()) {
      if (!values.is_object()) {
        return tl::unexpected(BadField(fmt::format("secrets.{}", app), "must be an object"));
      }
      auto& of_app = a.secrets[std::string(app)];
      for (const auto& [key, value] : values.get_object()) {
        if (!value.is_string()) {
          return tl::unexpected(
              BadField(fmt::format("secrets.{}.{}", app, key), "must be a string"));
        }
        of_app[std::string(key)] = std::string(value.get_string());
      }
    }
  }
  return a;
}

}  // namespace skiff::protocol
