// End-to-end: apps' secrets (`skiff secrets`) with a real server, its own
// agent and a remote `skiff agent`: a canary value set as a secret reaches
// the instances on both kinds of node as an environment variable, through a
// new revision rolled out, and appears nowhere else: not in any file of the
// server's or the agent's data directory (the SQLite database, its -wal and
// -shm, the logs, everything), not in their output, not in any API answer or
// CLI output of the session, not in the events.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/skiff_server.h"

namespace skiff::testing {
namespace {

namespace json = boost::json;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

std::string RandomCanary() {
  std::random_device random;
  std::mt19937_64 gen(random());
  return "canary-" + std::to_string(gen()) + "-" + std::to_string(gen());
}

// The files under `dir` whose bytes hold `needle`, and how many were searched.
std::vector<std::string> FilesHolding(const std::string& dir, const std::string& needle,
                                      int* searched) {
  std::vector<std::string> hits;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(
           dir, std::filesystem::directory_options::skip_permission_denied, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    ++*searched;
    if (ReadWholeFile(it->path()).find(needle) != std::string::npos)
      hits.push_back(it->path().string());
  }
  return hits;
}

class SecretsE2eTest : public ::testing::Test {
 protected:
  // An API call whose answer is kept, to be searched.
  std::string Get(const std::string& path) {
    auto r = server_.Api("GET", path);
    EXPECT_TRUE(r) << path;
    if (!r) return "";
    answers_ += r->body + "\n";
    ++calls_;
    return r->body;
  }
  CommandResult Skiff(std::vector<std::string> args) {
    CommandResult r = server_.Skiff(std::move(args));
    answers_ += r.output + "\n";
    ++calls_;
    return r;
  }

  SkiffServer server_;
  std::string answers_;  // every API answer and CLI output of the session
  int calls_ = 0;
};

// Verify that a secret set on a deployed app rolls out a new revision whose
// instances (one on the server's own agent, one on a remote agent) see the
// value as an environment variable, and that the value is nowhere else.
TEST_F(SecretsE2eTest, CanaryReachesInstancesAndNothingElse) {
  ASSERT_TRUE(server_.Start());
  SkiffAgent agent(server_, "node-b", "127.0.0.2");
  ASSERT_TRUE(agent.Start(server_.JoinToken()));
  CommandResult applied =
      Skiff({"apply", "-f",
             server_.WriteFile("vault.yaml", TestAppSpec("vault", 2, "[vault.localhost]") +
                                                 "placement: {strategy: spread}\n")});
  ASSERT_EQ(applied.exit_code, 0) << applied.output << server_.Output();

  const std::string canary = RandomCanary();
  const std::string value_file = server_.WriteFile("value.txt", canary);
  ASSERT_FALSE(value_file.starts_with(server_.data_dir()));
  CommandResult set = Skiff({"secrets", "set", "vault", "API_KEY", "--from-file", value_file});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  EXPECT_THAT(set.output, HasSubstr("secret API_KEY set (version 1), revision 2"));
  std::filesystem::remove(value_file);

  // The new revision rolls out: both instances of revision 2 healthy, each
  // seeing the value.
  std::set<std::string> nodes;
  ASSERT_TRUE(PollUntil(
      [&] {
        int seen = 0;
        nodes.clear();
        for (const json::value& i : Instances(server_, "vault")) {
          if (i.at("revision") != 2 || i.at("state") != "running" || i.at("health") != "healthy")
            continue;
          if (HttpGet(std::string(i.at("address").as_string()), "/env/API_KEY") == canary) {
            ++seen;
            nodes.insert(std::string(i.at("node").as_string()));
          }
        }
        return seen == 2;
      },
      seconds(60)))
      << server_.Output() << agent.Output();
  EXPECT_EQ(nodes.size(), 2u) << "one instance on each node";

  // Every read of the session, over the API and the CLI.
  Get("/v1/apps");
  Get("/v1/apps/vault");
  Get("/v1/apps/vault/deployments");
  Get("/v1/apps/vault/instances");
  Get("/v1/apps/vault/secrets");
  Get("/v1/events");
  Get("/v1/events?app=vault");
  Get("/v1/nodes");
  Get("/v1/routes");
  Get("/v1/apps/vault/logs?tail=1000");
  Get("/health");
  for (auto args : std::vector<std::vector<std::string>>{{"apps"},
                                                         {"status", "vault"},
                                                         {"deployments", "vault"},
                                                         {"events"},
                                                         {"secrets", "vault"},
                                                         {"secrets", "vault", "-o", "json"},
                                                         {"logs", "vault"}}) {
    Skiff(args);
  }
  const std::string listed = Get("/v1/apps/vault/secrets");
  EXPECT_THAT(listed, HasSubstr("\"key\":\"API_KEY\""));
  EXPECT_THAT(listed, HasSubstr("\"version\":1"));
  CommandResult events = Skiff({"events", "--app", "vault"});
  EXPECT_THAT(events.output, HasSubstr("secret API_KEY changed (version 1)"));

  // Changed again: version 2, revision 3; the instances see the new value.
  const std::string second = RandomCanary();
  auto put = server_.Api("PUT", "/v1/apps/vault/secrets/API_KEY", second, nullptr,
                         "application/octet-stream");
  ASSERT_TRUE(put);
  ASSERT_EQ(put->status, 200) << put->body;
  answers_ += put->body;
  EXPECT_THAT(put->body, HasSubstr("\"revision\":3"));
  ASSERT_TRUE(PollUntil(
      [&] {
        int seen = 0;
        for (const json::value& i : Instances(server_, "vault")) {
          seen += i.at("revision") == 3 && i.at("health") == "healthy" &&
                  HttpGet(std::string(i.at("address").as_string()), "/env/API_KEY") == second;
        }
        return seen == 2;
      },
      seconds(60)))
      << server_.Output();
  Get("/v1/apps/vault/deployments");
  Get("/v1/events");
  // The audit trail holds the secrets' changes (their paths), never a value.
  const std::string trail = Get("/v1/audit?limit=1000");
  EXPECT_NE(trail.find("/v1/apps/vault/secrets/API_KEY"), std::string::npos) << trail;

  int searched = 0;
  int hits = 0;
  for (const std::string& value : {canary, second}) {
    for (const std::string& dir : {server_.data_dir(), agent.data_dir()}) {
      for (const std::string& file : FilesHolding(dir, value, &searched)) {
        ADD_FAILURE() << "the secret's value is in " << file;
        ++hits;
      }
    }
    for (const std::string& text : {server_.Output(), agent.Output(), answers_}) {
      if (text.find(value) != std::string::npos) ++hits;
    }
  }
  EXPECT_EQ(hits, 0) << "server output, agent output or an answer holds a value";
  EXPECT_GT(searched, 4);  // the database, its WAL, keyring, token, logs...
  std::cout << "canary: searched " << searched << " files, " << calls_
            << " API answers and CLI outputs, both logs: " << hits << " hits\n";
}

}  // namespace
}  // namespace skiff::testing
