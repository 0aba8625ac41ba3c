// DockerDriver against a real Docker engine (scripts/dockerd.sh brings up a
// private one): the project's test app in an image built FROM scratch, on host
// networking bound to loopback. Without an engine these tests skip, and fail
// under CI=true.

#include "runtime/docker/docker_driver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/ids.h"
#include "e2e/docker_support.h"
#include "e2e/subprocess.h"
#include "fakes/testing.h"
#include "net/http_client.h"
#include "runtime/docker/build_context.h"
#include "runtime/exit_poller.h"

namespace skiff::runtime::docker {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

int Status(int port, const std::string& path) {
  auto r = net::HttpClient("http://127.0.0.1:" + std::to_string(port))
               .Do("GET", path, {}, {}, std::chrono::seconds(2));
  return r ? r->status : 0;
}

class DockerDriverTest : public ::testing::Test {
 protected:
  // A task of the test app on host networking, on a free loopback port.
  TaskConfig Config(const std::string& image) {
    TaskConfig config;
    config.app = "dt";
    config.instance_id = NewId("dt");
    config.revision = 1;
    config.node_id = node_id_;
    config.host = "127.0.0.1";
    config.port = testing::FreePort();
    config.run.image = image;
    config.run.network = model::NetworkMode::kHost;
    config.env = {{"HOST", "127.0.0.1"},
                  {"PORT", std::to_string(config.port)},
                  {"SKIFF_INSTANCE", config.instance_id},
                  {"SKIFF_REVISION", "1"}};
    config.log_path = dir_.File("logs/" + config.instance_id + ".log");
    return config;
  }

  // Whether the test app of `config` answers.
  bool Serving(const TaskConfig& config) {
    return testing::PollUntil([&] { return Status(config.port, "/health") == 200; }, 10s);
  }

  // Removes whatever this test's node left on the engine.
  void TearDown() override {
    if (driver_) (void)driver_->RemoveOrphans(node_id_, {});
  }

  testing::TempDir dir_;
  const std::string node_id_ = NewId("test-node");
  std::unique_ptr<DockerDriver> driver_;
};

// Verify the whole life of a task: start, serving, logs, a sample (working set
// and limit), a stop with the exit code, and removal on Release.
TEST_F(DockerDriverTest, StartServeLogSampleStopRelease) {
  SKIFF_REQUIRE_DOCKER(host);
  auto image = testing::TestAppImage(host);
  ASSERT_TRUE(image) << image.error().ToString();
  driver_ = std::make_unique<DockerDriver>(DockerDriverOptions{.host = host});
  TaskConfig config = Config(*image);
  config.resources.memory_bytes = 64 << 20;
  auto handle = driver_->Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();

  ASSERT_TRUE(testing::PollUntil([&] { return Status(config.port, "/health") == 200; }, 10s));
  auto status = driver_->Inspect(*handle);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->running);
  EXPECT_NE(status->started_at, Time{});
  // stdout, demultiplexed, in the instance log.
  EXPECT_TRUE(testing::PollUntil(
      [&] {
        return skiff::testing::ReadWholeFile(config.log_path).find("listening on 127.0.0.1:") !=
               std::string::npos;
      },
      5s))
      << skiff::testing::ReadWholeFile(config.log_path);
  EXPECT_THAT(skiff::testing::ReadWholeFile(config.log_path),
              ::testing::Not(HasSubstr("\x01\x00")));
  auto sample = driver_->Sample(*handle);
  ASSERT_TRUE(sample) << sample.error().ToString();
  // The working set (usage without inactive file pages), under the limit.
  EXPECT_GT(sample->memory_bytes, 0);
  EXPECT_EQ(sample->memory_limit_bytes, 64 << 20);
  EXPECT_LT(sample->memory_bytes, sample->memory_limit_bytes);

