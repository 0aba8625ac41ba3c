// End-to-end: an acknowledged write survives kill -9 of a single server on
// its default store, SQLite (issue 13, §3; bench/kill9_durability.sh runs
// 200 rounds of it). A client writes without pause; the server is killed
// mid-stream, started again on the same data dir, and must have every write
// it acknowledged.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "e2e/skiff_server.h"

namespace skiff::testing {
namespace {

// Verify that over three rounds of kill -9 while a client creates apps and
// scales one, every app whose creation was acknowledged (201) is there after
// the restart, and the scaled app keeps its last acknowledged replica count
// or the one sent after it (committed, but killed before the answer).
TEST(DurabilityE2eTest, AcknowledgedWritesSurviveKill9) {
  SkiffServer server;
  server.AddArgs({"--no-agent", "--no-edge"});
  ASSERT_TRUE(server.Start());
  auto created = server.Api("PUT", "/v1/apps/scaled", SleeperSpec("scaled", 0));
  ASSERT_TRUE(created.has_value() && created->status == 201);

  for (int round = 0; round < 3; ++round) {
    std::mutex mu;
    std::vector<std::string> acked;  // GUARDED_BY(mu)
    int last_scale = -1;             // GUARDED_BY(mu)
    std::atomic<bool> gone = false;
    std::thread client([&] {
      for (int i = 1; !gone; ++i) {
        const std::string name = "r" + std::to_string(round) + "w" + std::to_string(i);
        auto put = server.Api("PUT", "/v1/apps/" + name, SleeperSpec(name, 0));
        if (!put.has_value()) break;  // killed
        auto scale = server.Api("POST", "/v1/apps/scaled/scale",
                                R"({"replicas":)" + std::to_string(i) + "}");
        std::lock_guard lock(mu);
        if (put->status == 201) acked.push_back(name);
        if (!scale.has_value()) break;
        if (scale->status == 201) last_scale = i;
      }
    });
    ASSERT_TRUE(PollUntil([&] {
      std::lock_guard lock(mu);
      return acked.size() >= static_cast<size_t>(5 + 10 * round);
    }));
    server.Kill();
    gone = true;
    client.join();
    ASSERT_TRUE(server.Start()) << "round " << round;

    std::lock_guard lock(mu);
    for (const std::string& name : acked) {
      auto got = server.Api("GET", "/v1/apps/" + name);
      ASSERT_TRUE(got.has_value()) << got.error().ToString();
      EXPECT_EQ(got->status, 200) << name << " was acknowledged, then lost (round " << round << ")";
    }
    auto scaled = server.Api("GET", "/v1/apps/scaled");
    ASSERT_TRUE(scaled.has_value() && scaled->status == 200);
    const int64_t replicas =
        boost::json::parse(scaled->body).at("spec").at("replicas").to_number<int64_t>();
    if (last_scale > 0) {
      EXPECT_TRUE(replicas == last_scale || replicas == last_scale + 1)
          << "replicas " << replicas << ", last acknowledged " << last_scale;
    }
  }
}

}  // namespace
}  // namespace skiff::testing
