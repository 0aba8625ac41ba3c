// The server on a PostgreSQL store shared with other servers, in process: what
// it refuses at start.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "fakes/postgres_server.h"
#include "fakes/testing.h"
#include "server/server.h"
#include "store/postgres/postgres_store.h"

namespace skiff::server {
namespace {

namespace fs = std::filesystem;
using ::skiff::testing::PollUntil;
using ::skiff::testing::PostgresServer;
using ::skiff::testing::TempDir;
using ::testing::HasSubstr;

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

  std::string uri_;
  std::unique_ptr<store::PostgresStore> store_;  // the test's look at the database
  TempDir dir_;
};

// Verify that a server on a copy of a live server's data directory, or under
// a live server's id, refuses to start with kAlreadyExists naming the node or
// the id and changes no credential; and that the live server itself, once
// stopped, starts again at once on its own directory and URL.
TEST_F(ServerSharedTest, RefusesToTakeOverALiveServer) {
  SKIFF_REQUIRE_POSTGRES(pg);
  auto db = pg->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  uri_ = pg->Uri(PostgresServer::DatabaseOf(*db));
  auto opened = store::PostgresStore::Open(*db);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  store_ = std::move(*opened);

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

  fs::create_directories(dir_.File("b"));
  fs::copy_file(dir_.File("a") + "/agent-state.json", dir_.File("b") + "/agent-state.json");
  Server copy(OptionsFor("b", dir_.File("b")));
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
  auto nodes = store_->ListNodes();
  ASSERT_TRUE(nodes.has_value());
  EXPECT_EQ(nodes->size(), 1u);

  const std::string listen = "127.0.0.1:" + std::to_string(a->port());
  a.reset();
  Server again(OptionsFor("a", dir_.File("a"), listen));
  EXPECT_TRUE(again.Start());
}

}  // namespace
}  // namespace skiff::server
