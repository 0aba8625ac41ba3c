#include "agent/task_config.h"

#include "runtime/env.h"

namespace skiff::agent {

std::string DriverNameFor(const model::RunSpec& run) {
  return model::IsContainer(run) ? "docker" : "process";
}

runtime::TaskConfig BuildTaskConfig(const model::Instance& instance, const model::AppSpec& spec,
                                    const std::string& host, int port, const std::string& log_path,
                                    const std::string& app_dir,
                                    const std::map<std::string, std::string>& secrets) {
  runtime::TaskConfig config;
  config.instance_id = instance.id;
  config.app = instance.app;
  config.revision = instance.revision;
  config.host = host;
  config.port = port;
  config.container_port = spec.port;
  config.resources = spec.resources;
  config.log_path = log_path;
  config.work_dir = spec.run.workdir.empty() ? app_dir : spec.run.workdir;
  // The platform's variables win over the spec's: an app cannot be told a
  // port other than the one the node allocated.
  config.env = spec.env;
  config.env["PORT"] = std::to_string(port);
  config.env["HOST"] = host;
  config.env["SKIFF_APP"] = instance.app;
  config.env["SKIFF_INSTANCE"] = instance.id;
  config.env["SKIFF_REVISION"] = std::to_string(instance.revision);
  config.run = spec.run;
  for (std::string& word : config.run.command) word = runtime::SubstituteVars(word, config.env);
  for (std::string& word : config.run.args) word = runtime::SubstituteVars(word, config.env);
  // After the substitution: a secret never shows in a command line. Over the
  // spec's env; never over Skiff's own variables (secrets cannot take their
  // names, auth/secrets.h; checked again here all the same).
  for (const auto& [key, value] : secrets) {
    if (key == "PORT" || key == "HOST" || key.starts_with("SKIFF_")) continue;
    config.env[key] = value;
  }
  return config;
}

}  // namespace skiff::agent
