#include "cli/rollout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace skiff::cli {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

json::value Doc(std::string_view text) { return json::parse(text); }

// Verify that a revision not listed yet reads as pending and waits.
TEST(RolloutViewTest, PendingUntilListed) {
  RolloutView v =
      ViewRollout("web", 2, Doc(R"({"deployments":[{"revision":1,"state":"healthy"}]})"),
                  Doc(R"({"instances":[]})"));
  EXPECT_EQ(v.outcome, RolloutOutcome::kWaiting);
  EXPECT_EQ(v.state, "pending");
  EXPECT_EQ(v.progress, "web: revision 2 pending: new 0/0 healthy");
  EXPECT_EQ(v.verdict, "");
}

// Verify that a message that only repeats the counts is left out, and one that
// says what the rollout waits for is kept.
TEST(RolloutViewTest, MessageOnlyWhenItSaysMore) {
  auto instances = Doc(R"({"instances":[{"revision":2,"desired":"run","health":"healthy"}]})");
  auto with = [](std::string_view message) {
    return Doc(R"({"deployments":[{"revision":2,"state":"progressing","message":")" +
               std::string(message) + R"(","spec":{"replicas":2}}]})");
  };
  EXPECT_EQ(ViewRollout("web", 2, with("1/2 healthy"), instances).progress,
            "web: revision 2 progressing: new 1/2 healthy");
  EXPECT_EQ(ViewRollout("web", 2, with("no node fits: 1 node full"), instances).progress,
            "web: revision 2 progressing: new 1/2 healthy; no node fits: 1 node full");
}

// Verify that an autoscaled revision counts against the app's desired count
// (the autoscaler's), not its spec's replicas, and only while the app is at
// that revision; NeedsAppView says when the app's view is wanted.
TEST(RolloutViewTest, AutoscaledCountsAgainstDesired) {
  auto deployments = Doc(R"({"deployments":[{"revision":2,"state":"progressing",)"
                         R"("message":"3/5 healthy","spec":{"replicas":1,)"
                         R"("autoscale":{"min":1,"max":10}}}]})");
  auto instances = Doc(R"({"instances":[
      {"revision":2,"desired":"run","health":"healthy"},
      {"revision":2,"desired":"run","health":"healthy"},
      {"revision":2,"desired":"run","health":"healthy"}]})");
  EXPECT_TRUE(NeedsAppView(2, deployments));
  EXPECT_FALSE(NeedsAppView(1, deployments));
  EXPECT_FALSE(NeedsAppView(
      2, Doc(R"({"deployments":[{"revision":2,"state":"healthy","spec":{"replicas":1}}]})")));
  auto app_at = [](int revision) {
    return Doc(R"({"name":"web","revision":)" + std::to_string(revision) +
               R"(,"status":{"state":"progressing","desired":5,"running":3,"healthy":3}})");
  };
  EXPECT_EQ(ViewRollout("web", 2, deployments, instances, app_at(2)).progress,
            "web: revision 2 progressing: new 3/5 healthy");
  EXPECT_EQ(ViewRollout("web", 2, deployments, instances, app_at(3)).progress,
            "web: revision 2 progressing: new 3/3 healthy")
      << "no longer the app's revision: what runs, within the policy's bounds";
}

// Verify that blue-green's unrouted new set and kept old set are told apart
// from serving instances.
TEST(RolloutViewTest, BlueGreenHeldSets) {
  auto deployments = Doc(R"({"deployments":[{"revision":3,"state":"progressing",
      "message":"waiting for the new set: 1/2 healthy","spec":{"replicas":2,
      "update":{"strategy":"blue-green"}}}]})");
  RolloutView before = ViewRollout("web", 3, deployments, Doc(R"({"instances":[
      {"revision":3,"desired":"run","health":"healthy","traffic":"hold"},
      {"revision":3,"desired":"run","health":"unknown","traffic":"hold"},
      {"revision":2,"desired":"run","health":"healthy","traffic":"serve"},
      {"revision":2,"desired":"run","health":"healthy","traffic":"serve"}]})"));
  EXPECT_EQ(before.progress,
            "web: revision 3 progressing: new 1/2 healthy (not routed until the switch), old 2 "
            "serving; waiting for the new set: 1/2 healthy");
  EXPECT_FALSE(before.awaiting_promotion);
  RolloutView after = ViewRollout("web", 3, deployments, Doc(R"({"instances":[
      {"revision":3,"desired":"run","health":"healthy","traffic":"serve"},
      {"revision":3,"desired":"run","health":"healthy","traffic":"serve"},
      {"revision":2,"desired":"run","health":"healthy","traffic":"hold"},
      {"revision":2,"desired":"stop","health":"healthy","traffic":"hold"}]})"));
  EXPECT_THAT(after.progress, HasSubstr("new 2/2 healthy, old 1 kept unrouted;"));
}

// Verify that a revision that became healthy and was then superseded counts as
// healthy, never as a failure.
TEST(RolloutViewTest, HealthyThenSupersededIsHealthy) {
  RolloutView v = ViewRollout("web", 2, Doc(R"({"deployments":[
      {"revision":2,"state":"superseded","healthy_at":"2026-11-23T03:00:00.000Z"},
      {"revision":3,"state":"progressing"}]})"),
                              Doc(R"({"instances":[]})"));
  EXPECT_EQ(v.outcome, RolloutOutcome::kHealthy);
  EXPECT_EQ(ExitCode(v.outcome), 0);
  RolloutView never = ViewRollout("web", 2, Doc(R"({"deployments":[
      {"revision":2,"state":"superseded","healthy_at":""},{"revision":3,"state":"pending"}]})"),
                                  Doc(R"({"instances":[]})"));
  EXPECT_EQ(never.outcome, RolloutOutcome::kSuperseded);
  EXPECT_EQ(ExitCode(never.outcome), 1);
  EXPECT_THAT(never.verdict, HasSubstr("superseded by revision 3"));
}

// Verify that only a canary that is healthy, not promoted and not set to
// auto_promote waits for `skiff promote`.
TEST(RolloutViewTest, AwaitingPromotion) {
  auto instances = Doc(R"({"instances":[
      {"revision":4,"desired":"run","health":"healthy","traffic":"canary"},
      {"revision":3,"desired":"run","health":"healthy","traffic":"serve"}]})");
  auto view = [&](std::string_view update, bool promoted) {
    std::string d = R"({"deployments":[{"revision":4,"state":"progressing","promoted":)" +
                    std::string(promoted ? "true" : "false") +
                    R"(,"spec":{"replicas":2,"update":)" + std::string(update) + "}}]}";
    return ViewRollout("web", 4, Doc(d), instances);
  };
  const char* canary = R"({"strategy":"canary","canary":1,"canary_weight":25})";
  EXPECT_TRUE(view(canary, false).awaiting_promotion);
  EXPECT_THAT(view(canary, false).progress, HasSubstr("new 1/2 healthy (canary, 25% of traffic)"));
  EXPECT_FALSE(view(canary, true).awaiting_promotion);
  EXPECT_FALSE(
      view(R"({"strategy":"canary","canary":1,"auto_promote":true})", false).awaiting_promotion);
  EXPECT_FALSE(view(R"({"strategy":"rolling"})", false).awaiting_promotion);
}

}  // namespace
}  // namespace skiff::cli
