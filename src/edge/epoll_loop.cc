#include "edge/epoll_loop.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/check.h"
#include "common/logging.h"

namespace skiff::edge {
namespace {

constexpr int kMaxEpollEvents = 256;

// The wake descriptor's "handler": a tag that no real handler can equal.
EventLoop::Handler* const kEpollWakeTag = reinterpret_cast<EventLoop::Handler*>(1);

}  // namespace

// A listening socket as a handler: accepts all that is pending when woken.
class EpollLoop::Listener final : public EventLoop::Handler {
 public:
  Listener(int epoll_fd, int fd, Acceptor* acceptor)
      : epoll_fd_(epoll_fd), fd_(fd), acceptor_(acceptor) {}
  int fd() const { return fd_; }
  Acceptor* acceptor() const { return acceptor_; }

  void OnEvents(uint32_t /*events*/) override {
    for (;;) {
      sockaddr_storage peer{};
      socklen_t size = sizeof peer;
      const int fd =
          accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &size, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        if (errno == EINVAL) {
          // Not listening: reported ready on every wait, a busy loop. This
          // loop stops watching it (RemoveListener still may).
          SKIFF_LOG_ERROR("edge: cannot accept on fd {}: {}; this thread accepts no more", fd_,
                          std::strerror(errno));
          epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd_, nullptr);
          return;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) {
          SKIFF_LOG_WARN("edge: accept failed: {}", std::strerror(errno));
        }
        return;
      }
      acceptor_->OnAccept(fd, peer);
    }
  }

 private:
  const int epoll_fd_;
  const int fd_;
  Acceptor* const acceptor_;
};

EpollLoop::EpollLoop() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
  SKIFF_CHECK(epoll_fd_ >= 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = kEpollWakeTag;
  SKIFF_CHECK(epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0);
}

EpollLoop::~EpollLoop() { close(epoll_fd_); }

Status EpollLoop::Add(int fd, Handler* handler) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return Unavailable(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  return OkStatus();
}

Status EpollLoop::AddListener(int fd, Acceptor* acceptor) {
  auto listener = std::make_unique<Listener>(epoll_fd_, fd, acceptor);
  // Level-triggered and exclusive: when several loops watch the same socket,
  // a new connection wakes only one of them.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.ptr = listener.get();
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return Unavailable(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  listeners_.push_back(std::move(listener));
  return OkStatus();
}

void EpollLoop::RemoveListener(int fd, Acceptor* acceptor) {
  for (auto it = listeners_.begin(); it != listeners_.end(); ++it) {
    if ((*it)->fd() != fd || (*it)->acceptor() != acceptor) continue;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    if (dispatching_) removed_.push_back(it->get());
    // Freed after the round: an event for it may still be pending in this one.
    Defer([listener = std::shared_ptr<Listener>(std::move(*it))] {});
    listeners_.erase(it);
    return;
  }
}

void EpollLoop::Remove(int fd, Handler* handler) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  if (dispatching_) removed_.push_back(handler);
}

void EpollLoop::Close(int fd, Handler* handler) {
  Remove(fd, handler);
  // What the socket took is the kernel's: close(2) still sends it.
  close(fd);
}

void EpollLoop::Abort(int fd, Handler* handler) {
  Remove(fd, handler);
  ResetOnClose(fd);
  close(fd);
}

ssize_t EpollLoop::Recv(int fd, char* buffer, size_t size) {
  for (;;) {
    const ssize_t n = recv(fd, buffer, size, 0);
    if (n >= 0 || errno != EINTR) return n;
  }
}

ssize_t EpollLoop::Send(int fd, const iovec* iov, int count) {
  if (count == 1) return send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(iov);
  message.msg_iovlen = static_cast<size_t>(count);
  return sendmsg(fd, &message, MSG_NOSIGNAL);
}

void EpollLoop::ShutdownWrite(int fd) { shutdown(fd, SHUT_WR); }

void EpollLoop::Run() {
  epoll_event events[kMaxEpollEvents];
  while (!stopping()) {
    const int wait_ms = SweepIfDue();
    const int n = epoll_wait(epoll_fd_, events, kMaxEpollEvents, wait_ms);
    if (n < 0) {
      SKIFF_CHECK(errno == EINTR);
      continue;
    }
    dispatching_ = true;
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      Handler* handler = static_cast<Handler*>(events[i].data.ptr);
      if (handler == kEpollWakeTag) {
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