  ASSERT_TRUE(driver_->Stop(*handle, 5s));
  status = driver_->Inspect(*handle);
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->running);
  EXPECT_EQ(status->exit_code, 0);  // the test app exits 0 on SIGTERM
  EXPECT_THAT(skiff::testing::ReadWholeFile(config.log_path), HasSubstr("terminating"));

  driver_->Release(*handle);
  auto gone = driver_->engine().InspectContainer(handle->id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

// Verify that the security options and limits are really applied: the engine's
// own HostConfig of the container says so.
TEST_F(DockerDriverTest, HardenedHostConfig) {
  SKIFF_REQUIRE_DOCKER(host);
  auto image = testing::TestAppImage(host);
  ASSERT_TRUE(image) << image.error().ToString();
  driver_ = std::make_unique<DockerDriver>(DockerDriverOptions{.host = host, .pids_limit = 64});
  TaskConfig config = Config(*image);
  config.run.cap_add = {"NET_BIND_SERVICE"};
  config.run.user = "65534:65534";
  config.run.read_only = true;
  config.resources = {.cpu_millis = 500, .memory_bytes = 64 << 20};
  auto handle = driver_->Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(testing::PollUntil([&] { return Status(config.port, "/health") == 200; }, 10s));

  auto info = driver_->engine().InspectContainer(handle->id);
  ASSERT_TRUE(info) << info.error().ToString();
  const json::object& hc = info->host_config;
  EXPECT_EQ(hc.at("Privileged"), false);
  EXPECT_EQ(hc.at("SecurityOpt"), json::array{"no-new-privileges"});
  EXPECT_EQ(hc.at("CapDrop"), json::array{"ALL"});
  EXPECT_EQ(hc.at("CapAdd"), json::array{"NET_BIND_SERVICE"});
  EXPECT_EQ(hc.at("PidsLimit"), 64);
  EXPECT_EQ(hc.at("Memory"), 64 << 20);
  EXPECT_EQ(hc.at("NanoCpus"), 500'000'000);
  EXPECT_EQ(hc.at("ReadonlyRootfs"), true);
  EXPECT_EQ(hc.at("NetworkMode"), "host");
  EXPECT_TRUE(hc.at("Binds").is_null() || hc.at("Binds").as_array().empty());
  EXPECT_EQ(info->labels.at("skiff.instance"), config.instance_id);
  EXPECT_EQ(info->labels.at("skiff.node"), node_id_);
  EXPECT_EQ(info->labels.at("skiff.app"), "dt");
  EXPECT_EQ(info->labels.at("skiff.revision"), "1");
  // What the kernel says of the container's process: its user, no new
  // privileges, no capability in effect (a non-root user), and only the one
  // given back (NET_BIND_SERVICE, bit 10) left in its bounding set.
  ASSERT_GT(info->state.pid, 0);
  const std::string proc =
      skiff::testing::ReadWholeFile("/proc/" + std::to_string(info->state.pid) + "/status");
  EXPECT_THAT(proc, HasSubstr("\nUid:\t65534\t65534\t65534\t65534\n"));
  EXPECT_THAT(proc, HasSubstr("\nNoNewPrivs:\t1\n"));
  EXPECT_THAT(proc, HasSubstr("\nCapEff:\t0000000000000000\n"));
  EXPECT_THAT(proc, HasSubstr("\nCapBnd:\t0000000000000400\n"));
  driver_->Release(*handle);
}

// Verify that the memory limit is the kernel's: the cgroup says so (where the
// engine's cgroupfs layout is known), and a container going past it is
// reported killed for lack of memory.
TEST_F(DockerDriverTest, MemoryLimitIsEnforced) {
  SKIFF_REQUIRE_DOCKER(host);
  auto image = testing::TestAppImage(host);
  ASSERT_TRUE(image) << image.error().ToString();
  driver_ = std::make_unique<DockerDriver>(DockerDriverOptions{.host = host});
  TaskConfig config = Config(*image);
  config.resources = {.cpu_millis = 250, .memory_bytes = 32 << 20};
  auto handle = driver_->Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(testing::PollUntil([&] { return Status(config.port, "/health") == 200; }, 10s));
  // cgroup v1 (cgroupfs driver) and v2 (cgroupfs, systemd) layouts.
  const std::string id = handle->id;
  for (const std::string& path :
       {"/sys/fs/cgroup/memory/docker/" + id + "/memory.limit_in_bytes",
        "/sys/fs/cgroup/docker/" + id + "/memory.max",
        "/sys/fs/cgroup/system.slice/docker-" + id + ".scope/memory.max"}) {
    if (!std::filesystem::exists(path)) continue;
    std::string limit = skiff::testing::ReadWholeFile(path);
    EXPECT_EQ(std::stoll(limit), 32 << 20) << path;
  }
  // 64 MiB of response body in a 32 MiB container.
  (void)Status(config.port, "/big?kb=65536");
  auto waited = driver_->engine().WaitContainer(id, 10s);
  ASSERT_TRUE(waited) << waited.error().ToString();
  auto status = driver_->Inspect(*handle);
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->running);
  EXPECT_EQ(status->message, "killed: out of memory");
  driver_->Release(*handle);
}

