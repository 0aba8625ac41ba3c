#include "edge/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/check.h"

namespace skiff::edge {
namespace {

constexpr int kMaxEvents = 256;

// The wake descriptor's "handler": a tag that no real handler can equal.
EventLoop::Handler* const kWakeTag = reinterpret_cast<EventLoop::Handler*>(1);

}  // namespace

EventLoop::EventLoop()
    : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)), wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  SKIFF_CHECK(epoll_fd_ >= 0 && wake_fd_ >= 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = kWakeTag;
  SKIFF_CHECK(epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0);
}

EventLoop::~EventLoop() {
  close(wake_fd_);
  close(epoll_fd_);
}

Status EventLoop::Add(int fd, Handler* handler) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return Unavailable(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  return OkStatus();
}

Status EventLoop::AddListener(int fd, Handler* handler) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return Unavailable(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  return OkStatus();
}

void EventLoop::Remove(int fd, Handler* handler) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  if (dispatching_) removed_.push_back(handler);
}

void EventLoop::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    posted_.push_back(std::move(task));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void EventLoop::Stop() {
  stop_.store(true);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
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

void EventLoop::Run() {
  epoll_event events[kMaxEvents];
  auto next_sweep = std::chrono::steady_clock::now() + kSweepInterval;
  while (!stop_.load(std::memory_order_relaxed)) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_sweep) {
      if (sweep_) sweep_();
      RunDeferred();
      next_sweep = now + kSweepInterval;
    }
    const int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(next_sweep - now).count() + 1);
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, wait_ms);
    if (n < 0) {
      SKIFF_CHECK(errno == EINTR);
      continue;
    }
    dispatching_ = true;
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      Handler* handler = static_cast<Handler*>(events[i].data.ptr);
      if (handler == kWakeTag) {
        woken = true;
        continue;
      }
      if (!removed_.empty() &&
          std::find(removed_.begin(), removed_.end(), handler) != removed_.end()) {
        continue;
      }
      handler->OnEvents(events[i].events);
    }
    dispatching_ = false;
    removed_.clear();
    if (woken) RunPosted();
    RunDeferred();
  }
}

}  // namespace skiff::edge
