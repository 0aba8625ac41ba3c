#include "orchestrator/swarm/service_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "runtime/env.h"

namespace skiff::orchestrator::swarm {
namespace {

namespace json = boost::json;

constexpr char kSwarmHint[] = "on a server with --orchestrator swarm";

int64_t Nanos(Duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// "127.a.b" with a, b in 0..255, written plainly (digits only, no leading
// zeros); "127.0.0" is refused, its slot 1 being 127.0.0.1, the machine's own.
bool IsLoopbackPrefix(std::string_view prefix) {
  int octets = 0;
  size_t at = 0;
  while (at <= prefix.size()) {
    size_t dot = prefix.find('.', at);
    if (dot == std::string_view::npos) dot = prefix.size();
    std::string_view part = prefix.substr(at, dot - at);
    if (part.empty() || part.size() > 3 || (part.size() > 1 && part[0] == '0') ||
        !std::all_of(part.begin(), part.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      return false;
    }
    int value = 0;
    std::from_chars(part.data(), part.data() + part.size(), value);
    if (value > 255 || (octets == 0 && value != 127)) return false;
    ++octets;
    at = dot + 1;
  }
  return octets == 3 && prefix != "127.0.0";
}

Status CheckRun(const model::RunSpec& run, const ServiceSpecOptions& options) {
  if (!run.command.empty()) {
    return InvalidArgument(
        fmt::format("a process (run.command) cannot run {}: Swarm runs images; give run.image "
                    "(or run.build), or run it on a server with --orchestrator skiff",
                    kSwarmHint),
        "run.command");
  }
  if (run.build && options.image.empty()) {
    return InvalidArgument(
        fmt::format("an image built from source (run.build) runs {} only once it is built and "
                    "every Swarm node can pull it",
                    kSwarmHint),
        "run.build");
  }
  if (run.network != model::NetworkMode::kHost) {
    return InvalidArgument(
        fmt::format("Swarm tasks run on the host's network {}, each binding $HOST:$PORT; set "
                    "run.network: host (and listen on $HOST:$PORT)",
                    kSwarmHint),
        "run.network");
  }
  for (size_t i = 0; i < run.args.size(); ++i) {
    for (std::string_view per_task : {"${HOST}", "${SKIFF_INSTANCE}"}) {
      if (run.args[i].find(per_task) != std::string::npos) {
        return InvalidArgument(
            fmt::format("{} differs per task and Swarm fills it into the environment only; "
                        "read it from the environment {}",
                        per_task, kSwarmHint),
            fmt::format("run.args[{}]", i));
      }
    }
  }
  return OkStatus();
}

Result<json::object> Placement(const model::Placement& placement) {
  using model::PlacementStrategy;
  if (placement.strategy == PlacementStrategy::kBinpack ||
      placement.strategy == PlacementStrategy::kRoundRobin) {
    return InvalidArgument(
        fmt::format("Swarm's scheduler has no {} {}; use spread (or least-loaded: Swarm puts a "
                    "task where the service has fewest)",
                    placement.strategy == PlacementStrategy::kBinpack ? "binpack" : "round-robin",
                    kSwarmHint),
        "placement.strategy");
  }
  json::array constraints;
  for (size_t i = 0; i < placement.constraints.size(); ++i) {
    const model::Constraint& c = placement.constraints[i];
    if (c.op == model::ConstraintOp::kExists) {
      return InvalidArgument(
          fmt::format("Swarm cannot ask only that label \"{}\" exists {}; write \"{} == VALUE\"",
                      c.key, kSwarmHint, c.key),
          fmt::format("placement.constraints[{}]", i));
    }
    if (c.key.find('/') != std::string::npos) {
      return InvalidArgument(fmt::format("Swarm constraints cannot name a label with '/' (\"{}\") "
                                         "{}; name the node label without it",
                                         c.key, kSwarmHint),
                             fmt::format("placement.constraints[{}]", i));
    }
    constraints.emplace_back(
        fmt::format("node.labels.{} {} {}", c.key,
                    c.op == model::ConstraintOp::kEquals ? "==" : "!=", c.value));
  }
  json::object out;
  if (!constraints.empty()) out["Constraints"] = std::move(constraints);
  // Swarm's scheduler already spreads a service over nodes (fewest tasks of
  // it first), which is what spread and least-loaded ask; no preference
  // needed until the spec can name a label to spread over.
  return out;
}

}  // namespace

std::string EscapeTemplate(std::string_view text) {
  std::string out;
  size_t at = 0;
  for (size_t open; (open = text.find("{{", at)) != std::string_view::npos; at = open + 2) {
    out.append(text.substr(at, open - at));
    out.append("{{\"{{\"}}");
  }
  out.append(text.substr(at));
  return out;
}

std::string TaskHost(std::string_view address_prefix, int64_t slot) {
  return fmt::format("{}.{}", address_prefix, slot);
}

Result<json::object> ServiceSpecFor(const model::AppSpec& app, int64_t revision,
                                    const ServiceSpecOptions& options) {
  SKIFF_RETURN_IF_ERROR(CheckRun(app.run, options));
  if (!IsLoopbackPrefix(options.address_prefix)) {
    return InvalidArgument(fmt::format("\"{}\" is not three octets of 127.0.0.0/8 (\"127.40.3\")",
                                       options.address_prefix),
                           "address_prefix");
  }
  const int replicas = options.replicas.value_or(app.replicas);
  if (replicas < 0 || replicas > kMaxSlots) {
    return InvalidArgument(fmt::format("must be 0..{} {} (each task binds a loopback address of "
                                       "its slot; got {})",
                                       kMaxSlots, kSwarmHint, replicas),
                           "replicas");
  }
  if (app.autoscale && app.autoscale->max > kMaxSlots) {
    return InvalidArgument(
        fmt::format("must be at most {} {} (got {})", kMaxSlots, kSwarmHint, app.autoscale->max),
        "autoscale.max");
  }
  SKIFF_ASSIGN_OR_RETURN(json::object placement, Placement(app.placement));

  // Validation asks every image app for its port; each task binds it on its
  // own address.
  const int port = app.port;
  const std::string revision_text = std::to_string(revision);
  // What ${VAR} in args may name: the same for every task.
  std::map<std::string, std::string> vars = app.env;
  vars["PORT"] = std::to_string(port);
  vars["SKIFF_APP"] = app.name;
  vars["SKIFF_REVISION"] = revision_text;

  // Users' values are literal; Skiff's per-task ones are Swarm templates.
  std::map<std::string, std::string> env;
  for (const auto& [key, value] : app.env) env[key] = EscapeTemplate(value);
  for (const auto& [key, value] : options.env) env[key] = EscapeTemplate(value);
  env["PORT"] = std::to_string(port);
  env["HOST"] = options.address_prefix + ".{{.Task.Slot}}";
  env["SKIFF_APP"] = app.name;
  env["SKIFF_REVISION"] = revision_text;
  env["SKIFF_INSTANCE"] = "{{.Task.ID}}";
  json::array env_list;
  for (const auto& [key, value] : env) env_list.emplace_back(key + "=" + value);

  json::object labels{{kLabelApp, app.name}, {kLabelRevision, revision_text}};
  if (!options.owner.empty()) labels[kLabelOwner] = options.owner;

  json::array cap_add;
  for (const std::string& cap : app.run.cap_add) cap_add.emplace_back(cap);
  // Swarm re-resolves a tag against its registry before every task (and
  // would run what someone published under that name): the caller gives the
  // image by ID or digest (ServiceSpecOptions::image).
  json::object container{
      {"Image", options.image.empty() ? app.run.image : options.image},
      {"Env", std::move(env_list)},
      {"Labels", labels},
      {"ReadOnly", app.run.read_only},
      {"CapabilityDrop", json::array{"ALL"}},
      {"CapabilityAdd", std::move(cap_add)},
      {"StopGracePeriod", Nanos(app.stop_grace)},
      // An image's own HEALTHCHECK would make Swarm hold a task "starting"
      // and replace one it finds unhealthy: Skiff's probes decide instead.
      {"HealthCheck", json::object{{"Test", json::array{"NONE"}}}},
  };
  if (!app.run.args.empty()) {
    json::array args;
    for (const std::string& arg : app.run.args)
      args.emplace_back(runtime::SubstituteVars(arg, vars));
    container["Args"] = std::move(args);
  }
  if (!app.run.user.empty()) container["User"] = app.run.user;
  if (!app.run.workdir.empty()) container["Dir"] = app.run.workdir;

  json::object limits{{"Pids", options.pids_limit}};
  json::object reservations;
  // Validated specs keep cpu_millis * 10^6 within int64; a spec that was not
  // is refused rather than overflowed.
  if (app.resources.cpu_millis > INT64_MAX / 1'000'000) {
    return InvalidArgument(
        fmt::format("{} millicores is more than an engine takes", app.resources.cpu_millis),
        "resources.cpu");
  }
  if (app.resources.cpu_millis > 0) {
    limits["NanoCPUs"] = app.resources.cpu_millis * 1'000'000;
    reservations["NanoCPUs"] = app.resources.cpu_millis * 1'000'000;
  }
  if (app.resources.memory_bytes > 0) {
    limits["MemoryBytes"] = app.resources.memory_bytes;
    reservations["MemoryBytes"] = app.resources.memory_bytes;
  }

  json::object task{
      {"ContainerSpec", std::move(container)},
      {"Resources",
       json::object{{"Limits", std::move(limits)}, {"Reservations", std::move(reservations)}}},
      // Swarm replaces a task that ends, whatever its exit; Skiff's probes
      // decide what the edge routes to.
      {"RestartPolicy",
       json::object{{"Condition", "any"}, {"Delay", Nanos(std::chrono::seconds(1))}}},
      {"Placement", std::move(placement)},
      {"Networks", json::array{json::object{{"Target", "host"}}}},
      {"LogDriver",
       json::object{{"Name", "json-file"},
                    {"Options", json::object{{"max-size", "10m"}, {"max-file", "2"}}}}},
  };
  return json::object{
      {"Name", options.name.empty() ? app.name : options.name},
      {"Labels", std::move(labels)},
      {"TaskTemplate", std::move(task)},
      {"Mode", json::object{{"Replicated", json::object{{"Replicas", replicas}}}}},
      // A slot's old and new task bind the same address: never both at once.
      {"UpdateConfig", json::object{{"Parallelism", 1},
                                    {"Order", "stop-first"},
                                    {"FailureAction", "pause"},
                                    {"Monitor", Nanos(app.update.min_healthy_time)}}},
  };
}

}  // namespace skiff::orchestrator::swarm
