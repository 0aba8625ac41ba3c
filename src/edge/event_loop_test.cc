#include "edge/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "fakes/io_engines.h"

namespace skiff::edge {
namespace {

// Counts its events; optionally removes another handler when called.
class Recorder final : public EventLoop::Handler {
 public:
  void OnEvents(uint32_t events) override {
    ++calls;
    last = events;
    if (on_event) on_event();
  }
  int calls = 0;
  uint32_t last = 0;
  std::function<void()> on_event;
};

// Every test runs on each engine.
class EventLoopTest : public ::testing::TestWithParam<IoEngine> {
 protected:
  void SetUp() override {
    SKIFF_REQUIRE_IO_ENGINE(GetParam());
    Result<std::unique_ptr<EventLoop>> created = EventLoop::Create(GetParam());
    ASSERT_TRUE(created) << created.error().message;
    loop_ = std::move(*created);
    ASSERT_EQ(loop_->engine(), GetParam());
  }
  std::unique_ptr<EventLoop> loop_;
};

// Verify that a task posted from another thread runs on the loop, and Stop
// ends Run.
TEST_P(EventLoopTest, PostRunsOnTheLoopThread) {
  EventLoop& loop = *loop_;
  std::thread::id ran_on;
  std::thread runner([&] { loop.Run(); });
  std::atomic<bool> done{false};
  loop.Post([&] {
    ran_on = std::this_thread::get_id();
    done = true;
    loop.Stop();
  });
  runner.join();
  EXPECT_TRUE(done);
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

// Verify edge-triggered readiness: data on a socket is reported once, not
// again until more arrives.
TEST_P(EventLoopTest, ReportsReadinessOncePerEdge) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  EventLoop& loop = *loop_;
  Recorder reader;
  ASSERT_TRUE(loop.Add(fds[0], &reader));
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  int sweeps = 0;
  loop.SetSweep([&] {
    if (++sweeps == 2) loop.Stop();
  });
  loop.Run();  // two sweeps: about half a second
  EXPECT_EQ(reader.calls, 1) << "writable and readable arrive together, once";
  EXPECT_TRUE(reader.last & EPOLLIN);
  EXPECT_TRUE(reader.last & EPOLLOUT);
  close(fds[0]);
  close(fds[1]);
}

// Verify that a handler removed during a round gets none of the events still
// pending for it in that round, and that deferred work runs after the round.
TEST_P(EventLoopTest, RemovedHandlersGetNoMoreEvents) {
  int a[2], b[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
  EventLoop& loop = *loop_;
  Recorder first, second;
  bool deferred_ran = false;
  // Whichever is called first removes the other; the other must not be called.
  first.on_event = [&] {
    loop.Remove(b[0], &second);
    loop.Defer([&] { deferred_ran = true; });
  };
  second.on_event = [&] {
    loop.Remove(a[0], &first);
    loop.Defer([&] { deferred_ran = true; });
  };
  ASSERT_TRUE(loop.Add(a[0], &first));
  ASSERT_TRUE(loop.Add(b[0], &second));
  loop.SetSweep([&] { loop.Stop(); });
  loop.Run();
  EXPECT_EQ(first.calls + second.calls, 1);
  EXPECT_TRUE(deferred_ran);
  for (int fd : {a[0], a[1], b[0], b[1]}) close(fd);
}

// Verify that Recv gives what arrived, then EAGAIN, and 0 once the peer has
// closed; and that the peer's end is reported (EPOLLRDHUP).
TEST_P(EventLoopTest, RecvSeesDataThenThePeersEnd) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  EventLoop& loop = *loop_;
  Recorder reader;
  std::string got;
  bool again = false;
  bool ended = false;
  reader.on_event = [&] {
    char buf[64];
    for (;;) {
      const ssize_t n = loop.Recv(fds[0], buf, sizeof buf);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EAGAIN) {
        again = true;
        close(fds[1]);  // the peer ends after its bytes were read
        fds[1] = -1;
      }
      if (n == 0) {
        ended = true;
        EXPECT_TRUE(reader.last & EPOLLRDHUP);
        loop.Close(fds[0], &reader);
        loop.Stop();
      }
      return;
    }
  };
  ASSERT_TRUE(loop.Add(fds[0], &reader));
  ASSERT_EQ(write(fds[1], "hello", 5), 5);
  loop.Run();
  EXPECT_EQ(got, "hello");
  EXPECT_TRUE(again);
  EXPECT_TRUE(ended);
}

// Verify that the bytes Send took reach the peer even when the socket is
// closed at once, and that the peer then sees the end.
TEST_P(EventLoopTest, CloseAfterSendDeliversTheBytes) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  EventLoop& loop = *loop_;
  Recorder writer;
  const std::string message(20000, 'x');
  writer.on_event = [&] {
    iovec iov{const_cast<char*>(message.data()), message.size()};
    EXPECT_EQ(loop.Send(fds[0], &iov, 1), static_cast<ssize_t>(message.size()));
    loop.Close(fds[0], &writer);
    loop.Stop();
  };
  ASSERT_TRUE(loop.Add(fds[0], &writer));
  loop.Run();
  std::string got;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fds[1], buf, sizeof buf);
    if (n <= 0) {
      EXPECT_EQ(n, 0) << "the end, not an error";
      break;
    }
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, message);
  close(fds[1]);
}

