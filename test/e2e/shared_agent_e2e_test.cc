// End-to-end: two `skiff server` processes on one PostgreSQL database (the
// test starts it: fakes/postgres_server.h), each with its own agent and edge,
// as a user adds a second all-in-one server. The leader judges both nodes
// alive by the heartbeats their agents send it; both edges serve the apps and
// report their traffic to the leader; after kill -9 of the leader the
// survivor leads, the dead server's node goes down and its instance is
// replaced on the survivor's node, and the survivor's edge keeps serving.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "e2e/skiff_server.h"
#include "fakes/postgres_server.h"
#include "net/http_client.h"

namespace skiff::testing {
namespace {

namespace json = boost::json;
using std::chrono::seconds;

// Room for a loaded two-core machine: a heartbeat every second.
constexpr auto kNodeTtl = seconds(3);

// GET `path` of `server` as JSON; null when it does not answer 200.
json::value Get(const SkiffServer& server, const std::string& path) {
  auto r = server.Api("GET", path);
  if (!r || r->status != 200) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  return ec ? json::value(nullptr) : v;
}

// The status of each node `server` lists, by node name (the server's id).
std::map<std::string, std::string> NodeStatus(const SkiffServer& server) {
  std::map<std::string, std::string> out;
  json::value nodes = Get(server, "/v1/nodes");
  if (!nodes.is_object()) return out;
  for (const json::value& n : nodes.at("nodes").as_array()) {
    out[std::string(n.at("name").as_string())] = std::string(n.at("status").as_string());
  }
  return out;
}

// The node id of the node named `name`; "" when none.
std::string NodeIdOf(const SkiffServer& server, const std::string& name) {
  json::value nodes = Get(server, "/v1/nodes");
  if (!nodes.is_object()) return "";
  for (const json::value& n : nodes.at("nodes").as_array()) {
    if (n.at("name").as_string() == name) return std::string(n.at("id").as_string());
  }
  return "";
}

// The ids of the nodes `server`'s event trail says went down, once each time.
std::multiset<std::string> NodesDown(const SkiffServer& server) {
  std::multiset<std::string> down;
  json::value events = Get(server, "/v1/events");
  if (!events.is_object()) return down;
  for (const json::value& e : events.at("events").as_array()) {
    if (e.at("kind").as_string() != "node.down") continue;
    const json::object& details = e.at("details").as_object();
    if (const json::value* node = details.if_contains("node"); node && node->is_string()) {
      down.insert(std::string(node->as_string()));
    }
  }
  return down;
}

// The nodes of the app's running, healthy instances meant to run (one entry
// per instance): not those lost with their node, which are stopped.
std::multiset<std::string> HealthyOn(const SkiffServer& server, const std::string& app) {
  std::multiset<std::string> nodes;
  for (const json::value& i : Instances(server, app)) {
    if (i.at("desired").as_string() == "run" && i.at("state").as_string() == "running" &&
        i.at("health").as_string() == "healthy") {
      nodes.insert(std::string(i.at("node").as_string()));
    }
  }
  return nodes;
}

// The id of the app's instance meant to run on `node`; "" when none.
std::string InstanceOn(const SkiffServer& server, const std::string& app, const std::string& node) {
  for (const json::value& i : Instances(server, app)) {
    if (i.at("desired").as_string() == "run" && i.at("node").as_string() == node) {
      return std::string(i.at("id").as_string());
    }
  }
  return "";
}

// The edges whose traffic reports the server holds (GET /v1/traffic).
std::set<std::string> EdgesHeard(const SkiffServer& server) {
  std::set<std::string> heard;
  json::value traffic = Get(server, "/v1/traffic");
  if (!traffic.is_object()) return heard;
  for (const json::value& e : traffic.at("edges").as_array()) {
    heard.insert(std::string(e.as_string()));
  }
  return heard;
}

// Whether the server's edge answers the app at its domain.
bool EdgeServes(const SkiffServer& server, const std::string& host) {
  auto r = net::HttpClient("http://" + server.edge_addr())
               .Do("GET", "/", {}, {{"Host", host}}, seconds(2));
  return r && r->status == 200 && r->body.rfind("hello from web-", 0) == 0;
}

class SharedAgentE2eTest : public ::testing::Test {
 protected:
  void StartServers() {
    SKIFF_REQUIRE_POSTGRES(pg);
    auto db = pg->CreateDatabase();
    ASSERT_TRUE(db.has_value()) << db.error().ToString();
    const std::string uri = pg->Uri(PostgresServer::DatabaseOf(*db));
    for (int i = 1; i <= 2; ++i) {
      auto server = std::make_unique<SkiffServer>();
      // Their own agent and edge, as an all-in-one server has; instances
      // of each on an address of its own.
      server->AddArgs({"--store", uri, "--server-id", "s" + std::to_string(i), "--leader-ttl", "1s",
                       "--node-ttl", "3s", "--node-address", "127.0.0." + std::to_string(i + 1)});
      if (i > 1) server->JoinClusterOf(*servers_[0]);
      ASSERT_TRUE(server->Start()) << "s" << i;
      servers_.push_back(std::move(server));
    }
  }

