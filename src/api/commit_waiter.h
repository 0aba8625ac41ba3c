// CommitWaiter: lets a streaming handler sleep until the store commits, without
// blocking its thread. The store calls its subscribers on the committing
// thread; the waiter turns that into a cancelled timer on the handler's
// executor, so the coroutine wakes up on its own strand.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>

#include "common/clock.h"
#include "store/store.h"

namespace skiff::api {

class CommitWaiter {
 public:
  // Subscribes at once, so a commit after construction is never missed.
  // REQUIRES: `executor` is the waiting coroutine's executor and serialises its
  // handlers (a strand, or a single-threaded io_context); `store` outlives this.
  CommitWaiter(store::Store* store, boost::asio::any_io_executor executor);
  // Unsubscribes (waiting for a callback running on another thread to return).
  ~CommitWaiter();
  CommitWaiter(const CommitWaiter&) = delete;
  CommitWaiter& operator=(const CommitWaiter&) = delete;

  // Completes once the store revision is past `seen`, or after `max_wait`
  // (so the caller can check on its client now and then). At most one wait at a time.
  boost::asio::awaitable<void> WaitPast(int64_t seen, Duration max_wait);

 private:
  struct State {
    explicit State(boost::asio::any_io_executor ex) : timer(std::move(ex)) {}
    boost::asio::steady_timer timer;
  };

  store::Store* store_;
  // Shared only with weak pointers in posted wake-ups, which find it gone after
  // the waiter is destroyed.
  std::shared_ptr<State> state_;
  std::unique_ptr<store::Subscription> subscription_;
};

}  // namespace skiff::api
