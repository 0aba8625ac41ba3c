#include "model/codec.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <string_view>
#include <utility>

#include "common/quantity.h"
#include "model/spec_parse.h"
#include "model/yaml_json.h"

namespace skiff::model {
namespace json = boost::json;
namespace {

// Reads the fields of one JSON object into a struct, keeping the first error.
// A missing or null field leaves the struct's default: stored objects written by
// an older version still decode, and API clients may send partial objects.
class Fields {
 public:
  Fields(const json::object& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  const json::value* Get(std::string_view key) const {
    const json::value* v = obj_.if_contains(key);
    if (v == nullptr || v->is_null()) return nullptr;
    return v;
  }

  void Fail(std::string_view key, std::string reason) {
    if (error_) return;
    std::string field = prefix_ + std::string(key);
    error_ = Error{ErrorCode::kInvalidArgument, fmt::format("{}: {}", field, reason), field};
  }

  void Str(std::string_view key, std::string& out) {
    const json::value* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_string())
      return Fail(key, fmt::format("must be a string, not {}", JsonKindName(*v)));
    out = std::string(v->get_string());
  }

  void Int(std::string_view key, int64_t& out) {
    const json::value* v = Get(key);
    if (v == nullptr) return;
    if (auto n = ToInt64(*v)) {
      out = *n;
    } else {
      Fail(key, fmt::format("must be an integer, not {}", JsonKindName(*v)));
    }
  }

  void Int(std::string_view key, int& out) {
    int64_t wide = out;
    Int(key, wide);
    if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
      return Fail(key, fmt::format("out of range ({})", wide));
    }
    out = static_cast<int>(wide);
  }

  void Bool(std::string_view key, bool& out) {
    const json::value* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_bool()) return Fail(key, fmt::format("must be a bool, not {}", JsonKindName(*v)));
    out = v->get_bool();
  }

  void TimeField(std::string_view key, Time& out) {
    std::string text;
    Str(key, text);
    if (text.empty()) return;
    auto t = ParseTime(text);
    if (!t) return Fail(key, t.error().message);
    out = *t;
  }

  void StrMap(std::string_view key, std::map<std::string, std::string>& out) {
    const json::value* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_object())
      return Fail(key, fmt::format("must be an object, not {}", JsonKindName(*v)));
    out.clear();
    for (const auto& [k, item] : v->get_object()) {
      if (!item.is_string()) {
        return Fail(fmt::format("{}.{}", key, std::string_view(k)), "must be a string");
      }
      out[std::string(k)] = std::string(item.get_string());
    }
  }

  void StrList(std::string_view key, std::vector<std::string>& out) {
    const json::value* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_array()) return Fail(key, fmt::format("must be a list, not {}", JsonKindName(*v)));
    out.clear();
    const json::array& items = v->get_array();
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) return Fail(fmt::format("{}[{}]", key, i), "must be a string");
      out.emplace_back(items[i].get_string());
    }
  }

  template <typename E>
  void Enum(std::string_view key, E& out, std::optional<E> (*parse)(std::string_view)) {
    std::string text;
    Str(key, text);
    if (text.empty()) return;
    if (auto e = parse(text)) {
      out = *e;
    } else {
      Fail(key, fmt::format("unknown value \"{}\"", text));
    }
  }

  void Res(std::string_view key, Resources& out) {
    const json::value* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_object())
      return Fail(key, fmt::format("must be an object, not {}", JsonKindName(*v)));
    Fields inner(v->get_object(), prefix_ + std::string(key) + ".");
    inner.Int("cpu", out.cpu_millis);
    inner.Int("memory", out.memory_bytes);
    if (inner.error_ && !error_) error_ = inner.error_;
  }

  void Spec(std::string_view key, AppSpec& out) {
    const json::value* v = Get(key);
    if (v == nullptr) return Fail(key, "required");
    auto spec = SpecFromJson(*v);
    if (!spec) {
      if (error_) return;
      Error e = spec.error();
      std::string prefix = prefix_ + std::string(key);
      e.field = e.field.empty() ? prefix : prefix + "." + e.field;
      e.message = prefix + ": " + e.message;
      error_ = std::move(e);
      return;
    }
    out = std::move(*spec);
  }

  Status status() const {
    if (error_) return tl::unexpected(*error_);
    return OkStatus();
  }

 private:
  static std::optional<int64_t> ToInt64(const json::value& v) {
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64()) {
      if (v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return std::nullopt;
      }
      return static_cast<int64_t>(v.get_uint64());
    }
    if (v.is_double()) {
      double d = v.get_double();
      // Integral doubles only ("2.0" from a tool that writes every number as float).
      if (std::abs(d) < 9e18 && d == std::trunc(d)) {
        return static_cast<int64_t>(d);
      }
    }
    return std::nullopt;
  }

  const json::object& obj_;
  std::string prefix_;
  std::optional<Error> error_;
};

