#include "edge/waker.h"

#include <algorithm>
#include <vector>

namespace skiff::edge {

Waker::Waker(Wake wake, std::chrono::milliseconds repeat, const Clock* clock)
    : wake_(std::move(wake)), repeat_(repeat), clock_(clock), thread_([this] { Run(); }) {}

Waker::~Waker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Waker::Ask(const std::string& app, std::shared_ptr<AppState> state, bool first) {
  {
    std::lock_guard lock(mu_);
    auto [it, fresh] = apps_.try_emplace(app);
    it->second.state = std::move(state);
    if (!fresh && !first) return;  // the thread asks again while requests are held
    if (!fresh) it->second.next = std::min(it->second.next, it->second.last + kMinGap);
    asked_ = true;
  }
  cv_.notify_one();
}

void Waker::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    asked_ = false;
    const MonoTime now = clock_->MonotonicNow();
    std::vector<std::string> due;
    MonoTime next = MonoTime::max();
    for (auto it = apps_.begin(); it != apps_.end();) {
      Asked& asked = it->second;
      const bool holding = asked.state->held.load(std::memory_order_relaxed) > 0;
      // Forgotten only once its period is over, so a request held again
      // soon after does not make another call at once.
      if (!holding && asked.next <= now) {
        it = apps_.erase(it);
        continue;
      }
      if (holding && asked.next <= now) {
        due.push_back(it->first);
        asked.next = now + repeat_;
        asked.last = now;
      }
      next = std::min(next, asked.next);
      ++it;
    }
    if (!due.empty()) {
      lock.unlock();
      for (const std::string& app : due) wake_(app);
      lock.lock();
      continue;
    }
    // (MonoTime::max(): until an Ask; the clock waits for it in slices.)
    clock_->WaitUntil(cv_, lock, next, [this] { return stop_ || asked_; });
  }
}

}  // namespace skiff::edge
