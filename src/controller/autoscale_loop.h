// AutoscaleLoop: runs the autoscaler policy (controller/autoscaler.h) for
// every app whose spec has `autoscale`, once per cluster (on the leader:
// server/leader_loops.h), and writes its decisions: the app's
// autoscaled_replicas changes without a new revision (model::DesiredReplicas),
// and each change is an "app.autoscaled" event whose message says why
// ("autoscale: 2 → 4: p95 310 ms > 250 ms over 60s"). The reconciler and
// the rollout planner then start or stop instances as for any count.
//
// Where the signals come from is the caller's to say (SignalsFn: in the
// server, the live metrics the edges and agents report to the leader), so
// the loop needs nothing of the server.
//
// Thread-safety: Start and Stop from one thread; RunOnce is for tests (not
// concurrently with a started loop).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "common/clock.h"
#include "common/result.h"
#include "controller/autoscaler.h"
#include "model/resources.h"
#include "store/store.h"

namespace skiff::controller {

class AutoscaleLoop {
 public:
  // The app's signals over the last `window` before `now`. Called from the
  // loop's thread; must be thread-safe.
  using SignalsFn =
      std::function<AutoscaleSignals(const model::App& app, Duration window, Time now)>;

  struct Options {
    // How often every app is looked at: the signals are averaged over each
    // app's window, so this only bounds how late a decision can come.
    Duration interval = std::chrono::seconds(5);
    // Writes are fenced at this epoch (store::Txn::Fenced: the leader's term
    // the loop runs in); 0: not fenced.
    int64_t fence_epoch = 0;
    // How often this server samples the apps' signals (--sample-interval,
    // not the loop's `interval`): an app whose autoscale.window is shorter
    // gets one "app.autoscale_warning" event per (window, sample interval),
    // across terms (the API checked the window against the interval of the
    // server that took the apply). 0: not checked.
    Duration sample_interval{0};
  };

  // `store` and `clock` are not owned and must outlive the loop.
  AutoscaleLoop(store::Store* store, const Clock* clock, SignalsFn signals, Options options);
  ~AutoscaleLoop();  // Stops.
  AutoscaleLoop(const AutoscaleLoop&) = delete;
  AutoscaleLoop& operator=(const AutoscaleLoop&) = delete;

  // Starts the thread: a pass at once, then one every interval.
  // REQUIRES: called once.
  void Start();
  // Idempotent; joins the thread.
  void Stop();

  // One pass over every app: decides, and commits each change (an app
  // changed meanwhile is left to the next pass). Returns how many apps it
  // scaled; the store's error when it could not list them.
  Result<int> RunOnce();

 private:
  // Decides for `app` and commits a change; false when nothing changed.
  // A scale in or sleep holds while its current revision rolls out
  // (deployment pending or progressing) and until max(window,
  // cooldown_down) has passed since it settled; a scale out holds while a
  // canary is not promoted or a blue-green set not switched to. Holds write
  // no event.
  Result<bool> Decide(const model::App& app, Time now);
  // What the app's current deployment holds at `now`.
  struct Hold {
    bool in = false;   // scale in and sleep
    bool out = false;  // scale out (never a wake from 0)
  };
  Result<Hold> RolloutHold(const model::App& app, Time now) const;
  // The warning of Options::sample_interval, when it applies to `app`.
  void WarnOfShortWindow(const model::App& app, Time now);
  void Run();

  store::Store* const store_;
  const Clock* const clock_;
  const SignalsFn signals_;
  const Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
  // App -> the (window, sample interval) it was warned of (found in its
  // events, or written); entries of apps no longer listed are dropped. The
  // loop's thread only.
  std::map<std::string, std::pair<Duration, Duration>> short_window_warned_;
};

}  // namespace skiff::controller