Result<const json::object*> AsObject(const json::value& json, std::string_view what) {
  if (!json.is_object()) {
    return InvalidArgument(
        fmt::format("{} must be a JSON object, not {}", what, JsonKindName(json)));
  }
  return &json.get_object();
}

json::value ResourcesToJson(const Resources& r) {
  return json::object{{"cpu", r.cpu_millis}, {"memory", r.memory_bytes}};
}

json::value StringMapToJson(const std::map<std::string, std::string>& m) {
  json::object out;
  for (const auto& [k, v] : m) out[k] = v;
  return out;
}

json::value StringListToJson(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& item : items) out.emplace_back(item);
  return out;
}

std::string ConstraintToString(const Constraint& c) {
  switch (c.op) {
    case ConstraintOp::kEquals:
      return c.key + " == " + c.value;
    case ConstraintOp::kNotEquals:
      return c.key + " != " + c.value;
    case ConstraintOp::kExists:
      return c.key;
  }
  return c.key;
}

}  // namespace

json::value SpecToJson(const AppSpec& spec) {
  json::object run;
  if (IsContainer(spec.run)) {
    if (!spec.run.image.empty()) run["image"] = spec.run.image;
    if (const auto& b = spec.run.build) {
      json::object build;
      if (!b->context.empty()) build["context"] = b->context;
      build["dockerfile"] = b->dockerfile;
      if (!b->git.empty()) build["git"] = b->git;
      if (!b->ref.empty()) build["ref"] = b->ref;
      run["build"] = std::move(build);
    }
    run["args"] = StringListToJson(spec.run.args);
    run["cap_add"] = StringListToJson(spec.run.cap_add);
    if (!spec.run.user.empty()) run["user"] = spec.run.user;
    run["read_only"] = spec.run.read_only;
    run["network"] = ToString(spec.run.network);
  } else {
    run["command"] = StringListToJson(spec.run.command);
  }
  if (!spec.run.workdir.empty()) run["workdir"] = spec.run.workdir;

  const HealthCheck& h = spec.health;
  json::object health{
      {"type", ToString(h.type)},
      {"path", h.path},
      {"interval", FormatDuration(h.interval)},
      {"timeout", FormatDuration(h.timeout)},
      {"healthy_threshold", h.healthy_threshold},
      {"unhealthy_threshold", h.unhealthy_threshold},
      {"grace", FormatDuration(h.grace)},
  };

  json::array constraints;
  for (const Constraint& c : spec.placement.constraints) {
    constraints.emplace_back(ConstraintToString(c));
  }

  const UpdatePolicy& u = spec.update;
  json::object update{
      {"strategy", ToString(u.strategy)},
      {"max_surge", u.max_surge},
      {"max_unavailable", u.max_unavailable},
      {"min_healthy_time", FormatDuration(u.min_healthy_time)},
      {"healthy_deadline", FormatDuration(u.healthy_deadline)},
      {"auto_revert", u.auto_revert},
      {"canary", u.canary},
      {"canary_weight", u.canary_weight},
      {"auto_promote", u.auto_promote},
      {"keep_old", FormatDuration(u.keep_old)},
  };

  json::object regions;
  for (const auto& [name, r] : spec.regions) {
    json::object region;
    if (r.replicas) region["replicas"] = *r.replicas;
    region["env"] = StringMapToJson(r.env);
    regions[name] = std::move(region);
  }

  json::object out;
  out["name"] = spec.name;
  out["project"] = spec.project;
  out["run"] = std::move(run);
  out["env"] = StringMapToJson(spec.env);
  // Port 0 means "none" (a process gets $PORT); the validator wants 1..65535 when present.
  if (spec.port != 0) out["port"] = spec.port;
  out["domains"] = StringListToJson(spec.domains);
  out["replicas"] = spec.replicas;
  out["resources"] = json::object{{"cpu", FormatCpuMillis(spec.resources.cpu_millis)},
                                  {"memory", FormatMemoryBytes(spec.resources.memory_bytes)}};
  out["health"] = std::move(health);
  out["placement"] = json::object{{"strategy", ToString(spec.placement.strategy)},
                                  {"constraints", std::move(constraints)}};
  out["update"] = std::move(update);
  if (spec.autoscale) {
    const Autoscale& a = *spec.autoscale;
    out["autoscale"] = json::object{
        {"min", a.min},
        {"max", a.max},
        {"target_rps_per_replica", a.target_rps_per_replica},
        {"max_p95_ms", a.max_p95_ms},
        {"target_cpu", a.target_cpu},
        {"target_memory", a.target_memory},
        {"scale_out_threshold", a.scale_out_threshold},
        {"scale_in_threshold", a.scale_in_threshold},
        {"window", FormatDuration(a.window)},
        {"cooldown_up", FormatDuration(a.cooldown_up)},
        {"cooldown_down", FormatDuration(a.cooldown_down)},
        {"max_step", a.max_step},
        {"scale_to_zero", a.scale_to_zero},
        {"idle", FormatDuration(a.idle)},
    };
  }
  out["regions"] = std::move(regions);
  out["edge"] = EdgePolicyToJson(spec.edge);
  out["stop_grace"] = FormatDuration(spec.stop_grace);
  // Only when there are any: the specs of apps without secrets read as before.
  if (!spec.secret_versions.empty()) {
    json::object versions;
    for (const auto& [key, version] : spec.secret_versions) versions[key] = version;
    out["secret_versions"] = std::move(versions);
  }
  return out;
}

