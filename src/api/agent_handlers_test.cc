#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <utility>

#include "api/api_server.h"
#include "api/fake_writer_test_util.h"
#include "api/join_tokens.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/quantity.h"
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

constexpr const char* kAgentsAdmin = "admin-token";

// Verify that a store given the CA's fingerprint makes SKIFF1 tokens that
// carry it, and that the token is recognised whole, by its secret alone (an
// earlier version's bare token), and under any other fingerprint (the agent,
// not the server, checks that).
TEST(JoinTokenStoreTest, TokensCarryTheCaFingerprint) {
  store::MemoryStore store;
  const std::string fingerprint(64, 'f');
  JoinTokenStore tokens(&store, nullptr, fingerprint);
  auto made = tokens.Create();
  ASSERT_TRUE(made) << made.error().ToString();
  EXPECT_TRUE(made->token.starts_with("SKIFF1-" + fingerprint + "-")) << made->token;
  const std::string secret = made->token.substr(made->token.rfind('-') + 1);
  EXPECT_EQ(secret.size(), 64u);
  EXPECT_EQ(made->prefix, secret.substr(0, 8));
  EXPECT_TRUE(tokens.IsJoinToken(made->token).value_or(false));
  EXPECT_TRUE(tokens.IsJoinToken(secret).value_or(false));
  EXPECT_TRUE(tokens.IsJoinToken("SKIFF1-" + std::string(64, 'a') + "-" + secret).value_or(false));
  EXPECT_FALSE(tokens.IsJoinToken("SKIFF1-" + fingerprint + "-nope").value_or(true));
}

// Verify that the store keeps only hashes: neither a join token nor a node
// credential is in any record, List shows an id and a prefix but not the
// token, and Create is the one place the token is shown.
TEST(JoinTokenStoreTest, SecretsKeptHashed) {
  store::MemoryStore store;
  JoinTokenStore tokens(&store);
  auto made = tokens.Create();
  ASSERT_TRUE(made) << made.error().ToString();
  EXPECT_EQ(made->token.size(), 64u);
  EXPECT_EQ(made->prefix, made->token.substr(0, 8));
  auto credential = tokens.IssueCredential("node-1");
  ASSERT_TRUE(credential);
  for (store::RecordKind kind :
       {store::RecordKind::kJoinToken, store::RecordKind::kNodeCredential}) {
    auto records = store.ListRecords(kind);
    ASSERT_TRUE(records);
    for (const store::Record& r : *records) {
      EXPECT_THAT(r.key + r.value, ::testing::Not(HasSubstr(made->token)));
      EXPECT_THAT(r.key + r.value, ::testing::Not(HasSubstr(*credential)));
    }
  }
  EXPECT_EQ(
      store.GetRecord(store::RecordKind::kNodeCredential, Sha256Hex(*credential)).value_or(""),
      "node-1");
  auto listed = tokens.List();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, made->id);
  EXPECT_EQ((*listed)[0].prefix, made->prefix);
  EXPECT_TRUE((*listed)[0].token.empty());
}

