#include "runtime/driver_set.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "common/logging.h"

namespace skiff::runtime {

std::map<std::string, Driver*> DriverSet::ByName() const {
  std::map<std::string, Driver*> drivers;
  if (process) drivers["process"] = process.get();
  if (docker) drivers["docker"] = docker.get();
  for (auto& [name, driver] : drivers) {
    if (auto it = keeping.find(name); it != keeping.end()) driver = it->second.get();
  }
  return drivers;
}

Result<DriverSet> MakeDrivers(const DriverSetOptions& options) {
  const bool automatic = options.names.empty();
  auto wants = [&](std::string_view name) {
    return automatic ||
           std::find(options.names.begin(), options.names.end(), name) != options.names.end();
  };
  for (const std::string& name : options.names) {
    if (name != "process" && name != "docker") {
      return InvalidArgument(fmt::format("unknown driver \"{}\" (process, docker)", name),
                             "drivers");
    }
  }
  DriverSet set;
  if (wants("process")) {
    process::ProcessDriverOptions driver_options;
    driver_options.cgroup_parent = options.cgroup_parent;
    set.process = std::make_unique<process::ProcessDriver>(driver_options);
    DriverInfo info = set.process->Info();
    if (!info.enforces_limits) SKIFF_LOG_WARN("process driver: {}", info.notes);
  }
  if (wants("docker")) {
    docker::DockerDriverOptions docker_options;
    if (!options.docker_host.empty()) docker_options.host = options.docker_host;
    if (!options.home.empty()) {
      std::error_code ignored;
      docker_options.home =
          std::filesystem::absolute(options.home, ignored).lexically_normal().string();
    }
    docker_options.probe_interval = options.docker_probe_interval;
    set.docker = std::make_unique<docker::DockerDriver>(docker_options);
    auto version = set.docker->Probe();
    if (version) {
      SKIFF_LOG_INFO("docker driver: engine {} at {}", *version, docker_options.host);
    } else if (automatic) {
      // Kept: offered once the engine answers (Info asks again as the agent goes).
      SKIFF_LOG_INFO("docker driver: not offered until the engine answers ({})",
                     version.error().message);
    } else {
      Error error = version.error();
      error.message = "docker driver: " + error.message;
      return tl::unexpected(error);
    }
  }
  if (!options.logs_dir.empty()) {
    set.logs =
        std::make_unique<LogKeeper>(LogKeeperOptions{.dir = options.logs_dir,
                                                     .rotate_bytes = options.log_rotate_bytes,
                                                     .keep = options.log_keep});
    if (set.process) {
      set.keeping["process"] =
          std::make_unique<LogKeepingDriver>(set.process.get(), set.logs.get());
    }
    if (set.docker) {
      set.keeping["docker"] = std::make_unique<LogKeepingDriver>(set.docker.get(), set.logs.get());
    }
  }
  return set;
}

}  // namespace skiff::runtime
