// End-to-end rollouts through the all-in-one server and its edge: a rolling
// update under constant load fails no request, a revision that fails its
// health check is rolled back while the app keeps answering, a canary takes
// its share of the traffic and no more, and a blue-green switch is atomic.
//
// The test app answers "/" with "hello from <instance> rev <revision>", so
// each answer says which revision served it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "e2e/skiff_server.h"
#include "e2e/subprocess.h"
#include "net/http_client.h"

namespace skiff::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
namespace json = boost::json;

// The test app with `replicas`, serving `name`.test, plus `extra` YAML lines
// (env, update, edge).
std::string RolloutSpec(const std::string& name, int replicas, const std::string& extra) {
  return TestAppSpec(name, replicas, "[" + name + ".test]") + extra;
}

// The revision an answer of the test app names ("... rev 3\n" -> 3); 0 when none.
int RevisionOf(const std::string& body) {
  size_t at = body.find(" rev ");
  return at == std::string::npos ? 0 : std::atoi(body.c_str() + at + 5);
}

// Requests (`method` `target`) through the edge from `threads` threads until
// Stop(): the answers by revision, the first thread's in order, and every
// failure (not a 200) with what it was.
class Load {
 public:
  Load(const SkiffServer& server, std::string host, int threads, std::string method = "GET",
       std::string target = "/")
      : host_(std::move(host)), method_(std::move(method)), target_(std::move(target)) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, &server, t] {
        net::HttpClient client("http://" + server.edge_addr());
        while (!done_) {
          auto r = client.Do(method_, target_, {}, {{"Host", host_}}, seconds(10));
          std::lock_guard lock(mu_);
          if (r && r->status == 200) {
            int revision = RevisionOf(r->body);
            ++by_revision_[revision];
            if (t == 0) order_.push_back(revision);
          } else {
            failures_.push_back(r ? std::to_string(r->status) + " " + r->body
                                  : r.error().ToString());
          }
        }
      });
    }
  }
  ~Load() { Stop(); }

  void Stop() {
    done_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  // Answers so far by revision.
  std::map<int, int> by_revision() {
    std::lock_guard lock(mu_);
    return by_revision_;
  }
  int answered() {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [revision, count] : by_revision_) n += count;
    return n;
  }
  std::vector<std::string> failures() {
    std::lock_guard lock(mu_);
    return failures_;
  }
  // The revisions that answered the first thread, in order (it waits for
  // each answer before it asks again).
  std::vector<int> order() {
    std::lock_guard lock(mu_);
    return order_;
  }

 private:
  const std::string host_;
  const std::string method_;
  const std::string target_;
  std::atomic<bool> done_{false};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::map<int, int> by_revision_;
  std::vector<int> order_;
  std::vector<std::string> failures_;
};

class RolloutE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }

  CommandResult Apply(const std::string& name, const std::string& spec,
                      std::vector<std::string> flags = {}) {
    std::vector<std::string> args{"apply", "-f", server_.WriteFile(name + ".yaml", spec)};
    args.insert(args.end(), flags.begin(), flags.end());
    return server_.Skiff(args);
  }

  // The app's deployments: revision -> state.
  std::map<int64_t, std::string> Deployments(const std::string& app) {
    std::map<int64_t, std::string> out;
    auto r = server_.Api("GET", "/v1/apps/" + app + "/deployments");
    if (!r || r->status != 200) return out;
    json::value v = json::parse(r->body);
    for (const json::value& d : v.at("deployments").as_array()) {
      out[d.at("revision").as_int64()] = std::string(d.at("state").as_string());
    }
    return out;
  }

  // Running, healthy instances of `app`, by revision.
  std::map<int64_t, int> HealthyByRevision(const std::string& app) {
    std::map<int64_t, int> out;
    for (const json::value& i : Instances(server_, app)) {
      if (i.at("desired") == "run" && i.at("state") == "running" && i.at("health") == "healthy") {
        ++out[i.at("revision").as_int64()];
      }
    }
    return out;
  }

  SkiffServer server_;
};

