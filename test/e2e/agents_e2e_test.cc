// End-to-end with remote agents: a `skiff server --no-agent` and `skiff agent`s
// on other loopback addresses (127.0.0.2, 127.0.0.3) that join with a join
// token, run an app's replicas and come back from a restart with their stored
// credential.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/quantity.h"
#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"
#include "net/http_client.h"
#include "net/join_token.h"

namespace skiff::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace json = boost::json;

std::string DomainSpec(const std::string& name, int replicas, const std::string& domain) {
  return TestAppSpec(name, replicas, "[" + domain + "]");
}

class AgentsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.AddArgs({"--no-agent"});
    ASSERT_TRUE(server_.Start());
  }

  std::string JoinToken() { return server_.JoinToken(); }

  // Instance id -> its node id, for the app's running, healthy instances.
  std::map<std::string, std::string> Healthy(const std::string& app) {
    std::map<std::string, std::string> out;
    for (const json::value& i : Instances(server_, app)) {
      if (i.at("state") == "running" && i.at("health") == "healthy") {
        out[std::string(i.at("id").as_string())] = std::string(i.at("node").as_string());
      }
    }
    return out;
  }

  Result<net::HttpResponse> Edge(const std::string& host) {
    return net::HttpClient("http://" + server_.edge_addr())
        .Do("GET", "/", {}, {{"Host", host}}, seconds(5));
  }

  SkiffServer server_;
};

