#include "orchestrator/swarm/swarm_engine.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace skiff::orchestrator::swarm {
namespace {

namespace json = boost::json;

// Verify that the engine's errors that mean something to the orchestrator
// get their code: a stale version is kAborted (read again), an engine that
// is no manager is kFailedPrecondition saying how; the rest keep theirs.
TEST(SwarmErrorTest, MapsWhatTheEngineSays) {
  struct Case {
    Error in;
    ErrorCode want;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{ErrorCode::kInternal, "rpc error: code = Unknown desc = update out of sequence", {}},
       ErrorCode::kAborted,
       "read it again"},
      {{ErrorCode::kUnavailable,
        "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to "
        "connect this node to swarm and try again.",
        {}},
       ErrorCode::kFailedPrecondition,
       "docker swarm init"},
      {{ErrorCode::kUnavailable,
        "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster "
        "state. Please run this command on a manager node or promote the current node to a "
        "manager.",
        {}},
       ErrorCode::kFailedPrecondition,
       "docker node promote"},
      {{ErrorCode::kUnavailable, "This node is not part of a swarm", {}},
       ErrorCode::kFailedPrecondition,
       "not a Swarm manager"},
      {{ErrorCode::kNotFound, "service x not found", {}}, ErrorCode::kNotFound, "service x"},
      {{ErrorCode::kUnavailable, "cannot connect to unix:///x.sock", {}},
       ErrorCode::kUnavailable,
       "cannot connect"},
      {{ErrorCode::kAborted, "name conflicts with an existing object", {}},
       ErrorCode::kAborted,
       "name conflicts"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in.message);
    const Error out = SwarmError(c.in);
    EXPECT_EQ(out.code, c.want);
    EXPECT_NE(out.message.find(c.says), std::string::npos) << out.message;
  }
}

// Verify that /info's Swarm object is read, and a manager told from a worker
// and from an engine outside any Swarm.
TEST(ParseSwarmInfoTest, ManagerWorkerInactive) {
  auto manager = ParseSwarmInfo(json::parse(R"({"Name":"vm","Swarm":{
      "NodeID":"hyg9","NodeAddr":"127.0.0.1","LocalNodeState":"active","ControlAvailable":true,
      "Error":"","Nodes":1,"Managers":1,"Cluster":{"ID":"v9gq","Version":{"Index":10}}}})"));
  ASSERT_TRUE(manager);
  EXPECT_EQ(manager->node_id, "hyg9");
  EXPECT_EQ(manager->node_addr, "127.0.0.1");
  EXPECT_EQ(manager->cluster_id, "v9gq");
  EXPECT_EQ(manager->nodes, 1);
  EXPECT_TRUE(manager->IsManager());

  auto worker = ParseSwarmInfo(json::parse(
      R"({"Swarm":{"NodeID":"w1","LocalNodeState":"active","ControlAvailable":false}})"));
  ASSERT_TRUE(worker);
  EXPECT_FALSE(worker->IsManager());

  auto inactive = ParseSwarmInfo(json::parse(
      R"({"Swarm":{"NodeID":"","LocalNodeState":"inactive","ControlAvailable":false}})"));
  ASSERT_TRUE(inactive);
  EXPECT_EQ(inactive->state, "inactive");
  EXPECT_FALSE(inactive->IsManager());

  EXPECT_FALSE(ParseSwarmInfo(json::parse(R"({"Name":"vm"})")));
  EXPECT_FALSE(ParseSwarmInfo(json::parse("[]")));
}

