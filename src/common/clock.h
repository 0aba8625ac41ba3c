// Clock: the only source of "now" and of timed waits for logic that decides on
// time (backoff, heartbeats, health grace, drains, stop graces, cooldowns), so
// tests drive time by hand (leveldb's Env idea). Wall time (Now) is what is
// stored and shown; monotonic time (MonotonicNow) is what intervals and
// deadlines are measured in, so a stepped wall clock never stretches a wait.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace skiff {

using Time = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;
using MonoTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  // Thread-safe. Wall-clock time (timestamps are stored and shown to users).
  virtual Time Now() const = 0;
  // Thread-safe. Monotonic time: never goes back.
  virtual MonoTime MonotonicNow() const = 0;

  // Waits on `cv` (which the caller notifies when `done` may have turned
  // true) until `done()` or MonotonicNow() >= `deadline`, and returns done().
  // Like std::condition_variable::wait_until, `done` is evaluated with `lock`
  // held, and `lock` is held again on return.
  // REQUIRES: `lock` owns the mutex that guards what `done` reads and that
  // the notifier of `cv` takes.
  virtual bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                         MonoTime deadline, const std::function<bool()>& done) const = 0;

  // WaitUntil(cv, lock, MonotonicNow() + d, done).
  bool WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, Duration d,
               const std::function<bool()>& done) const {
    return WaitUntil(cv, lock, MonotonicNow() + d, done);
  }

  // Blocks the calling thread for `d` of this clock's time. Thread-safe.
  void SleepFor(Duration d) const;
};

// The real clock. Stateless; one shared instance.
class SystemClock final : public Clock {
 public:
  static SystemClock* Get();
  Time Now() const override { return std::chrono::system_clock::now(); }
  MonoTime MonotonicNow() const override { return std::chrono::steady_clock::now(); }
  bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, MonoTime deadline,
                 const std::function<bool()>& done) const override;
};

// A clock that moves only when told to. Waits end when Advance or Set moves
// the monotonic time past their deadline. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Time start = Time(std::chrono::seconds(1'700'000'000)));
  ~ManualClock() override;

  Time Now() const override;
  MonoTime MonotonicNow() const override;
  bool WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, MonoTime deadline,
                 const std::function<bool()>& done) const override;

  // Moves both times forward by `d` and wakes the waits that may be due.
  // REQUIRES: the caller holds no mutex that a waiter on this clock waits with.
  void Advance(Duration d);
  // Sets the wall time (the monotonic time moves forward by as much, or not
  // at all when `t` is earlier: it never goes back).
  void Set(Time t);

  // How many threads wait on this clock now (tests use it to know a loop is
  // parked before they advance time).
  int waiters() const;

 private:
  struct Waiter;
  void WakeAll() const;

  mutable std::mutex mu_;
  Time now_;                                              // GUARDED_BY(mu_)
  MonoTime mono_;                                         // GUARDED_BY(mu_)
  mutable std::vector<std::shared_ptr<Waiter>> waiters_;  // GUARDED_BY(mu_)
};

}  // namespace skiff
