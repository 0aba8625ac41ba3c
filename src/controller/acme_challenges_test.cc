#include "controller/acme_challenges.h"

#include <gtest/gtest.h>

#include "store/leader_lease.h"
#include "store/memory/memory_store.h"

namespace skiff::controller {
namespace {

// Verify that a published challenge is listed for the routes and its event
// commits (the revision returned), that withdrawing forgets it, and that a
// publication refused by the fence keeps nothing.
TEST(AcmeChallengeStoreTest, PublishListWithdraw) {
  ManualClock clock;
  store::MemoryStore store;
  AcmeChallengeStore challenges(&store, &clock);
  auto revision = challenges.Publish("web.com", {"tok", "tok.thumb"}, store::kSingleServerEpoch);
  ASSERT_TRUE(revision) << revision.error().ToString();
  EXPECT_EQ(*revision, store.Revision());
  EXPECT_EQ(ChallengesForRoutes(&challenges),
            (std::vector<protocol::AcmeChallenge>{{"tok", "tok.thumb"}}));
  auto events = store.ListEvents({}).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "certificate.challenge");
  EXPECT_EQ(events[0].details["domain"], "web.com");

  ASSERT_TRUE(challenges.Withdraw("tok"));
  EXPECT_TRUE(ChallengesForRoutes(&challenges).empty());
  EXPECT_EQ(challenges.Withdraw("tok").error().code, ErrorCode::kNotFound);

  auto refused = challenges.Publish("web.com", {"tok2", "x"}, store::kSingleServerEpoch + 1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(ChallengesForRoutes(&challenges).empty());
}

}  // namespace
}  // namespace skiff::controller