// Verify that two agents join with a join token, an app's two replicas spread
// one per node, bound to each node's address, and answer through the edge; that
// a wrong join token is refused with the clear message; and that an agent
// restarted without the join token comes back with its stored credential and
// adopts its instance (same process, no duplicate).
TEST_F(AgentsE2eTest, AgentsJoinRunSpreadAndComeBack) {
  const std::string token = JoinToken();
  // SKIFF1-<CA fingerprint>-<secret>: the agents (on loopback, plain HTTP) join with it whole.
  ASSERT_EQ(net::ParseJoinToken(token).secret.size(), 64u) << token;
  SkiffAgent a(server_, "node-a", "127.0.0.2");
  SkiffAgent b(server_, "node-b", "127.0.0.3");
  b.AddArgs({"--labels", "zone=b,disk=ssd", "--capacity", "cpu=1500m"});
  ASSERT_TRUE(a.Start(token));
  ASSERT_TRUE(b.Start(token));
  // b's labels and cpu as given, its memory detected.
  json::value listed = server_.SkiffJson({"nodes"});
  ASSERT_TRUE(listed.is_object());
  bool found_b = false;
  for (const json::value& n : listed.at("nodes").as_array()) {
    if (n.at("id") != b.NodeId().c_str()) continue;
    found_b = true;
    EXPECT_EQ(n.at("name"), "node-b");
    EXPECT_EQ(n.at("address"), "127.0.0.3");
    EXPECT_EQ(n.at("labels").at("zone"), "b");
    EXPECT_EQ(n.at("labels").at("disk"), "ssd");
    EXPECT_EQ(n.at("capacity").at("cpu").to_number<int64_t>(), 1500);
    EXPECT_GT(n.at("capacity").at("memory").to_number<int64_t>(), 0);
  }
  EXPECT_TRUE(found_b) << json::serialize(listed);

  // A wrong token: refused at once, with what to do.
  TempDir stranger;
  CommandResult refused = RunCommand(
      {SKIFF_BIN, "agent", "--server", "http://" + server_.addr(), "--join-token", "wrong",
       "--address", "127.0.0.4", "--data", stranger.File("data"), "--driver", "process"},
      {}, 30);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("join token not recognised"));
  EXPECT_THAT(refused.output, HasSubstr("skiff nodes join-token"));

  CommandResult apply = server_.Skiff(
      {"apply", "-f", server_.WriteFile("joined.yaml", DomainSpec("joined", 2, "joined.test"))});
  ASSERT_EQ(apply.exit_code, 0) << apply.output << "\nserver:\n"
                                << server_.Output() << "\nagent a:\n"
                                << a.Output();
  ASSERT_TRUE(PollUntil([&] { return Healthy("joined").size() == 2; }, seconds(30)));
  std::set<std::string> nodes;
  std::map<std::string, int> pids;  // instance -> pid
  for (const json::value& i : Instances(server_, "joined")) {
    nodes.insert(std::string(i.at("node").as_string()));
    pids[std::string(i.at("id").as_string())] = HandlePid(i);
    const std::string address(i.at("address").as_string());
    const std::string host = i.at("node") == a.NodeId().c_str() ? "127.0.0.2:" : "127.0.0.3:";
    EXPECT_THAT(address, StartsWith(host));
  }
  EXPECT_EQ(nodes, (std::set<std::string>{a.NodeId(), b.NodeId()})) << "one replica per node";

  std::set<std::string> answered_by;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = Edge("joined.test");
        if (r && r->status == 200) answered_by.insert(r->body);
        return answered_by.size() == 2;
      },
      seconds(20)))
      << "both nodes' instances answer through the edge";

  // Agent a stops (its instance keeps running) and comes back without the join token.
  a.Stop();
  EXPECT_EQ(AppProcesses("joined").size(), 2u);
  ASSERT_TRUE(a.Start(""));
  ASSERT_TRUE(PollUntil([&] { return Healthy("joined").size() == 2; }, seconds(20)));
  // Settled for a while: still the same two instances, the same processes.
  std::this_thread::sleep_for(seconds(2));  // a window for a duplicate to show; not a sync
  json::array after = Instances(server_, "joined");
  ASSERT_EQ(after.size(), 2u);
  for (const json::value& i : after) {
    const std::string id(i.at("id").as_string());
    ASSERT_EQ(pids.count(id), 1u) << "no replacement: " << id;
    EXPECT_EQ(HandlePid(i), pids[id]) << "adopted, not restarted: " << id;
  }
  EXPECT_EQ(AppProcesses("joined").size(), 2u) << "no duplicate process";
  auto served = Edge("joined.test");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);

  // The server restarts: the node credentials it keeps still let the agents in,
  // and their instances run on undisturbed.
  server_.Kill();
  const std::string restarted_at = FormatTime(std::chrono::system_clock::now());
  ASSERT_TRUE(server_.Start());
  // Both agents' heartbeats reach the new server process (it keeps them in memory).
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = server_.Api("GET", "/v1/nodes");
        if (!r || r->status != 200) return false;
        int fresh = 0;
        const json::value nodes = json::parse(r->body);
        for (const json::value& n : nodes.at("nodes").as_array()) {
          if (n.at("status") == "ready" &&
              std::string(n.at("last_heartbeat").as_string()) > restarted_at) {
            ++fresh;
          }
        }
        return fresh == 2;
      },
      seconds(20)))
      << server_.Output();
  ASSERT_TRUE(PollUntil(
      [&] {
        auto healthy = Healthy("joined");
        return healthy.size() == 2 && Edge("joined.test") && Edge("joined.test")->status == 200;
      },
      seconds(20)))
      << server_.Output();
  for (const json::value& i : Instances(server_, "joined")) {
    EXPECT_EQ(HandlePid(i), pids[std::string(i.at("id").as_string())]);
  }
  EXPECT_EQ(AppProcesses("joined").size(), 2u);
  EXPECT_THAT(a.Output(), ::testing::Not(HasSubstr("not recognised")));
}

