#include "server/challenge_publisher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "fakes/testing.h"
#include "store/memory/memory_store.h"

namespace skiff::server {
namespace {

using ::testing::HasSubstr;

// The server's publisher over a memory store, with edges whose reported
// routes the test sets.
class ChallengePublisherTest : public ::testing::Test {
 protected:
  acme::ChallengePublisher Publisher(Duration wait) {
    return MakeChallengePublisher(
        &challenges_,
        [this] {
          std::lock_guard lock(mu_);
          return edges_;
        },
        [] { return std::string("tag-now"); }, SystemClock::Get(), /*fence_epoch=*/0, wait);
  }
  void Report(const std::string& edge, int64_t revision, std::string tag = "") {
    std::lock_guard lock(mu_);
    edges_[edge] = metrics::EdgeRoutes{.revision = revision, .tag = std::move(tag)};
  }
  size_t Kept() { return challenges_.List().value().size(); }

  store::MemoryStore store_;
  controller::AcmeChallengeStore challenges_{&store_, SystemClock::Get()};
  const protocol::AcmeChallenge challenge_{"tok-1", "tok-1.thumb"};
  std::mutex mu_;
  std::map<std::string, metrics::EdgeRoutes> edges_;  // GUARDED_BY(mu_)
};

// Verify that publish keeps the challenge and returns once every edge routes
// by routes at least as new as it, a standalone edge by the tag of the
// routes the store gives now.
TEST_F(ChallengePublisherTest, ReturnsOnceEveryEdgeRoutesByTheChallenge) {
  Report("own", 0);
  Report("far", 0, "tag-before");
  acme::ChallengePublisher publisher = Publisher(std::chrono::seconds(30));
  std::atomic<bool> caught_up{false};
  std::thread edges([&] {
    // The edges catch up once the challenge is kept, one after the other,
    // as their routes are rebuilt.
    // Kept, and its event committed: the revision the routes must reach.
    EXPECT_TRUE(testing::PollUntil([&] { return Kept() == 1 && store_.Revision() > 0; }));
    Report("own", store_.Revision());
    // Time for a publish that ignored the standalone edge to return (not
    // a synchronisation: the check below holds however long this is).
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    caught_up = true;
    Report("far", 0, "tag-now");
  });
  const Status published =
      publisher.publish("web.skiff.test", challenge_, std::chrono::seconds(30), std::stop_token());
  EXPECT_TRUE(caught_up) << "publish returned before the standalone edge took the challenge";
  edges.join();
  ASSERT_TRUE(published) << published.error().ToString();
  EXPECT_EQ(Kept(), 1u);
  publisher.withdraw("web.skiff.test", challenge_.token);
  EXPECT_EQ(Kept(), 0u);
  publisher.withdraw("web.skiff.test", challenge_.token);  // gone already: fine
}

// Verify that an edge that never catches up fails publish after the wait
// (the shorter of its own and the order's time left) with an error naming
// that edge, and that the challenge is withdrawn.
TEST_F(ChallengePublisherTest, EdgeBehindPastTheWaitFailsNamingIt) {
  Report("own", 0);
  acme::ChallengePublisher publisher = Publisher(std::chrono::seconds(30));
  const Status published = publisher.publish("web.skiff.test", challenge_,
                                             std::chrono::milliseconds(200), std::stop_token());
  ASSERT_FALSE(published);
  EXPECT_EQ(published.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_THAT(published.error().message, HasSubstr("web.skiff.test"));
  EXPECT_THAT(published.error().message, HasSubstr("own still route by older routes"));
  EXPECT_EQ(Kept(), 0u);
}

// Verify that with no edge known (a standalone edge that has not reported
// yet) publish waits for one rather than let the validation fail.
TEST_F(ChallengePublisherTest, NoEdgeYetIsWaitedFor) {
  acme::ChallengePublisher publisher = Publisher(std::chrono::seconds(30));
  const Status alone = publisher.publish("web.skiff.test", challenge_,
                                         std::chrono::milliseconds(200), std::stop_token());
  ASSERT_FALSE(alone);
  EXPECT_EQ(alone.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_THAT(alone.error().message,
              HasSubstr("no edge has reported to this server within 200 ms"));

  std::thread edge([&] {
    EXPECT_TRUE(testing::PollUntil([&] { return Kept() == 1; }));
    Report("far", 0, "tag-now");
  });
  const Status published =
      publisher.publish("web.skiff.test", challenge_, std::chrono::seconds(30), std::stop_token());
  edge.join();
  EXPECT_TRUE(published) << published.error().ToString();
}

// Verify that a stop ends a publish waiting for an edge (long before its
// wait), with kAborted, and withdraws the challenge.
TEST_F(ChallengePublisherTest, StopEndsTheWait) {
  Report("own", 0);
  acme::ChallengePublisher publisher = Publisher(std::chrono::minutes(10));
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop.request_stop();
  });
  const auto start = std::chrono::steady_clock::now();
  const Status published =
      publisher.publish("web.skiff.test", challenge_, std::chrono::minutes(10), stop.get_token());
  stopper.join();
  ASSERT_FALSE(published);
  EXPECT_EQ(published.error().code, ErrorCode::kAborted) << published.error().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::minutes(1));
  EXPECT_EQ(Kept(), 0u);
}

}  // namespace
}  // namespace skiff::server
