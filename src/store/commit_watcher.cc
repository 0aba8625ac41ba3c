#include "store/commit_watcher.h"

#include <algorithm>

#include "common/check.h"

namespace skiff::store {

CommitWatcher::CommitWatcher(Store* store) : store_(store) {
  subscription_ = store_->Subscribe([this](int64_t revision) {
    {
      std::lock_guard lock(mu_);
      seen_ = std::max(seen_, revision);
    }
    cv_.notify_all();
  });
  // After subscribing: a commit before this read is in it, one after is notified.
  const int64_t now = store_->Revision();
  std::lock_guard lock(mu_);
  seen_ = std::max(seen_, now);
}

CommitWatcher::~CommitWatcher() {
  Stop();
  subscription_.reset();
}

int64_t CommitWatcher::WaitPast(int64_t seen, Duration timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return stopping_ || seen_ > seen; });
  return seen_;
}

void CommitWatcher::Start(Round round, int64_t handled) {
  SKIFF_CHECK(!thread_.joinable() && round_ == nullptr);
  round_ = std::move(round);
  thread_ = std::thread([this, handled] { Loop(handled); });
}

void CommitWatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CommitWatcher::Loop(int64_t handled) {
  Duration wait = kNoTimer;
  while (true) {
    {
      std::unique_lock lock(mu_);
      auto ready = [&] { return stopping_ || seen_ > handled; };
      if (wait == kNoTimer) {
        cv_.wait(lock, ready);
      } else {
        cv_.wait_for(lock, wait, ready);  // run out: the round's timer is due
      }
      if (stopping_) return;
    }
    // The store's revision, which may be newer than the notifications heard of:
    // a commit whose notification is still on its way then makes no extra round.
    const int64_t revision = store_->Revision();
    handled = std::max(handled, revision);
    wait = round_(revision);
  }
}

}  // namespace skiff::store
