#include "edge/uring_loop.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/check.h"
#include "fakes/io_engines.h"

namespace skiff::edge {
namespace {

using skiff::testing::PatternedBytes;

// One socket on the loop: takes what its peer sends, sends `payload` to it,
// then ends its side; closes once it has both the peer's end and its own out.
class Echoless final : public EventLoop::Handler {
 public:
  Echoless(EventLoop* loop, int fd, const std::string* payload, int* open)
      : loop_(loop), fd_(fd), payload_(payload), open_(open) {}
  void OnEvents(uint32_t /*events*/) override {
    char buffer[4096];
    for (;;) {
      const ssize_t n = loop_->Recv(fd_, buffer, sizeof buffer);
      if (n > 0) {
        got.append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) eof_ = true;
      break;
    }
    while (sent_ < payload_->size()) {
      iovec iov{const_cast<char*>(payload_->data()) + sent_, payload_->size() - sent_};
      const ssize_t n = loop_->Send(fd_, &iov, 1);
      if (n <= 0) break;
      sent_ += static_cast<size_t>(n);
      if (sent_ == payload_->size()) loop_->ShutdownWrite(fd_);
    }
    if (eof_ && sent_ == payload_->size() && !closed_) {
      closed_ = true;
      loop_->Close(fd_, this);
      if (--*open_ == 0) loop_->Stop();
    }
  }
  std::string got;

 private:
  EventLoop* loop_;
  int fd_;
  const std::string* payload_;
  int* open_;
  size_t sent_ = 0;
  bool eof_ = false;
  bool closed_ = false;
};

// The peers, on a thread of their own: each writes `payload` and ends its
// side, and reads until the loop's end (which may come first). On a stall
// (nothing moves for 10 s) it gives up and stops `loop`, failing the test.
std::vector<std::string> RunPeers(const std::vector<int>& fds, const std::string& payload,
                                  EventLoop* loop) {
  std::vector<std::string> got(fds.size());
  std::vector<size_t> written(fds.size(), 0);
  std::vector<bool> ended(fds.size(), false);
  size_t open = fds.size();    // not yet at the loop's end
  size_t unsent = fds.size();  // not yet written whole
  while (open > 0 || unsent > 0) {
    std::vector<pollfd> polls;
    for (size_t i = 0; i < fds.size(); ++i) {
      short events = ended[i] ? 0 : POLLIN;
      if (written[i] < payload.size()) events |= POLLOUT;
      polls.push_back({fds[i], events, 0});
    }
    if (poll(polls.data(), polls.size(), 10000) <= 0) {
      loop->Stop();
      break;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if ((polls[i].revents & POLLOUT) != 0 && written[i] < payload.size()) {
        const ssize_t n =
            send(fds[i], payload.data() + written[i], payload.size() - written[i], MSG_NOSIGNAL);
        if (n > 0) written[i] += static_cast<size_t>(n);
        if (n < 0 && errno != EAGAIN) {  // the loop closed early: give up (the test fails)
          written[i] = payload.size();
          if (!ended[i]) --open;
          ended[i] = true;
        }
        if (written[i] == payload.size()) {
          shutdown(fds[i], SHUT_WR);
          --unsent;
        }
      }
      if ((polls[i].revents & (POLLIN | POLLHUP)) != 0 && !ended[i]) {
        char buffer[16384];
        const ssize_t n = read(fds[i], buffer, sizeof buffer);
        if (n > 0) got[i].append(buffer, static_cast<size_t>(n));
        if (n == 0) {
          ended[i] = true;
          --open;
        }
      }
    }
  }
  return got;
}

// Verify that with queues far smaller than the sockets' operations (the
// submission queue fills within every round, and the kernel has more
// completions than its completion queue holds) every byte still goes
// through, whole and in order, both ways, and every socket sees its end.
TEST(UringLoopTest, TinyQueuesLoseNoBytes) {
  SKIFF_REQUIRE_IO_ENGINE(IoEngine::kUring);
  UringLoopOptions options;
  options.queue_depth = 2;
  options.completion_depth = 4;
  Result<std::unique_ptr<EventLoop>> created = NewUringLoop(options);
  ASSERT_TRUE(created) << created.error().message;
  EventLoop& loop = **created;
  constexpr int kSockets = 32;
  // Larger than a ring buffer and than a socket's stage cap: many recvs.
  const std::string payload = PatternedBytes(300 << 10);
  int open = kSockets;
  std::vector<std::unique_ptr<Echoless>> handlers;
  std::vector<int> peers;
  for (int i = 0; i < kSockets; ++i) {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    handlers.push_back(std::make_unique<Echoless>(&loop, fds[0], &payload, &open));
    ASSERT_TRUE(loop.Add(fds[0], handlers.back().get()));
    peers.push_back(fds[1]);
  }
  std::vector<std::string> peers_got;
  std::thread peer_thread([&] { peers_got = RunPeers(peers, payload, &loop); });
  loop.Run();
  peer_thread.join();
  EXPECT_EQ(open, 0);
  for (int i = 0; i < kSockets; ++i) {
    EXPECT_TRUE(handlers[i]->got == payload)
        << "socket " << i << " got " << handlers[i]->got.size() << " bytes";
    EXPECT_TRUE(peers_got[i] == payload)
        << "peer " << i << " got " << peers_got[i].size() << " bytes";
    close(peers[i]);
  }
}

// Verify that io_uring's ring, set up by the thread that first adds a socket,
// refuses to be run by another (its single issuer): a checked failure that
// says so, not a submission the kernel turns down (EEXIST) later.
TEST(UringLoopTest, RingStaysWithTheThreadThatSetItUp) {
  SKIFF_REQUIRE_IO_ENGINE(IoEngine::kUring);
  Result<std::unique_ptr<EventLoop>> created = NewUringLoop();
  ASSERT_TRUE(created) << created.error().message;
  EventLoop& loop = **created;
  EXPECT_DEATH(
      {
        int fds[2];
        SKIFF_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
        Echoless handler(&loop, fds[0], nullptr, nullptr);
        SKIFF_CHECK(loop.Add(fds[0], &handler));
        std::thread([&] { loop.Run(); }).join();
      },
      "issuer_");
}

}  // namespace
}  // namespace skiff::edge