  // The index of the one server that leads among those not `skip`; -1 when
  // that is not so within `timeout`.
  int Leader(std::chrono::milliseconds timeout, int skip = -1) {
    return WaitForOneLeader(servers_, timeout, skip);
  }

  std::vector<std::unique_ptr<SkiffServer>> servers_;
};

// Verify that two servers on one database, each with its own agent and edge,
// keep both nodes ready at the leader for longer than the node ttl, with one
// instance of a two-replica app on each; that both edges serve the app and
// report to the leader; and that after kill -9 of the leader the survivor
// leads, the dead server's node goes down, its instance is replaced on the
// survivor's node while the survivor's own instance stays, and the survivor's
// edge keeps serving and reports to it.
TEST_F(SharedAgentE2eTest, OwnAgentsAndEdgesReportToTheLeader) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  const int leader = Leader(std::chrono::seconds(10));
  ASSERT_GE(leader, 0) << "no single leader";
  SkiffServer& lead = *servers_[leader];
  SkiffServer& other = *servers_[1 - leader];
  const std::map<std::string, std::string> both_ready{{"s1", "ready"}, {"s2", "ready"}};
  ASSERT_TRUE(PollUntil([&] { return NodeStatus(lead) == both_ready; }))
      << lead.Output() << other.Output();

  auto applied = other.Api("PUT", "/v1/apps/web", TestAppSpec("web", 2, "[web.test]"), nullptr,
                           "application/yaml");
  ASSERT_TRUE(applied.has_value() && applied->status == 201)
      << (applied ? applied->body : applied.error().ToString());
  const std::string lead_node = NodeIdOf(lead, "s" + std::to_string(leader + 1));
  const std::string other_node = NodeIdOf(lead, "s" + std::to_string(2 - leader));
  const std::multiset<std::string> spread{lead_node, other_node};
  ASSERT_TRUE(PollUntil([&] { return HealthyOn(lead, "web") == spread; }, seconds(30)))
      << json::serialize(Instances(lead, "web"));

  // Longer than the node ttl: the follower's node stays ready, its instance
  // is not replaced (the leader hears its agent's heartbeats).
  const auto until = std::chrono::steady_clock::now() + 2 * kNodeTtl;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(NodeStatus(lead), both_ready);
    ASSERT_EQ(HealthyOn(lead, "web"), spread);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // pacing, not syncing
  }
  ASSERT_EQ(Instances(lead, "web").size(), 2u);
  // A flip between two samples would still leave its event.
  ASSERT_EQ(NodesDown(lead), std::multiset<std::string>{})
      << json::serialize(Get(lead, "/v1/events"));
  EXPECT_TRUE(PollUntil([&] { return EdgeServes(lead, "web.test"); }));
  EXPECT_TRUE(PollUntil([&] { return EdgeServes(other, "web.test"); }));
  // Both edges' traffic reports reach the leader (every 5 s), each edge named
  // by its server's id.
  const std::vector<std::string> edge_names{"s1:edge", "s2:edge"};
  const std::set<std::string> both_edges(edge_names.begin(), edge_names.end());
  EXPECT_TRUE(PollUntil([&] { return EdgesHeard(lead) == both_edges; }, seconds(12)))
      << json::serialize(Get(lead, "/v1/traffic"));
  const std::string kept = InstanceOn(lead, "web", other_node);
  ASSERT_FALSE(kept.empty());

