// End-to-end: the `skiff` binary as a user runs it — a real server, real
// instances of the project's test app, the CLI and the HTTP API.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/clock.h"
#include "common/quantity.h"
#include "e2e/skiff_server.h"

namespace skiff::testing {
namespace {

namespace json = boost::json;
using std::chrono::seconds;
using ::testing::HasSubstr;

// A spec running the test app with `replicas`, health-checked on /health.
std::string HealthCheckedSpec(const std::string& name, int replicas,
                              const std::string& extra = "") {
  return "name: " + name +
         "\nrun:\n  command: [\"" SKIFF_TESTAPP_BIN
         "\", \"--host\", \"${HOST}\", \"--port\", \"${PORT}\"]\n"
         "replicas: " +
         std::to_string(replicas) +
         "\nhealth: {type: http, path: /health, interval: 200ms, timeout: 200ms}\n" + extra;
}

int64_t Int(const json::value& v, std::string_view key) {
  const json::value* f = v.as_object().if_contains(key);
  return f != nullptr && f->is_int64() ? f->as_int64() : -1;
}

class ServerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }

  // `skiff apply -f` of `spec`; asserts it reports the revision healthy.
  void Apply(const std::string& name, const std::string& spec) {
    CommandResult r = server_.Skiff({"apply", "-f", server_.WriteFile(name + ".yaml", spec)});
    ASSERT_EQ(r.exit_code, 0) << r.output << "\nserver:\n" << server_.Output();
    EXPECT_THAT(r.output, HasSubstr("is healthy"));
  }

  SkiffServer server_;
};

// Verify that apply follows the rollout until healthy, and that every instance
// answers at its address with its own identity and the spec's env.
TEST_F(ServerE2eTest, ApplyRunsHealthyInstancesThatAnswer) {
  Apply("web", HealthCheckedSpec("web", 2, "env: {GREETING: ahoy}\n"));
  json::array instances = Instances(server_, "web");
  ASSERT_EQ(instances.size(), 2u);
  std::set<std::string> addresses;
  for (const json::value& i : instances) {
    EXPECT_EQ(StringField(i, "state"), "running");
    EXPECT_EQ(StringField(i, "health"), "healthy");
    EXPECT_EQ(Int(i, "revision"), 1);
    const std::string address = StringField(i, "address");
    addresses.insert(address);
    EXPECT_THAT(HttpGet(address, "/"), HasSubstr("hello from " + StringField(i, "id") + " rev 1"));
    EXPECT_EQ(HttpGet(address, "/env/GREETING"), "ahoy");
    EXPECT_EQ(HttpGet(address, "/env/SKIFF_APP"), "web");
    // Each app works in a directory of its own, away from the server's secrets.
    EXPECT_EQ(std::filesystem::read_symlink("/proc/" + std::to_string(HandlePid(i)) + "/cwd"),
              std::filesystem::path(server_.data_dir()) / "apps" / "web");
  }
  EXPECT_EQ(addresses.size(), 2u);

  json::value status = server_.SkiffJson({"status", "web"});
  ASSERT_TRUE(status.is_object());
  const json::value& app = status.at("app");
  EXPECT_EQ(Int(app, "revision"), 1);
  EXPECT_EQ(StringField(app.at("status"), "state"), "healthy");
  EXPECT_EQ(Int(app.at("status"), "healthy"), 2);

  // Applying the same spec again is a no-op: no new revision.
  CommandResult again = server_.Skiff(
      {"apply", "--detach", "-f",
       server_.WriteFile("web.yaml", HealthCheckedSpec("web", 2, "env: {GREETING: ahoy}\n"))});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(Int(server_.SkiffJson({"status", "web"}).at("app"), "revision"), 1);
}

