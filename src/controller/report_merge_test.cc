#include "controller/report_merge.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "common/quantity.h"
#include "controller/backoff.h"

namespace skiff::controller {
namespace {

using model::Health;
using model::InstanceState;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAreArray;

const Time kReportMergeNow = Time(seconds(1'700'000'000));
const Time kEarlier = kReportMergeNow - seconds(30);

// A running, healthy instance of generation 2 on n1 (running generation 2).
model::Instance Stored() {
  model::Instance i;
  i.id = "web-1";
  i.app = "web";
  i.revision = 3;
  i.node = "n1";
  i.state = InstanceState::kRunning;
  i.health = Health::kHealthy;
  i.healthy_since = kEarlier;
  i.address = "127.0.0.1:20001";
  i.generation = 2;
  i.running_generation = 2;
  i.crash_count = 2;
  i.started_at = kEarlier;
  return i;
}

protocol::InstanceReport Report(int64_t generation) {
  return protocol::InstanceReport{
      .instance_id = "web-1", .node_id = "n1", .generation = generation};
}

std::string TimeName(Time t) {
  if (t == Time{}) return "unset";
  if (t == kReportMergeNow) return "now";
  if (t == kEarlier) return "earlier";
  return FormatTime(t);
}

// The fields a merge may change, in one line.
std::string Summary(const model::Instance& i) {
  return fmt::format("{} {} gen={}/{} crashes={} healthy_since={} updated={} addr={} msg='{}'",
                     model::ToString(i.state), model::ToString(i.health), i.generation,
                     i.running_generation, i.crash_count, TimeName(i.healthy_since),
                     TimeName(i.updated_at), i.address, i.message);
}

struct MergeCase {
  std::string name;
  std::function<void(model::Instance&)> stored;  // edits of Stored(); may be null
  protocol::InstanceReport report;
  bool applied = true;
  std::string want;                 // Summary() of the merged instance
  std::vector<std::string> events;  // "kind: message"
};

void PrintTo(const MergeCase& c, std::ostream* os) { *os << c.name; }

class MergeReportTest : public ::testing::TestWithParam<MergeCase> {};

// Verify that a report changes the instance and makes the events the table says.
TEST_P(MergeReportTest, Merges) {
  const MergeCase& c = GetParam();
  model::Instance stored = Stored();
  if (c.stored) c.stored(stored);
  auto merged = MergeReport(stored, c.report, kReportMergeNow);
  ASSERT_TRUE(merged) << merged.error().ToString();
  EXPECT_EQ(merged->applied, c.applied);
  EXPECT_EQ(Summary(merged->instance), c.want);
  std::vector<std::string> events;
  for (const model::Event& e : merged->events) {
    events.push_back(e.kind + ": " + e.message);
    EXPECT_EQ(e.time, kReportMergeNow);
    EXPECT_EQ(e.app, "web");
    EXPECT_EQ(e.details.at("instance"), "web-1");
    EXPECT_EQ(e.details.at("node"), "n1");
    EXPECT_EQ(e.details.at("revision"), "3");
  }
  EXPECT_THAT(events, ElementsAreArray(c.events));
}

protocol::InstanceReport With(protocol::InstanceReport r,
                              const std::function<void(protocol::InstanceReport&)>& edit) {
  edit(r);
  return r;
}

INSTANTIATE_TEST_SUITE_P(
    Table, MergeReportTest,
    ::testing::Values(
        MergeCase{"StaleGenerationIgnored",
                  nullptr,
                  With(Report(1), [](auto& r) { r.state = InstanceState::kFailed; }),
                  false,
                  "running healthy gen=2/2 crashes=2 healthy_since=earlier updated=unset "
                  "addr=127.0.0.1:20001 msg=''",
                  {}},
        MergeCase{"StartedWithAddress",
                  [](model::Instance& i) {
                    i.state = InstanceState::kStarting;
                    i.health = Health::kUnknown;
                    i.healthy_since = Time{};
                    i.generation = 3;
                  },
                  With(Report(3),
                       [](auto& r) {
                         r.state = InstanceState::kRunning;
                         r.address = "127.0.0.1:20002";
                       }),
                  true,
                  "running unknown gen=3/3 crashes=2 healthy_since=unset updated=now "
                  "addr=127.0.0.1:20002 msg=''",
                  {"instance.started: web-1 started on n1 at 127.0.0.1:20002"}},
        // The copy the FakeControlPlane had raised running_generation only with a
        // state, so a health-only report of a new generation left it behind.
        MergeCase{"GenerationRisesWithoutAState",
                  [](model::Instance& i) { i.generation = 3; },
                  With(Report(3), [](auto& r) { r.health = Health::kHealthy; }),
                  true,
                  "running healthy gen=3/3 crashes=2 healthy_since=earlier updated=now "
                  "addr=127.0.0.1:20001 msg=''",
                  {}},
        // ...and it set it from any report with a state, so it could go down.
        MergeCase{"GenerationNeverGoesDown",
                  [](model::Instance& i) { i.running_generation = 4; },
                  With(Report(2), [](auto& r) { r.state = InstanceState::kRunning; }),
                  true,
                  "running healthy gen=2/4 crashes=2 healthy_since=earlier updated=now "
                  "addr=127.0.0.1:20001 msg=''",
                  {}},
        MergeCase{"FailedCountsACrashAndClearsHealth",
                  nullptr,
                  With(Report(2),
                       [](auto& r) {
                         r.state = InstanceState::kFailed;
                         r.last_exit = 3;
                         r.message = "exited with 3";
                         r.finished_at = kReportMergeNow;
                       }),
                  true,
                  "failed unknown gen=2/2 crashes=3 healthy_since=unset updated=now "
                  "addr=127.0.0.1:20001 msg='exited with 3'",
                  {"instance.failed: web-1 exited with 3"}},
        MergeCase{
            "FailedAfterALongRunStartsANewCount",
            [](model::Instance& i) { i.started_at = kReportMergeNow - kCrashCountResetAfter; },
            With(Report(2),
                 [](auto& r) {
                   r.state = InstanceState::kFailed;
                   r.finished_at = kReportMergeNow;
                 }),
            true,
            "failed unknown gen=2/2 crashes=1 healthy_since=unset updated=now "
            "addr=127.0.0.1:20001 msg=''",
            {"instance.failed: web-1 failed"}},
        MergeCase{"FailedJustShortOfALongRunCounts",
                  [](model::Instance& i) {
                    i.started_at = kReportMergeNow - kCrashCountResetAfter + seconds(1);
                  },
                  With(Report(2),
                       [](auto& r) {
                         r.state = InstanceState::kFailed;
                         r.finished_at = kReportMergeNow;
                       }),
                  true,
                  "failed unknown gen=2/2 crashes=3 healthy_since=unset updated=now "
                  "addr=127.0.0.1:20001 msg=''",
                  {"instance.failed: web-1 failed"}},
        MergeCase{"StoppedClearsHealth",
                  nullptr,
                  With(Report(2), [](auto& r) { r.state = InstanceState::kStopped; }),
                  true,
                  "stopped unknown gen=2/2 crashes=2 healthy_since=unset updated=now "
                  "addr=127.0.0.1:20001 msg=''",
                  {"instance.stopped: web-1 stopped"}},
        MergeCase{"TurnsHealthyStampsHealthySince",
                  [](model::Instance& i) {
                    i.health = Health::kUnknown;
                    i.healthy_since = Time{};
                  },
                  With(Report(2), [](auto& r) { r.health = Health::kHealthy; }),
                  true,
                  "running healthy gen=2/2 crashes=2 healthy_since=now updated=now "
                  "addr=127.0.0.1:20001 msg=''",
                  {"instance.healthy: web-1 is healthy"}},
        MergeCase{"StaysHealthyKeepsHealthySince",
                  nullptr,
                  With(Report(2), [](auto& r) { r.health = Health::kHealthy; }),
                  true,
                  "running healthy gen=2/2 crashes=2 healthy_since=earlier updated=now "
                  "addr=127.0.0.1:20001 msg=''",
                  {}},
        MergeCase{"TurnsUnhealthySaysWhy",
                  nullptr,
                  With(Report(2),
                       [](auto& r) {
                         r.health = Health::kUnhealthy;
                         r.message = "GET / returned 503";
                       }),
                  true,
                  "running unhealthy gen=2/2 crashes=2 healthy_since=unset updated=now "
                  "addr=127.0.0.1:20001 msg='GET / returned 503'",
                  {"instance.unhealthy: web-1 is unhealthy: GET / returned 503"}},
        MergeCase{"SameStateNoEvent",
                  nullptr,
                  With(Report(2), [](auto& r) { r.state = InstanceState::kRunning; }),
                  true,
                  "running healthy gen=2/2 crashes=2 healthy_since=earlier updated=now "
                  "addr=127.0.0.1:20001 msg=''",
                  {}}),
    [](const auto& info) { return info.param.name; });

// Verify that a report from another node than the instance's is
// kFailedPrecondition and changes nothing.
TEST(MergeReportTest, OtherNodeRefused) {
  protocol::InstanceReport r = Report(2);
  r.node_id = "n2";
  r.state = InstanceState::kFailed;
  auto merged = MergeReport(Stored(), r, kReportMergeNow);
  ASSERT_FALSE(merged);
  EXPECT_EQ(merged.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(merged.error().message, "instance web-1 is not placed on node n2");
}

// Verify that a stale report from another node is still refused: the node is
// checked before the generation.
TEST(MergeReportTest, OtherNodeRefusedEvenWhenStale) {
  protocol::InstanceReport r = Report(1);
  r.node_id = "n2";
  auto merged = MergeReport(Stored(), r, kReportMergeNow);
  ASSERT_FALSE(merged);
  EXPECT_EQ(merged.error().code, ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace skiff::controller
