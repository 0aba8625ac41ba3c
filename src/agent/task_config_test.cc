#include "agent/task_config.h"

#include <gtest/gtest.h>

namespace skiff::agent {
namespace {

// Verify that an image task gets its args substituted and the docker driver.
TEST(TaskConfigTest, ImageArgs) {
  model::AppSpec spec;
  spec.run.image = "hello:1";
  spec.run.args = {"--listen", "${HOST}:${PORT}", "--name=${SKIFF_INSTANCE}", "${UNKNOWN}"};
  spec.resources = {.cpu_millis = 250, .memory_bytes = 1 << 20};
  model::Instance instance;
  instance.id = "hello-1";
  instance.app = "hello";
  instance.revision = 4;
  auto config =
      BuildTaskConfig(instance, spec, "127.0.0.2", 20005, "/logs/hello-1.log", "/apps/hello");
  EXPECT_EQ(DriverNameFor(spec.run), "docker");
  EXPECT_EQ(config.run.image, "hello:1");
  EXPECT_EQ(config.run.args, (std::vector<std::string>{"--listen", "127.0.0.2:20005",
                                                       "--name=hello-1", "${UNKNOWN}"}));
  EXPECT_EQ(config.resources, spec.resources);
  EXPECT_EQ(config.env.at("SKIFF_REVISION"), "4");
  EXPECT_EQ(config.port, 20005);
  EXPECT_EQ(config.log_path, "/logs/hello-1.log");
  EXPECT_EQ(config.work_dir, "/apps/hello");  // the app's own directory by default
  spec.run.workdir = "/srv/hello";
  EXPECT_EQ(BuildTaskConfig(instance, spec, "127.0.0.2", 20005, "/l", "/apps/hello").work_dir,
            "/srv/hello");
  model::RunSpec process;
  process.command = {"true"};
  EXPECT_EQ(DriverNameFor(process), "process");
}

// Verify that secrets join the environment over the spec's env, never over
// Skiff's own variables, and are not substituted into the command.
TEST(TaskConfigTest, SecretsInEnvironmentOnly) {
  model::AppSpec spec;
  spec.run.command = {"app", "--key=${API_KEY}", "--port=${PORT}"};
  spec.env = {{"API_KEY", "from-spec"}, {"GREETING", "hi"}};
  model::Instance instance;
  instance.id = "web-1";
  instance.app = "web";
  auto config = BuildTaskConfig(instance, spec, "127.0.0.1", 20001, "/l", "/apps/web",
                                {{"API_KEY", "s3cret"}, {"PORT", "1"}, {"SKIFF_APP", "x"}});
  EXPECT_EQ(config.env.at("API_KEY"), "s3cret");
  EXPECT_EQ(config.env.at("GREETING"), "hi");
  EXPECT_EQ(config.env.at("PORT"), "20001");
  EXPECT_EQ(config.env.at("SKIFF_APP"), "web");
  EXPECT_EQ(config.run.command,
            (std::vector<std::string>{"app", "--key=from-spec", "--port=20001"}));
}

}  // namespace
}  // namespace skiff::agent