// Verify that an instance killed with SIGKILL is restarted, healthy again, with
// its restart counted and events saying what happened.
TEST_F(ServerE2eTest, KilledInstanceIsRestarted) {
  Apply("heal", HealthCheckedSpec("heal", 1));
  json::array before = Instances(server_, "heal");
  ASSERT_EQ(before.size(), 1u);
  const int pid = HandlePid(before[0]);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);

  ASSERT_TRUE(PollUntil(
      [&] {
        json::array now = Instances(server_, "heal");
        return now.size() == 1 && Int(now[0], "restarts") == 1 &&
               StringField(now[0], "health") == "healthy" && HandlePid(now[0]) != pid;
      },
      seconds(30)))
      << server_.Output();
  json::array after = Instances(server_, "heal");
  EXPECT_EQ(StringField(after[0], "id"), StringField(before[0], "id"));
  EXPECT_FALSE(HttpGet(StringField(after[0], "address"), "/").empty());
  EXPECT_EQ(AppProcesses("heal").size(), 1u);

  CommandResult events = server_.Skiff({"events", "--app", "heal"});
  EXPECT_THAT(events.output, HasSubstr("instance.failed"));
  EXPECT_THAT(events.output, HasSubstr("killed by signal 9"));
}

// Verify that a server killed with SIGKILL and started again adopts the
// instances that kept running: the same processes, none duplicated, and an
// acknowledged apply survives.
TEST_F(ServerE2eTest, ServerRestartAdoptsInstances) {
  Apply("keep", HealthCheckedSpec("keep", 2));
  std::vector<int> before = AppProcesses("keep");
  std::sort(before.begin(), before.end());
  ASSERT_EQ(before.size(), 2u);

  server_.Kill();
  EXPECT_EQ(AppProcesses("keep").size(), 2u) << "instances must outlive the server";
  const std::string restarted_at = FormatTime(SystemClock::Get()->Now());
  ASSERT_TRUE(server_.Start());

  // The stored state says healthy from before the kill, so wait until the new
  // agent has taken each instance through its first probe (its report updates
  // the instance): by then it adopted or (wrongly) restarted every one.
  ASSERT_TRUE(PollUntil(
      [&] {
        json::array now = Instances(server_, "keep");
        return now.size() == 2 && std::all_of(now.begin(), now.end(), [&](const json::value& i) {
                 return StringField(i, "updated_at") >= restarted_at &&
                        StringField(i, "health") == "healthy";
               });
      },
      seconds(30)))
      << server_.Output();
  std::vector<int> after = AppProcesses("keep");
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, before);
  for (const json::value& i : Instances(server_, "keep")) {
    EXPECT_EQ(Int(i, "restarts"), 0);
    EXPECT_NE(std::find(before.begin(), before.end(), HandlePid(i)), before.end());
  }
  EXPECT_THAT(server_.Output(), HasSubstr("adopted instance"));
}

// Verify that a bad spec is refused with 400 naming the field, and that nothing
// is stored: no app, no new store revision.
TEST_F(ServerE2eTest, BadSpecIsRejectedAndChangesNothing) {
  auto health = server_.Api("GET", "/health");
  ASSERT_TRUE(health);
  const int64_t revision = json::parse(health->body).at("revision").as_int64();

  auto r = server_.Api("PUT", "/v1/apps/bad",
                       "name: bad\nrun: {command: [x]}\nhealth: {interval: 2 seconds}\n", nullptr,
                       "application/yaml");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  json::value error = json::parse(r->body).at("error");
  EXPECT_EQ(StringField(error, "code"), "invalid_argument");
  EXPECT_EQ(StringField(error, "field"), "health.interval");

  CommandResult cli = server_.Skiff(
      {"apply", "-f",
       server_.WriteFile("bad.yaml", "name: bad\nrun: {command: [x]}\nreplicas: -1\n")});
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_THAT(cli.output, HasSubstr("replicas: must be >= 0 (got -1)"));

  auto apps = server_.Api("GET", "/v1/apps/bad");
  ASSERT_TRUE(apps);
  EXPECT_EQ(apps->status, 404);
  health = server_.Api("GET", "/health");
  EXPECT_EQ(json::parse(health->body).at("revision").as_int64(), revision);
}

