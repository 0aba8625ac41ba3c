// The Waker on a ManualClock: one call per app however many requests are
// held, asked again every `repeat` while they are (a control plane that does
// not answer is asked again, through PostWake to a scripted endpoint), and
// forgotten once none is. Each call records the clock's time, so a call made
// too early shows as a wrong time; after each step the test waits until the
// Waker has parked again (WakerClock), so a call made when none is due shows
// as a count that changed, whatever the scheduling.
#include "edge/waker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "edge/post_wake.h"
#include "fakes/scripted_upstream.h"
#include "fakes/testing.h"

namespace skiff::edge {
namespace {

using namespace std::chrono_literals;
using skiff::testing::PollUntil;
using skiff::testing::ScriptedUpstream;

constexpr std::chrono::milliseconds kWakerRepeat = 1000ms;

// A ManualClock that notes when a wait on it parks: each time the waiter
// finds itself not done before its deadline and goes to sleep, with the time
// it saw. The Waker parks only after the calls that were due, so once it has
// parked at a time, its calls for that time are all made.
class WakerClock final : public Clock {
 public:
  Time Now() const override { return inner_.Now(); }
  MonoTime MonotonicNow() const override { return inner_.MonotonicNow(); }
  bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, MonoTime deadline,
                 const std::function<bool()>& done) const override {
    // ManualClock evaluates `done`, then the time, before each wait: the
    // same decision, made here under the caller's lock.
    return inner_.WaitUntil(cv, lock, deadline, [&] {
      const bool is_done = done();
      const MonoTime now = inner_.MonotonicNow();
      if (!is_done && now < deadline) {
        std::lock_guard guard(mu_);
        ++parks_;
        parked_at_ = now;
      }
      return is_done;
    });
  }

  // Moves the time by `d`, then waits until the waiter has parked at the
  // new time (all it had due then is done).
  void Advance(Duration d) {
    inner_.Advance(d);
    const MonoTime now = inner_.MonotonicNow();
    EXPECT_TRUE(PollUntil([&] {
      std::lock_guard guard(mu_);
      return parked_at_ >= now;
    }));
  }
  int parks() const {
    std::lock_guard guard(mu_);
    return parks_;
  }
  // Waits until the waiter has parked again since parks() was `before`.
  void Parked(int before) const {
    EXPECT_TRUE(PollUntil([&] { return parks() > before; }));
  }

 private:
  ManualClock inner_;
  mutable std::mutex mu_;
  mutable int parks_ = 0;         // GUARDED_BY(mu_)
  mutable MonoTime parked_at_{};  // GUARDED_BY(mu_)
};

// The calls a Waker made: when (on the clock), by app.
class WakerCalls {
 public:
  explicit WakerCalls(const Clock* clock) : clock_(clock) {}
  Waker::Wake Fn() {
    return [this](const std::string& app) {
      std::lock_guard lock(mu_);
      calls_[app].push_back(clock_->MonotonicNow());
    };
  }
  // The times of `app`'s calls, as offsets from `start`.
  std::vector<Duration> Of(const std::string& app, MonoTime start) {
    std::lock_guard lock(mu_);
    std::vector<Duration> out;
    for (MonoTime t : calls_[app]) out.push_back(std::chrono::duration_cast<Duration>(t - start));
    return out;
  }
  size_t Count(const std::string& app) {
    std::lock_guard lock(mu_);
    return calls_[app].size();
  }