// Verify node loss: an agent killed with -9 leaves its node silent; after the
// node TTL its instance is replaced on the other node (how fast: bench/node_loss.cc), the edge
// serving every request meanwhile (retries and ejection cover the lost instance); and when the
// agent comes back, the instance it still runs — replaced elsewhere — is stopped, so no duplicate
// is left.
TEST_F(AgentsE2eTest, LostNodeIsReplacedAndItsStaleInstanceStopped) {
  const std::string token = JoinToken();
  SkiffAgent a(server_, "node-a", "127.0.0.2");
  SkiffAgent b(server_, "node-b", "127.0.0.3");
  ASSERT_TRUE(a.Start(token));
  ASSERT_TRUE(b.Start(token));
  CommandResult apply = server_.Skiff(
      {"apply", "-f", server_.WriteFile("lost.yaml", DomainSpec("lost", 2, "lost.test"))});
  ASSERT_EQ(apply.exit_code, 0) << apply.output;
  ASSERT_TRUE(PollUntil([&] { return Healthy("lost").size() == 2; }, seconds(30)));

  // Traffic through the edge the whole time.
  std::atomic<bool> done{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::thread load([&] {
    while (!done) {
      auto r = Edge("lost.test");
      (r && r->status == 200 ? ok : failed)++;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });

  b.Kill();
  ASSERT_TRUE(PollUntil(
      [&] {
        auto healthy = Healthy("lost");
        return healthy.size() == 2 && std::all_of(healthy.begin(), healthy.end(), [&](auto& kv) {
                 return kv.second == a.NodeId();
               });
      },
      seconds(30)))
      << server_.Output();
  EXPECT_EQ(AppProcesses("lost").size(), 3u) << "the lost node's instance still runs, unrouted";

  // The agent comes back: what it runs was replaced, so it stops it.
  ASSERT_TRUE(b.Start(""));
  EXPECT_TRUE(PollUntil([&] { return AppProcesses("lost").size() == 2; }, seconds(20)))
      << b.Output();
  done = true;
  load.join();
  EXPECT_EQ(failed.load(), 0) << ok.load() << " requests answered 200";
  EXPECT_GT(ok.load(), 100);
  auto healthy = Healthy("lost");
  EXPECT_EQ(healthy.size(), 2u);
}

// Verify the loss of a whole machine among three: an agent and everything it
// runs killed with -9. The edge serves every request meanwhile (retries and
// ejection cover the dead instance until the node is down), the instance is
// replaced on the two others, and when the agent comes back nothing of the
// old placement is left: three processes, none on the returned node.
TEST_F(AgentsE2eTest, MachineLostWithItsInstances) {
  const std::string token = JoinToken();
  SkiffAgent a(server_, "node-a", "127.0.0.2");
  SkiffAgent b(server_, "node-b", "127.0.0.3");
  SkiffAgent c(server_, "node-c", "127.0.0.4");
  ASSERT_TRUE(a.Start(token));
  ASSERT_TRUE(b.Start(token));
  ASSERT_TRUE(c.Start(token));
  CommandResult apply = server_.Skiff(
      {"apply", "-f", server_.WriteFile("gone.yaml", DomainSpec("machine-gone", 3, "gone.test"))});
  ASSERT_EQ(apply.exit_code, 0) << apply.output;
  ASSERT_TRUE(PollUntil([&] { return Healthy("machine-gone").size() == 3; }, seconds(30)));
  std::set<std::string> nodes;
  for (const auto& [id, node] : Healthy("machine-gone")) nodes.insert(node);
  ASSERT_EQ(nodes.size(), 3u) << "spread one per node";

  std::atomic<bool> done{false};
  std::atomic<int> ok{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  std::atomic<int> failed{0};
  std::thread load([&] {
    while (!done) {
      auto r = Edge("gone.test");
      if (!(r && r->status == 200)) {
        std::lock_guard lock(failures_mu);
        failures.push_back(r ? std::to_string(r->status) + " " + r->body : r.error().ToString());
      }
      (r && r->status == 200 ? ok : failed)++;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });

  c.KillWithInstances();
  ASSERT_TRUE(PollUntil(
      [&] {
        auto healthy = Healthy("machine-gone");
        return healthy.size() == 3 && std::none_of(healthy.begin(), healthy.end(), [&](auto& kv) {
                 return kv.second == c.NodeId();
               });
      },
      seconds(30)))
      << server_.Output();
  EXPECT_EQ(AppProcesses("machine-gone").size(), 3u);

  ASSERT_TRUE(c.Start(""));
  // Back and ready, it is assigned nothing of the old placement.
  EXPECT_TRUE(PollUntil(
      [&] {
        for (const json::value& i : Instances(server_, "machine-gone")) {
          if (i.at("node").as_string() == c.NodeId()) return false;
        }
        return true;
      },
      seconds(20)));
  done = true;
  load.join();
  EXPECT_EQ(failed.load(), 0) << ok.load() << " requests answered 200; failures: "
                              << ::testing::PrintToString(failures);
  EXPECT_GT(ok.load(), 100);
  EXPECT_EQ(Healthy("machine-gone").size(), 3u);
  EXPECT_EQ(AppProcesses("machine-gone").size(), 3u);
}

// Verify placement across three agents: three replicas spread one per node, a
// constraint keeps an app on the nodes that match, and `skiff drain` moves a
// node's instances elsewhere (replacements first) and leaves it empty.
TEST_F(AgentsE2eTest, ThreeNodesSpreadConstrainAndDrain) {
  const std::string token = JoinToken();
  SkiffAgent a(server_, "node-a", "127.0.0.2");
  SkiffAgent b(server_, "node-b", "127.0.0.3");
  SkiffAgent c(server_, "node-c", "127.0.0.4");
  a.AddArgs({"--labels", "disk=ssd"});
  b.AddArgs({"--labels", "disk=ssd"});
  c.AddArgs({"--labels", "disk=hdd"});
  for (SkiffAgent* agent : {&a, &b, &c}) ASSERT_TRUE(agent->Start(token));

  ASSERT_EQ(server_
                .Skiff({"apply", "-f",
                        server_.WriteFile("spread.yaml", DomainSpec("spread", 3, "spread.test"))})
                .exit_code,
            0);
  const std::string fast =
      TestAppSpec("fast", 4, "[fast.test]") + "placement: {constraints: [\"disk == ssd\"]}\n";
  ASSERT_EQ(server_.Skiff({"apply", "-f", server_.WriteFile("fast.yaml", fast)}).exit_code, 0);
  ASSERT_TRUE(PollUntil(
      [&] { return Healthy("spread").size() == 3 && Healthy("fast").size() == 4; }, seconds(30)));
  std::set<std::string> web_nodes;
  for (const auto& [id, node] : Healthy("spread")) web_nodes.insert(node);
  EXPECT_EQ(web_nodes, (std::set<std::string>{a.NodeId(), b.NodeId(), c.NodeId()}))
      << "spread: one replica per node";
  for (const auto& [id, node] : Healthy("fast")) {
    EXPECT_NE(node, c.NodeId()) << id << " placed on the hdd node against its constraint";
  }

  CommandResult drained = server_.Skiff({"drain", c.NodeId()});
  ASSERT_EQ(drained.exit_code, 0) << drained.output;
  ASSERT_TRUE(PollUntil(
      [&] {
        for (const json::value& i : Instances(server_, "spread")) {
          if (i.at("node") == c.NodeId().c_str()) return false;
        }
        return Healthy("spread").size() == 3;
      },
      seconds(30)))
      << server_.Output();
  auto served = Edge("spread.test");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
}

// Verify that usage errors exit 2: no address, or neither a join token nor a stored credential.
TEST_F(AgentsE2eTest, UsageErrorsExit2) {
  TempDir dir;
  const std::string url = "http://" + server_.addr();
  CommandResult help = RunCommand({SKIFF_BIN, "agent", "--help"}, {}, 30);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("--join-token"));
  EXPECT_THAT(help.output, HasSubstr("--capacity"));
  EXPECT_EQ(RunCommand({SKIFF_BIN, "agent", "--server", url}, {}, 30).exit_code, 2);
  EXPECT_EQ(RunCommand({SKIFF_BIN, "agent", "--server", url, "--address", "127.0.0.2", "--capacity",
                        "disk=1"},
                       {}, 30)
                .exit_code,
            2);
  CommandResult no_token = RunCommand(
      {SKIFF_BIN, "agent", "--server", url, "--address", "127.0.0.2", "--data", dir.File("d")},
      {{"SKIFF_JOIN_TOKEN", ""}}, 30);
  EXPECT_EQ(no_token.exit_code, 2) << no_token.output;
  EXPECT_THAT(no_token.output, HasSubstr("skiff nodes join-token"));
}

// Verify that a revoked join token no longer lets a machine join.
TEST_F(AgentsE2eTest, RevokedJoinTokenRefused) {
  const std::string token = JoinToken();
  // Revoked by its id (the list shows the token's first characters beside it).
  auto listed = server_.Api("GET", "/v1/join-tokens");
  ASSERT_TRUE(listed);
  const boost::json::value list = boost::json::parse(listed->body);
  std::string id;
  for (const boost::json::value& t : list.at("join_tokens").as_array()) {
    // The prefix is of the token's secret (after "SKIFF1-<CA fingerprint>-").
    if (net::ParseJoinToken(token).secret.starts_with(std::string(t.at("prefix").as_string()))) {
      id = std::string(t.at("id").as_string());
    }
  }
  ASSERT_FALSE(id.empty()) << listed->body;
  auto revoked = server_.Api("DELETE", "/v1/join-tokens/" + id);
  ASSERT_TRUE(revoked);
  ASSERT_EQ(revoked->status, 200) << revoked->body;
  TempDir dir;
  CommandResult r =
      RunCommand({SKIFF_BIN, "agent", "--server", "http://" + server_.addr(), "--join-token", token,
                  "--address", "127.0.0.2", "--data", dir.File("data"), "--driver", "process"},
                 {}, 30);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("join token not recognised"));
}

}  // namespace
}  // namespace skiff::testing