// Verify that Send stops taking bytes while the peer reads none (what waits
// stays bounded), reports EPOLLOUT once the peer has read, and that what it
// took arrives whole and in order.
TEST_P(EventLoopTest, SendStopsUntilThePeerReads) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  EventLoop& loop = *loop_;
  Recorder writer;
  const std::string message = skiff::testing::PatternedBytes(16 << 20);
  const size_t chunk = 16 << 10;
  size_t taken = 0;
  std::string got;
  std::thread reader;
  bool refused = false;
  bool resumed = false;
  writer.on_event = [&] {
    if (refused && (writer.last & EPOLLOUT)) {
      resumed = true;
      loop.Close(fds[0], &writer);
      loop.Stop();
      return;
    }
    if (refused) return;
    for (int i = 0; i < 1000; ++i) {
      iovec iov{const_cast<char*>(message.data()) + taken, chunk};
      const ssize_t n = loop.Send(fds[0], &iov, 1);
      if (n < 0) {
        EXPECT_EQ(errno, EAGAIN);
        refused = true;
        break;
      }
      taken += static_cast<size_t>(n);
    }
    ASSERT_TRUE(refused) << "16 MiB taken while the peer read nothing";
    // The peer reads now, from another thread, until the writer is closed.
    reader = std::thread([&got, fd = fds[1]] {
      char buf[65536];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
    });
  };
  ASSERT_TRUE(loop.Add(fds[0], &writer));
  ASSERT_EQ(fcntl(fds[1], F_SETFL, 0), 0);  // the reader blocks
  loop.Run();
  if (reader.joinable()) reader.join();
  close(fds[1]);
  EXPECT_TRUE(resumed);
  EXPECT_LT(taken, size_t{4} << 20);
  EXPECT_EQ(got.size(), taken);
  EXPECT_TRUE(got == message.substr(0, taken)) << "the bytes arrived altered";
}

// Verify that a handler that takes no bytes stops the engine too: while the
// peer goes on writing megabytes, what the engine holds for the socket stays
// under its bound (io_uring's 64 KiB stage cap; epoll holds none) and the
// peer's writes block.
TEST_P(EventLoopTest, AReaderThatTakesNothingStopsTheEngine) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  ASSERT_EQ(fcntl(fds[1], F_SETFL, 0), 0);  // the writer blocks
  EventLoop& loop = *loop_;
  constexpr size_t kBound = 64 << 10;
  constexpr size_t kTotal = 16 << 20;
  std::atomic<size_t> written{0};
  std::thread writer([&written, fd = fds[1]] {
    const std::string chunk(16 << 10, 'x');
    while (written < kTotal) {
      const ssize_t n = send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the reader's end closed
      written += static_cast<size_t>(n);
    }
  });
  size_t most_staged = 0;
  Recorder reader;
  reader.on_event = [&] { most_staged = std::max(most_staged, loop.staged_bytes()); };
  ASSERT_TRUE(loop.Add(fds[0], &reader));
  // Running for a while (the bound must hold however long): eight sweeps.
  int sweeps = 0;
  loop.SetSweep([&] {
    most_staged = std::max(most_staged, loop.staged_bytes());
    if (++sweeps == 8) loop.Stop();
  });
  loop.Run();
  EXPECT_GT(reader.calls, 0);
  EXPECT_LT(most_staged, kBound);
  EXPECT_LT(written.load(), kTotal) << "the peer wrote everything to a reader that took nothing";
  loop_.reset();  // the engine lets go of the socket
  close(fds[0]);  // the blocked writer fails (EPIPE) and ends
  writer.join();
  close(fds[1]);
}