 private:
  const Clock* clock_;
  std::mutex mu_;
  std::map<std::string, std::vector<MonoTime>> calls_;  // GUARDED_BY(mu_)
};

// A request held for the app of `state`, as Session::Hold notes it.
void WakerHold(Waker& waker, const std::string& app, const std::shared_ptr<AppState>& state) {
  const int before = state->held.fetch_add(1);
  waker.Ask(app, state, before == 0);
}

// WakerHold, then waits until the Waker has taken it in and parked again.
// REQUIRES: the Waker was parked.
void WakerHoldParked(WakerClock& clock, Waker& waker, const std::string& app,
                     const std::shared_ptr<AppState>& state) {
  const int parks = clock.parks();
  WakerHold(waker, app, state);
  clock.Parked(parks);
}

// A Waker whose calls are noted (`calls`), on a clock that started at `start`,
// and the state of an app "web" (declared last: the Waker stops first).
class WakerCallsTest : public ::testing::Test {
 protected:
  WakerClock clock;
  const MonoTime start = clock.MonotonicNow();
  WakerCalls calls{&clock};
  std::shared_ptr<AppState> web = std::make_shared<AppState>();
  Waker waker{calls.Fn(), kWakerRepeat, &clock};
};

// Verify that however many requests are held for an app (from several
// threads), the Waker calls once at once per app, and once more per period
// while they stay held: never in between.
TEST_F(WakerCallsTest, OneCallPerAppAndPeriod) {
  auto api = std::make_shared<AppState>();

  // The first hold alone: two first holds racing each other would each count
  // as the app's first (the edge's Hold can do that; it costs one early call
  // after kMinGap), and this test counts calls.
  WakerHold(waker, "web", web);
  std::vector<std::thread> holders;
  for (int t = 0; t < 3; ++t) {
    holders.emplace_back([&] {
      for (int i = 0; i < 33; ++i) WakerHold(waker, "web", web);
    });
  }
  for (std::thread& t : holders) t.join();
  WakerHold(waker, "api", api);
  EXPECT_EQ(web->held.load(), 100);
  ASSERT_TRUE(PollUntil([&] { return calls.Count("web") == 1 && calls.Count("api") == 1; }));

  clock.Advance(kWakerRepeat - 1ms);
  // More held mid-period: no call of their own (Ask does not even wake the
  // thread, which stays parked).
  WakerHold(waker, "web", web);
  EXPECT_EQ(calls.Count("web"), 1u);
  EXPECT_EQ(calls.Count("api"), 1u);
  clock.Advance(1ms);
  EXPECT_EQ(calls.Count("web"), 2u);
  EXPECT_EQ(calls.Count("api"), 2u);
  EXPECT_EQ(calls.Of("web", start), (std::vector<Duration>{0ms, kWakerRepeat}));
  EXPECT_EQ(calls.Of("api", start), (std::vector<Duration>{0ms, kWakerRepeat}));
}

// Verify that once no request is held the Waker stops calling and forgets
// the app, and that the app's next held request is called for at once.
TEST_F(WakerCallsTest, StopsWhenNoneHeldAndAsksAtOnceAgain) {
  WakerHold(waker, "web", web);
  ASSERT_TRUE(PollUntil([&] { return calls.Count("web") == 1; }));
  web->held = 0;  // the instance came: the request went on
  clock.Advance(kWakerRepeat);
  EXPECT_EQ(calls.Count("web"), 1u);
  clock.Advance(10 * kWakerRepeat);  // nothing held: no call
  EXPECT_EQ(calls.Count("web"), 1u);
  WakerHoldParked(clock, waker, "web", web);
  EXPECT_EQ(calls.Count("web"), 2u);
  EXPECT_EQ(calls.Of("web", start), (std::vector<Duration>{0ms, 11 * kWakerRepeat}));
}

// Verify that an app that went to sleep again soon after a call (its first
// held request again, within the period) is called for kMinGap after the
// last call, not at once and not a whole period later.
TEST_F(WakerCallsTest, SleepingAgainWithinAPeriodWaitsOnlyTheMinGap) {
  WakerHold(waker, "web", web);
  ASSERT_TRUE(PollUntil([&] { return calls.Count("web") == 1; }));
  web->held = 0;
  clock.Advance(10ms);
  WakerHoldParked(clock, waker, "web", web);  // first again
  EXPECT_EQ(calls.Count("web"), 1u);
  clock.Advance(Waker::kMinGap - 10ms - 1ms);
  EXPECT_EQ(calls.Count("web"), 1u);
  clock.Advance(1ms);
  EXPECT_EQ(calls.Count("web"), 2u);
  EXPECT_EQ(calls.Of("web", start), (std::vector<Duration>{0ms, Waker::kMinGap}));
}

// Verify that while the control plane cannot wake the app (it answers 503),
// the Waker asks again every period through PostWake, one POST per period
// for the app however many requests are held, with the app in the body; and
// that once none is held it asks no more.
TEST(WakerTest, RetriesThroughPostWakeWhileTheControlPlaneIsUnavailable) {
  std::atomic<int> refuse{2};  // the first two asks find no leader
  ScriptedUpstream control_plane([&](const ScriptedUpstream::Request&) {
    if (refuse.fetch_sub(1) > 0) {
      const std::string body = R"({"error":{"code":"unavailable","message":"no leader"}})";
      return ScriptedUpstream::Action{
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Content-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body};
    }
    return ScriptedUpstream::Ok(R"({"app":"web"})");
  });
  WakerClock clock;
  Waker waker(PostWake(net::ServerPool("http://" + control_plane.address()), "edge-token",
                       [] { return std::string("edge-a"); }),
              kWakerRepeat, &clock);
  auto web = std::make_shared<AppState>();
  for (int i = 0; i < 50; ++i) WakerHold(waker, "web", web);

  const auto posts = [&] { return control_plane.requests().size(); };
  ASSERT_TRUE(PollUntil([&] { return posts() == 1; }));
  for (size_t n = 2; n <= 4; ++n) {  // two refused, one taken, one more while still held
    clock.Advance(kWakerRepeat - 1ms);
    EXPECT_EQ(posts(), n - 1) << n;
    clock.Advance(1ms);  // the POST is made before the Waker parks again
    EXPECT_EQ(posts(), n) << n;
  }
  for (const ScriptedUpstream::Request& r : control_plane.requests()) {
    EXPECT_EQ(r.line, "POST /v1/edges/edge-a/wake HTTP/1.1");
    EXPECT_EQ(r.body, R"({"app":"web"})");
  }

  web->held = 0;
  clock.Advance(kWakerRepeat);
  clock.Advance(10 * kWakerRepeat);  // nothing held: no POST
  EXPECT_EQ(posts(), 4u);
  WakerHoldParked(clock, waker, "api", std::make_shared<AppState>());
  EXPECT_EQ(posts(), 5u);
  EXPECT_EQ(control_plane.requests().back().body, R"({"app":"api"})");
}

}  // namespace
}  // namespace skiff::edge
