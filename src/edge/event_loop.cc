#include "edge/event_loop.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/check.h"
#include "edge/epoll_loop.h"
#include "edge/uring_loop.h"

namespace skiff::edge {

std::string_view IoEngineName(IoEngine engine) {
  switch (engine) {
    case IoEngine::kAuto:
      return "auto";
    case IoEngine::kEpoll:
      return "epoll";
    case IoEngine::kUring:
      return "io_uring";
  }
  return "?";
}

Result<IoEngine> ParseIoEngine(std::string_view name) {
  if (name == "auto") return IoEngine::kAuto;
  if (name == "epoll") return IoEngine::kEpoll;
  if (name == "io_uring" || name == "uring") return IoEngine::kUring;
  return InvalidArgument("unknown I/O engine \"" + std::string(name) +
                         "\" (auto, epoll or io_uring)");
}

Status EventLoop::UringAvailable() {
  // Probed once: setting a ring up and tearing it down costs a few syscalls
  // and the answer does not change while the process runs.
  static const Status available = [] {
    Result<std::unique_ptr<EventLoop>> loop = NewUringLoop();
    return loop ? OkStatus() : Status(tl::unexpected(loop.error()));
  }();
  return available;
}

Result<std::unique_ptr<EventLoop>> EventLoop::Create(IoEngine engine) {
  if (engine == IoEngine::kEpoll || (engine == IoEngine::kAuto && !UringAvailable())) {
    return std::unique_ptr<EventLoop>(new EpollLoop());
  }
  return NewUringLoop();
}

EventLoop::EventLoop()
    : wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      next_sweep_(std::chrono::steady_clock::now() + kSweepInterval) {
  SKIFF_CHECK(wake_fd_ >= 0);
}

EventLoop::~EventLoop() { close(wake_fd_); }

void EventLoop::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void EventLoop::Stop(std::chrono::steady_clock::time_point drain_until) {
  drain_until_.store(drain_until.time_since_epoch().count(), std::memory_order_relaxed);
  stop_.store(true, std::memory_order_release);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void EventLoop::ResetOnClose(int fd) {
  const linger reset{.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
}

void EventLoop::RunPosted() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof count);
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(mu_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks) task();
}

void EventLoop::RunDeferred() {
  while (!deferred_.empty()) {
    std::vector<std::function<void()>> tasks;
    tasks.swap(deferred_);
    for (auto& task : tasks) task();
  }
}

int EventLoop::SweepIfDue() {
  ++rounds_;
  auto now = std::chrono::steady_clock::now();
  if (now >= next_sweep_) {
    if (sweep_) sweep_();
    RunDeferred();
    next_sweep_ = now + kSweepInterval;
  }
  return static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(next_sweep_ - now).count() + 1);
}

}  // namespace skiff::edge
