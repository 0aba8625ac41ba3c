// DriverSet: the runtime drivers an agent offers, made from the names a user
// gave (`--driver process,docker`), and the keeper of their logs: shared by
// the all-in-one server's local agent and `skiff agent`.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "runtime/docker/docker_driver.h"
#include "runtime/driver.h"
#include "runtime/log_keeper.h"
#include "runtime/process/process_driver.h"

namespace skiff::runtime {

struct DriverSetOptions {
  // "process", "docker". Empty: process, and docker, offered whenever its
  // engine answers (one that appears later is picked up; one that goes away
  // is no longer offered: DockerDriver::Info). A docker named here whose
  // engine does not answer at start is an error.
  std::vector<std::string> names;
  std::string docker_host;  // empty: DOCKER_HOST, else unix:///var/run/docker.sock
  std::string cgroup_parent = "/sys/fs/cgroup/skiff";
  // The agent's data dir (DockerDriverOptions::home); made absolute here.
  std::string home;
  // How often docker's Info asks the engine whether it is there.
  Duration docker_probe_interval = std::chrono::seconds(5);
  // Where the instance logs are (TaskConfig::log_path: <data>/logs). Set, the
  // drivers keep them bounded (log_keeper.h); empty: nobody does.
  std::string logs_dir;
  int64_t log_rotate_bytes = 64ll << 20;  // 0: never rotate
  int log_keep = 3;                       // rotated copies kept per instance
};

struct DriverSet {
  std::unique_ptr<process::ProcessDriver> process;
  std::unique_ptr<docker::DockerDriver> docker;
  // With a logs_dir: the keeper of the logs, and each driver wrapped with it.
  std::unique_ptr<LogKeeper> logs;
  std::map<std::string, std::unique_ptr<LogKeepingDriver>> keeping;

  // The drivers made, by name (what agent::Agent takes), keeping their logs
  // when there is a logs_dir; owned by this set.
  std::map<std::string, Driver*> ByName() const;
};

// Makes the drivers and logs what each offers. Errors: kInvalidArgument for an
// unknown name (field "drivers"); the Docker engine's error when docker was
// named and does not answer.
Result<DriverSet> MakeDrivers(const DriverSetOptions& options);

}  // namespace skiff::runtime
