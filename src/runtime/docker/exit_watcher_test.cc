#include "runtime/docker/exit_watcher.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>

#include "fakes/fake_docker_engine.h"
#include "fakes/testing.h"

namespace skiff::runtime::docker {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// A die event of container `id` as the engine writes it, stamped `at`.
std::string DieEvent(const std::string& id, Time at) {
  const int64_t nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  return fmt::format(
      R"({{"status":"die","id":"{0}","Type":"container","Action":"die",)"
      R"("Actor":{{"ID":"{0}","Attributes":{{"exitCode":"1","skiff.instance":"i"}}}},)"
      R"("scope":"local","time":{1},"timeNano":{2}}})"
      "\n",
      id, nanos / 1'000'000'000, nanos);
}

class ExitWatcherTest : public ::testing::Test {
 protected:
  ExitWatcherOptions Options() {
    return ExitWatcherOptions{.labels = {"skiff.instance"},
                              .min_backoff = 100ms,
                              .max_backoff = 1s,
                              .relist_interval = 60s,
                              .clock = &clock_};
  }

  // Whether the watcher's threads wait on the clock (`n` of them) with
  // `listings` listings made and `open` connections open (a stream): parked,
  // so an Advance is what moves them. Seen three times in a row, since one
  // thread may leave its wait just as the other enters its own.
  bool Parked(int n, int listings, int open = 0) {
    int seen = 0;
    return testing::PollUntil([&] {
      const bool parked =
          clock_.waiters() == n && engine_.listings() == listings && engine_.connections() == open;
      seen = parked ? seen + 1 : 0;
      return seen == 3;
    });
  }

  // Moves the clock to just before `pause` is over (no listing yet), then to
  // its end: one more listing, and the watcher parked again.
  void ExpectPause(Duration pause, int listings, int open = 0) {
    clock_.Advance(pause - 1ms);
    EXPECT_FALSE(testing::PollUntil([&] { return engine_.listings() > listings; }, 100ms))
        << "listed before a pause of " << pause.count() << "ms was over";
    clock_.Advance(1ms);
    EXPECT_TRUE(Parked(1, listings + 1, open)) << "after a pause of " << pause.count() << "ms";
  }

  testing::TempDir dir_;
  testing::FakeDockerEngine engine_{dir_.File("docker.sock")};
  ManualClock clock_;
};

// Verify that a listing calls back the watches of containers it does not show
// running, but not a watch made while it was under way (whose maker looks for
// itself: its container may have started after the listing read the list),
// even when the clock has not moved in between.
TEST_F(ExitWatcherTest, ListingLeavesAWatchMadeDuringItToItsMaker) {
  engine_.HoldListings(true);
  ExitWatcher watcher(DockerEngine(engine_.host()), Options());
  std::atomic<int> before = 0;
  std::atomic<int> during = 0;
  watcher.Watch("gone", [&] { ++before; });
  ASSERT_TRUE(testing::PollUntil([&] { return engine_.listings() == 1; }));
  const uint64_t key = watcher.Watch("new", [&] { ++during; });
  engine_.HoldListings(false);
  ASSERT_TRUE(testing::PollUntil([&] { return before.load() == 1; }));
  EXPECT_EQ(watcher.opened(), 1);
  EXPECT_EQ(during.load(), 0);
  EXPECT_EQ(watcher.watching(), 1u);
  ASSERT_TRUE(watcher.Take(key));
  EXPECT_EQ(during.load(), 0);
}

// Verify that an event of a watched container calls its watches back even
// when the engine stamped it before the watch was made (a replay of `since`,
// or an engine clock behind ours): the engine's clock is not compared with
// ours, since Skiff never starts a container again.
TEST_F(ExitWatcherTest, ReplayedEventOlderThanTheWatchCallsBack) {
  engine_.SetContainer("c1", "running");
  ExitWatcher watcher(DockerEngine(engine_.host()), Options());
  std::atomic<int> calls = 0;
  watcher.Watch("c1", [&] { ++calls; });
  ASSERT_TRUE(testing::PollUntil([&] { return engine_.streams_open() == 1; }));
  EXPECT_THAT(engine_.last_events_target(), HasSubstr("&since="));
  EXPECT_EQ(calls.load(), 0);
  engine_.Send(DieEvent("c1", clock_.Now() - 10s));
  EXPECT_TRUE(testing::PollUntil([&] { return calls.load() == 1; }));
  EXPECT_EQ(watcher.watching(), 0u);
}

// Verify that an event line split across reads is put together, and that a
// line that is not an event before it is skipped.
TEST_F(ExitWatcherTest, EventLineSplitAcrossReads) {
  engine_.SetContainer("c2", "running");
  engine_.SetContainer("c3", "running");
  ExitWatcher watcher(DockerEngine(engine_.host()), Options());
  std::atomic<int> c2 = 0;
  std::atomic<int> c3 = 0;
  watcher.Watch("c2", [&] { ++c2; });
  watcher.Watch("c3", [&] { ++c3; });
  ASSERT_TRUE(testing::PollUntil([&] { return engine_.streams_open() == 1; }));
  const std::string line = DieEvent("c2", clock_.Now());
  engine_.Send("not json\n" + line.substr(0, 40));
  // c3's event follows in the same read as the end of c2's: both are heard.
  engine_.Send(line.substr(40) + DieEvent("c3", clock_.Now()));
  EXPECT_TRUE(testing::PollUntil([&] { return c2.load() == 1 && c3.load() == 1; }));
  EXPECT_EQ(watcher.opened(), 1);
  EXPECT_EQ(engine_.streams_opened(), 1);
}

// Verify that destroying the watcher during a listing the engine does not
// answer ends the listing at once (not after the call's 30 s timeout).
TEST_F(ExitWatcherTest, DestructionDuringAListingEndsIt) {
  engine_.HoldListings(true);
  auto watcher = std::make_unique<ExitWatcher>(DockerEngine(engine_.host()), Options());
  watcher->Watch("c4", [] {});
  ASSERT_TRUE(testing::PollUntil([&] { return engine_.listings() == 1; }));
  auto destroyed = std::async(std::launch::async, [&] { watcher.reset(); });
  EXPECT_EQ(destroyed.wait_for(5s), std::future_status::ready);
  destroyed.wait();
}

// Verify that while the engine fails the listing, attempts back off from
// min_backoff, doubling, up to max_backoff.
TEST_F(ExitWatcherTest, FailedListingsBackOff) {
  engine_.SetListStatus(500);
  ExitWatcher watcher(DockerEngine(engine_.host()), Options());
  std::atomic<int> calls = 0;
  watcher.Watch("c5", [&] { ++calls; });
  ASSERT_TRUE(Parked(1, 1));
  int listings = 1;
  for (Duration pause : {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms}) {
    ExpectPause(pause, listings++);
  }
  EXPECT_EQ(watcher.opened(), 0);
  EXPECT_EQ(engine_.streams_opened(), 0);
  // Once the engine lists, the watch is answered (c5 is not running).
  engine_.SetListStatus(200);
  clock_.Advance(1s);
  EXPECT_TRUE(testing::PollUntil([&] { return calls.load() == 1; }));
  EXPECT_EQ(watcher.opened(), 1);
}

// Verify that an engine that lists but ends each event stream as soon as it
// opens is backed off from too, and that a stream that delivered an event
// starts the backoff over.
TEST_F(ExitWatcherTest, StreamsThatEndAtOnceBackOff) {
  engine_.SetContainer("c6", "running");
  engine_.SetContainer("c7", "running");
  engine_.EndStreamsAtOnce(true);
  ExitWatcher watcher(DockerEngine(engine_.host()), Options());
  std::atomic<int> c7 = 0;
  watcher.Watch("c6", [] {});
  watcher.Watch("c7", [&] { ++c7; });
  ASSERT_TRUE(Parked(1, 1));
  int listings = 1;
  for (Duration pause : {100ms, 200ms, 400ms}) ExpectPause(pause, listings++);
  EXPECT_EQ(engine_.streams_opened(), listings);

  // A stream that stays and tells of an exit is of use: after it the pause
  // is min_backoff again.
  engine_.EndStreamsAtOnce(false);
  clock_.Advance(800ms);
  ASSERT_TRUE(testing::PollUntil([&] { return engine_.streams_open() == 1; }));
  ++listings;
  engine_.Send(DieEvent("c7", clock_.Now()));
  ASSERT_TRUE(testing::PollUntil([&] { return c7.load() == 1; }));
  engine_.EndStreams();
  ASSERT_TRUE(Parked(1, listings));
  ExpectPause(100ms, listings, 1);
}

// Verify that while watches are pending and the stream is up, the containers
// are listed again (and the stream opened again) every relist_interval, which
// finds an exit the stream never told; with no watch left, nothing more.
TEST_F(ExitWatcherTest, RelistFindsAnExitTheStreamMissed) {
  engine_.SetContainer("c8", "running");
  engine_.SetContainer("c9", "running");
  ExitWatcher watcher(DockerEngine(engine_.host()), Options());
  std::atomic<int> calls = 0;
  watcher.Watch("c8", [&] { ++calls; });
  const uint64_t c9 = watcher.Watch("c9", [] {});
  ASSERT_TRUE(testing::PollUntil([&] { return engine_.streams_open() == 1; }));
  // The relisting waits on the clock; the stream is read.
  ASSERT_TRUE(Parked(1, 1, 1));
  engine_.SetContainer("c8", "exited");  // and no event says so

  clock_.Advance(59s);
  EXPECT_FALSE(testing::PollUntil([&] { return engine_.listings() > 1; }, 100ms));
  EXPECT_EQ(calls.load(), 0);
  clock_.Advance(1s);
  EXPECT_TRUE(testing::PollUntil([&] { return calls.load() == 1; }));
  EXPECT_EQ(engine_.listings(), 2);
  EXPECT_EQ(watcher.opened(), 2);
  // The stream is opened again too: one that went half-open is replaced.
  EXPECT_TRUE(testing::PollUntil(
      [&] { return engine_.streams_opened() == 2 && engine_.streams_open() == 1; }));
  ASSERT_TRUE(Parked(1, 2, 1));

  ASSERT_TRUE(watcher.Take(c9));
  clock_.Advance(120s);
  EXPECT_FALSE(testing::PollUntil([&] { return engine_.listings() > 2; }, 100ms));
}

}  // namespace
}  // namespace skiff::runtime::docker