  lead.Kill();
  ASSERT_EQ(Leader(std::chrono::seconds(10), leader), 1 - leader) << other.Output();
  const std::string dead_name = "s" + std::to_string(leader + 1);
  const std::string survivor_name = "s" + std::to_string(2 - leader);
  EXPECT_TRUE(PollUntil(
      [&] {
        auto status = NodeStatus(other);
        return status[dead_name] == "down" && status[survivor_name] == "ready";
      },
      seconds(15)))
      << json::serialize(Get(other, "/v1/nodes"));
  const std::multiset<std::string> moved{other_node, other_node};
  EXPECT_TRUE(PollUntil([&] { return HealthyOn(other, "web") == moved; }, seconds(30)))
      << json::serialize(Instances(other, "web")) << other.Output();
  // The survivor's own instance was never replaced: its node stayed alive
  // through the failover.
  EXPECT_EQ(NodeStatus(other)[survivor_name], "ready");
  const auto instances = Instances(other, "web");
  EXPECT_TRUE(std::any_of(instances.begin(), instances.end(), [&](const json::value& i) {
    return i.at("id").as_string() == kept && i.at("desired").as_string() == "run";
  })) << json::serialize(instances);
  EXPECT_TRUE(PollUntil([&] { return EdgeServes(other, "web.test"); }));
  // Its edge reports to the new leader, itself.
  EXPECT_TRUE(
      PollUntil([&] { return EdgesHeard(other).count(edge_names[1 - leader]) == 1; }, seconds(12)))
      << json::serialize(Get(other, "/v1/traffic"));
}

// Verify that when the leader is frozen (SIGSTOP: its port still takes
// connections, nothing answers) the survivor leads and never judges its own
// node down: its agent's heartbeats, held by the frozen server at most a third
// of the node ttl, go on to it. The frozen server's node goes down.
TEST_F(SharedAgentE2eTest, OwnAgentsOutliveAFrozenLeader) {
  ASSERT_NO_FATAL_FAILURE(StartServers());
  const int leader = Leader(std::chrono::seconds(10));
  ASSERT_GE(leader, 0) << "no single leader";
  SkiffServer& frozen = *servers_[leader];
  SkiffServer& other = *servers_[1 - leader];
  const std::map<std::string, std::string> both_ready{{"s1", "ready"}, {"s2", "ready"}};
  ASSERT_TRUE(PollUntil([&] { return NodeStatus(frozen) == both_ready; }))
      << frozen.Output() << other.Output();
  const std::string frozen_name = "s" + std::to_string(leader + 1);
  const std::string survivor_name = "s" + std::to_string(2 - leader);
  const std::string survivor_node = NodeIdOf(frozen, survivor_name);
  const std::string frozen_node = NodeIdOf(frozen, frozen_name);
  ASSERT_FALSE(survivor_node.empty());

  ASSERT_EQ(::kill(frozen.pid(), SIGSTOP), 0);
  const int next = Leader(std::chrono::seconds(10), leader);
  if (next != 1 - leader) ::kill(frozen.pid(), SIGCONT);
  ASSERT_EQ(next, 1 - leader) << other.Output();
  // The frozen server's node goes down (its agent is frozen with it): the new
  // leader judged the nodes, the survivor's among them, by then.
  const bool judged =
      PollUntil([&] { return NodeStatus(other)[frozen_name] == "down"; }, seconds(20));
  // Two more ttls in which the survivor's node could go down.
  const auto until = std::chrono::steady_clock::now() + 2 * kNodeTtl;
  while (judged && std::chrono::steady_clock::now() < until) {
    if (NodeStatus(other)[survivor_name] != "ready") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // pacing, not syncing
  }
  // Read while the leader is still frozen: once it runs again its agent's
  // heartbeat brings its node back, and that node may go down once more
  // while the two servers settle, which is not what this test is about.
  const std::string survivor_status = NodeStatus(other)[survivor_name];
  const std::multiset<std::string> down = NodesDown(other);
  const std::string events = json::serialize(Get(other, "/v1/events"));
  ::kill(frozen.pid(), SIGCONT);
  EXPECT_TRUE(judged) << json::serialize(Get(other, "/v1/nodes"));
  EXPECT_EQ(survivor_status, "ready");
  EXPECT_EQ(down.count(survivor_node), 0u) << events;
  EXPECT_EQ(down.count(frozen_node), 1u) << events;
}

}  // namespace
}  // namespace skiff::testing
