// Reporter: delivers an agent's instance reports to the control plane in the
// order they were made, from its own thread, so instance workers never block
// on the control plane. While it is unavailable, reports wait and are retried
// (the instances keep running meanwhile). A report refused for the node's
// credential (kUnauthenticated) waits too: the owner is told (so the node
// joins again) and it is sent again once that is done. A report refused for
// another reason (the instance was deleted: kNotFound) is dropped.
//
// Thread-safety: Report may be called from any thread. Start/Stop from the owner.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "protocol/control_plane.h"

namespace skiff::agent {

class Reporter {
 public:
  // `control_plane` and `clock` must outlive the reporter. `retry` is the
  // wait after a failed delivery. `credential_refused` (optional) is called on
  // the reporter's thread when the control plane refuses the node's
  // credential; it must not block.
  Reporter(protocol::ControlPlane* control_plane, Duration retry,
           const Clock* clock = SystemClock::Get(),
           std::function<void()> credential_refused = nullptr);
  ~Reporter();  // Stops.

  void Start();
  // Stops the thread promptly: what is queued gets one delivery attempt within
  // a short budget, the rest is dropped (the next agent re-derives it from what
  // it finds).
  void Stop();

  // Queues `report` for delivery. Never blocks on the control plane.
  void Report(protocol::InstanceReport report);

  // Reports queued and not yet delivered.
  size_t pending() const;

 private:
  void Run();
  // REQUIRES: lock holds mu_.
  void DrainLocked(std::unique_lock<std::mutex>& lock);

  // A bound: a very long outage must not grow memory without limit.
  static constexpr size_t kMaxQueued = 10000;
  static constexpr std::chrono::milliseconds kDrainBudget{1000};

  protocol::ControlPlane* const control_plane_;
  const Duration retry_;
  const Clock* const clock_;
  const std::function<void()> credential_refused_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<protocol::InstanceReport> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                       // GUARDED_BY(mu_)
  bool in_flight_ = false;                      // queue_.front() is being sent; GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace skiff::agent
