#include "runtime/docker/docker_driver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/serialize.hpp>

#include "fakes/fake_docker_engine.h"
#include "fakes/testing.h"
#include "runtime/exit_poller.h"

namespace skiff::runtime::docker {
namespace {

namespace json = boost::json;

TaskConfig Config() {
  TaskConfig config;
  config.instance_id = "web-1a2b";
  config.app = "web";
  config.revision = 3;
  config.node_id = "node-9";
  config.host = "127.0.0.2";
  config.port = 20001;
  config.container_port = 8080;
  config.log_path = "/data/logs/web-1a2b.log";
  config.run.image = "skiff-test/app:1";
  config.env = {{"PORT", "20001"}, {"HOST", "127.0.0.2"}, {"GREETING", "hi"}};
  return config;
}

// Verify that every container is hardened and labelled, whatever the spec says.
TEST(ContainerCreateBodyTest, HardenedAndLabelled) {
  TaskConfig config = Config();
  config.run.cap_add = {"NET_BIND_SERVICE"};
  config.run.user = "1000:1000";
  config.run.read_only = true;
  config.run.args = {"--flag", "x"};
  config.run.workdir = "/srv";
  config.work_dir = "/data/apps/web";
  config.resources = {.cpu_millis = 250, .memory_bytes = 64 << 20};
  DockerDriverOptions options;
  options.pids_limit = 99;
  json::object body = ContainerCreateBody(config, "img:1", options);
  const json::object& hc = body.at("HostConfig").as_object();
  EXPECT_EQ(body.at("Image"), "img:1");
  EXPECT_EQ(body.at("User"), "1000:1000");
  EXPECT_EQ(body.at("WorkingDir"), "/srv");
  EXPECT_EQ(body.at("Cmd"), (json::array{"--flag", "x"}));
  EXPECT_EQ(body.at("Labels"), (json::object{{"skiff.app", "web"},
                                             {"skiff.instance", "web-1a2b"},
                                             {"skiff.revision", "3"},
                                             {"skiff.node", "node-9"},
                                             {"skiff.log", "/data/logs/web-1a2b.log"}}));
  EXPECT_EQ(hc.at("Privileged"), false);
  EXPECT_EQ(hc.at("SecurityOpt"), json::array{"no-new-privileges"});
  EXPECT_EQ(hc.at("CapDrop"), json::array{"ALL"});
  EXPECT_EQ(hc.at("CapAdd"), json::array{"NET_BIND_SERVICE"});
  EXPECT_EQ(hc.at("PidsLimit"), 99);
  EXPECT_EQ(hc.at("ReadonlyRootfs"), true);
  EXPECT_EQ(hc.at("Memory"), 64 << 20);
  EXPECT_EQ(hc.at("NanoCpus"), 250'000'000);
  EXPECT_EQ(hc.at("Binds"), json::array{});
  EXPECT_EQ(hc.at("RestartPolicy"), (json::object{{"Name", "no"}}));
}

// Verify that bridge networking publishes the container's port on the node
// address at the allocated port, and tells the app its own port.
TEST(ContainerCreateBodyTest, BridgePublishesPort) {
  json::object body = ContainerCreateBody(Config(), "img:1", {});
  const json::object& hc = body.at("HostConfig").as_object();
  EXPECT_EQ(hc.at("NetworkMode"), "bridge");
  EXPECT_EQ(body.at("ExposedPorts"), (json::object{{"8080/tcp", json::object{}}}));
  EXPECT_EQ(hc.at("PortBindings"),
            (json::object{{"8080/tcp", json::array{json::object{{"HostIp", "127.0.0.2"},
                                                                {"HostPort", "20001"}}}}}));
  EXPECT_EQ(body.at("Env"), (json::array{"GREETING=hi", "HOST=0.0.0.0", "PORT=8080"}));
  EXPECT_FALSE(hc.contains("Memory"));
  EXPECT_FALSE(body.contains("Cmd"));
  EXPECT_FALSE(body.contains("User"));
  EXPECT_FALSE(body.contains("WorkingDir"));
}

// Verify that host networking binds the node's HOST and PORT like a process.
TEST(ContainerCreateBodyTest, HostNetworkKeepsHostAndPort) {
  TaskConfig config = Config();
  config.run.network = model::NetworkMode::kHost;
  json::object body = ContainerCreateBody(config, "img:1", {});
  EXPECT_EQ(body.at("HostConfig").at("NetworkMode"), "host");
  EXPECT_FALSE(body.contains("ExposedPorts"));
  EXPECT_FALSE(body.at("HostConfig").as_object().contains("PortBindings"));
  EXPECT_EQ(body.at("Env"), (json::array{"GREETING=hi", "HOST=127.0.0.2", "PORT=20001"}));
}

// Verify which ended containers are asked about again for a late OOM mark:
// only a SIGKILL exit of under a second ago not marked yet.
TEST(StatusOfTest, LateOomMarkAwaitedOnlyForAFreshSigkill) {
  ManualClock clock;
  const Time now = clock.Now();
  const ContainerState fresh_kill{.exit_code = 137,
                                  .finished_at = now - std::chrono::milliseconds(100)};
  EXPECT_TRUE(MayBeUnsettledOom(fresh_kill, &clock));
  ContainerState marked = fresh_kill;
  marked.oom_killed = true;
  EXPECT_FALSE(MayBeUnsettledOom(marked, &clock));
  ContainerState old_kill = fresh_kill;
  old_kill.finished_at = now - std::chrono::seconds(5);
  EXPECT_FALSE(MayBeUnsettledOom(old_kill, &clock));
  ContainerState exited = fresh_kill;
  exited.exit_code = 1;
  EXPECT_FALSE(MayBeUnsettledOom(exited, &clock));
  EXPECT_FALSE(MayBeUnsettledOom(ContainerState{.running = true}, &clock));
}

// Verify how an ended container is described.
TEST(StatusOfTest, Messages) {
  EXPECT_TRUE(StatusOf(ContainerState{.running = true}).running);
  EXPECT_EQ(StatusOf(ContainerState{.exit_code = 3}).message, "exited with 3");
  EXPECT_EQ(StatusOf(ContainerState{.exit_code = 3}).exit_code, 3);
  EXPECT_EQ(StatusOf(ContainerState{.exit_code = 137}).message, "killed by signal 9");
  EXPECT_EQ(StatusOf(ContainerState{.exit_code = 137, .oom_killed = true}).message,
            "killed: out of memory");
  EXPECT_EQ(StatusOf(ContainerState{.exit_code = 127, .error = "exec: \"/x\": not found"}).message,
            "exited with 127: exec: \"/x\": not found");
}

// Verify the tag of an image built from source.
TEST(BuildTagTest, AppAndRevision) { EXPECT_EQ(BuildTag("web", 7), "skiff/web:7"); }

// Verify that WatchExit leaves the watch to the event stream only when the
// engine says the container runs, and calls back at once when its inspect
// fails (a 500): the exit may have been streamed before the watch existed.
TEST(DockerDriverWatchExitTest, FailedInspectCallsBackAtOnce) {
  testing::TempDir dir;
  testing::FakeDockerEngine engine(dir.File("docker.sock"));
  engine.SetContainer("up", "running");
  engine.SetContainer("down", "exited");
  DockerDriver driver({.host = engine.host()});
  ExitPoller poller(SystemClock::Get(), std::chrono::hours(1));  // never started
  std::atomic<int> up = 0;
  driver.WatchExit(
      TaskHandle{"up"}, [&] { ++up; }, poller);
  EXPECT_EQ(up.load(), 0);
  // The stream is up and its listing is over: only WatchExit can tell now.
  ASSERT_TRUE(testing::PollUntil([&] { return engine.streams_open() == 1; }));

  engine.SetInspectStatus(500);
  std::atomic<int> down = 0;
  driver.WatchExit(
      TaskHandle{"down"}, [&] { ++down; }, poller);
  EXPECT_EQ(down.load(), 1);
  EXPECT_EQ(engine.inspections(), 2);
  EXPECT_EQ(up.load(), 0);
  EXPECT_EQ(driver.exit_watcher().watching(), 1u);
  EXPECT_EQ(poller.watching(), 0u);
}

}  // namespace
}  // namespace skiff::runtime::docker