// Verify that a socket closed with bytes still to go delivers them all, in
// order, to a peer that reads slowly for longer than the close grace: the
// engine gives up only on a peer that reads nothing for that long.
TEST_P(EventLoopTest, ClosedSocketsLastBytesReachASlowReader) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  const int small = 4096;  // the kernel takes little at a time
  ASSERT_EQ(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  EventLoop& loop = *loop_;
  loop.SetCloseGrace(std::chrono::seconds(1));
  const std::string message = skiff::testing::PatternedBytes(160 << 10);
  size_t taken = 0;
  Recorder writer;
  writer.on_event = [&] {
    while (taken < message.size()) {
      iovec iov{const_cast<char*>(message.data()) + taken, message.size() - taken};
      const ssize_t n = loop.Send(fds[0], &iov, 1);
      if (n < 0) return;  // EPOLLOUT follows
      taken += static_cast<size_t>(n);
    }
    loop.Close(fds[0], &writer);  // io_uring: with up to its send cap still to go
  };
  // 4 KiB every 100 ms (pacing the reader, not synchronising): the last bytes
  // take seconds after the close, far past the grace, with progress all along.
  std::string got;
  std::thread reader([&, fd = fds[1]] {
    char buf[4096];
    for (;;) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EAGAIN)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    loop.Stop();
  });
  ASSERT_TRUE(loop.Add(fds[0], &writer));
  loop.Run();
  reader.join();
  close(fds[1]);
  EXPECT_EQ(got.size(), message.size());
  EXPECT_TRUE(got == message) << "the bytes arrived altered";
}

// Verify that a closed socket the engine still holds (io_uring: its last
// bytes wait for a peer that reads none) shows in the closing gauge (the edge
// counts it against its connection cap), until the engine lets it go.
TEST_P(EventLoopTest, HeldClosedSocketsShowInTheClosingGauge) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  const int small = 4096;  // the kernel takes little
  ASSERT_EQ(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  EventLoop& loop = *loop_;
  std::atomic<size_t> closing{0};
  loop.SetClosingGauge(&closing);
  const std::string message(100 << 10, 'x');
  size_t held = 0;
  Recorder writer;
  writer.on_event = [&] {
    iovec iov{const_cast<char*>(message.data()), message.size()};
    loop.Send(fds[0], &iov, 1);
    loop.Close(fds[0], &writer);
    loop.Defer([&] {
      held = closing.load();
      close(fds[1]);  // the peer goes: the last sends fail, the engine lets go
      fds[1] = -1;
    });
  };
  ASSERT_TRUE(loop.Add(fds[0], &writer));
  loop.SetSweep([&] {
    if (fds[1] < 0 && closing.load() == 0) loop.Stop();
  });
  loop.Run();
  EXPECT_EQ(held, GetParam() == IoEngine::kUring ? 1u : 0u);
  EXPECT_EQ(closing.load(), 0u);
}

// Verify that a socket the kernel will not accept on (bound, not listening:
// EINVAL) does not keep the loop busy trying again.
TEST_P(EventLoopTest, RefusedAcceptIsNotRetriedInABusyLoop) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  EventLoop& loop = *loop_;
  class : public EventLoop::Acceptor {
    void OnAccept(int accepted, const sockaddr_storage&) override { close(accepted); }
  } acceptor;
  ASSERT_TRUE(loop.AddListener(fd, &acceptor));
  // Three sweeps: about three quarters of a second of running, in which an
  // idle loop runs a round or two a sweep and a busy one thousands.
  int sweeps = 0;
  loop.SetSweep([&] {
    if (++sweeps == 3) loop.Stop();
  });
  loop.Run();
  EXPECT_LT(loop.rounds(), 30u);
  loop.RemoveListener(fd, &acceptor);
  close(fd);
}

INSTANTIATE_TEST_SUITE_P(Engines, EventLoopTest,
                         ::testing::ValuesIn(skiff::testing::EdgeIoEngines()),
                         [](const auto& info) { return skiff::testing::IoEngineTestName(info); });

}  // namespace
}  // namespace skiff::edge