// Verify that an app no node can run (an image, on a node without the docker
// driver) stays pending with the reason, instead of failing over and over.
TEST_F(ServerE2eTest, UnplaceableAppStaysPendingWithReason) {
  // Process only, whatever DOCKER_HOST an earlier test of this binary left set.
  server_.Kill();
  server_.AddArgs({"--driver", "process"});
  ASSERT_TRUE(server_.Start());
  const std::string spec = "name: boxed\nrun: {image: \"registry.invalid/app:1\"}\nport: 8080\n";
  CommandResult r =
      server_.Skiff({"apply", "--detach", "-f", server_.WriteFile("boxed.yaml", spec)});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(PollUntil([&] {
    json::array instances = Instances(server_, "boxed");
    return instances.size() == 1 &&
           StringField(instances[0], "message").find("without the docker driver") !=
               std::string::npos;
  })) << server_.Output();
  json::array instances = Instances(server_, "boxed");
  EXPECT_EQ(StringField(instances[0], "state"), "pending");
  EXPECT_EQ(StringField(instances[0], "node"), "");
  EXPECT_THAT(server_.Skiff({"events", "--app", "boxed"}).output,
              HasSubstr("instance.unplaceable"));
}

// Verify default deny (401 without or with a wrong token; /metrics too) and
// the body limit (413).
TEST_F(ServerE2eTest, ApiRefusesUnauthenticatedAndOversized) {
  const std::string none;
  const std::string wrong = "not-the-token";
  auto anonymous = server_.Api("GET", "/v1/apps", {}, &none);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  auto bad = server_.Api("GET", "/v1/apps", {}, &wrong);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  auto huge = server_.Api("PUT", "/v1/apps/big", std::string(2 << 20, ' '));
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  auto unknown = server_.Api("GET", "/v1/apps/nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto anonymous_metrics = server_.Api("GET", "/metrics", {}, &none);
  ASSERT_TRUE(anonymous_metrics);
  EXPECT_EQ(anonymous_metrics->status, 401);
  auto metrics = server_.Api("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("skiff_http_requests_total"));
}

// Verify that --metrics-listen serves the server's /metrics with no token on
// an address of its own, and nothing else there.
TEST(ServerMetricsE2eTest, MetricsListenServesWithoutAToken) {
  SkiffServer server;
  const std::string metrics = "127.0.0.1:" + std::to_string(FreePort());
  server.AddArgs({"--metrics-listen", metrics});
  ASSERT_TRUE(server.Start());
  net::HttpClient scraper("http://" + metrics);
  auto scraped = scraper.Do("GET", "/metrics");
  ASSERT_TRUE(scraped) << scraped.error().ToString();
  EXPECT_EQ(scraped->status, 200);
  EXPECT_THAT(scraped->body, HasSubstr("skiff_apps"));
  auto api = scraper.Do("GET", "/v1/apps");
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 404);

  // A server with a metrics listener still shuts down on SIGTERM (both
  // listeners drain), its instances left running.
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
  const std::string stat = "/proc/" + std::to_string(server.pid()) + "/stat";
  EXPECT_TRUE(PollUntil(
      [&] {
        std::ifstream in(stat);
        std::string pid, comm, state;
        in >> pid >> comm >> state;
        return !in || state == "Z";  // gone, or exited and not yet reaped
      },
      seconds(20)))
      << "the server did not exit on SIGTERM:\n"
      << server.Output();
}

// Verify scale, restart (every instance replaced), rollback and delete through
// the CLI, ending with no process of the app left.
TEST_F(ServerE2eTest, ScaleRestartRollbackDelete) {
  Apply("ops", HealthCheckedSpec("ops", 1));

  CommandResult scale = server_.Skiff({"scale", "ops", "3"});
  ASSERT_EQ(scale.exit_code, 0) << scale.output;
  ASSERT_TRUE(PollUntil([&] { return HealthyCount(server_, "ops") == 3; }, seconds(30)));
  std::set<std::string> ids;
  for (const json::value& i : Instances(server_, "ops")) ids.insert(StringField(i, "id"));

  CommandResult restart = server_.Skiff({"restart", "ops"});
  ASSERT_EQ(restart.exit_code, 0) << restart.output;
  ASSERT_TRUE(PollUntil(
      [&] {
        json::array now = Instances(server_, "ops");
        int fresh = 0;
        for (const json::value& i : now) {
          fresh += !ids.count(StringField(i, "id")) && StringField(i, "health") == "healthy";
        }
        return now.size() == 3 && fresh == 3;
      },
      seconds(60)))
      << server_.Output();

  CommandResult rollback = server_.Skiff({"rollback", "ops", "--to", "1"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.output;
  ASSERT_TRUE(PollUntil(
      [&] { return Instances(server_, "ops").size() == 1 && HealthyCount(server_, "ops") == 1; },
      seconds(30)));
  EXPECT_EQ(Int(server_.SkiffJson({"status", "ops"}).at("app"), "revision"), 3);

  CommandResult del = server_.Skiff({"delete", "ops"});
  ASSERT_EQ(del.exit_code, 0) << del.output;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = server_.Api("GET", "/v1/apps/ops");
        return r && r->status == 404;
      },
      seconds(30)));
  EXPECT_TRUE(AppProcesses("ops").empty());
  // Their logs go with them: nothing can ask for them any more.
  ASSERT_TRUE(PollUntil([&] {
    for (const auto& f : std::filesystem::directory_iterator(server_.data_dir() + "/logs")) {
      if (f.path().filename().string().rfind("ops-", 0) == 0) return false;
    }
    return true;
  }));
}