// Verify that two JoinTokenStores over one store (two servers of one
// database) share everything: a token made by one joins through the other,
// a credential issued by one is accepted by the other, a token revoked by
// one (by its id; the token itself does not name it) is refused by both, and a re-issued credential
// retires the old.
TEST(JoinTokenStoreTest, SharedThroughTheStore) {
  store::MemoryStore store;
  JoinTokenStore a(&store);
  JoinTokenStore b(&store);
  auto first = a.Create();
  auto second = a.Create();
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(b.IsJoinToken(first->token).value_or(false));
  EXPECT_FALSE(b.IsJoinToken("nope").value_or(true));
  EXPECT_FALSE(b.IsJoinToken("").value_or(true));
  EXPECT_EQ(b.List()->size(), 2u);

  auto credential = a.IssueCredential("node-1");
  ASSERT_TRUE(credential);
  EXPECT_EQ(b.NodeForCredential(*credential).value_or(std::nullopt), "node-1");
  EXPECT_EQ(b.NodeForCredential("nope").value_or("x"), std::nullopt);
  auto reissued = b.IssueCredential("node-1");
  ASSERT_TRUE(reissued);
  EXPECT_EQ(a.NodeForCredential(*reissued).value_or(std::nullopt), "node-1");
  EXPECT_EQ(a.NodeForCredential(*credential).value_or("x"), std::nullopt);

  ASSERT_TRUE(b.Revoke(first->id));
  EXPECT_FALSE(a.IsJoinToken(first->token).value_or(true));
  EXPECT_FALSE(b.IsJoinToken(first->token).value_or(true));
  EXPECT_EQ(a.Revoke(first->id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(a.Revoke("short").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(a.Revoke(second->token).error().code, ErrorCode::kNotFound)
      << "the token itself does not name it";
  ASSERT_TRUE(a.Revoke(second->id));
  EXPECT_TRUE(a.List()->empty());
}

// A store whose next PutRecord runs `after_put` once it has written, to
// interleave another server's call; and whose DeleteRecord fails when told.
class HookedStore : public store::MemoryStore {
 public:
  Status PutRecord(store::RecordKind kind, const std::string& key,
                   const std::string& value) override {
    SKIFF_RETURN_IF_ERROR(MemoryStore::PutRecord(kind, key, value));
    if (auto hook = std::exchange(after_put, nullptr)) hook();
    return OkStatus();
  }
  Status DeleteRecord(store::RecordKind kind, const std::string& key) override {
    if (fail_deletes) return Unavailable("connection lost");
    return MemoryStore::DeleteRecord(kind, key);
  }
  Result<std::string> GetRecord(store::RecordKind kind, const std::string& key) const override {
    if (fail_reads_of == kind) return Internal("a stored row does not decode");
    return MemoryStore::GetRecord(kind, key);
  }
  std::function<void()> after_put;
  bool fail_deletes = false;
  std::optional<store::RecordKind> fail_reads_of;
};

// Verify that two servers issuing a credential for one node at once leave
// the node a working credential: neither deletes the other's new one.
TEST(JoinTokenStoreTest, ConcurrentIssuesKeepACredential) {
  HookedStore store;
  JoinTokenStore a(&store);
  JoinTokenStore b(&store);
  ASSERT_TRUE(a.IssueCredential("node-1"));
  std::string from_b;
  // b issues entirely between a's put and a's deletion of the old ones.
  store.after_put = [&] { from_b = b.IssueCredential("node-1").value_or(""); };
  auto from_a = a.IssueCredential("node-1");
  ASSERT_TRUE(from_a) << from_a.error().ToString();
  ASSERT_FALSE(from_b.empty());
  EXPECT_EQ(a.NodeForCredential(from_b).value_or(std::nullopt), "node-1");
}

// Verify that a credential kept is returned even when an old one cannot be
// deleted (the node would otherwise lose its only valid credential).
TEST(JoinTokenStoreTest, FailedDeleteOfOldCredentialStillIssues) {
  HookedStore store;
  JoinTokenStore tokens(&store);
  auto old = tokens.IssueCredential("node-1");
  ASSERT_TRUE(old);
  store.fail_deletes = true;
  auto fresh = tokens.IssueCredential("node-1");
  ASSERT_TRUE(fresh) << fresh.error().ToString();
  EXPECT_EQ(tokens.NodeForCredential(*fresh).value_or(std::nullopt), "node-1");
}

// Verify that an earlier version's DATA/join-tokens.json is imported once:
// its tokens and credentials (hashed or in the clear) work afterwards, the
// file is deleted, and a token revoked after the import stays revoked at the
// next start.
TEST(JoinTokenStoreTest, ImportsTheFileOnce) {
  skiff::testing::TempDir dir;
  const std::string token(64, 'a');
  ASSERT_TRUE(WriteFileAtomically(
      dir.File(kJoinTokenFile),
      R"({"join_tokens":[{"token":")" + token +
          R"(","created_at":"2026-01-02T03:04:05Z"}],"node_credentials":{"node-1":"sha256:)" +
          Sha256Hex("one") + R"(","node-2":"clear"}})",
      0600));
  store::MemoryStore store;
  JoinTokenStore tokens(&store);
  ASSERT_TRUE(tokens.ImportFile(dir.path()));
  EXPECT_TRUE(tokens.IsJoinToken(token).value_or(false));
  EXPECT_EQ(tokens.NodeForCredential("one").value_or(std::nullopt), "node-1");
  EXPECT_EQ(tokens.NodeForCredential("clear").value_or(std::nullopt), "node-2");
  auto listed = tokens.List();
  ASSERT_TRUE(listed && listed->size() == 1u);
  EXPECT_EQ((*listed)[0].prefix, "aaaaaaaa");
  EXPECT_EQ(FormatTime((*listed)[0].created_at), "2026-01-02T03:04:05.000Z");
  EXPECT_FALSE(std::filesystem::exists(dir.File(kJoinTokenFile)));
  // No copy with the tokens in the clear is left in the data directory.
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

  ASSERT_TRUE(tokens.Revoke((*listed)[0].id));
  ASSERT_TRUE(tokens.ImportFile(dir.path())) << "nothing left to import";
  EXPECT_FALSE(tokens.IsJoinToken(token).value_or(true));
}

