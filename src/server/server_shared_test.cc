// The server on a PostgreSQL store shared with other servers, in process: what
// it refuses at start.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/files.h"
#include "fakes/postgres_server.h"
#include "fakes/testing.h"
#include "net/http_client.h"
#include "server/server.h"
#include "store/postgres/postgres_store.h"

namespace skiff::server {
namespace {

namespace fs = std::filesystem;
using ::skiff::testing::PollUntil;
using ::skiff::testing::PostgresServer;
using ::skiff::testing::TempDir;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

class ServerSharedTest : public ::testing::Test {
 protected:
  // A server `id` with its own agent (no edge) on the test's database,
  // its data in `data`, its API on `listen`.
  ServerOptions OptionsFor(const std::string& id, const std::string& data,
                           const std::string& listen = "127.0.0.1:0") const {
    ServerOptions options;
    options.data_dir = data;
    options.store = uri_;
    options.listen = listen;
    options.run_edge = false;
    options.drivers = {"process"};
    options.cgroup_parent = "";
    options.server_id = id;
    // Heard every second: alive for 3 s even on a loaded machine.
    options.leader_ttl = std::chrono::seconds(3);
    return options;
  }

  // A new database for the test, and the test's look at it. False (after
  // skipping, or failing under CI) without PostgreSQL.
  void OpenDatabase(skiff::testing::PostgresServer* pg) {
    auto db = pg->CreateDatabase();
    ASSERT_TRUE(db.has_value()) << db.error().ToString();
    uri_ = pg->Uri(PostgresServer::DatabaseOf(*db));
    auto opened = store::PostgresStore::Open(*db);
    ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
    store_ = std::move(*opened);
  }

  // What docs/postgres.md has an operator copy before another server's first
  // start: the first one's CA and keyring.
  static void ShareTrust(const std::string& from, const std::string& to) {
    fs::create_directories(to);
    fs::permissions(to, fs::perms::owner_all, fs::perm_options::replace);
    for (const char* file : {"ca.crt", "ca.key", "keyring.json"}) {
      fs::copy_file(from + "/" + file, to + "/" + file, fs::copy_options::overwrite_existing);
      fs::permissions(to + "/" + file, fs::perms::owner_read | fs::perms::owner_write,
                      fs::perm_options::replace);
    }
  }

  std::string uri_;
  std::unique_ptr<store::PostgresStore> store_;  // the test's look at the database
  TempDir dir_;
};

// Verify that a server on a copy of a live server's data directory, or under
// a live server's id, refuses to start with kAlreadyExists naming the node or
// the id and changes no credential, not even the admin token it was told to
// renew; and that the live server itself, once stopped, starts again at once
// on its own directory and URL.
TEST_F(ServerSharedTest, RefusesToTakeOverALiveServer) {
  SKIFF_REQUIRE_POSTGRES(pg);
  ASSERT_NO_FATAL_FAILURE(OpenDatabase(pg));

  auto a = std::make_unique<Server>(OptionsFor("a", dir_.File("a")));
  ASSERT_TRUE(a->Start());
  std::string node_a;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto nodes = store_->ListNodes();
        if (!nodes || nodes->size() != 1 || (*nodes)[0].name != "a") return false;
        node_a = (*nodes)[0].id;
        return true;
      },
      std::chrono::seconds(30)));
  auto credentials = store_->ListRecords(store::RecordKind::kNodeCredential);
  ASSERT_TRUE(credentials.has_value());
  auto admin_tokens = store_->ListRecords(store::RecordKind::kAdminToken);
  ASSERT_TRUE(admin_tokens.has_value());
  ASSERT_FALSE(admin_tokens->empty());

  // With the database's keyring, as a server joining it has (else it is
  // refused for lacking it first).
  ShareTrust(dir_.File("a"), dir_.File("b"));
  ShareTrust(dir_.File("a"), dir_.File("c"));
  fs::copy_file(dir_.File("a") + "/agent-state.json", dir_.File("b") + "/agent-state.json");
  ServerOptions copy_options = OptionsFor("b", dir_.File("b"));
  copy_options.new_admin_token = true;
  Server copy(copy_options);
  Status refused = copy.Start();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kAlreadyExists);
  EXPECT_THAT(refused.error().message, HasSubstr("node " + node_a));
  EXPECT_THAT(refused.error().message, HasSubstr("server a's"));
  EXPECT_THAT(refused.error().message, HasSubstr("--data"));

  Server same_id(OptionsFor("a", dir_.File("c")));
  refused = same_id.Start();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kAlreadyExists);
  EXPECT_THAT(refused.error().message, HasSubstr("server id a is in use"));
  EXPECT_THAT(refused.error().message, HasSubstr("--server-id"));

  EXPECT_EQ(store_->ListRecords(store::RecordKind::kNodeCredential)
                .value_or(std::vector<store::Record>{}),
            *credentials);
  EXPECT_EQ(
      store_->ListRecords(store::RecordKind::kAdminToken).value_or(std::vector<store::Record>{}),
      *admin_tokens);
  auto nodes = store_->ListNodes();
  ASSERT_TRUE(nodes.has_value());
  EXPECT_EQ(nodes->size(), 1u);

  const std::string listen = "127.0.0.1:" + std::to_string(a->port());
  a.reset();
  Server again(OptionsFor("a", dir_.File("a"), listen));
  EXPECT_TRUE(again.Start());
}