// Verify that a rolling update of 4 replicas under constant load through the
// edge fails no request: each old instance leaves the routes, drains, and only
// then stops, while the new ones take over once healthy. Slow POSTs are in
// flight all the time: the edge may not retry them, so one cut by a stop that
// did not wait for the drain would fail.
TEST_F(RolloutE2eTest, RollingUpdateUnderLoadFailsNoRequest) {
  const std::string update =
      "update: {strategy: rolling, max_surge: 1, max_unavailable: 0, min_healthy_time: 300ms}\n";
  CommandResult first = Apply("roll", RolloutSpec("roll", 4, update));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  Load load(server_, "roll.test", 2);
  Load slow(server_, "roll.test", 4, "POST", "/sleep?ms=300");
  ASSERT_TRUE(PollUntil([&] { return load.answered() > 100; }, seconds(20)));

  CommandResult second = Apply("roll", RolloutSpec("roll", 4, update + "env: {GREETING: two}\n"));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("revision 2 is healthy"));
  ASSERT_TRUE(PollUntil([&] { return AppProcesses("roll").size() == 4; }, seconds(30)))
      << "the old instances stop";
  const int before = load.by_revision()[2];
  ASSERT_TRUE(PollUntil([&] { return load.by_revision()[2] > before + 100; }, seconds(20)));
  load.Stop();
  slow.Stop();

  EXPECT_THAT(load.failures(), ::testing::IsEmpty());
  EXPECT_THAT(slow.failures(), ::testing::IsEmpty());
  EXPECT_GT(slow.answered(), 20);
  std::map<int, int> answers = load.by_revision();
  EXPECT_GT(answers[1], 0);
  EXPECT_GT(answers[2], 0);
  EXPECT_EQ(HealthyByRevision("roll"), (std::map<int64_t, int>{{2, 4}}));
  EXPECT_EQ(Deployments("roll")[2], "healthy");
}

// Verify that a revision that never passes its health check fails after its
// healthy_deadline and is rolled back automatically: `skiff apply` says so
// and exits non-zero, the app answered every request meanwhile, none from the
// bad revision, and the instances of the good one were never replaced.
TEST_F(RolloutE2eTest, FailingRevisionIsRolledBackWhileTheAppServes) {
  const std::string update =
      "update: {strategy: rolling, min_healthy_time: 300ms, healthy_deadline: 3s}\n";
  ASSERT_EQ(Apply("sour", RolloutSpec("sour", 2, update)).exit_code, 0);
  std::vector<int> pids = AppProcesses("sour");
  ASSERT_EQ(pids.size(), 2u);
  Load load(server_, "sour.test", 2);
  ASSERT_TRUE(PollUntil([&] { return load.answered() > 50; }, seconds(20)));

  CommandResult bad = Apply("sour", RolloutSpec("sour", 2, update + "env: {UNHEALTHY: \"1\"}\n"));
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("rolled_back"));
  ASSERT_TRUE(PollUntil(
      [&] {
        auto d = Deployments("sour");
        return d[2] == "rolled_back" && d[3] == "healthy";
      },
      seconds(20)))
      << server_.Output();
  ASSERT_TRUE(PollUntil([&] { return AppProcesses("sour").size() == 2; }, seconds(20)));
  const int answered = load.answered();
  ASSERT_TRUE(PollUntil([&] { return load.answered() > answered + 50; }, seconds(20)));
  load.Stop();

  EXPECT_THAT(load.failures(), ::testing::IsEmpty());
  EXPECT_EQ(load.by_revision()[2], 0) << "no request reached the bad revision";
  std::vector<int> after = AppProcesses("sour");
  std::sort(pids.begin(), pids.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, pids) << "the good revision's instances kept running";
  CommandResult status = server_.Skiff({"status", "sour"});
  EXPECT_THAT(status.output, ::testing::Not(HasSubstr("failed")));
  CommandResult deployments = server_.Skiff({"deployments", "sour"});
  EXPECT_THAT(deployments.output, HasSubstr("rolled_back"));
}