// Verify that a damaged file is kFailedPrecondition and stays for the operator.
TEST(JoinTokenStoreTest, DamagedFileRefused) {
  skiff::testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File(kJoinTokenFile), "{not json", 0600));
  store::MemoryStore store;
  JoinTokenStore tokens(&store);
  EXPECT_EQ(tokens.ImportFile(dir.path()).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(std::filesystem::exists(dir.File(kJoinTokenFile)));
}

class AgentApiTest : public ::testing::Test {
 protected:
  AgentApiTest() : apps_(&store_, &clock_), nodes_(&store_, &clock_) {}

  void SetUp() override {
    tokens_ = std::make_unique<JoinTokenStore>(&store_, &clock_);
    auth_ =
        std::make_unique<TokenAuthenticator>(std::vector<std::string>{kAgentsAdmin}, tokens_.get());
    ApiDeps deps;
    deps.store = &store_;
    deps.apps = &apps_;
    deps.nodes = &nodes_;
    deps.clock = &clock_;
    deps.auth = auth_.get();
    deps.join_tokens = tokens_.get();
    deps.log_dir = dir_.path();
    deps.traffic = &traffic_;
    deps.edge_gone = [this](const std::string& edge) {
      gone_.push_back(edge);
      return OkStatus();
    };
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
    FakeWriter made = Call("POST", "/v1/join-tokens", kAgentsAdmin);
    EXPECT_EQ(made.status, 201) << made.body;
    std::string token(made.Json().at("token").as_string());
    FakeWriter joined = Call("POST", "/v1/agent/register", token, NodeBody(id));
    EXPECT_EQ(joined.status, 200) << joined.body;
    return std::string(joined.Json().at("credential").as_string());
  }

  skiff::testing::TempDir dir_;
  ManualClock clock_;
  HookedStore store_;
  controller::AppService apps_;
  controller::NodeService nodes_;
  metrics::TrafficBook traffic_;
  std::vector<std::string> gone_;  // the edges edge_gone was told of
  std::unique_ptr<JoinTokenStore> tokens_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<ApiServer> api_;
};

// Verify that join tokens are the admin's: a node credential or none is refused.
TEST_F(AgentApiTest, JoinTokensNeedAdmin) {
  std::string credential = Join("node-a");
  EXPECT_EQ(Call("POST", "/v1/join-tokens", "").status, 401);
  EXPECT_EQ(Call("POST", "/v1/join-tokens", credential).status, 403);
  FakeWriter list = Call("GET", "/v1/join-tokens", kAgentsAdmin);
  ASSERT_EQ(list.status, 200);
  const json::value body = list.Json();
  const json::array& tokens = body.at("join_tokens").as_array();
  ASSERT_EQ(tokens.size(), 1u);
  // Listed by id and prefix: the token itself was shown once, when made.
  EXPECT_FALSE(tokens[0].as_object().contains("token"));
  EXPECT_EQ(tokens[0].at("id").as_string().size(), 16u);
  EXPECT_EQ(tokens[0].at("prefix").as_string().size(), 8u);
}

// Verify that a store failing to look a credential up is answered with its
// own error (500 for kInternal), not as a refused token (401).
TEST_F(AgentApiTest, StoreErrorIsNotUnauthenticated) {
  std::string credential = Join("node-a");
  store_.fail_reads_of = store::RecordKind::kNodeCredential;
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/heartbeat", credential, "{}").status, 500);
  EXPECT_EQ(Call("POST", "/v1/agent/register", credential, NodeBody("node-a")).status, 500);
  store_.fail_reads_of.reset();
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/heartbeat", credential, "{}").status, 200);
}

