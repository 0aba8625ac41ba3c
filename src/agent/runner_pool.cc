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

void RunnerPool::JoinEndedLocked() {
  // Each pushed its id with mu_ held and only returns after: the join waits
  // for no more than its exit.
  for (std::thread::id id : ended_) {
    auto it = std::find_if(threads_.begin(), threads_.end(),
                           [&](const std::thread& t) { return t.get_id() == id; });
    if (it != threads_.end()) {
      it->join();
      threads_.erase(it);
    }
  }
  ended_.clear();
}

void RunnerPool::SpawnLocked(bool extra) {
  JoinEndedLocked();
  ++alive_;
  ++starting_;
  threads_.emplace_back([this, extra] { Worker(extra); });
}

void RunnerPool::MaybeSpawnLocked() {
  // Someone must wait for the head of the queue: with every thread busy (in
  // long stops, say), a job due meanwhile would wait for them.
  if (!stopping_ && !queue_.empty() && idle_ + starting_ == 0 && alive_ < options_.max_threads) {
    SpawnLocked(/*extra=*/true);
  }
}

void RunnerPool::ScheduleLocked(PoolJob* job, Entry& entry, MonoTime due) {
  queue_.erase({entry.due, entry.seq, job});
  entry.due = due;
  entry.seq = next_seq_++;
  queue_.insert({due, entry.seq, job});
  ++changes_;
}

void RunnerPool::Add(PoolJob* job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || entries_.count(job) > 0) return;
    ScheduleLocked(job, entries_[job], clock_->MonotonicNow());
    MaybeSpawnLocked();
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
    // Already due: it keeps its place.
    const MonoTime now = clock_->MonotonicNow();
    if (it->second.due <= now) return;
    ScheduleLocked(job, it->second, now);
    MaybeSpawnLocked();
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
  queue_.erase({it->second.due, it->second.seq, job});
  entries_.erase(it);
}

int RunnerPool::threads() const {
  std::lock_guard lock(mu_);
  return alive_;
}

size_t RunnerPool::unjoined_threads() const {
  std::lock_guard lock(mu_);
  return threads_.size();
}

size_t RunnerPool::jobs() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void RunnerPool::Worker(bool extra) {
  std::unique_lock lock(mu_);
  --starting_;
  MonoTime idle_since = clock_->MonotonicNow();
  while (!stopping_) {
    if (!ended_.empty()) JoinEndedLocked();
    const MonoTime now = clock_->MonotonicNow();
    if (!queue_.empty() && std::get<0>(*queue_.begin()) <= now) {
      PoolJob* job = std::get<2>(*queue_.begin());
      queue_.erase(queue_.begin());
      Entry& entry = entries_[job];
      entry.due = MonoTime::max();
      entry.running = true;
      // The rest of the queue needs a thread that is free to run it.
      MaybeSpawnLocked();
      lock.unlock();
      const MonoTime next = job->RunOnce();
      lock.lock();
      auto it = entries_.find(job);
      if (it != entries_.end()) {
        it->second.running = false;
        const bool rerun = it->second.rerun;
        it->second.rerun = false;
        if (rerun || next != MonoTime::max()) {
          // No spawn: this thread is about to look at the queue itself.
          ScheduleLocked(job, it->second, rerun ? clock_->MonotonicNow() : next);
        }
      }
      done_cv_.notify_all();
      idle_since = clock_->MonotonicNow();
      continue;
    }
    // An extra thread idle long enough ends, unless it is the only one left
    // to wait for the queue's head.
    const bool idle_long = extra && now - idle_since >= options_.idle_exit;
    if (idle_long && (idle_ > 0 || queue_.empty())) break;
    MonoTime until = queue_.empty() ? MonoTime::max() : std::get<0>(*queue_.begin());
    if (extra && !idle_long) until = std::min(until, idle_since + options_.idle_exit);
    const uint64_t seen = changes_;
    ++idle_;
    clock_->WaitUntil(cv_, lock, until, [&] { return stopping_ || changes_ != seen; });
    --idle_;
  }
  --alive_;
  if (!stopping_) {
    ended_.push_back(std::this_thread::get_id());
    // A thread that stays joins this one (else its stack stays mapped until
    // the next burst).
    ++changes_;
    cv_.notify_one();
  }
}

}  // namespace skiff::agent