// Verify that logs show what instances print and that a crash-looping revision
// ends failed, with an event naming the crash loop.
TEST_F(ServerE2eTest, LogsAndCrashLoop) {
  Apply("talk", HealthCheckedSpec("talk", 1));
  json::array talk = Instances(server_, "talk");
  ASSERT_EQ(talk.size(), 1u);
  const std::string address = StringField(talk[0], "address");
  ASSERT_FALSE(HttpGet(address, "/").empty());
  ASSERT_TRUE(PollUntil([&] {
    return server_.Skiff({"logs", "talk", "--tail", "50"}).output.find("listening") !=
           std::string::npos;
  }));

  const std::string crash =
      "name: crash\nrun:\n  command: [\"/bin/sh\", \"-c\", \"echo boom; exit 7\"]\n"
      "health: {type: none}\n";
  CommandResult r = server_.Skiff({"apply", "-f", server_.WriteFile("crash.yaml", crash)}, 120);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("failed"));
  json::value app = server_.SkiffJson({"status", "crash"}).at("app");
  EXPECT_EQ(StringField(app.at("status"), "state"), "failed");
  CommandResult events = server_.Skiff({"events", "--app", "crash"});
  EXPECT_THAT(events.output, HasSubstr("crash loop"));
  EXPECT_THAT(server_.Skiff({"logs", "crash"}).output, HasSubstr("boom"));
}

// Verify that a server limits failed authentications per source address:
// ten distinct wrong tokens are 401, the next is 429 with Retry-After, while
// the admin token, which authenticated lately, still works through the CLI,
// and /health still answers.
TEST_F(ServerE2eTest, GuessingTheTokenIsCutShort) {
  ASSERT_EQ(server_.Skiff({"apps"}).exit_code, 0);
  for (int i = 0; i < 10; ++i) {
    const std::string wrong = "wrong-token-" + std::to_string(i);
    auto r = server_.Api("GET", "/v1/apps", {}, &wrong);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << i;
  }
  const std::string another = "wrong-token-10";
  auto blocked = server_.Api("GET", "/v1/apps", {}, &another);
  ASSERT_TRUE(blocked);
  EXPECT_EQ(blocked->status, 429);
  EXPECT_NE(blocked->Header("Retry-After"), "");
  EXPECT_THAT(blocked->body, HasSubstr("too many failed authentications"));
  const CommandResult cli = server_.Skiff({"apps"});
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  auto health = net::HttpClient("http://" + server_.addr()).Do("GET", "/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

}  // namespace
}  // namespace skiff::testing