json::value EdgePolicyToJson(const EdgePolicy& edge) {
  json::object out{{"lb", ToString(edge.lb)},
                   {"max_in_flight", edge.max_in_flight},
                   {"max_body", FormatMemoryBytes(edge.max_body)},
                   {"timeouts", json::object{{"connect", FormatDuration(edge.connect_timeout)},
                                             {"response", FormatDuration(edge.response_timeout)}}},
                   {"drain_timeout", FormatDuration(edge.drain_timeout)}};
  out["tls"] = ToString(edge.tls);
  out["https_redirect"] = edge.https_redirect;
  if (edge.hsts) out["hsts"] = FormatDuration(*edge.hsts);
  out["wake_queue"] = edge.wake_queue;
  out["wake_timeout"] = FormatDuration(edge.wake_timeout);
  if (edge.rate_limit) {
    out["rate_limit"] =
        json::object{{"average", edge.rate_limit->average}, {"burst", edge.rate_limit->burst}};
  }
  return out;
}

Result<AppSpec> SpecFromJson(const json::value& json) {
  SKIFF_ASSIGN_OR_RETURN(AppSpec spec, ParseAppSpecJson(json, UnknownFields::kIgnore));
  // Skiff's own field, which a user's spec may not name (ParseAppSpecJson
  // refuses it there): read here, for what the store and the API give back.
  const json::value* versions =
      json.is_object() ? json.as_object().if_contains("secret_versions") : nullptr;
  if (versions != nullptr && versions->is_object()) {
    for (const auto& [key, version] : versions->as_object()) {
      if (!version.is_int64()) return InvalidArgument("not an integer", "secret_versions");
      spec.secret_versions[std::string(key)] = version.as_int64();
    }
  }
  return spec;
}