// Verify that the engine takes the bridge-network create body as meant: the
// app's port published on the node address at the allocated port. Only
// created, never started: tests run containers on host networking only.
TEST_F(DockerDriverTest, BridgeCreateBodyPublishesOnNodeAddress) {
  SKIFF_REQUIRE_DOCKER(host);
  auto image = testing::TestAppImage(host);
  ASSERT_TRUE(image) << image.error().ToString();
  TaskConfig config = Config(*image);
  config.run.network = model::NetworkMode::kBridge;
  config.container_port = 8080;
  DockerEngine engine(host);
  auto id = engine.CreateContainer("skiff-" + config.instance_id,
                                   ContainerCreateBody(config, *image, {}));
  ASSERT_TRUE(id) << id.error().ToString();
  auto info = engine.InspectContainer(*id);
  ASSERT_TRUE(engine.RemoveContainer(*id));
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->host_config.at("NetworkMode"), "bridge");
  EXPECT_EQ(info->host_config.at("PortBindings"),
            (json::object{{"8080/tcp",
                           json::array{json::object{{"HostIp", "127.0.0.1"},
                                                    {"HostPort", std::to_string(config.port)}}}}}));
}

// Verify that a leftover container of an earlier start of the same instance
// (never released) is replaced, and that a container the engine refuses to
// start is removed and its error returned.
TEST_F(DockerDriverTest, LeftoverReplacedAndRefusedStartRemoved) {
  SKIFF_REQUIRE_DOCKER(host);
  auto image = testing::TestAppImage(host);
  ASSERT_TRUE(image) << image.error().ToString();
  driver_ = std::make_unique<DockerDriver>(DockerDriverOptions{.host = host});
  TaskConfig config = Config(*image);
  auto leftover = driver_->engine().CreateContainer("skiff-" + config.instance_id,
                                                    ContainerCreateBody(config, *image, {}));
  ASSERT_TRUE(leftover) << leftover.error().ToString();
  auto handle = driver_->Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  EXPECT_NE(handle->id, *leftover);
  EXPECT_EQ(driver_->engine().InspectContainer(*leftover).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(testing::PollUntil([&] { return Status(config.port, "/health") == 200; }, 10s));
  driver_->Release(*handle);

  TaskConfig refused = Config(*image);
  refused.run.user = "no-such-user";  // the image has no /etc/passwd
  auto failed = driver_->Start(refused);
  ASSERT_FALSE(failed);
  EXPECT_THAT(failed.error().message, HasSubstr("starting container skiff-" + refused.instance_id));
  auto left = driver_->engine().ListContainers({"skiff.instance=" + refused.instance_id});
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
}

// Verify that a container killed from outside is seen as ended by signal 9.
TEST_F(DockerDriverTest, KilledContainerReportsSignal) {
  SKIFF_REQUIRE_DOCKER(host);
  auto image = testing::TestAppImage(host);
  ASSERT_TRUE(image) << image.error().ToString();
  driver_ = std::make_unique<DockerDriver>(DockerDriverOptions{.host = host});
  TaskConfig config = Config(*image);
  auto handle = driver_->Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(driver_->engine().KillContainer(handle->id, "KILL"));
  auto waited = driver_->engine().WaitContainer(handle->id, 10s);
  ASSERT_TRUE(waited) << waited.error().ToString();
  EXPECT_EQ(*waited, 137);
  auto status = driver_->Inspect(*handle);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->exit_code, 137);
  EXPECT_EQ(status->message, "killed by signal 9");
  driver_->Release(*handle);
}

