// ExitPoller: finds the exits of tasks whose driver does not announce them,
// by asking Driver::Inspect for each watched task every `interval` on one
// thread (Driver::WatchExit's default). One poller serves every such driver
// of an agent.
//
// Thread-safety: Watch may be called from any thread; Start and Stop from
// the owner. Callbacks run on the poller's thread with no lock held.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "runtime/driver.h"

namespace skiff::runtime {

class ExitPoller {
 public:
  // `clock` must outlive the poller.
  ExitPoller(const Clock* clock, Duration interval);
  ~ExitPoller();  // Stops.
  ExitPoller(const ExitPoller&) = delete;
  ExitPoller& operator=(const ExitPoller&) = delete;

  void Start();
  // Ends the thread; watches still pending are dropped (their callbacks are
  // never called). Idempotent.
  void Stop();

  // Calls `on_exit` once `driver` says the task is not running (or does not
  // know it). REQUIRES: `driver` outlives the poller's Stop.
  void Watch(Driver* driver, const TaskHandle& handle, std::function<void()> on_exit);

  // Watches pending (tests).
  size_t watching() const;

 private:
  struct Watched {
    Driver* driver;
    TaskHandle handle;
    std::function<void()> on_exit;
  };
  void Run();

  const Clock* const clock_;
  const Duration interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Watched> watched_;  // GUARDED_BY(mu_)
  bool stopping_ = false;         // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace skiff::runtime
