#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "api/api_server.h"
#include "api/fake_writer_test_util.h"
#include "api/join_tokens.h"
#include "common/files.h"
#include "common/ids.h"
#include "fakes/testing.h"
#include "model/codec.h"
#include "protocol/node_codec.h"
#include "store/memory/memory_store.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // g++ 12 false positive on Asio frames
#endif

namespace skiff::api {
namespace {

namespace json = boost::json;
using testing::FakeWriter;
using ::testing::HasSubstr;

constexpr const char* kAdmin = "admin-token";

// Verify that the file keeps only a hash of each node credential (reading it
// gives nothing that authenticates), and that a file written before hashing,
// with a credential in the clear, still authenticates that node.
TEST(JoinTokenStoreTest, CredentialsKeptHashed) {
  skiff::testing::TempDir dir;
  auto store = JoinTokenStore::Open(dir.path());
  ASSERT_TRUE(store);
  auto credential = (*store)->IssueCredential("node-1");
  ASSERT_TRUE(credential);
  auto read = ReadPrivateFile(dir.File(kJoinTokenFile));
  ASSERT_TRUE(read);
  const std::string& file = *read;
  EXPECT_THAT(file, ::testing::Not(HasSubstr(*credential)));
  EXPECT_THAT(file, HasSubstr("sha256:" + Sha256Hex(*credential)));

  skiff::testing::TempDir legacy;
  ASSERT_TRUE(WriteFileAtomically(legacy.File(kJoinTokenFile),
                                  R"({"join_tokens":[],"node_credentials":{"node-2":"clear"}})",
                                  0600));
  auto old = JoinTokenStore::Open(legacy.path());
  ASSERT_TRUE(old) << old.error().ToString();
  EXPECT_EQ((*old)->NodeForCredential("clear"), "node-2");
  EXPECT_FALSE((*old)->NodeForCredential(Sha256Hex("clear")));
}

// Verify that join tokens survive a reopen of the store and that a revoked one is gone.
TEST(JoinTokenStoreTest, DurableAcrossReopenAndRevoke) {
  skiff::testing::TempDir dir;
  auto store = JoinTokenStore::Open(dir.path());
  ASSERT_TRUE(store) << store.error().ToString();
  auto a = (*store)->Create();
  auto b = (*store)->Create();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->token.size(), 64u);
  EXPECT_NE(a->token, b->token);
  auto credential = (*store)->IssueCredential("node-1");
  ASSERT_TRUE(credential);
  struct stat st;
  ASSERT_EQ(::stat(dir.File(kJoinTokenFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  auto reopened = JoinTokenStore::Open(dir.path());
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ((*reopened)->List().size(), 2u);
  EXPECT_TRUE((*reopened)->IsJoinToken(a->token));
  EXPECT_EQ((*reopened)->NodeForCredential(*credential), "node-1");
  EXPECT_FALSE((*reopened)->NodeForCredential("nope"));

  ASSERT_TRUE((*reopened)->Revoke(a->token));
  EXPECT_EQ((*reopened)->Revoke(a->token).error().code, ErrorCode::kNotFound);
  auto again = JoinTokenStore::Open(dir.path());
  ASSERT_TRUE(again);
  EXPECT_FALSE((*again)->IsJoinToken(a->token));
  EXPECT_TRUE((*again)->IsJoinToken(b->token));
  EXPECT_FALSE((*again)->IsJoinToken(""));
}

// Verify that a damaged file is kFailedPrecondition, not an empty store.
TEST(JoinTokenStoreTest, DamagedFileRefused) {
  skiff::testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File(kJoinTokenFile), "{not json", 0600));
  auto store = JoinTokenStore::Open(dir.path());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kFailedPrecondition);
}

class AgentApiTest : public ::testing::Test {
 protected:
  AgentApiTest() : apps_(&store_, &clock_), nodes_(&store_, &clock_) {}

