#include "server/metrics_rollup.h"

#include <gtest/gtest.h>

#include <atomic>

#include "store/memory/memory_metrics_history.h"

namespace skiff::server {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// A history whose writes fail while `failing`.
class FlakyRollupHistory final : public store::MetricsHistory {
 public:
  Status Append(const std::vector<store::MetricsRow>& rows) override {
    if (failing) return Unavailable("disk full");
    return inner.Append(rows);
  }
  Result<std::vector<store::MetricsRow>> Query(const std::string& app, Time since,
                                               Time until) const override {
    return inner.Query(app, since, until);
  }
  Result<int64_t> Prune(Time older_than) override { return inner.Prune(older_than); }

  std::atomic<bool> failing{false};
  store::MemoryMetricsHistory inner;
};

class MetricsRollupTest : public ::testing::Test {
 protected:
  MetricsRollup::Deps Deps() {
    return {.live = &live_,
            .history = &history_,
            .clock = &clock_,
            .leading = [this] { return leading_.load(); },
            .interval = seconds(60),
            .retention = hours(1)};
  }
  void Sample(int cpu) {
    live_.RecordSample("web", "web-1", {.at = clock_.Now(), .cpu_millis = cpu, .memory_bytes = 1});
  }
  size_t Stored(Time since, Time until) {
    auto rows = history_.Query("web", since, until);
    EXPECT_TRUE(rows);
    return rows ? rows->size() : 0;
  }

  ManualClock clock_{Time(seconds(1'700'000'040 + 10))};  // 10 s into a minute
  metrics::LiveSeries live_{&clock_};
  FlakyRollupHistory history_;
  std::atomic<bool> leading_{true};
};

// Verify that a pass writes each complete minute once (app and instance
// rows), never the minute going on.
TEST_F(MetricsRollupTest, WritesCompleteMinutes) {
  const Time minute = metrics::MinuteOf(clock_.Now());
  MetricsRollup rollup(Deps());
  Sample(100);
  EXPECT_EQ(rollup.RunOnce(), 0);  // the minute is not over
  clock_.Advance(seconds(60));
  Sample(200);
  EXPECT_EQ(rollup.RunOnce(), 1);
  EXPECT_EQ(Stored(minute, minute + minutes(1)), 2u);  // the app's row and web-1's
  EXPECT_EQ(rollup.RunOnce(), 0);                      // written once
  EXPECT_EQ(Stored(minute + minutes(1), minute + minutes(2)), 0u);
}

// Verify that a minute whose write failed is written at the next pass.
TEST_F(MetricsRollupTest, FailedMinuteIsRetried) {
  const Time minute = metrics::MinuteOf(clock_.Now());
  MetricsRollup rollup(Deps());
  Sample(100);
  clock_.Advance(seconds(60));
  history_.failing = true;
  EXPECT_EQ(rollup.RunOnce(), 0);
  history_.failing = false;
  Sample(300);
  clock_.Advance(seconds(60));
  EXPECT_EQ(rollup.RunOnce(), 2);
  EXPECT_EQ(Stored(minute, minute + minutes(2)), 4u);
}

// Verify that a server that does not lead writes nothing, and prunes rows
// past the retention when it does.
TEST_F(MetricsRollupTest, OnlyTheLeaderWritesAndPrunes) {
  const Time minute = metrics::MinuteOf(clock_.Now());
  ASSERT_TRUE(history_.Append({store::MetricsRow{
      .app = "web", .instance = "", .minute = minute - hours(2), .data = "{}"}}));
  leading_ = false;
  MetricsRollup rollup(Deps());
  Sample(100);
  clock_.Advance(seconds(60));
  EXPECT_EQ(rollup.RunOnce(), 0);
  EXPECT_EQ(Stored(minute - hours(3), minute + minutes(1)), 1u);
  leading_ = true;
  Sample(100);
  clock_.Advance(seconds(60));
  EXPECT_EQ(rollup.RunOnce(), 1);  // the minute since it leads, not the one before
  EXPECT_EQ(Stored(minute - hours(3), minute + minutes(1)), 0u);
  EXPECT_EQ(Stored(minute + minutes(1), minute + minutes(2)), 2u);
}

// Verify that the started loop writes on its own as the clock moves.
TEST_F(MetricsRollupTest, LoopRunsOnTheClock) {
  const Time minute = metrics::MinuteOf(clock_.Now());
  MetricsRollup rollup(Deps());
  Sample(100);
  rollup.Start();
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (Stored(minute, minute + minutes(1)) == 0 && std::chrono::steady_clock::now() < deadline) {
    if (clock_.waiters() > 0) clock_.Advance(seconds(60));
    std::this_thread::yield();
  }
  rollup.Stop();
  EXPECT_EQ(Stored(minute, minute + minutes(1)), 2u);
}

}  // namespace
}  // namespace skiff::server