// Verify that a wrong or revoked join token is 401 with the message saying what to do.
TEST_F(AgentApiTest, BadJoinTokenRefusedClearly) {
  FakeWriter w = Call("POST", "/v1/agent/register", "wrong", NodeBody("node-a"));
  EXPECT_EQ(w.status, 401);
  EXPECT_THAT(w.body, HasSubstr("join token not recognised"));
  EXPECT_THAT(w.body, HasSubstr("skiff nodes join-token"));

  FakeWriter made = Call("POST", "/v1/join-tokens", kAgentsAdmin);
  std::string token(made.Json().at("token").as_string());
  std::string id(made.Json().at("id").as_string());
  EXPECT_EQ(Call("DELETE", "/v1/join-tokens/" + token, kAgentsAdmin).status, 404)
      << "named by its id only: the token is not to travel in a URL";
  EXPECT_EQ(Call("DELETE", "/v1/join-tokens/" + id, kAgentsAdmin).status, 200);
  EXPECT_EQ(Call("POST", "/v1/agent/register", token, NodeBody("node-a")).status, 401);
  EXPECT_EQ(Call("DELETE", "/v1/join-tokens/" + id, kAgentsAdmin).status, 404);
}

// Verify that a node credential acts on its own node only, the admin on any,
// and that a credential re-registers its node without a join token.
TEST_F(AgentApiTest, CredentialActsOnItsOwnNode) {
  std::string a = Join("node-a");
  std::string b = Join("node-b");
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/heartbeat", a, "{}").status, 200);
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/heartbeat", b, "{}").status, 403);
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/node-a/heartbeat", kAgentsAdmin, "{}").status, 200);
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
  // Node credentials are not admin tokens: known, but not allowed.
  EXPECT_EQ(Call("GET", "/v1/apps", a).status, 403);
}

// Verify that a server's edge credential reports traffic as its own edge only,
// that it is no node credential and no admin token, and that a new one retires
// the edge's old one, and those of its server's edges under other names.
TEST_F(AgentApiTest, EdgeCredentialReportsAsItsOwnEdgeOnly) {
  auto credential = tokens_->IssueEdgeCredential("s1:8080", "s1:");
  ASSERT_TRUE(credential) << credential.error().ToString();
  const std::string report = R"({"apps":{}})";
  FakeWriter own = Call("POST", "/v1/edges/s1:8080/traffic", *credential, report);
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(Call("POST", "/v1/edges/s2:8080/traffic", *credential, report).status, 403);
  EXPECT_EQ(Call("POST", "/v1/edges/s1:8080/traffic", kAgentsAdmin, report).status, 200);
  EXPECT_EQ(Call("POST", "/v1/edges/s1:8080/traffic", "forged", report).status, 401);
  EXPECT_EQ(Call("POST", "/v1/edges/s1:8080/traffic", "", report).status, 401);
  // Not a node's: no agent call (not even the one naming no node), no admin call.
  EXPECT_EQ(Call("GET", "/v1/agent/wait?revision=0&timeout_ms=0", *credential).status, 403);
  EXPECT_EQ(Call("POST", "/v1/agent/nodes/s1:8080/heartbeat", *credential, "{}").status, 403);
  EXPECT_EQ(Call("GET", "/v1/apps", *credential).status, 403);
  // Nor does it poll the routes (a server's edge reads them in process): no
  // poll of /v1/routes ever rests on an edge credential or the roster.
  EXPECT_EQ(Call("GET", "/v1/routes?wait=0", *credential).status, 403);
  EXPECT_EQ(Call("GET", "/v1/routes?wait=0", kAgentsAdmin).status, 200);
  // A node's credential reports no edge's traffic.
  std::string node = Join("node-a");
  EXPECT_EQ(Call("POST", "/v1/edges/node-a/traffic", node, report).status, 403);

  auto fresh = tokens_->IssueEdgeCredential("s1:8080", "s1:");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(Call("POST", "/v1/edges/s1:8080/traffic", *credential, report).status, 401);
  EXPECT_EQ(Call("POST", "/v1/edges/s1:8080/traffic", *fresh, report).status, 200);
  // Another server's edge keeps its own; a new name of s1's edge retires the old name's.
  auto other = tokens_->IssueEdgeCredential("s10:edge", "s10:");
  ASSERT_TRUE(other);
  auto renamed = tokens_->IssueEdgeCredential("s1:edge", "s1:");
  ASSERT_TRUE(renamed);
  EXPECT_EQ(Call("POST", "/v1/edges/s1:8080/traffic", *fresh, report).status, 401);
  EXPECT_EQ(Call("POST", "/v1/edges/s1:edge/traffic", *renamed, report).status, 200);
  EXPECT_EQ(Call("POST", "/v1/edges/s10:edge/traffic", *other, report).status, 200);
  ASSERT_TRUE(tokens_->RevokeEdgeCredentials("s1:"));
  EXPECT_EQ(Call("POST", "/v1/edges/s1:edge/traffic", *renamed, report).status, 401);
  EXPECT_EQ(Call("POST", "/v1/edges/s10:edge/traffic", *other, report).status, 200);
}