  void SetUp() override {
    auto tokens = JoinTokenStore::Open(dir_.path(), &clock_);
    ASSERT_TRUE(tokens);
    tokens_ = std::move(*tokens);
    auth_ = std::make_unique<TokenAuthenticator>(std::vector<std::string>{kAdmin}, tokens_.get());
    ApiDeps deps;
    deps.store = &store_;
    deps.apps = &apps_;
    deps.nodes = &nodes_;
    deps.clock = &clock_;
    deps.auth = auth_.get();
    deps.join_tokens = tokens_.get();
    deps.log_dir = dir_.path();
    api_ = std::make_unique<ApiServer>(std::move(deps));
  }

  FakeWriter Call(std::string method, std::string path, const std::string& token,
                  std::string body = {}) {
    net::HttpRequest r;
    r.method = std::move(method);
    r.target = path;
    r.path = path.substr(0, path.find('?'));
    if (auto q = path.find('?'); q != std::string::npos) {
      std::string query = path.substr(q + 1);
      for (size_t i = 0; i < query.size();) {
        size_t amp = std::min(query.find('&', i), query.size());
        std::string kv = query.substr(i, amp - i);
        r.query[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
        i = amp + 1;
      }
    }
    r.body = std::move(body);
    if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
    FakeWriter w;
    testing::RunHandler([this](const net::HttpRequest& req,
                               FakeWriter& writer) { return api_->Handle(req, writer); },
                        r, w);
    return w;
  }

  static std::string NodeBody(const std::string& id) {
    model::Node n;
    n.id = id;
    n.name = id;
    n.address = "127.0.0.2";
    return json::serialize(model::ToJson(n));
  }

  // Joins node `id` with a fresh join token; returns its credential.
  std::string Join(const std::string& id) {
    FakeWriter made = Call("POST", "/v1/join-tokens", kAdmin);
    EXPECT_EQ(made.status, 201) << made.body;
    std::string token(made.Json().at("token").as_string());
    FakeWriter joined = Call("POST", "/v1/agent/register", token, NodeBody(id));
    EXPECT_EQ(joined.status, 200) << joined.body;
    return std::string(joined.Json().at("credential").as_string());
  }

  skiff::testing::TempDir dir_;
  ManualClock clock_;
  store::MemoryStore store_;
  controller::AppService apps_;
  controller::NodeService nodes_;
  std::unique_ptr<JoinTokenStore> tokens_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<ApiServer> api_;
};

// Verify that join tokens are the admin's: a node credential or none is refused.
TEST_F(AgentApiTest, JoinTokensNeedAdmin) {
  std::string credential = Join("node-a");
  EXPECT_EQ(Call("POST", "/v1/join-tokens", "").status, 401);
  EXPECT_EQ(Call("POST", "/v1/join-tokens", credential).status, 401);
  FakeWriter list = Call("GET", "/v1/join-tokens", kAdmin);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.Json().at("join_tokens").as_array().size(), 1u);
}

// Verify that a wrong or revoked join token is 401 with the message saying what to do.
TEST_F(AgentApiTest, BadJoinTokenRefusedClearly) {
  FakeWriter w = Call("POST", "/v1/agent/register", "wrong", NodeBody("node-a"));
  EXPECT_EQ(w.status, 401);
  EXPECT_THAT(w.body, HasSubstr("join token not recognised"));
  EXPECT_THAT(w.body, HasSubstr("skiff nodes join-token"));

  FakeWriter made = Call("POST", "/v1/join-tokens", kAdmin);
  std::string token(made.Json().at("token").as_string());
  EXPECT_EQ(Call("DELETE", "/v1/join-tokens/" + token, kAdmin).status, 200);
  EXPECT_EQ(Call("POST", "/v1/agent/register", token, NodeBody("node-a")).status, 401);
  EXPECT_EQ(Call("DELETE", "/v1/join-tokens/" + token, kAdmin).status, 404);
}

// Verify that a node credential acts on its own node only, the admin on any,
// and that a credential re-registers its node without a join token.
TEST_F(AgentApiTest, CredentialActsOnItsOwnNode) {
  std::string a = Join("node-a");
  std::string b = Join("node-b");
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/heartbeat", a, "{}").status, 200);
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/heartbeat", b, "{}").status, 403);
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/heartbeat", kAdmin, "{}").status, 200);
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/heartbeat", "forged", "{}").status, 401);
  EXPECT_EQ(Call("GET", "/v1/agent/nodes/node-b/assignments", a).status, 403);
  FakeWriter assignments = Call("GET", "/v1/agent/nodes/node-a/assignments", a);
  ASSERT_EQ(assignments.status, 200) << assignments.body;
  auto decoded = protocol::AssignmentsFromJson(assignments.Json());
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(decoded->instances.empty());
  EXPECT_EQ(Call("POST", "/v1/agent/register", b, NodeBody("node-a")).status, 403);
  FakeWriter again = Call("POST", "/v1/agent/register", a, NodeBody("node-a"));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_FALSE(again.Json().as_object().contains("credential"));
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-b/samples", a, R"({"samples":[]})").status, 403);
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/samples", a, R"({"samples":[]})").status, 200);
  // A report naming another node than the path is refused.
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/reports", a,
                 R"({"instance":"i-1","node":"node-b","generation":1})")
                .status,
            403);
  // Node credentials are not admin tokens.
  EXPECT_EQ(Call("GET", "/v1/apps", a).status, 401);
}

