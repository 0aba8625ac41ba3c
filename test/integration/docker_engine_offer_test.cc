// The agent and a Docker engine that comes and goes, against the private
// dockerd: the agent's docker driver points at a socket path that is, then is
// not, a link to the engine's socket. Without an engine it skips, and fails
// under CI=true.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "e2e/docker_support.h"
#include "fakes/fake_control_plane.h"
#include "fakes/testing.h"
#include "runtime/driver_set.h"

namespace skiff::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// Verify that an engine that appears after the agent started is offered (the
// node registers again with docker among its drivers), and that one that goes
// away is no longer offered and the node's notes say why.
TEST(DockerEngineOfferTest, EngineThatComesAndGoes) {
  SKIFF_REQUIRE_DOCKER(host);
  ASSERT_TRUE(host.starts_with("unix://")) << host;
  const std::string engine_socket = host.substr(7);
  skiff::testing::TempDir dir;
  const std::string link = dir.File("docker.sock");

  runtime::DriverSetOptions driver_options;
  driver_options.docker_host = "unix://" + link;
  driver_options.cgroup_parent.clear();
  driver_options.home = dir.path();
  driver_options.docker_probe_interval = 50ms;
  auto drivers = runtime::MakeDrivers(driver_options);
  ASSERT_TRUE(drivers) << drivers.error().ToString();
  ASSERT_NE(drivers->docker, nullptr);  // kept while its engine is missing
  EXPECT_FALSE(drivers->docker->Info().available);

  skiff::testing::FakeControlPlane cp;
  AgentOptions options;
  options.node_id = "offer-node";
  options.data_dir = dir.File("data");
  options.heartbeat_interval = 20ms;
  options.sample_interval = 50ms;
  options.resync_interval = 200ms;
  options.watch_timeout = 50ms;
  Agent agent(options, &cp, drivers->ByName(), SystemClock::Get());
  ASSERT_TRUE(agent.Start());
  auto offered = [&](const std::vector<std::string>& want) {
    return skiff::testing::PollUntil([&] {
      auto node = cp.node("offer-node");
      return node && node->drivers == want;
    });
  };
  ASSERT_TRUE(offered({"process"}));
  EXPECT_THAT(cp.node("offer-node")->notes,
              HasSubstr("docker: engine at unix://" + link + " does not answer"));

  ASSERT_EQ(::symlink(engine_socket.c_str(), link.c_str()), 0);
  EXPECT_TRUE(offered({"docker", "process"}));
  EXPECT_THAT(cp.node("offer-node")->notes, Not(HasSubstr("docker:")));

  ASSERT_EQ(::unlink(link.c_str()), 0);
  EXPECT_TRUE(offered({"process"}));
  EXPECT_THAT(cp.node("offer-node")->notes, HasSubstr("docker: engine at"));
  agent.Stop();
}

}  // namespace
}  // namespace skiff::agent
