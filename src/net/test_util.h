// Test-only helpers shared by the net tests: an io_context run on two threads
// (as the real server runs) and a coroutine that waits for a flag.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

namespace skiff::net::testing {

namespace asio = boost::asio;

// Runs an io_context on `threads` threads until destroyed.
class IoThreads {
 public:
  explicit IoThreads(int threads = 2) : guard_(asio::make_work_guard(io_)) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~IoThreads() {
    guard_.reset();
    io_.stop();
    for (auto& thread : threads_) thread.join();
  }
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

// Suspends the calling coroutine until `flag` is true, re-checking every few
// milliseconds (handlers under test wait for the test's signal this way).
inline asio::awaitable<void> WaitFor(const std::atomic<bool>& flag) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!flag.load()) {
    timer.expires_after(std::chrono::milliseconds(2));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

}  // namespace skiff::net::testing