// Verify that a node of GET /nodes is read whole: spec (kept for updates),
// role, availability, labels, resources, state, address, leadership.
TEST(ParseNodeTest, ReadsANode) {
  auto node = ParseNode(json::parse(R"({"ID":"hyg9","Version":{"Index":9},
      "Spec":{"Labels":{"zone":"a"},"Role":"manager","Availability":"active"},
      "Description":{"Hostname":"vm","Resources":{"NanoCPUs":2000000000,"MemoryBytes":25276194816},
                     "Engine":{"EngineVersion":"20.10.24+dfsg1"}},
      "Status":{"State":"ready","Addr":"127.0.0.1"},
      "ManagerStatus":{"Leader":true,"Reachability":"reachable","Addr":"127.0.0.1:2377"}})"));
  ASSERT_TRUE(node);
  EXPECT_EQ(node->id, "hyg9");
  EXPECT_EQ(node->version, 9);
  EXPECT_EQ(node->hostname, "vm");
  EXPECT_EQ(node->role, "manager");
  EXPECT_EQ(node->availability, "active");
  EXPECT_EQ(node->state, "ready");
  EXPECT_EQ(node->addr, "127.0.0.1");
  EXPECT_TRUE(node->leader);
  EXPECT_EQ(node->labels, (std::map<std::string, std::string>{{"zone", "a"}}));
  EXPECT_EQ(node->nano_cpus, 2'000'000'000);
  EXPECT_EQ(node->memory_bytes, 25276194816);
  EXPECT_EQ(node->engine_version, "20.10.24+dfsg1");
  EXPECT_EQ(node->spec.at("Role"), "manager");

  // A worker has no ManagerStatus.
  auto worker = ParseNode(json::parse(R"({"ID":"w","Spec":{"Role":"worker"}})"));
  ASSERT_TRUE(worker);
  EXPECT_FALSE(worker->leader);
  EXPECT_FALSE(ParseNode(json::parse(R"({"Spec":{}})")));
}

// Verify that a service is read with its version, labels and replicas, and
// that a global one has no replica count.
TEST(ParseServiceTest, ReadsAService) {
  auto service = ParseService(json::parse(R"({"ID":"1zg6","Version":{"Index":12},
      "CreatedAt":"2026-12-07T22:59:03.915353206Z","UpdatedAt":"2026-12-07T22:59:03.916430608Z",
      "Spec":{"Name":"probe1","Labels":{"skiff.app":"probe1","skiff.revision":"1"},
              "TaskTemplate":{"ContainerSpec":{"Image":"x"}},"Mode":{"Replicated":{"Replicas":2}}},
      "UpdateStatus":{"State":"completed"}})"));
  ASSERT_TRUE(service);
  EXPECT_EQ(service->id, "1zg6");
  EXPECT_EQ(service->name, "probe1");
  EXPECT_EQ(service->version, 12);
  EXPECT_EQ(service->replicas, 2);
  EXPECT_EQ(service->labels.at("skiff.revision"), "1");
  EXPECT_EQ(service->update_state, "completed");
  EXPECT_NE(service->created_at, Time{});
  EXPECT_TRUE(service->spec.contains("TaskTemplate"));

  auto global = ParseService(json::parse(R"({"ID":"g","Spec":{"Name":"g","Mode":{"Global":{}}}})"));
  ASSERT_TRUE(global);
  EXPECT_EQ(global->replicas, std::nullopt);
}

// Verify that a task is read with its slot, node, states, container and
// error, and that a pending one (no node, no container yet) reads too.
TEST(ParseTaskTest, RunningAndPending) {
  auto running = ParseTask(json::parse(R"({"ID":"ia5z","ServiceID":"1zg6","Slot":1,
      "NodeID":"hyg9","DesiredState":"running","CreatedAt":"2026-12-07T22:59:03.917275774Z",
      "UpdatedAt":"2026-12-07T22:59:04.61914243Z",
      "Status":{"Timestamp":"2026-12-07T22:59:04.54278107Z","State":"running","Message":"started",
                "ContainerStatus":{"ContainerID":"ceb555","PID":30113,"ExitCode":0}}})"));
  ASSERT_TRUE(running);
  EXPECT_EQ(running->id, "ia5z");
  EXPECT_EQ(running->service_id, "1zg6");
  EXPECT_EQ(running->slot, 1);
  EXPECT_EQ(running->node_id, "hyg9");
  EXPECT_EQ(running->desired_state, "running");
  EXPECT_EQ(running->state, "running");
  EXPECT_EQ(running->message, "started");
  EXPECT_EQ(running->container_id, "ceb555");
  EXPECT_NE(running->status_at, Time{});

  auto pending = ParseTask(json::parse(R"json({"ID":"5zgu","Slot":2,"DesiredState":"ready",
      "Status":{"State":"pending","Message":"pending task scheduling",
                "Err":"no suitable node (1 node not available for new tasks)"}})json"));
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->node_id, "");
  EXPECT_EQ(pending->container_id, "");
  EXPECT_EQ(pending->error, "no suitable node (1 node not available for new tasks)");

  auto failed = ParseTask(json::parse(R"json({"ID":"f","Status":{"State":"failed",
      "Err":"task: non-zero exit (3)","ContainerStatus":{"ContainerID":"c","ExitCode":3}}})json"));
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->exit_code, 3);
  EXPECT_FALSE(ParseTask(json::parse("{}")));
}

// Verify that the availabilities have the API's names.
TEST(NodeAvailabilityTest, Names) {
  EXPECT_EQ(NodeAvailabilityName(NodeAvailability::kActive), "active");
  EXPECT_EQ(NodeAvailabilityName(NodeAvailability::kPause), "pause");
  EXPECT_EQ(NodeAvailabilityName(NodeAvailability::kDrain), "drain");
}

}  // namespace
}  // namespace skiff::orchestrator::swarm