// Verify that a server whose data directory holds another CA, or another
// keyring, than the first server of its database refuses to start, saying
// which files to copy, and that with them copied it starts.
TEST_F(ServerSharedTest, RefusesAnotherCaOrKeyring) {
  SKIFF_REQUIRE_POSTGRES(pg);
  ASSERT_NO_FATAL_FAILURE(OpenDatabase(pg));
  ServerOptions first_options = OptionsFor("a", dir_.File("a"));
  first_options.run_agent = false;
  Server first(first_options);
  ASSERT_TRUE(first.Start());

  ServerOptions options = OptionsFor("b", dir_.File("b"));
  options.run_agent = false;
  // The keyring alone shared: the CA differs.
  ShareTrust(dir_.File("a"), dir_.File("b"));
  fs::remove(dir_.File("b") + "/ca.crt");
  fs::remove(dir_.File("b") + "/ca.key");
  Status refused = Server(options).Start();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr("copy ca.crt and ca.key"));

  ShareTrust(dir_.File("a"), dir_.File("b"));
  fs::remove(dir_.File("b") + "/keyring.json");
  fs::remove(dir_.File("b") + "/server.crt");
  fs::remove(dir_.File("b") + "/server.key");
  refused = Server(options).Start();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message,
              HasSubstr("copy the keyring file of another server of this database to " +
                        dir_.File("b") + "/keyring.json"));
  EXPECT_FALSE(fs::exists(dir_.File("b") + "/keyring.json"));  // no stray key made

  ShareTrust(dir_.File("a"), dir_.File("b"));
  Server second(options);
  const Status started = second.Start();
  EXPECT_TRUE(started) << started.error().ToString();
}

// Verify that --new-shared-trust is refused while another server runs, and
// once it is stopped records the new CA, which the old server's is then
// refused against.
TEST_F(ServerSharedTest, NewSharedTrustReplacesTheCaOnceTheOthersStop) {
  SKIFF_REQUIRE_POSTGRES(pg);
  ASSERT_NO_FATAL_FAILURE(OpenDatabase(pg));
  ServerOptions first_options = OptionsFor("a", dir_.File("a"));
  first_options.run_agent = false;
  auto first = std::make_unique<Server>(first_options);
  ASSERT_TRUE(first->Start());

  // The keyring is kept (it opens what is sealed); the CA is new.
  ShareTrust(dir_.File("a"), dir_.File("b"));
  fs::remove(dir_.File("b") + "/ca.crt");
  fs::remove(dir_.File("b") + "/ca.key");
  ServerOptions options = OptionsFor("b", dir_.File("b"));
  options.run_agent = false;
  options.new_shared_trust = true;
  Status refused = Server(options).Start();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(refused.error().message, HasSubstr("other servers of this database are running (a"));

  first->Shutdown();
  first.reset();
  // Heard no more within the leader TTL (3 s) once it stopped.
  Status started = Internal("not started");
  std::unique_ptr<Server> second;
  ASSERT_TRUE(PollUntil(
      [&] {
        second = std::make_unique<Server>(options);
        started = second->Start();
        return started.has_value();
      },
      std::chrono::seconds(20), std::chrono::milliseconds(500)))
      << started.error().ToString();
  second->Shutdown();
  second.reset();
  refused = Server(first_options).Start();
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("is not the CA of the other servers"));
}

// The edges whose reports the server at `port` holds (GET /v1/traffic).
std::vector<std::string> EdgesHeard(uint16_t port, const std::string& token) {
  auto r = net::HttpClient("http://127.0.0.1:" + std::to_string(port))
               .Do("GET", "/v1/traffic", {}, {{"Authorization", "Bearer " + token}});
  std::vector<std::string> edges;
  if (!r || r->status != 200) return edges;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r->body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("edges")) return edges;
  for (const auto& e : v.at("edges").as_array()) edges.emplace_back(e.as_string());
  return edges;
}

// Verify that a follower's own edge reports to the leader as "<id>:edge" and
// that, when the follower shuts down cleanly, the leader forgets it at once
// (not 30 s later) and the store keeps neither its roster entry nor its
// credential.
TEST_F(ServerSharedTest, OwnEdgeSaysGoodbyeOnShutdown) {
  SKIFF_REQUIRE_POSTGRES(pg);
  ASSERT_NO_FATAL_FAILURE(OpenDatabase(pg));
  ServerOptions leader_options = OptionsFor("a", dir_.File("a"));
  leader_options.run_agent = false;
  Server leader(leader_options);
  ASSERT_TRUE(leader.Start());
  auto token = ReadPrivateFile(leader.token_path());
  ASSERT_TRUE(token.has_value());
  std::string admin = *token;
  while (!admin.empty() && admin.back() == '\n') admin.pop_back();
  ASSERT_TRUE(PollUntil([&] {
    auto r =
        net::HttpClient("http://127.0.0.1:" + std::to_string(leader.port())).Do("GET", "/health");
    return r && r->body.find("\"leader\":true") != std::string::npos;
  }));

  ShareTrust(dir_.File("a"), dir_.File("b"));
  ServerOptions options = OptionsFor("b", dir_.File("b"));
  options.run_agent = false;
  options.run_edge = true;
  options.edge_listen = "127.0.0.1:0";
  options.traffic_interval = std::chrono::milliseconds(200);
  auto follower = std::make_unique<Server>(options);
  ASSERT_TRUE(follower->Start());
  ASSERT_TRUE(PollUntil([&] {
    const std::vector<std::string> edges = EdgesHeard(leader.port(), admin);
    return std::find(edges.begin(), edges.end(), "b:edge") != edges.end();
  }));
  ASSERT_EQ(store_->ListRecords(store::RecordKind::kEdgeCredential)->size(), 1u);

  follower->Shutdown();
  EXPECT_THAT(EdgesHeard(leader.port(), admin), Not(Contains("b:edge")));
  EXPECT_TRUE(store_->ListRecords(store::RecordKind::kEdgeCredential)->empty());
  EXPECT_TRUE(store_->ListRecords(store::RecordKind::kEdge)->empty());
}

}  // namespace
}  // namespace skiff::server