// Verify that a join token cannot take over the name of a node that is alive
// (its credential keeps working, nothing is stored), and that a node marked
// down may be joined again under its name, which retires its old credential.
TEST_F(AgentApiTest, JoinTokenCannotTakeOverALiveNode) {
  std::string first = Join("node-a");
  FakeWriter made = Call("POST", "/v1/join-tokens", kAdmin);
  std::string token(made.Json().at("token").as_string());
  int64_t revision = store_.GetSnapshot()->revision;
  FakeWriter refused = Call("POST", "/v1/agent/register", token, NodeBody("node-a"));
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("node node-a is already registered and alive"));
  EXPECT_THAT(refused.body, HasSubstr("--name"));
  EXPECT_EQ(store_.GetSnapshot()->revision, revision);
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/heartbeat", first, "{}").status, 200);

  auto node = store_.GetNode("node-a");
  ASSERT_TRUE(node);
  node->status = model::NodeStatus::kDown;
  store::Txn txn;
  txn.Put(*node, node->version);
  ASSERT_TRUE(store_.Commit(txn));
  FakeWriter rejoined = Call("POST", "/v1/agent/register", token, NodeBody("node-a"));
  ASSERT_EQ(rejoined.status, 200) << rejoined.body;
  std::string second(rejoined.Json().at("credential").as_string());
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/heartbeat", second, "{}").status, 200);
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/heartbeat", first, "{}").status, 401);
}

// Verify that the wait answers the current revision at once when it is past,
// after the timeout otherwise, and refuses a timeout over 30 s.
TEST_F(AgentApiTest, WaitForChange) {
  std::string a = Join("node-a");
  const int64_t now = store_.Revision();
  FakeWriter past = Call("GET", "/v1/agent/wait?revision=0&timeout_ms=10000", a);
  ASSERT_EQ(past.status, 200) << past.body;
  EXPECT_EQ(past.Json().at("revision").as_int64(), now);
  FakeWriter timed_out =
      Call("GET", "/v1/agent/wait?revision=" + std::to_string(now) + "&timeout_ms=20", a);
  ASSERT_EQ(timed_out.status, 200);
  EXPECT_EQ(timed_out.Json().at("revision").as_int64(), now);
  EXPECT_EQ(Call("GET", "/v1/agent/wait?revision=0&timeout_ms=30001", a).status, 400);
  EXPECT_EQ(Call("GET", "/v1/agent/wait?revision=0&timeout_ms=1", "").status, 401);
}

}  // namespace
}  // namespace skiff::api
