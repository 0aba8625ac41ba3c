// EdgeProxy::Listen and its I/O engines: what happens when a thread cannot
// set its engine up after the probe said it could.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "edge/edge_proxy.h"
#include "fakes/io_engines.h"
#include "net/http_client.h"

namespace skiff::edge {
namespace {

// An io_uring loop as a thread finds it when the kernel refuses its ring
// (memory or a limit ran out after the probe): setting it up fails. Nothing
// else is reached.
class RefusingUringLoop final : public EventLoop {
 public:
  IoEngine engine() const override { return IoEngine::kUring; }
  Status Prepare() override { return Unavailable("io_uring_setup: Cannot allocate memory"); }
  Status AddListener(int /*fd*/, Acceptor* /*acceptor*/) override { return Unavailable("unused"); }
  Status Add(int /*fd*/, Handler* /*handler*/) override { return Unavailable("unused"); }
  Status AddConnecting(int /*fd*/, Handler* /*handler*/) override { return Unavailable("unused"); }
  void RemoveListener(int /*fd*/, Acceptor* /*acceptor*/) override {}
  void Remove(int /*fd*/, Handler* /*handler*/) override {}
  void Close(int /*fd*/, Handler* /*handler*/) override {}
  void Abort(int /*fd*/, Handler* /*handler*/) override {}
  ssize_t Recv(int /*fd*/, char* /*buffer*/, size_t /*size*/) override { return -1; }
  ssize_t Send(int /*fd*/, const iovec* /*iov*/, int /*count*/) override { return -1; }
  void ShutdownWrite(int /*fd*/) override {}
  void Run() override {}
};

// A real loop that counts the listening sockets it was given.
class CountingLoop final : public EventLoop {
 public:
  CountingLoop(std::unique_ptr<EventLoop> inner, std::atomic<int>* listeners)
      : inner_(std::move(inner)), listeners_(listeners) {}
  IoEngine engine() const override { return inner_->engine(); }
  Status Prepare() override { return inner_->Prepare(); }
  Status AddListener(int fd, Acceptor* acceptor) override {
    ++*listeners_;
    return inner_->AddListener(fd, acceptor);
  }
  Status Add(int fd, Handler* handler) override { return inner_->Add(fd, handler); }
  Status AddConnecting(int fd, Handler* handler) override {
    return inner_->AddConnecting(fd, handler);
  }
  void RemoveListener(int fd, Acceptor* acceptor) override { inner_->RemoveListener(fd, acceptor); }
  void Remove(int fd, Handler* handler) override { inner_->Remove(fd, handler); }
  void Close(int fd, Handler* handler) override { inner_->Close(fd, handler); }
  void Abort(int fd, Handler* handler) override { inner_->Abort(fd, handler); }
  ssize_t Recv(int fd, char* buffer, size_t size) override {
    return inner_->Recv(fd, buffer, size);
  }
  ssize_t Send(int fd, const iovec* iov, int count) override {
    return inner_->Send(fd, iov, count);
  }
  void ShutdownWrite(int fd) override { inner_->ShutdownWrite(fd); }
  void Run() override { inner_->Run(); }

 private:
  std::unique_ptr<EventLoop> inner_;
  std::atomic<int>* listeners_;
};

// Two threads: asked for io_uring, the first gets a real one (counting in
// *uring_listeners the listening sockets it watched) and the second one that
// refuses; epoll loops are real. *uring_loops counts the io_uring loops asked
// for.
EdgeOptions SecondUringThreadRefuses(IoEngine engine, int* uring_loops,
                                     std::atomic<int>* uring_listeners) {
  EdgeOptions options;
  options.io_engine = engine;
  options.threads = 2;
  options.make_loop = [uring_loops,
                       uring_listeners](IoEngine asked) -> Result<std::unique_ptr<EventLoop>> {
    if (asked != IoEngine::kUring) return EventLoop::Create(asked);
    if (++*uring_loops % 2 == 0) return std::unique_ptr<EventLoop>(new RefusingUringLoop());
    Result<std::unique_ptr<EventLoop>> real = EventLoop::Create(IoEngine::kUring);
    if (!real) return real;
    return std::unique_ptr<EventLoop>(new CountingLoop(std::move(*real), uring_listeners));
  };
  return options;
}

// Verify that with the engine on auto, when one thread cannot set its
// io_uring up, every thread starts again on epoll, the thread that could set
// io_uring up never accepted (all or none), and the edge serves.
TEST(EdgeProxyEngineTest, AutoFallsBackToEpollWhenAThreadCannotSetUpIoUring) {
  SKIFF_REQUIRE_IO_ENGINE(IoEngine::kUring);  // (else auto never tries it)
  int uring_loops = 0;
  std::atomic<int> uring_listeners{0};
  EdgeProxy proxy(SecondUringThreadRefuses(IoEngine::kAuto, &uring_loops, &uring_listeners));
  ASSERT_TRUE(proxy.Listen("127.0.0.1:0"));
  EXPECT_EQ(uring_loops, 2);
  EXPECT_EQ(uring_listeners.load(), 0);
  EXPECT_EQ(proxy.io_engine(), IoEngine::kEpoll);
  Result<net::HttpResponse> answer =
      net::HttpClient("http://127.0.0.1:" + std::to_string(proxy.port()))
          .Do("GET", "/", "", {{"Host", "nothing.test"}}, std::chrono::seconds(10));
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(answer->status, 404);  // served: no app there
}

// Verify that io_uring asked for explicitly fails Listen with the kernel's
// reason when a thread cannot set it up, and leaves nothing listening.
TEST(EdgeProxyEngineTest, ExplicitIoUringFailsListenWhenAThreadCannotSetItUp) {
  SKIFF_REQUIRE_IO_ENGINE(IoEngine::kUring);
  int uring_loops = 0;
  std::atomic<int> uring_listeners{0};
  EdgeProxy proxy(SecondUringThreadRefuses(IoEngine::kUring, &uring_loops, &uring_listeners));
  Status listened = proxy.Listen("127.0.0.1:0");
  ASSERT_FALSE(listened);
  EXPECT_EQ(listened.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(listened.error().message.find("Cannot allocate memory"), std::string::npos);
  EXPECT_EQ(proxy.port(), 0);
  EXPECT_EQ(uring_listeners.load(), 0);
}

}  // namespace
}  // namespace skiff::edge
