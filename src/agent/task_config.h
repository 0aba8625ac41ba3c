// How an assigned instance becomes a runtime::TaskConfig: the environment every
// instance gets (DESIGN.md: PORT, HOST, SKIFF_APP, SKIFF_INSTANCE,
// SKIFF_REVISION over the spec's env) and ${VAR} substitution in command/args.
// Pure functions.
#pragma once

#include <map>
#include <string>

#include "model/resources.h"
#include "model/spec.h"
#include "runtime/driver.h"

namespace skiff::agent {

// "docker" for an image, "process" for a command: the driver that runs `run`.
std::string DriverNameFor(const model::RunSpec& run);

// The task for `instance` of `spec` listening on host:port, logging to
// `log_path`, working in spec.run.workdir or else `app_dir`. `secrets` (the
// values of the app's secrets) are in its environment over the spec's env and
// under Skiff's own variables (auth/secrets.h refuses those names); they are
// not substituted into command or args (a command line is visible to every
// user of the machine in ps).
runtime::TaskConfig BuildTaskConfig(const model::Instance& instance, const model::AppSpec& spec,
                                    const std::string& host, int port, const std::string& log_path,
                                    const std::string& app_dir,
                                    const std::map<std::string, std::string>& secrets = {});

}  // namespace skiff::agent
