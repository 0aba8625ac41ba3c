// End-to-end with Docker Swarm: the Swarm orchestrator's engine calls and
// service mapping on a real single-node Swarm (`scripts/dockerd.sh swarm`):
// a service of the test image (by ID: Swarm would ask a registry about a tag)
// on the host's network, each task on the loopback address of its slot,
// scaled, its node drained and activated (on the script's own engine only),
// removed. Without a Swarm these tests skip, and fail under CI=true. The
// polls' budgets add up to well under ctest's TIMEOUT (300 s).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "e2e/docker_support.h"
#include "e2e/subprocess.h"
#include "model/spec_parse.h"
#include "net/http_client.h"
#include "orchestrator/swarm/service_spec.h"
#include "orchestrator/swarm/swarm_engine.h"
#include "runtime/docker/engine.h"

namespace skiff::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using orchestrator::swarm::NodeAvailability;
using orchestrator::swarm::ServiceSpecFor;
using orchestrator::swarm::ServiceSpecOptions;
using orchestrator::swarm::SwarmEngine;
using orchestrator::swarm::SwarmTask;
using orchestrator::swarm::TaskHost;

// The tasks of `service` that Swarm wants running and that run.
std::vector<SwarmTask> SwarmRunningTasks(const SwarmEngine& engine, const std::string& service) {
  std::vector<SwarmTask> out;
  auto tasks = engine.ListTasks(service);
  if (!tasks) return out;
  for (SwarmTask& t : *tasks) {
    if (t.desired_state == "running" && t.state == "running") out.push_back(std::move(t));
  }
  return out;
}

// Whether the drain part may run: it drains every node of the engine, so
// only on the script's own (or when SKIFF_TEST_SWARM_DRAIN=1 allows it on
// the engine SKIFF_TEST_SWARM_HOST names).
bool SwarmMayDrain() {
  const char* allow = std::getenv("SKIFF_TEST_SWARM_DRAIN");
  return TestSwarmEngine().scripts_own || (allow != nullptr && std::string(allow) == "1");
}

// GET `path` on host:port; the body of a 200, else "".
std::string SwarmGet(const std::string& host, int port, const std::string& path) {
  auto r =
      net::HttpClient("http://" + host + ":" + std::to_string(port)).Do("GET", path, {}, {}, 2s);
  return r && r->status == 200 ? r->body : std::string();
}

