// End-to-end autoscaling: a real `skiff server` scales an app out on the
// requests a second its edge reports, and back in when they stop, without a
// new revision, each change an event with its reason.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "e2e/skiff_server.h"
#include "net/http_client.h"

namespace skiff::testing {
namespace {

using ::testing::HasSubstr;

// The test app on one domain, scaled on 5 requests a second per replica
// between 1 and 3, over a window of three of the edge's 5 s reports.
std::string BusySpec() {
  return TestAppSpec("busy", 1, "[busy.scale.test]") +
         "autoscale: {min: 1, max: 3, target_rps_per_replica: 5, window: 15s, cooldown_up: 0s, "
         "cooldown_down: 1s}\n";
}

// How many of `app`'s instances run and are healthy, by the API's status.
int HealthyOf(const SkiffServer& server, const std::string& app) {
  auto r = server.Api("GET", "/v1/apps/" + app);
  if (!r || r->status != 200) return -1;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r->body, ec);
  if (ec) return -1;
  return static_cast<int>(v.at("status").at("healthy").as_int64());
}

// Verify that traffic above the target scales the app out to max (the
// autoscaler on the leader, fed by the edge's reports), that the status
// shows the autoscaled count and the trail the reason, that the revision
// stays, and that once the traffic stops it scales back in to min.
TEST(AutoscaleE2eTest, ScalesOutOnTrafficAndBackIn) {
  SkiffServer server;
  server.AddArgs({"--sample-interval", "1s"});
  ASSERT_TRUE(server.Start());
  CommandResult applied = server.Skiff({"apply", "-f", server.WriteFile("busy.yaml", BusySpec())});
  ASSERT_EQ(applied.exit_code, 0) << applied.output << "\nserver:\n" << server.Output();

  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::thread load([&] {
    net::HttpClient client("http://" + server.edge_addr());
    while (!stop.load()) {
      auto r = client.Do("GET", "/", {}, {{"Host", "busy.scale.test"}}, std::chrono::seconds(5));
      if (r && r->status == 200) ++answered;
      std::this_thread::sleep_for(std::chrono::milliseconds(40));  // about 20 a second
    }
  });
  const bool out =
      PollUntil([&] { return HealthyOf(server, "busy") == 3; }, std::chrono::seconds(90));
  stop = true;
  load.join();
  ASSERT_TRUE(out) << "healthy " << HealthyOf(server, "busy") << " after " << answered.load()
                   << " answers\nevents:\n"
                   << server.Skiff({"events", "--app", "busy"}).output;
  const std::string status = server.Skiff({"status", "busy"}).output;
  EXPECT_THAT(status, HasSubstr("3 (autoscaled, 1\u20133)"));
  EXPECT_THAT(status, HasSubstr("revision:  1"));
  const std::string events = server.Skiff({"events", "--app", "busy"}).output;
  EXPECT_THAT(events, HasSubstr("app.autoscaled"));
  EXPECT_THAT(events, HasSubstr("\u2192 3: rps"));

  // No traffic: every signal below target, back to min once the window
  // holds only quiet reports.
  EXPECT_TRUE(PollUntil([&] { return HealthyOf(server, "busy") == 1; }, std::chrono::seconds(90)))
      << server.Skiff({"events", "--app", "busy"}).output;
  EXPECT_THAT(server.Skiff({"events", "--app", "busy"}).output,
              HasSubstr("\u2192 1: every signal below target"));
}

}  // namespace
}  // namespace skiff::testing