json::value ToJson(const App& app) {
  json::object out{
      {"name", app.name},
      {"revision", app.revision},
      {"spec", SpecToJson(app.spec)},
      {"created_at", FormatTime(app.created_at)},
      {"updated_at", FormatTime(app.updated_at)},
      {"deleting", app.deleting},
      {"restart_epoch", app.restart_epoch},
      {"version", app.version},
  };
  if (app.autoscaled_replicas) out["autoscaled_replicas"] = *app.autoscaled_replicas;
  if (app.scaled_up_at != Time{}) out["scaled_up_at"] = FormatTime(app.scaled_up_at);
  if (app.scaled_down_at != Time{}) out["scaled_down_at"] = FormatTime(app.scaled_down_at);
  if (app.woken_at != Time{}) out["woken_at"] = FormatTime(app.woken_at);
  return out;
}

json::value ToJson(const Deployment& d) {
  return json::object{
      {"app", d.app},
      {"revision", d.revision},
      {"spec", SpecToJson(d.spec)},
      {"state", ToString(d.state)},
      {"created_at", FormatTime(d.created_at)},
      {"updated_at", FormatTime(d.updated_at)},
      {"message", d.message},
      {"healthy", d.healthy},
      {"progressed_at", FormatTime(d.progressed_at)},
      {"healthy_at", FormatTime(d.healthy_at)},
      {"promoted", d.promoted},
      {"version", d.version},
  };
}

json::value ToJson(const Instance& i) {
  json::object out{
      {"id", i.id},
      {"app", i.app},
      {"revision", i.revision},
      {"node", i.node},
      {"desired", ToString(i.desired)},
      {"state", ToString(i.state)},
      {"health", ToString(i.health)},
      {"address", i.address},
      {"port", i.port},
      {"restart_epoch", i.restart_epoch},
      {"restarts", i.restarts},
      {"crash_count", i.crash_count},
      {"generation", i.generation},
      {"running_generation", i.running_generation},
      {"handle", i.handle},
      {"message", i.message},
      {"started_at", FormatTime(i.started_at)},
      {"finished_at", FormatTime(i.finished_at)},
      {"restart_at", FormatTime(i.restart_at)},
      {"traffic", ToString(i.traffic)},
      {"healthy_since", FormatTime(i.healthy_since)},
      {"drain_until", FormatTime(i.drain_until)},
      {"drained", i.drained},
      {"created_at", FormatTime(i.created_at)},
      {"updated_at", FormatTime(i.updated_at)},
      {"version", i.version},
  };
  if (i.last_exit) {
    out["last_exit"] = *i.last_exit;
  } else {
    out["last_exit"] = nullptr;
  }
  return out;
}

json::value ToJson(const Node& n) {
  return json::object{
      {"id", n.id},
      {"name", n.name},
      {"address", n.address},
      {"status", ToString(n.status)},
      {"labels", StringMapToJson(n.labels)},
      {"capacity", ResourcesToJson(n.capacity)},
      {"allocated", ResourcesToJson(n.allocated)},
      {"last_heartbeat", FormatTime(n.last_heartbeat)},
      {"region", n.region},
      {"drivers", StringListToJson(n.drivers)},
      {"notes", n.notes},
      {"version", n.version},
  };
}

json::value ToJson(const Event& e) {
  return json::object{
      {"id", e.id},     {"time", FormatTime(e.time)}, {"app", e.app},
      {"kind", e.kind}, {"message", e.message},       {"details", StringMapToJson(e.details)},
  };
}

Result<App> AppFromJson(const json::value& json) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* obj, AsObject(json, "app"));
  App app;
  Fields f(*obj, "");
  f.Str("name", app.name);
  f.Int("revision", app.revision);
  f.Spec("spec", app.spec);
  f.TimeField("created_at", app.created_at);
  f.TimeField("updated_at", app.updated_at);
  f.Bool("deleting", app.deleting);
  f.Int("restart_epoch", app.restart_epoch);
  if (f.Get("autoscaled_replicas") != nullptr) {
    int replicas = 0;
    f.Int("autoscaled_replicas", replicas);
    app.autoscaled_replicas = replicas;
  }
  f.TimeField("scaled_up_at", app.scaled_up_at);
  f.TimeField("scaled_down_at", app.scaled_down_at);
  f.TimeField("woken_at", app.woken_at);
  f.Int("version", app.version);
  SKIFF_RETURN_IF_ERROR(f.status());
  return app;
}

