#include "common/clock.h"

#include <algorithm>

namespace skiff {

void Clock::SleepFor(Duration d) const {
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lock(mu);
  WaitFor(cv, lock, d, [] { return false; });
}

SystemClock* SystemClock::Get() {
  static SystemClock clock;
  return &clock;
}

bool SystemClock::WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                            MonoTime deadline, const std::function<bool()>& done) const {
  // A far deadline (MonoTime::max(): "only when told") is waited for in
  // slices: converting it for the kernel would overflow.
  constexpr auto kSlice = std::chrono::hours(24);
  while (!done()) {
    const MonoTime now = MonotonicNow();
    if (now >= deadline) return false;
    cv.wait_until(lock, deadline - now > kSlice ? now + kSlice : deadline);
  }
  return true;
}

// One thread inside ManualClock::WaitUntil. `mu` guards `alive`: while it is
// true, the waiter's own mutex and condition variable exist.
struct ManualClock::Waiter {
  std::mutex mu;
  bool alive = true;
  std::mutex* lock_mutex;
  std::condition_variable* cv;
};

ManualClock::ManualClock(Time start) : now_(start), mono_(MonoTime(std::chrono::hours(24 * 365))) {}

ManualClock::~ManualClock() = default;

Time ManualClock::Now() const {
  std::lock_guard lock(mu_);
  return now_;
}

MonoTime ManualClock::MonotonicNow() const {
  std::lock_guard lock(mu_);
  return mono_;
}

int ManualClock::waiters() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(waiters_.size());
}

bool ManualClock::WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                            MonoTime deadline, const std::function<bool()>& done) const {
  auto waiter = std::make_shared<Waiter>();
  waiter->lock_mutex = lock.mutex();
  waiter->cv = &cv;
  {
    std::lock_guard guard(mu_);
    waiters_.push_back(waiter);
  }
  // Registered before the time is read: an Advance after the read takes the
  // waiter's mutex before it notifies, so it cannot slip in before cv.wait.
  while (!done() && MonotonicNow() < deadline) cv.wait(lock);
  // Unregistered without the caller's mutex: WakeAll takes waiter->mu then
  // the caller's mutex, so holding both the other way round would deadlock.
  lock.unlock();
  {
    std::lock_guard guard(waiter->mu);
    waiter->alive = false;
  }
  {
    std::lock_guard guard(mu_);
    waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), waiter), waiters_.end());
  }
  lock.lock();
  return done();
}

void ManualClock::WakeAll() const {
  std::vector<std::shared_ptr<Waiter>> waiters;
  {
    std::lock_guard guard(mu_);
    waiters = waiters_;
  }
  for (const auto& waiter : waiters) {
    std::lock_guard guard(waiter->mu);
    if (!waiter->alive) continue;
    // Taking the waiter's mutex orders this wake after its check of the time.
    { std::lock_guard caller(*waiter->lock_mutex); }
    waiter->cv->notify_all();
  }
}

void ManualClock::Advance(Duration d) {
  {
    std::lock_guard lock(mu_);
    now_ += d;
    mono_ += d;
  }
  WakeAll();
}

void ManualClock::Set(Time t) {
  {
    std::lock_guard lock(mu_);
    if (t > now_) mono_ += t - now_;
    now_ = t;
  }
  WakeAll();
}

}  // namespace skiff
