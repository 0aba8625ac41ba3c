#include "edge/event_loop.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

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

// Verify that a task posted from another thread runs on the loop, and Stop
// ends Run.
TEST(EventLoopTest, PostRunsOnTheLoopThread) {
  EventLoop loop;
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
TEST(EventLoopTest, ReportsReadinessOncePerEdge) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  EventLoop loop;
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
TEST(EventLoopTest, RemovedHandlersGetNoMoreEvents) {
  int a[2], b[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
  EventLoop loop;
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

}  // namespace
}  // namespace skiff::edge
