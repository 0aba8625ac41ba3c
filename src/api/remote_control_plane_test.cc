// agent::RemoteControlPlane against the real API behind net::HttpServer
// (port 0, loopback): the agent's contract over HTTP, end to end in-process.
#include "agent/remote_control_plane.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/api_server.h"
#include "api/join_tokens.h"
#include "fakes/testing.h"
#include "net/http_server.h"
#include "net/test_util.h"
#include "store/memory/memory_store.h"

namespace skiff::api {
namespace {

using ::testing::HasSubstr;

class RemoteControlPlaneTest : public ::testing::Test {
 protected:
  RemoteControlPlaneTest() : apps_(&store_, &clock_), nodes_(&store_, &clock_) {
    auto tokens = JoinTokenStore::Open(dir_.path(), &clock_);
    EXPECT_TRUE(tokens);
    tokens_ = std::move(*tokens);
    auth_ = std::make_unique<TokenAuthenticator>(std::vector<std::string>{"admin"}, tokens_.get());
    ApiDeps deps;
    deps.store = &store_;
    deps.apps = &apps_;
    deps.nodes = &nodes_;
    deps.auth = auth_.get();
    deps.join_tokens = tokens_.get();
    deps.log_dir = dir_.path();
    api_ = std::make_unique<ApiServer>(std::move(deps));
    server_ = std::make_unique<net::HttpServer>(
        io_.io(),
        [this](const net::HttpRequest& r, net::ResponseWriter& w) { return api_->Handle(r, w); });
    auto listened = server_->Listen("127.0.0.1:0");
    EXPECT_TRUE(listened) << listened.error().ToString();
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  ~RemoteControlPlaneTest() override { server_->Stop(); }

  static model::Node Node(const std::string& id) {
    model::Node n;
    n.id = id;
    n.name = id;
    n.address = "127.0.0.2";
    n.drivers = {"process"};
    return n;
  }

  skiff::testing::TempDir dir_;
  ManualClock clock_;
  store::MemoryStore store_;
  controller::AppService apps_;
  controller::NodeService nodes_;
  std::unique_ptr<JoinTokenStore> tokens_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<ApiServer> api_;
  net::testing::IoThreads io_;
  std::unique_ptr<net::HttpServer> server_;
  std::string url_;
};

// Verify that an agent joins with a join token, keeps the credential it gets,
// makes every call with it, and that a later agent with only that credential
// registers again without the join token.
TEST_F(RemoteControlPlaneTest, JoinThenCredential) {
  auto token = tokens_->Create();
  ASSERT_TRUE(token);
  std::string saved;
  agent::RemoteControlPlaneOptions options;
  options.server_url = url_;
  options.join_token = token->token;
  options.save_credential = [&](const std::string& c) {
    saved = c;
    return OkStatus();
  };
  agent::RemoteControlPlane remote(options);
  auto node = remote.RegisterNode(Node("node-a"));
  ASSERT_TRUE(node) << node.error().ToString();
  EXPECT_EQ(node->id, "node-a");
  EXPECT_EQ(node->status, model::NodeStatus::kReady);
  ASSERT_EQ(saved.size(), 64u);
  EXPECT_EQ(remote.credential(), saved);
  EXPECT_EQ(tokens_->NodeForCredential(saved), "node-a");

  EXPECT_TRUE(remote.Heartbeat("node-a"));
  auto assignments = remote.ListAssignments("node-a");
  ASSERT_TRUE(assignments) << assignments.error().ToString();
  EXPECT_TRUE(assignments->instances.empty());
  EXPECT_TRUE(remote.ReportSamples("node-a", {{"i-1", {clock_.Now(), 5, 6}}}));
  auto revision = remote.WaitForChange(0, std::chrono::seconds(10));
  ASSERT_TRUE(revision);
  EXPECT_EQ(*revision, store_.Revision());
  auto report =
      remote.ReportInstance(agent::InstanceReport{.instance_id = "absent", .node_id = "node-a"});
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, ErrorCode::kNotFound);
  auto other = remote.Heartbeat("node-b");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kPermissionDenied);

  ASSERT_TRUE(tokens_->Revoke(token->token));
  agent::RemoteControlPlaneOptions later;
  later.server_url = url_;
  later.credential = saved;
  agent::RemoteControlPlane restarted(later);
  auto again = restarted.RegisterNode(Node("node-a"));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(restarted.credential(), saved);
}

// Verify that a wrong join token is kUnauthenticated with the message that says what to do.
TEST_F(RemoteControlPlaneTest, WrongJoinToken) {
  agent::RemoteControlPlaneOptions options;
  options.server_url = url_;
  options.join_token = "wrong";
  agent::RemoteControlPlane remote(options);
  auto node = remote.RegisterNode(Node("node-a"));
  ASSERT_FALSE(node);
  EXPECT_EQ(node.error().code, ErrorCode::kUnauthenticated);
  EXPECT_THAT(node.error().message, HasSubstr("skiff nodes join-token"));
}

// Verify that every call is kUnavailable when the server cannot be reached.
TEST_F(RemoteControlPlaneTest, UnreachableIsUnavailable) {
  agent::RemoteControlPlaneOptions options;
  options.server_url = url_;
  options.credential = "c";
  server_->Stop();
  agent::RemoteControlPlane remote(options);
  EXPECT_EQ(remote.RegisterNode(Node("node-a")).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(remote.Heartbeat("node-a").error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(remote.ListAssignments("node-a").error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(remote.WaitForChange(0, std::chrono::milliseconds(10)).error().code,
            ErrorCode::kUnavailable);
  EXPECT_EQ(remote.ReportSamples("node-a", {}).error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace skiff::api