// Verify that a new driver (a restarted agent) adopts a running container and
// keeps its log going, and that the orphan sweep removes only Skiff's
// containers of this node that are not kept.
TEST_F(DockerDriverTest, RecoverAndRemoveOrphans) {
  SKIFF_REQUIRE_DOCKER(host);
  auto image = testing::TestAppImage(host);
  ASSERT_TRUE(image) << image.error().ToString();
  TaskConfig kept = Config(*image);
  TaskConfig orphan = Config(*image);
  TaskHandle kept_handle;
  TaskHandle orphan_handle;
  {
    DockerDriver first(DockerDriverOptions{.host = host});
    auto h1 = first.Start(kept);
    ASSERT_TRUE(h1) << h1.error().ToString();
    auto h2 = first.Start(orphan);
    ASSERT_TRUE(h2) << h2.error().ToString();
    kept_handle = *h1;
    orphan_handle = *h2;
  }  // the agent is gone; its containers run on
  // A container of another tool, and one of Skiff's on another node.
  DockerEngine engine(host);
  json::object foreign{
      {"Image", *image},
      {"Env", json::array{"HOST=127.0.0.1", "PORT=" + std::to_string(testing::FreePort())}},
      {"HostConfig", json::object{{"NetworkMode", "host"}}}};
  auto foreign_id = engine.CreateContainer(NewId("other-tool"), foreign);
  ASSERT_TRUE(foreign_id) << foreign_id.error().ToString();
  TaskConfig elsewhere = Config(*image);
  elsewhere.node_id = NewId("other-node");

  driver_ = std::make_unique<DockerDriver>(DockerDriverOptions{.host = host});
  auto other_node = driver_->Start(elsewhere);
  ASSERT_TRUE(other_node) << other_node.error().ToString();
  auto adopted = driver_->Recover(kept_handle);
  ASSERT_TRUE(adopted) << adopted.error().ToString();
  EXPECT_EQ(*adopted, kept_handle);
  ASSERT_TRUE(testing::PollUntil([&] { return Status(kept.port, "/health") == 200; }, 10s));
  auto missing = driver_->Recover(TaskHandle{"0123456789abcdef"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto not_ours = driver_->Recover(TaskHandle{*foreign_id});
  ASSERT_FALSE(not_ours);
  EXPECT_EQ(not_ours.error().code, ErrorCode::kNotFound);

  auto removed = driver_->RemoveOrphans(node_id_, {kept.instance_id});
  ASSERT_TRUE(removed) << removed.error().ToString();
  EXPECT_EQ(*removed, 1);
  EXPECT_EQ(engine.InspectContainer(orphan_handle.id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(engine.InspectContainer(kept_handle.id));
  EXPECT_TRUE(engine.InspectContainer(*foreign_id));
  EXPECT_TRUE(engine.InspectContainer(other_node->id));

  // The adopted container's log keeps growing after the adoption.
  ASSERT_EQ(Status(kept.port, "/adopted-marker"), 404);
  EXPECT_TRUE(testing::PollUntil(
      [&] {
        return skiff::testing::ReadWholeFile(kept.log_path).find("/adopted-marker") !=
               std::string::npos;
      },
      5s))
      << skiff::testing::ReadWholeFile(kept.log_path);

  ASSERT_TRUE(engine.RemoveContainer(*foreign_id));
  driver_->Release(*other_node);
}

// Verify that the orphan sweep also removes what this agent (its home) left
// under an earlier node id unless its instance is kept (then it is adopted by
// its handle), and never what another agent's home left.
TEST_F(DockerDriverTest, RemovesWhatAnEarlierNodeIdLeft) {
  SKIFF_REQUIRE_DOCKER(host);
  auto image = testing::TestAppImage(host);
  ASSERT_TRUE(image) << image.error().ToString();
  const std::string earlier_id = NewId("earlier-node");
  TaskConfig gone = Config(*image);
  TaskConfig kept = Config(*image);
  TaskConfig others = Config(*image);
  for (TaskConfig* config : {&gone, &kept, &others}) config->node_id = earlier_id;
  TaskHandle gone_handle;
  TaskHandle kept_handle;
  TaskHandle others_handle;
  {
    DockerDriver earlier(DockerDriverOptions{.host = host, .home = dir_.path()});
    auto h1 = earlier.Start(gone);
    ASSERT_TRUE(h1) << h1.error().ToString();
    auto h2 = earlier.Start(kept);
    ASSERT_TRUE(h2) << h2.error().ToString();
    gone_handle = *h1;
    kept_handle = *h2;
    DockerDriver elsewhere(DockerDriverOptions{.host = host, .home = dir_.File("other-agent")});
    auto h3 = elsewhere.Start(others);
    ASSERT_TRUE(h3) << h3.error().ToString();
    others_handle = *h3;
  }
  // The agent comes back with a new node id (its data dir was wiped).
  driver_ = std::make_unique<DockerDriver>(DockerDriverOptions{.host = host, .home = dir_.path()});
  auto removed = driver_->RemoveOrphans(node_id_, {kept.instance_id});
  ASSERT_TRUE(removed) << removed.error().ToString();
  EXPECT_EQ(*removed, 1);
  EXPECT_EQ(driver_->engine().InspectContainer(gone_handle.id).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(driver_->engine().InspectContainer(others_handle.id));
  auto adopted = driver_->Recover(kept_handle);
  ASSERT_TRUE(adopted) << adopted.error().ToString();
  auto status = driver_->Inspect(*adopted);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_TRUE(status->running);
  ASSERT_TRUE(driver_->engine().RemoveContainer(others_handle.id));
  driver_->Release(kept_handle);
}

// Verify that an image that is neither present nor pullable fails the start
// with a plain message (the registry here is a closed loopback port).
TEST_F(DockerDriverTest, MissingImageFailsPlainly) {
  SKIFF_REQUIRE_DOCKER(host);
  driver_ = std::make_unique<DockerDriver>(DockerDriverOptions{.host = host});
  auto handle = driver_->Start(Config("127.0.0.1:9/skiff-missing:1"));
  ASSERT_FALSE(handle);
  EXPECT_EQ(handle.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(handle.error().message,
              HasSubstr("image 127.0.0.1:9/skiff-missing:1 not found locally and pull failed: "));
}

// Verify that run.build builds the image from a local context, tagged
// skiff/<app>:<revision>, with the build's output in the log; and that a broken
// Dockerfile fails the start with the build's own error.
TEST_F(DockerDriverTest, BuildFromLocalContext) {
  SKIFF_REQUIRE_DOCKER(host);
  driver_ = std::make_unique<DockerDriver>(DockerDriverOptions{.host = host});
  testing::TempDir context;
  std::filesystem::copy_file(SKIFF_TESTAPP_BIN, context.File("app"));
  std::ofstream(context.File("Dockerfile"))
      << "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n";
  TaskConfig config = Config("");
  config.app = "dt-" + config.instance_id.substr(3);  // a tag of its own per test run
  config.run.image.clear();
  config.run.build = model::BuildSpec{.context = context.path()};
  auto handle = driver_->Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(testing::PollUntil([&] { return Status(config.port, "/health") == 200; }, 10s));
  EXPECT_THAT(skiff::testing::ReadWholeFile(config.log_path),
              HasSubstr("Step 2/3 : COPY app /app"));
  auto tagged = driver_->engine().ImageExists("skiff/" + config.app + ":1");
  ASSERT_TRUE(tagged);
  EXPECT_TRUE(*tagged);
  driver_->Release(*handle);

  std::ofstream(context.File("Dockerfile")) << "FROM scratch\nCOPY missing-file /x\n";
  TaskConfig broken = Config("");
  broken.app = config.app;
  broken.revision = 2;
  broken.run.image.clear();
  broken.run.build = model::BuildSpec{.context = context.path()};
  auto failed = driver_->Start(broken);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(failed.error().message, HasSubstr("build of skiff/" + config.app + ":2 failed: "));
  EXPECT_THAT(failed.error().message, HasSubstr("missing-file"));
}

// Verify that run.build with git clones the repository (a local path here),
// checks out the ref and builds from it; a ref that does not exist fails the
// start with git's words.
TEST_F(DockerDriverTest, BuildFromGit) {
  SKIFF_REQUIRE_DOCKER(host);
  driver_ = std::make_unique<DockerDriver>(DockerDriverOptions{.host = host});
  testing::TempDir repo;
  std::filesystem::copy_file(SKIFF_TESTAPP_BIN, repo.File("app"));
  std::ofstream(repo.File("Dockerfile")) << "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n";
  for (const std::vector<std::string>& git : std::vector<std::vector<std::string>>{
           {"git", "-C", repo.path(), "init", "--quiet", "-b", "release"},
           {"git", "-C", repo.path(), "add", "."},
           {"git", "-C", repo.path(), "-c", "user.name=t", "-c", "user.email=t@t", "commit",
            "--quiet", "-m", "app"}}) {
    auto ran = RunCapture(git);
    ASSERT_TRUE(ran) << ran.error().ToString();
  }
  TaskConfig config = Config("");
  config.app = "dg-" + config.instance_id.substr(3);
  config.run.image.clear();
  config.run.build = model::BuildSpec{.git = repo.path(), .ref = "release"};
  auto handle = driver_->Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(testing::PollUntil([&] { return Status(config.port, "/health") == 200; }, 10s));
  driver_->Release(*handle);

  TaskConfig bad = config;
  bad.instance_id = NewId("dt");
  bad.revision = 2;
  bad.run.build->ref = "no-such-ref";
  auto failed = driver_->Start(bad);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(failed.error().message, HasSubstr("git checkout no-such-ref"));
}

// Verify that the event stream is opened again after the engine crashed and
// came back, that an exit that happened while it was down (the engine sends
// no event for it) is still reported, exactly once, and that exits are heard
// through the new stream. The poller handed to WatchExit never runs.
TEST_F(DockerDriverTest, ExitStreamReconnectsAfterEngineRestartAndReportsMissedExitOnce) {
  testing::PrivateEngine engine(dir_.File("dockerd"));
  auto host = engine.Start();
  if (!host) {
    if (testing::InCi()) FAIL() << "no private Docker engine: " << host.error().ToString();
    GTEST_SKIP() << "no private Docker engine: " << host.error().ToString();
  }
  auto image = testing::TestAppImage(*host);
  ASSERT_TRUE(image) << image.error().ToString();
  DockerDriver driver({.host = *host, .events_min_backoff = 20ms, .events_max_backoff = 200ms});
  ExitPoller poller(SystemClock::Get(), std::chrono::hours(1));  // never started

  TaskConfig missed = Config(*image);
  auto handle = driver.Start(missed);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(Serving(missed));
  std::atomic<int> missed_calls = 0;
  driver.WatchExit(
      *handle, [&] { ++missed_calls; }, poller);
  ASSERT_TRUE(testing::PollUntil([&] { return driver.exit_watcher().opened() == 1; }));
  auto info = driver.engine().InspectContainer(handle->id);
  ASSERT_TRUE(info) << info.error().ToString();
  ASSERT_GT(info->state.pid, 0);

  ASSERT_TRUE(engine.Crash());
  // The task dies while no engine is there to say so.
  ASSERT_EQ(::kill(info->state.pid, SIGKILL), 0);
  EXPECT_EQ(missed_calls.load(), 0);
  host = engine.Start();
  ASSERT_TRUE(host) << host.error().ToString();

  ASSERT_TRUE(testing::PollUntil([&] { return missed_calls.load() == 1; }, 30s));
  EXPECT_GE(driver.exit_watcher().opened(), 2);
  // The engine that comes back knows the container as exited, or (dockerd
  // 20.10 after a crash) no longer at all: ended either way.
  auto status = driver.Inspect(*handle);
  if (status) {
    EXPECT_FALSE(status->running);
  } else {
    EXPECT_EQ(status.error().code, ErrorCode::kNotFound) << status.error().ToString();
  }

  // A later exit, heard through the stream opened again: anything more about
  // the first would have come before it.
  TaskConfig later = Config(*image);
  auto later_handle = driver.Start(later);
  ASSERT_TRUE(later_handle) << later_handle.error().ToString();
  ASSERT_TRUE(Serving(later));
  std::atomic<int> later_calls = 0;
  driver.WatchExit(
      *later_handle, [&] { ++later_calls; }, poller);
  (void)Status(later.port, "/crash");
  EXPECT_TRUE(testing::PollUntil([&] { return later_calls.load() == 1; }, 10s, 1ms));
  EXPECT_EQ(missed_calls.load(), 1);
  EXPECT_EQ(driver.exit_watcher().watching(), 0u);

  driver.Release(*handle);
  driver.Release(*later_handle);
  EXPECT_EQ(missed_calls.load(), 1);
  EXPECT_EQ(later_calls.load(), 1);
}

// Verify that a driver whose engine is not there yet calls a watch back at
// once (its inspect cannot say the container runs: the caller looks, and
// looks again later), and that once the engine appears (the socket path
// becomes a link to the engine's socket) its watcher lists, opens the stream
// and hears of an exit, without polling.
TEST_F(DockerDriverTest, ExitWatchWorksWithAnEngineThatAppearsLate) {
  SKIFF_REQUIRE_DOCKER(host);
  ASSERT_TRUE(host.starts_with("unix://")) << host;
  auto image = testing::TestAppImage(host);
  ASSERT_TRUE(image) << image.error().ToString();
  DockerDriver present({.host = host});
  TaskConfig config = Config(*image);
  auto handle = present.Start(config);
  ASSERT_TRUE(handle) << handle.error().ToString();
  ASSERT_TRUE(Serving(config));

  const std::string link = dir_.File("docker.sock");
  DockerDriver late(
      {.host = "unix://" + link, .events_min_backoff = 20ms, .events_max_backoff = 100ms});
  ExitPoller poller(SystemClock::Get(), std::chrono::hours(1));  // never started
  std::atomic<int> unsure = 0;
  late.WatchExit(
      *handle, [&] { ++unsure; }, poller);
  EXPECT_EQ(unsure.load(), 1);  // no engine: look
  EXPECT_EQ(late.exit_watcher().watching(), 0u);
  EXPECT_EQ(late.exit_watcher().opened(), 0);

  ASSERT_EQ(::symlink(host.substr(7).c_str(), link.c_str()), 0);
  std::atomic<int> calls = 0;
  late.WatchExit(
      *handle, [&] { ++calls; }, poller);
  EXPECT_EQ(calls.load(), 0);  // it runs
  ASSERT_TRUE(testing::PollUntil([&] { return late.exit_watcher().opened() == 1; }));
  (void)Status(config.port, "/crash");
  EXPECT_TRUE(testing::PollUntil([&] { return calls.load() == 1; }));
  EXPECT_EQ(late.exit_watcher().opened(), 1);
  present.Release(*handle);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(unsure.load(), 1);
}

}  // namespace
}  // namespace skiff::runtime::docker