// Verify that an edge that leaves (DELETE /v1/edges/{name}, with its own
// credential or the admin's) is forgotten at once: its routes no longer count
// and the roster is told; another edge's credential and none are refused.
TEST_F(AgentApiTest, EdgeThatLeavesIsForgotten) {
  auto credential = tokens_->IssueEdgeCredential("s1:edge", "s1:");
  ASSERT_TRUE(credential);
  const std::string report = R"({"apps":{},"routes":{"revision":3,"interval_ms":5000}})";
  ASSERT_EQ(Call("POST", "/v1/edges/s1:edge/traffic", *credential, report).status, 200);
  ASSERT_EQ(Call("POST", "/v1/edges/edge-2/traffic", kAgentsAdmin, report).status, 200);
  ASSERT_EQ(traffic_.Routes(std::chrono::steady_clock::now()).size(), 2u);

  EXPECT_EQ(Call("DELETE", "/v1/edges/edge-2", *credential).status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/edges/s1:edge", "").status, 401);
  EXPECT_TRUE(gone_.empty());
  FakeWriter left = Call("DELETE", "/v1/edges/s1:edge", *credential);
  EXPECT_EQ(left.status, 200) << left.body;
  EXPECT_EQ(gone_, std::vector<std::string>{"s1:edge"});
  auto routes = traffic_.Routes(std::chrono::steady_clock::now());
  EXPECT_FALSE(routes.contains("s1:edge"));
  EXPECT_TRUE(routes.contains("edge-2"));
  EXPECT_EQ(Call("DELETE", "/v1/edges/edge-2", kAgentsAdmin).status, 200);
  EXPECT_TRUE(traffic_.Routes(std::chrono::steady_clock::now()).empty());
  EXPECT_EQ(Call("DELETE", "/v1/edges/bad%20name", kAgentsAdmin).status, 400);
}

// Verify that a name ending in ":edge" (a server's own edge's) is refused to
// any reporter but that edge, naming the field and what to do, and that
// nothing is recorded.
TEST_F(AgentApiTest, ServersEdgeNamesAreTheirsAlone) {
  const std::string report = R"({"apps":{},"routes":{"revision":3,"interval_ms":5000}})";
  FakeWriter taken = Call("POST", "/v1/edges/s1:edge/traffic", kAgentsAdmin, report);
  EXPECT_EQ(taken.status, 400);
  EXPECT_THAT(taken.body, ::testing::HasSubstr("another --name"));
  EXPECT_TRUE(traffic_.Routes(std::chrono::steady_clock::now()).empty());
  auto credential = tokens_->IssueEdgeCredential("s1:edge", "s1:");
  ASSERT_TRUE(credential);
  EXPECT_EQ(Call("POST", "/v1/edges/s1:edge/traffic", *credential, report).status, 200);
  EXPECT_EQ(Call("POST", "/v1/edges/s1:8080/traffic", kAgentsAdmin, report).status, 200);
}

// Verify that a join token cannot take over the name of a node that is alive
// (its credential keeps working, nothing is stored), and that a node marked
// down may be joined again under its name, which retires its old credential.
TEST_F(AgentApiTest, JoinTokenCannotTakeOverALiveNode) {
  std::string first = Join("node-a");
  FakeWriter made = Call("POST", "/v1/join-tokens", kAgentsAdmin);
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