// Verify a canary: one instance of the new revision takes its canary_weight
// (5 %) of the traffic and no more while the three old ones keep theirs (by
// count it would take 25 %); `skiff promote` then rolls the rest out; nothing
// fails throughout.
TEST_F(RolloutE2eTest, CanaryTakesItsWeightThenPromoteRollsOut) {
  const std::string update =
      "update: {strategy: canary, canary: 1, canary_weight: 5, min_healthy_time: 300ms}\n";
  ASSERT_EQ(Apply("bird", RolloutSpec("bird", 3, update)).exit_code, 0);
  CommandResult canary =
      Apply("bird", RolloutSpec("bird", 3, update + "env: {GREETING: two}\n"), {"--detach"});
  ASSERT_EQ(canary.exit_code, 0) << canary.output;
  ASSERT_TRUE(PollUntil(
      [&] {
        return HealthyByRevision("bird") == std::map<int64_t, int>{{1, 3}, {2, 1}};
      },
      seconds(20)))
      << server_.Output();

  Load load(server_, "bird.test", 1);
  ASSERT_TRUE(PollUntil([&] { return load.answered() >= 1000; }, seconds(60)));
  std::map<int, int> split = load.by_revision();
  const int total = split[1] + split[2];
  // 5 % of ~1000: the mean is 50, the standard deviation about 7.
  EXPECT_GT(split[2], total * 2 / 100) << split[1] << " old, " << split[2] << " canary";
  EXPECT_LT(split[2], total * 9 / 100) << split[1] << " old, " << split[2] << " canary";

  CommandResult promote = server_.Skiff({"promote", "bird"});
  ASSERT_EQ(promote.exit_code, 0) << promote.output;
  ASSERT_TRUE(PollUntil(
      [&] {
        return HealthyByRevision("bird") == std::map<int64_t, int>{{2, 3}} &&
               AppProcesses("bird").size() == 3;
      },
      seconds(30)))
      << server_.Output();
  EXPECT_EQ(Deployments("bird")[2], "healthy");
  load.Stop();
  EXPECT_THAT(load.failures(), ::testing::IsEmpty());
}

// Verify that a canary failing its health check is rolled back and never
// served a request.
TEST_F(RolloutE2eTest, FailingCanaryIsRolledBackUnserved) {
  const std::string update =
      "update: {strategy: canary, canary_weight: 50, min_healthy_time: 300ms, "
      "healthy_deadline: 2s}\n";
  ASSERT_EQ(Apply("lark", RolloutSpec("lark", 2, update)).exit_code, 0);
  Load load(server_, "lark.test", 2);
  CommandResult bad = Apply("lark", RolloutSpec("lark", 2, update + "env: {UNHEALTHY: \"1\"}\n"));
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  ASSERT_TRUE(PollUntil([&] { return Deployments("lark")[2] == "rolled_back"; }, seconds(20)));
  ASSERT_TRUE(PollUntil([&] { return AppProcesses("lark").size() == 2; }, seconds(20)));
  load.Stop();
  EXPECT_THAT(load.failures(), ::testing::IsEmpty());
  EXPECT_EQ(load.by_revision()[2], 0);
  EXPECT_GT(load.by_revision()[1], 0);
}

// Verify that a blue-green switch is atomic: the new set is started whole and
// takes no traffic until all of it is healthy; then every request goes to it,
// and once an answer came from the new revision none comes from the old.
TEST_F(RolloutE2eTest, BlueGreenSwitchIsAtomic) {
  const std::string update = "update: {strategy: blue-green, min_healthy_time: 300ms}\n";
  ASSERT_EQ(Apply("teal", RolloutSpec("teal", 3, update)).exit_code, 0);
  Load load(server_, "teal.test", 2);
  ASSERT_TRUE(PollUntil([&] { return load.answered() > 50; }, seconds(20)));
  CommandResult second = Apply("teal", RolloutSpec("teal", 3, update + "env: {GREETING: two}\n"));
  ASSERT_EQ(second.exit_code, 0) << second.output;
  const int answered = load.answered();
  ASSERT_TRUE(PollUntil([&] { return load.answered() > answered + 100; }, seconds(20)));
  ASSERT_TRUE(PollUntil([&] { return AppProcesses("teal").size() == 3; }, seconds(30)));
  load.Stop();

  EXPECT_THAT(load.failures(), ::testing::IsEmpty());
  std::vector<int> order = load.order();
  auto first_new = std::find(order.begin(), order.end(), 2);
  ASSERT_NE(first_new, order.end());
  EXPECT_GT(first_new - order.begin(), 0) << "the old set served before the switch";
  EXPECT_EQ(std::count(first_new, order.end(), 1), 0) << "an old answer after the switch";
  EXPECT_EQ(HealthyByRevision("teal"), (std::map<int64_t, int>{{2, 3}}));
}

}  // namespace
}  // namespace skiff::testing
