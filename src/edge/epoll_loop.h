// The epoll engine of EventLoop (event_loop.h): every socket registered once,
// edge-triggered, for both directions; Recv and Send are the syscalls
// themselves. The fallback where io_uring is not available.
#pragma once

#include <vector>

#include "edge/event_loop.h"

namespace skiff::edge {

class EpollLoop final : public EventLoop {
 public:
  EpollLoop();
  ~EpollLoop() override;

  IoEngine engine() const override { return IoEngine::kEpoll; }
  Status Add(int fd, Handler* handler) override;
  Status AddConnecting(int fd, Handler* handler) override { return Add(fd, handler); }
  Status AddListener(int fd, Acceptor* acceptor) override;
  void RemoveListener(int fd, Acceptor* acceptor) override;
  void Remove(int fd, Handler* handler) override;
  void Close(int fd, Handler* handler) override;
  void Abort(int fd, Handler* handler) override;
  ssize_t Recv(int fd, char* buffer, size_t size) override;
  ssize_t Send(int fd, const iovec* iov, int count) override;
  void ShutdownWrite(int fd) override;
  void Run() override;

 private:
  class Listener;

  const int epoll_fd_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  // Handlers removed during the current round: their pending events are dropped.
  std::vector<const void*> removed_;
  bool dispatching_ = false;
};

}  // namespace skiff::edge
