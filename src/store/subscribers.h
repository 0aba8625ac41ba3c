// SubscriberHub: the Subscribe/notify half of a Store, shared by every store.
//
// A subscription may be destroyed while another thread is inside its callback:
// destruction marks it cancelled (so no new call starts) and then waits for the
// calls already running on other threads to return, which is what the Store
// contract promises. The hub is held by shared_ptr from both the store and each
// subscription, so either may outlive the other.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/store.h"

namespace skiff::store {

class SubscriberHub : public std::enable_shared_from_this<SubscriberHub> {
 public:
  static std::shared_ptr<SubscriberHub> Create();

  // Thread-safe. The callback runs on the thread that calls Notify.
  std::unique_ptr<Subscription> Subscribe(std::function<void(int64_t)> on_commit);

  // Calls every live subscription's callback with `revision`.
  // REQUIRES: the caller holds no store lock (callbacks may call back into the store).
  void Notify(int64_t revision);

 private:
  struct Entry {
    explicit Entry(std::function<void(int64_t)> f) : callback(std::move(f)) {}
    const std::function<void(int64_t)> callback;
    std::mutex mu;
    std::condition_variable idle;
    bool cancelled = false;                // GUARDED_BY(mu)
    std::vector<std::thread::id> running;  // GUARDED_BY(mu): threads inside callback
  };
  class Handle;

  SubscriberHub() = default;
  void Remove(const std::shared_ptr<Entry>& entry);

  std::mutex mu_;
  std::vector<std::shared_ptr<Entry>> entries_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::store
