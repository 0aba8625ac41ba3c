// EventLoop: one thread's epoll loop, the edge's own I/O engine. The edge's
// data path does not go through Asio: a proxied request must cost four
// syscalls (a read and a write on each side) and nothing per request beyond
// them, so descriptors are registered once, edge-triggered, for both
// directions, and their owners track readiness themselves.
//
// Timeouts are coarse: every kSweepInterval the loop calls the sweep hook,
// which checks its connections' deadlines (no timer is armed or cancelled per
// request).
//
// Thread-safety: Post() and Stop() may be called from any thread; everything
// else only from the loop's own thread (the one in Run()).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "common/result.h"

namespace skiff::edge {

class EventLoop {
 public:
  // What a registered descriptor's owner implements. `events` is epoll's mask.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void OnEvents(uint32_t events) = 0;
  };

  static constexpr std::chrono::milliseconds kSweepInterval{250};

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` for input, output and peer hang-up, edge-triggered, until
  // Remove(fd) or close. kUnavailable when epoll refuses (out of memory).
  Status Add(int fd, Handler* handler);
  // Watches a listening socket, level-triggered and exclusive: when several
  // loops watch the same socket, a new connection wakes only one of them.
  Status AddListener(int fd, Handler* handler);
  // Stops watching `fd`. Call before closing it when events for it may still
  // be pending in this round (the loop drops events of removed handlers).
  void Remove(int fd, Handler* handler);

  // Runs `task` on the loop's thread soon. Thread-safe.
  void Post(std::function<void()> task);

  // Runs `task` at the end of the current round of events (or of the next, when
  // called outside one): for freeing what an event handler still stands on.
  // Loop thread only.
  void Defer(std::function<void()> task) { deferred_.push_back(std::move(task)); }

  // Called on the loop's thread about every kSweepInterval.
  void SetSweep(std::function<void()> sweep) { sweep_ = std::move(sweep); }

  // Runs until Stop(). REQUIRES: called from one thread once.
  void Run();
  // Makes Run() return after the current round. Thread-safe.
  void Stop();

 private:
  void RunPosted();
  void RunDeferred();

  const int epoll_fd_;
  const int wake_fd_;  // eventfd: Post() and Stop() wake the loop
  std::function<void()> sweep_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::function<void()>> posted_;  // GUARDED_BY(mu_)
  // Handlers removed during the current round: their pending events are dropped.
  std::vector<Handler*> removed_;
  std::vector<std::function<void()>> deferred_;
  bool dispatching_ = false;
};

}  // namespace skiff::edge