// Verify the life of a service made from an app spec: created, its task
// running and answering /health on the loopback address of its slot; scaled
// to 2 tasks that answer on distinct addresses; a stale version refused with
// kAborted; its node drained (no task runs) and activated (they run again),
// on the script's own engine; listed by its labels; removed, with its tasks.
// The image is given by ID, as Skiff pins it, and Swarm keeps it so.
TEST(SwarmE2eTest, ServiceOnHostNetworkScaledDrainedRemoved) {
  SKIFF_REQUIRE_SWARM(host);
  auto tag = TestAppImage(host);
  ASSERT_TRUE(tag) << tag.error().ToString();
  auto inspected = runtime::docker::DockerEngine(host).ApiCall("GET", "/images/" + *tag + "/json");
  ASSERT_TRUE(inspected) << inspected.error().ToString();
  const std::string image_id = std::string(inspected->at("Id").as_string());
  ASSERT_EQ(image_id.rfind("sha256:", 0), 0u) << image_id;
  const SwarmEngine engine(host);

  auto nodes = engine.ListNodes();
  ASSERT_TRUE(nodes) << nodes.error().ToString();
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_EQ(nodes->front().role, "manager");
  EXPECT_EQ(nodes->front().state, "ready");
  EXPECT_GT(nodes->front().nano_cpus, 0);
  const std::string node_id = nodes->front().id;

  const std::string app = "sw" + std::to_string(::getpid());
  const int port = FreePort();
  auto spec =
      model::ParseAppSpec("name: " + app + "\nrun: {image: \"" + *tag +
                              "\", network: host, read_only: true, user: \"65534\"}\n"
                              "port: " +
                              std::to_string(port) + "\nresources: {cpu: 250m, memory: 64Mi}\n",
                          model::SpecFormat::kYaml);
  ASSERT_TRUE(spec) << spec.error().ToString();
  ServiceSpecOptions options;
  // A /24 of loopback for this process's service.
  options.address_prefix = "127.91." + std::to_string(::getpid() % 250 + 1);
  options.owner = SwarmTestOwner();
  options.image = image_id;
  auto body = ServiceSpecFor(*spec, 1, options);
  ASSERT_TRUE(body) << body.error().ToString();
  auto id = engine.CreateService(*body);
  ASSERT_TRUE(id) << id.error().ToString();
  // Removed whatever the test's outcome.
  struct Cleanup {
    const SwarmEngine& engine;
    std::string id;
    ~Cleanup() { (void)engine.RemoveService(id); }
  } cleanup{engine, *id};

  auto again = engine.CreateService(*body);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAborted);

  // One task, running, answering on <prefix>.1.
  ASSERT_TRUE(PollUntil([&] { return SwarmRunningTasks(engine, *id).size() == 1; }, 30s, 100ms));
  const SwarmTask first = SwarmRunningTasks(engine, *id).front();
  EXPECT_EQ(first.slot, 1);
  EXPECT_EQ(first.node_id, node_id);
  EXPECT_FALSE(first.container_id.empty());
  const std::string host1 = TaskHost(options.address_prefix, 1);
  ASSERT_TRUE(PollUntil([&] { return !SwarmGet(host1, port, "/health").empty(); }, 10s, 100ms));
  // SKIFF_INSTANCE is the task's id, filled in by Swarm's template.
  EXPECT_THAT(SwarmGet(host1, port, "/"), HasSubstr("hello from " + first.id + " rev 1"));

  // Scaled to 2 at the version read; a stale version is refused.
  auto service = engine.InspectService(*id);
  ASSERT_TRUE(service) << service.error().ToString();
  EXPECT_EQ(service->name, app);
  EXPECT_EQ(service->replicas, 1);
  EXPECT_EQ(service->labels.at("skiff.app"), app);
  EXPECT_EQ(service->labels.at("skiff.owner"), SwarmTestOwner());
  // Taken as given: an ID, which the worker finds locally without a pull.
  EXPECT_EQ(service->spec.at("TaskTemplate").at("ContainerSpec").at("Image"),
            boost::json::value(image_id));
  options.replicas = 2;
  body = ServiceSpecFor(*spec, 1, options);
  ASSERT_TRUE(body);
  ASSERT_TRUE(engine.UpdateService(*id, service->version, *body));
  auto stale = engine.UpdateService(*id, service->version, *body);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kAborted) << stale.error().ToString();

  ASSERT_TRUE(PollUntil([&] { return SwarmRunningTasks(engine, *id).size() == 2; }, 30s, 100ms));
  std::set<int64_t> slots;
  for (const SwarmTask& t : SwarmRunningTasks(engine, *id)) slots.insert(t.slot);
  EXPECT_EQ(slots, (std::set<int64_t>{1, 2}));
  const std::string host2 = TaskHost(options.address_prefix, 2);
  ASSERT_TRUE(PollUntil([&] { return !SwarmGet(host2, port, "/health").empty(); }, 10s, 100ms));
  // Two tasks, not one answering twice.
  EXPECT_NE(SwarmGet(host1, port, "/"), SwarmGet(host2, port, "/"));

  // Listed by label, among whatever else runs on the Swarm.
  auto listed = engine.ListServices({"skiff.app=" + app});
  ASSERT_TRUE(listed) << listed.error().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().id, *id);

  // Drained, the node runs none of them; activated, it runs them again.
  if (SwarmMayDrain()) {
    auto node = engine.InspectNode(node_id);
    ASSERT_TRUE(node) << node.error().ToString();
    ASSERT_TRUE(engine.SetNodeAvailability(*node, NodeAvailability::kDrain));
    struct Activate {  // the Swarm is shared by later tests
      const SwarmEngine& engine;
      std::string node_id;
      ~Activate() {
        if (auto n = engine.InspectNode(node_id); n && n->availability != "active") {
          (void)engine.SetNodeAvailability(*n, NodeAvailability::kActive);
        }
      }
    } activate{engine, node_id};
    auto stale_node = engine.SetNodeAvailability(*node, NodeAvailability::kActive);
    ASSERT_FALSE(stale_node);
    EXPECT_EQ(stale_node.error().code, ErrorCode::kAborted);
    EXPECT_TRUE(PollUntil([&] { return SwarmRunningTasks(engine, *id).empty(); }, 30s, 100ms));
    EXPECT_TRUE(PollUntil([&] { return SwarmGet(host1, port, "/health").empty(); }, 10s, 100ms));
    node = engine.InspectNode(node_id);
    ASSERT_TRUE(node);
    EXPECT_EQ(node->availability, "drain");
    ASSERT_TRUE(engine.SetNodeAvailability(*node, NodeAvailability::kActive));
    EXPECT_TRUE(PollUntil([&] { return SwarmRunningTasks(engine, *id).size() == 2; }, 30s, 100ms));
    EXPECT_TRUE(PollUntil([&] { return !SwarmGet(host2, port, "/health").empty(); }, 10s, 100ms));
  }

  // Removed: its tasks go, and so do their addresses.
  ASSERT_TRUE(engine.RemoveService(*id));
  auto gone = engine.InspectService(*id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(PollUntil(
      [&] {
        return SwarmGet(host1, port, "/health").empty() && SwarmGet(host2, port, "/health").empty();
      },
      20s, 100ms));
  EXPECT_TRUE(engine.RemoveService(*id));  // removing a missing one succeeds
}

// Verify that an engine outside any Swarm is told apart: RequireManager and
// the Swarm calls answer kFailedPrecondition saying how to make it a manager.
// Skipped when the plain engine is itself in a Swarm (SKIFF_TEST_DOCKER_HOST
// naming one).
TEST(SwarmE2eTest, PlainEngineIsNoManager) {
  SKIFF_REQUIRE_DOCKER(host);
  const SwarmEngine engine(host);
  auto info = engine.Info();
  ASSERT_TRUE(info) << info.error().ToString();
  if (info->state != "inactive") {
    GTEST_SKIP() << "the plain Docker engine is in a Swarm (" << info->state << ")";
  }
  auto manager = engine.RequireManager();
  ASSERT_FALSE(manager);
  EXPECT_EQ(manager.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(manager.error().message, HasSubstr("docker swarm init"));
  auto services = engine.ListServices({});
  ASSERT_FALSE(services);
  EXPECT_EQ(services.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(services.error().message, HasSubstr("docker swarm init"));
}

}  // namespace
}  // namespace skiff::testing