Result<Deployment> DeploymentFromJson(const json::value& json) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* obj, AsObject(json, "deployment"));
  Deployment d;
  Fields f(*obj, "");
  f.Str("app", d.app);
  f.Int("revision", d.revision);
  f.Spec("spec", d.spec);
  f.Enum("state", d.state, &ParseDeploymentState);
  f.TimeField("created_at", d.created_at);
  f.TimeField("updated_at", d.updated_at);
  f.Str("message", d.message);
  f.Int("healthy", d.healthy);
  f.TimeField("progressed_at", d.progressed_at);
  f.TimeField("healthy_at", d.healthy_at);
  f.Bool("promoted", d.promoted);
  f.Int("version", d.version);
  SKIFF_RETURN_IF_ERROR(f.status());
  return d;
}

Result<Instance> InstanceFromJson(const json::value& json) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* obj, AsObject(json, "instance"));
  Instance i;
  Fields f(*obj, "");
  f.Str("id", i.id);
  f.Str("app", i.app);
  f.Int("revision", i.revision);
  f.Str("node", i.node);
  f.Enum("desired", i.desired, &ParseDesiredState);
  f.Enum("state", i.state, &ParseInstanceState);
  f.Enum("health", i.health, &ParseHealth);
  f.Str("address", i.address);
  f.Int("port", i.port);
  f.Int("restart_epoch", i.restart_epoch);
  f.Int("restarts", i.restarts);
  f.Int("crash_count", i.crash_count);
  f.Int("generation", i.generation);
  f.Int("running_generation", i.running_generation);
  if (f.Get("last_exit") != nullptr) {
    int last_exit = 0;
    f.Int("last_exit", last_exit);
    i.last_exit = last_exit;
  }
  f.Str("handle", i.handle);
  f.Str("message", i.message);
  f.TimeField("started_at", i.started_at);
  f.TimeField("finished_at", i.finished_at);
  f.TimeField("restart_at", i.restart_at);
  f.Enum("traffic", i.traffic, &ParseTraffic);
  f.TimeField("healthy_since", i.healthy_since);
  f.TimeField("drain_until", i.drain_until);
  f.Bool("drained", i.drained);
  f.TimeField("created_at", i.created_at);
  f.TimeField("updated_at", i.updated_at);
  f.Int("version", i.version);
  SKIFF_RETURN_IF_ERROR(f.status());
  return i;
}

Result<Node> NodeFromJson(const json::value& json) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* obj, AsObject(json, "node"));
  Node n;
  Fields f(*obj, "");
  f.Str("id", n.id);
  f.Str("name", n.name);
  f.Str("address", n.address);
  f.Enum("status", n.status, &ParseNodeStatus);
  f.StrMap("labels", n.labels);
  f.Res("capacity", n.capacity);
  f.Res("allocated", n.allocated);
  f.TimeField("last_heartbeat", n.last_heartbeat);
  f.Str("region", n.region);
  f.StrList("drivers", n.drivers);
  f.Str("notes", n.notes);
  f.Int("version", n.version);
  SKIFF_RETURN_IF_ERROR(f.status());
  return n;
}

Result<Event> EventFromJson(const json::value& json) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* obj, AsObject(json, "event"));
  Event e;
  Fields f(*obj, "");
  f.Int("id", e.id);
  f.TimeField("time", e.time);
  f.Str("app", e.app);
  f.Str("kind", e.kind);
  f.Str("message", e.message);
  f.StrMap("details", e.details);
  SKIFF_RETURN_IF_ERROR(f.status());
  return e;
}

}  // namespace skiff::model
