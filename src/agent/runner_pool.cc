#include "agent/runner_pool.h"

#include <algorithm>

#include "common/check.h"

namespace skiff::agent {

RunnerPool::RunnerPool(const Clock* clock, RunnerPoolOptions options)
    : clock_(clock), options_(options) {}

RunnerPool::~RunnerPool() { Stop(); }

void RunnerPool::Start() {
  std::lock_guard lock(mu_);
  SKIFF_CHECK(threads_.empty());
  for (int i = 0; i < std::max(1, options_.min_threads); ++i) SpawnLocked(/*extra=*/false);
}

void RunnerPool::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  // Threads may still spawn others until they see stopping_: join until none is left.
  while (true) {
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    if (threads.empty()) break;
    for (std::thread& t : threads) t.join();
    threads.clear();
  }
  std::lock_guard lock(mu_);
  entries_.clear();
  queue_.clear();
}

void RunnerPool::SpawnLocked(bool extra) {
  // Threads that ended on their own are joined here, so they hold nothing.
  for (std::thread::id id : ended_) {
    auto it = std::find_if(threads_.begin(), threads_.end(),
                           [&](const std::thread& t) { return t.get_id() == id; });
    if (it != threads_.end()) {
      it->join();
      threads_.erase(it);
    }
  }
  ended_.clear();
  ++alive_;
  threads_.emplace_back([this, extra] { Worker(extra); });
}

void RunnerPool::ScheduleLocked(PoolJob* job, Entry& entry, MonoTime due) {
  queue_.erase({entry.due, job});
  entry.due = due;
  queue_.insert({due, job});
  ++changes_;
  // Due now and nobody idle to take it: one more thread.
  if (idle_ == 0 && due <= clock_->MonotonicNow() && alive_ < options_.max_threads && !stopping_) {
    SpawnLocked(/*extra=*/true);
  }
}

void RunnerPool::Add(PoolJob* job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || entries_.count(job) > 0) return;
    ScheduleLocked(job, entries_[job], MonoTime::min());
  }
  cv_.notify_one();
}

void RunnerPool::Wake(PoolJob* job) {
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(job);
    if (it == entries_.end()) return;
    if (it->second.running) {
      it->second.rerun = true;
      return;
    }
    ScheduleLocked(job, it->second, MonoTime::min());
  }
  cv_.notify_one();
}

void RunnerPool::Remove(PoolJob* job) {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] {
    auto it = entries_.find(job);
    return it == entries_.end() || !it->second.running;
  });
  auto it = entries_.find(job);
  if (it == entries_.end()) return;
  queue_.erase({it->second.due, job});
  entries_.erase(it);
}

int RunnerPool::threads() const {
  std::lock_guard lock(mu_);
  return alive_;
}

void RunnerPool::Worker(bool extra) {
  std::unique_lock lock(mu_);
  MonoTime idle_since = clock_->MonotonicNow();
  while (!stopping_) {
    const MonoTime now = clock_->MonotonicNow();
    if (!queue_.empty() && queue_.begin()->first <= now) {
      PoolJob* job = queue_.begin()->second;
      queue_.erase(queue_.begin());
      Entry& entry = entries_[job];
      entry.due = MonoTime::max();
      entry.running = true;
      // More is due and nobody is idle to take it (the others may be in long
      // stops): one more thread.
      if (!queue_.empty() && queue_.begin()->first <= now && idle_ == 0 &&
          alive_ < options_.max_threads) {
        SpawnLocked(/*extra=*/true);
      }
      lock.unlock();
      const MonoTime next = job->RunOnce();
      lock.lock();
      auto it = entries_.find(job);
      if (it != entries_.end()) {
        it->second.running = false;
        const bool rerun = it->second.rerun;
        it->second.rerun = false;
        if (rerun || next != MonoTime::max()) {
          ScheduleLocked(job, it->second, rerun ? MonoTime::min() : next);
        }
      }
      done_cv_.notify_all();
      idle_since = clock_->MonotonicNow();
      continue;
    }
    if (extra && now - idle_since >= options_.idle_exit) break;
    MonoTime until = queue_.empty() ? MonoTime::max() : queue_.begin()->first;
    if (extra) until = std::min(until, idle_since + options_.idle_exit);
    const uint64_t seen = changes_;
    ++idle_;
    clock_->WaitUntil(cv_, lock, until, [&] { return stopping_ || changes_ != seen; });
    --idle_;
  }
  --alive_;
  if (!stopping_) ended_.push_back(std::this_thread::get_id());
}

}  // namespace skiff::agent
