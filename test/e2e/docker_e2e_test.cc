// End-to-end with Docker: `skiff server` whose local agent runs image apps on a
// real engine (scripts/dockerd.sh), applied with `skiff apply`, served through
// the edge, kept through kills and server restarts, removed on delete. Without
// an engine these tests skip, and fail under CI=true.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>

#include "e2e/docker_support.h"
#include "e2e/skiff_server.h"
#include "net/http_client.h"
#include "runtime/docker/engine.h"

namespace skiff::testing {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// Containers of `app` on the engine, running or not.
std::vector<runtime::docker::ContainerSummary> Containers(const std::string& host,
                                                          const std::string& app) {
  auto list = runtime::docker::DockerEngine(host).ListContainers({"skiff.app=" + app});
  return list ? *list : std::vector<runtime::docker::ContainerSummary>{};
}

// Verify the life of an image app: apply → healthy and served at its domain
// through the edge; a killed container is replaced; a restarted server adopts
// the running containers (no duplicate); delete removes every container.
TEST(DockerE2eTest, ImageAppServedKeptAndRemoved) {
  SKIFF_REQUIRE_DOCKER(host);
  auto image = TestAppImage(host);
  ASSERT_TRUE(image) << image.error().ToString();
  // The server's agent finds the engine through DOCKER_HOST, as a user's would.
  ASSERT_EQ(::setenv("DOCKER_HOST", host.c_str(), 1), 0);
  SkiffServer server;
  ASSERT_TRUE(server.Start());
  const std::string app = "dk" + std::to_string(::getpid());
  const std::string spec = "name: " + app + "\nrun: {image: \"" + *image +
                           "\", network: host, read_only: true}\n"
                           "replicas: 2\ndomains: [" +
                           app +
                           ".example.test]\n"
                           "health: {type: http, path: /health, interval: 200ms, timeout: 200ms}\n";
  CommandResult applied = server.Skiff({"apply", "-f", server.WriteFile(app + ".yaml", spec)});
  ASSERT_EQ(applied.exit_code, 0) << applied.output << "\nserver:\n" << server.Output();
  EXPECT_THAT(applied.output, HasSubstr("is healthy"));
  EXPECT_EQ(Containers(host, app).size(), 2u);

  // `skiff nodes` says the node runs containers.
  CommandResult nodes = server.Skiff({"nodes"});
  EXPECT_THAT(nodes.output, HasSubstr("docker"));

  // Through the edge, by the app's domain.
  auto edge = [&] {
    auto r = net::HttpClient("http://" + server.edge_addr())
                 .Do("GET", "/", {}, {{"Host", app + ".example.test"}}, 2s);
    return r && r->status == 200 ? r->body : std::string();
  };
  EXPECT_THAT(edge(), HasSubstr("hello from " + app));

  // A container killed behind Skiff's back is replaced.
  const std::string victim = Containers(host, app).front().id;
  ASSERT_TRUE(runtime::docker::DockerEngine(host).KillContainer(victim, "KILL"));
  ASSERT_TRUE(PollUntil(
      [&] {
        auto all = Containers(host, app);
        int running = 0;
        for (const auto& c : all) running += c.state == "running" && c.id != victim;
        return running == 2 && HealthyCount(server, app) == 2;
      },
      20s, 100ms))
      << server.Output();

  // A server restart (SIGKILL, no clean-up) adopts the containers: same ids.
  std::set<std::string> before;
  for (const auto& c : Containers(host, app)) before.insert(c.id);
  server.Kill();
  ASSERT_TRUE(server.Start());
  ASSERT_TRUE(PollUntil([&] { return HealthyCount(server, app) == 2; }, 20s, 100ms))
      << server.Output();
  std::set<std::string> after;
  for (const auto& c : Containers(host, app)) after.insert(c.id);
  EXPECT_EQ(after, before);
  EXPECT_THAT(edge(), HasSubstr("hello from " + app));

  // The instance logs hold the containers' output.
  CommandResult logs = server.Skiff({"logs", app});
  EXPECT_THAT(logs.output, HasSubstr("listening on 127.0.0.1:"));

  CommandResult deleted = server.Skiff({"delete", app});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_TRUE(PollUntil([&] { return Containers(host, app).empty(); }, 20s, 100ms))
      << server.Output();
}

// Verify that an app built from a local Dockerfile that fails to build fails
// its deployment at once with the build's own error, and that the build's
// output is in the instance log.
TEST(DockerE2eTest, FailedBuildFailsDeployment) {
  SKIFF_REQUIRE_DOCKER(host);
  ASSERT_EQ(::setenv("DOCKER_HOST", host.c_str(), 1), 0);
  SkiffServer server;
  ASSERT_TRUE(server.Start());
  TempDir context;
  {
    std::ofstream dockerfile(context.File("Dockerfile"));
    dockerfile << "FROM scratch\nCOPY not-in-context /x\n";
  }
  const std::string app = "bf" + std::to_string(::getpid());
  const std::string spec = "name: " + app + "\nrun: {build: {context: " + context.path() +
                           "}, network: host}\nhealth: {type: http, path: /health}\n";
  CommandResult applied =
      server.Skiff({"apply", "-f", server.WriteFile(app + ".yaml", spec)}, /*timeout_seconds=*/90);
  EXPECT_NE(applied.exit_code, 0) << applied.output;
  // At once, as a start that cannot succeed, not after a crash loop of builds.
  EXPECT_THAT(applied.output,
              HasSubstr("cannot start: build of skiff/" + app + ":1 failed: COPY failed"));
  EXPECT_THAT(applied.output, Not(HasSubstr("crash loop")));
  CommandResult logs = server.Skiff({"logs", app});
  EXPECT_THAT(logs.output, HasSubstr("Step 2/2 : COPY not-in-context /x"));
  EXPECT_TRUE(Containers(host, app).empty());
  ASSERT_EQ(server.Skiff({"delete", app}).exit_code, 0);
}

// Verify that a server told to run the docker driver refuses to start when the
// engine does not answer, saying where it looked.
TEST(DockerE2eTest, RequiredDockerMissingFailsStart) {
  TempDir dir;
  CommandResult r = RunCommand({SKIFF_BIN, "server", "--data", dir.path(), "--listen",
                                "127.0.0.1:" + std::to_string(FreePort()), "--no-edge", "--driver",
                                "process,docker", "--docker-host", "unix://" + dir.File("no.sock")},
                               {}, 30);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output,
              HasSubstr("docker driver: cannot connect to unix://" + dir.File("no.sock")));
}

}  // namespace
}  // namespace skiff::testing
