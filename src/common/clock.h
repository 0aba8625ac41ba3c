// Clock: the only source of "now" for logic that decides on time (backoff,
// heartbeats, health grace, cooldowns), so tests drive time by hand.
#pragma once

#include <chrono>
#include <mutex>

namespace skiff {

using Time = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Thread-safe. Wall-clock time (timestamps are stored and shown to users).
  virtual Time Now() const = 0;
};

// The real clock. Stateless; one shared instance.
class SystemClock final : public Clock {
 public:
  static SystemClock* Get();
  Time Now() const override { return std::chrono::system_clock::now(); }
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Time start = Time(std::chrono::seconds(1'700'000'000))) : now_(start) {}
  Time Now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void Advance(Duration d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }
  void Set(Time t) {
    std::lock_guard lock(mu_);
    now_ = t;
  }

 private:
  mutable std::mutex mu_;
  Time now_;  // GUARDED_BY(mu_)
};

}  // namespace skiff
