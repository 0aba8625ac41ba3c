// End-to-end: `skiff server --store postgres://...` as a user runs it, on the
// PostgreSQL the test starts itself (fakes/postgres_server.h): a store it
// cannot reach stops it at start saying why; while running, losing the
// database answers writes 503 with Retry-After and /health says so, and the
// next request after PostgreSQL is back reconnects.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>

#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"
#include "fakes/postgres_server.h"

namespace skiff::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kSpec = R"({"name":"NAME","run":{"command":["sleep","1000"]},"replicas":0})";

std::string NamedSpec(const std::string& name) {
  std::string spec = kSpec;
  spec.replace(spec.find("NAME"), 4, name);
  return spec;
}

// `skiff server --store STORE --listen LISTEN` run to its exit.
CommandResult RunServer(const std::string& store, const std::string& listen = "127.0.0.1:0") {
  TempDir dir;
  return RunCommand({SKIFF_BIN, "server", "--store", store, "--data", dir.File("data"), "--listen",
                     listen, "--no-agent", "--no-edge"},
                    {}, 60);
}

// Verify that a server whose PostgreSQL is unreachable, or which names a user
// the database refuses, or an unknown store, exits at start with libpq's
// reason and what to check.
TEST(PostgresE2eTest, UnusableStoreStopsTheServerAtStart) {
  TempDir nowhere;
  std::string host;
  for (char c : nowhere.path()) host += c == '/' ? std::string("%2F") : std::string(1, c);
  CommandResult unreachable = RunServer("postgres://skiff@" + host + "/skiff");
  EXPECT_EQ(unreachable.exit_code, 1) << unreachable.output;
  EXPECT_THAT(unreachable.output, HasSubstr("cannot connect"));
  EXPECT_THAT(unreachable.output, HasSubstr("No such file or directory"));
  EXPECT_THAT(unreachable.output, HasSubstr("check: the connection string (--store)"));

  CommandResult unknown = RunServer("mysql");
  EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
  EXPECT_THAT(unknown.output, HasSubstr("--store: \"sqlite\" or a PostgreSQL connection string"));

  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  CommandResult refused = RunServer(*db + " user=nosuchuser");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("role \"nosuchuser\" does not exist"));
  EXPECT_THAT(refused.output, HasSubstr("credentials"));
}

// Verify that a server sharing a PostgreSQL store refuses to start when it
// listens on every address and is not told what to advertise, naming
// --advertise (0.0.0.0 tells the other servers and clients nothing).
TEST(PostgresE2eTest, EveryAddressNeedsAdvertise) {
  SKIFF_REQUIRE_POSTGRES(server);
  auto db = server->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  CommandResult refused = RunServer(*db, "0.0.0.0:0");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("--advertise"));
  EXPECT_THAT(refused.output, HasSubstr("binds every address"));
}

// Verify that a server on PostgreSQL serves writes, answers them 503 with
// Retry-After while the database is down (writing nothing), says so in
// /health, and takes writes again once it is back.
TEST(PostgresE2eTest, LosingTheDatabaseAnswers503ThenRecovers) {
  SKIFF_REQUIRE_POSTGRES(pg);
  auto db = pg->CreateDatabase();
  ASSERT_TRUE(db.has_value()) << db.error().ToString();
  SkiffServer server;
  server.AddArgs({"--store", pg->Uri(PostgresServer::DatabaseOf(*db)), "--no-agent", "--no-edge"});
  ASSERT_TRUE(server.Start());

  auto created = server.Api("PUT", "/v1/apps/one", NamedSpec("one"));
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  EXPECT_EQ(created->status, 201) << created->body;

  ASSERT_TRUE(pg->Stop());
  auto refused = server.Api("PUT", "/v1/apps/two", NamedSpec("two"));
  ASSERT_TRUE(refused.has_value()) << refused.error().ToString();
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_EQ(refused->Header("Retry-After"), "1");
  auto health = server.Api("GET", "/health");
  ASSERT_TRUE(health.has_value()) << health.error().ToString();
  EXPECT_EQ(health->status, 503);
  const boost::json::value body = boost::json::parse(health->body);
  EXPECT_THAT(std::string(body.at("components").at("store").as_string()), HasSubstr("unreachable"));

  ASSERT_TRUE(pg->Start());
  // The store fails fast for a second after a failed connect, so the first
  // write may still answer 503; within a few seconds one is taken.
  int status = 0;
  std::string reply;
  EXPECT_TRUE(PollUntil(
      [&] {
        auto again = server.Api("PUT", "/v1/apps/three", NamedSpec("three"));
        if (!again.has_value()) return false;
        status = again->status;
        reply = again->body;
        return status != 503;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(200)));
  EXPECT_EQ(status, 201) << reply;
  auto two = server.Api("GET", "/v1/apps/two");
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->status, 404) << two->body;
  auto one = server.Api("GET", "/v1/apps/one");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->status, 200) << one->body;
}

}  // namespace
}  // namespace skiff::testing
