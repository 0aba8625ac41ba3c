// Waker: how an edge asks the control plane to wake an app that sleeps
// (docs/scale-to-zero.md) while it holds requests for it. The ask itself may
// block (an HTTP call to the server), so it runs on the Waker's own thread,
// never on a worker's: a worker only notes that it holds a request.
//
// For each app asked about, `wake` is called at once, then again every
// `repeat` while the app still has held requests (AppState::held above
// zero): a wake lost on the way (a server restarting, a leader changing)
// is asked again, and a crowd of held requests costs one call a period.
//
// Time is `clock`'s (tests drive a ManualClock, waker_test.cc).
//
// Thread-safety: Ask from any thread; it takes a short lock, never one held
// while `wake` runs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "edge/endpoint_state.h"

namespace skiff::edge {

class Waker {
 public:
  // Asks the control plane to wake `app`; errors are the callee's to log
  // (the next period asks again).
  using Wake = std::function<void(const std::string& app)>;

  // REQUIRES: `clock` outlives the Waker.
  Waker(Wake wake, std::chrono::milliseconds repeat, const Clock* clock = SystemClock::Get());
  ~Waker();  // stops the thread (a call in progress finishes first)
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  // A request for `app` is held (`state` counts them): calls `wake` soon,
  // unless it was called for `app` within `repeat` while requests stayed
  // held. `first`: no other request was held for it (the app went to sleep
  // again since the last call, say): called at once, at most every
  // kMinGap.
  void Ask(const std::string& app, std::shared_ptr<AppState> state, bool first);

  static constexpr std::chrono::milliseconds kMinGap{100};

 private:
  struct Asked {
    std::shared_ptr<AppState> state;
    MonoTime next{};  // when it may be called again
    MonoTime last{};  // when it was last called
  };
  void Run();

  const Wake wake_;
  const std::chrono::milliseconds repeat_;
  const Clock* const clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                  // GUARDED_BY(mu_)
  bool asked_ = false;                 // GUARDED_BY(mu_): Ask has news for Run
  std::map<std::string, Asked> apps_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace skiff::edge
