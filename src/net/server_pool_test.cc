#include "net/server_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <thread>

#include "fakes/testing.h"

namespace skiff::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;

// A loopback server that reads each request head, counts it, and then
// answers 200 with its name, answers 503, or drops the connection; or, held,
// answers 200 once Release() is called.
class CountingServer {
 public:
  enum class Mode { kAnswer, kUnavailable, kDrop, kHeld };

  CountingServer(std::string name, Mode mode)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        name_(std::move(name)),
        mode_(mode) {
    asio::co_spawn(io_, Serve(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~CountingServer() {
    io_.stop();
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  int requests() const { return requests_.load(); }
  void Release() { released_ = true; }

 private:
  asio::awaitable<void> Serve() {
    for (;;) {
      auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
      std::string request;
      co_await asio::async_read_until(socket, asio::dynamic_buffer(request), "\r\n\r\n",
                                      asio::use_awaitable);
      ++requests_;
      // Held: look again every few ms (the server's thread must stay free).
      asio::steady_timer timer(io_);
      while (mode_ == Mode::kHeld && !released_) {
        timer.expires_after(std::chrono::milliseconds(5));
        co_await timer.async_wait(asio::use_awaitable);
      }
      std::string reply;
      if (mode_ == Mode::kAnswer || mode_ == Mode::kHeld) {
        reply = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(name_.size()) +
                "\r\nConnection: close\r\n\r\n" + name_;
      } else if (mode_ == Mode::kUnavailable) {
        reply =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      }
      if (!reply.empty()) {
        co_await asio::async_write(socket, asio::buffer(reply), asio::use_awaitable);
      }
      boost::system::error_code ec;
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  const std::string name_;
  const Mode mode_;
  std::atomic<int> requests_{0};
  std::atomic<bool> released_{false};
  std::thread thread_;
};

// A loopback server frozen as by SIGSTOP: the kernel accepts connections
// into its backlog and takes the request, but nothing ever answers.
class FrozenServer {
 public:
  FrozenServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
};

// A loopback address where nothing listens.
std::string ClosedUrl() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
}

// Verify that a list parses with spaces and empty entries, that an empty list
// or a bad entry is kInvalidArgument naming the entry.
TEST(ServerPoolTest, ParsesListsAndRefusesBadOnes) {
  const ServerPool pool(" http://a:1 ,,http://b:2");
  ASSERT_TRUE(pool.Check()) << pool.Check().error().ToString();
  EXPECT_THAT(pool.urls(), ::testing::ElementsAre("http://a:1", "http://b:2"));
  EXPECT_EQ(pool.current(), "http://a:1");
  EXPECT_EQ(pool.ToString(), "http://a:1,http://b:2");

  const ServerPool empty(" , ");
  ASSERT_FALSE(empty.Check());
  EXPECT_EQ(empty.Check().error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(empty.Check().error().message, HasSubstr("no server address"));
  auto call = empty.Do("GET", "/");
  ASSERT_FALSE(call.has_value());
  EXPECT_EQ(call.error().code, ErrorCode::kInvalidArgument);

  const ServerPool bad("http://a:1,a:2");
  ASSERT_FALSE(bad.Check());
  EXPECT_EQ(bad.Check().error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(bad.Check().error().message, HasSubstr("\"a:2\""));
}

// Verify that a write goes past a server that cannot be reached and one that
// answers 503, and that the one that answered gets the next call first.
TEST(ServerPoolTest, WritesGoPastUnreachableAndUnavailableServers) {
  CountingServer unavailable("u", CountingServer::Mode::kUnavailable);
  CountingServer good("g", CountingServer::Mode::kAnswer);
  const ServerPool pool(ClosedUrl() + "," + unavailable.url() + "," + good.url());

  auto first = pool.Do("POST", "/v1/apply", "{}");
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "g");
  EXPECT_EQ(unavailable.requests(), 1);
  EXPECT_EQ(pool.current(), good.url());

  auto second = pool.Do("POST", "/v1/apply", "{}");
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ(second->body, "g");
  EXPECT_EQ(unavailable.requests(), 1);  // not asked again
  EXPECT_EQ(good.requests(), 2);
}

// Verify that a write whose connection dropped after it was sent is not sent
// to the next server (the first may have acted on it), while a read is.
TEST(ServerPoolTest, OnlyReadsGoPastAServerThatDroppedThem) {
  CountingServer dropping("d", CountingServer::Mode::kDrop);
  CountingServer good("g", CountingServer::Mode::kAnswer);
  const ServerPool pool(dropping.url() + "," + good.url());

  auto write = pool.Do("DELETE", "/v1/apps/web");
  ASSERT_FALSE(write.has_value());
  EXPECT_EQ(write.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(good.requests(), 0);
  EXPECT_EQ(pool.current(), dropping.url());

  auto read = pool.Do("GET", "/v1/apps");
  ASSERT_TRUE(read.has_value()) << read.error().ToString();
  EXPECT_EQ(read->body, "g");
  EXPECT_EQ(dropping.requests(), 2);
  EXPECT_EQ(pool.current(), good.url());
}

// Verify that when no server answers, the last one's error comes back, and
// that copies of a pool share which server is current.
TEST(ServerPoolTest, NoServerAnswersAndCopiesShareTheCurrentOne) {
  const std::string closed_a = ClosedUrl();
  const std::string closed_b = ClosedUrl();
  const ServerPool pool(closed_a + "," + closed_b);
  auto reply = pool.Do("GET", "/v1/apps");
  ASSERT_FALSE(reply.has_value());
  EXPECT_EQ(reply.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(reply.error().message, HasSubstr(closed_b.substr(7)));

  CountingServer good("g", CountingServer::Mode::kAnswer);
  const ServerPool mixed(ClosedUrl() + "," + good.url());
  const ServerPool copy = mixed;
  ASSERT_TRUE(copy.Do("GET", "/").has_value());
  EXPECT_EQ(mixed.current(), good.url());
}

// Verify that a stream opens on the next server when the first cannot be
// reached.
TEST(ServerPoolTest, StreamsOpenOnTheNextServer) {
  CountingServer good("streamed", CountingServer::Mode::kAnswer);
  const ServerPool pool(ClosedUrl() + "," + good.url());
  std::string body;
  auto status = pool.Stream("GET", "/v1/events", {}, [&](std::string_view chunk) {
    body += chunk;
    return true;
  });
  ASSERT_TRUE(status.has_value()) << status.error().ToString();
  EXPECT_EQ(*status, 200);
  EXPECT_EQ(body, "streamed");
  EXPECT_EQ(pool.current(), good.url());
}

// Verify that a new list reaches the copies of a pool, that the server that
// answered last stays current when the new list names it, and that the new
// list's first becomes current when it does not.
TEST(ServerPoolTest, NewListsReachCopiesAndKeepTheCurrentServer) {
  CountingServer a("a", CountingServer::Mode::kAnswer);
  CountingServer b("b", CountingServer::Mode::kAnswer);
  ServerPool pool(ClosedUrl() + "," + a.url());
  const ServerPool copy = pool;
  ASSERT_TRUE(copy.Do("GET", "/").has_value());
  EXPECT_EQ(pool.current(), a.url());

  pool.SetUrls(b.url() + "," + a.url());
  EXPECT_THAT(copy.urls(), ::testing::ElementsAre(b.url(), a.url()));
  EXPECT_EQ(copy.current(), a.url());
  auto kept = copy.Do("POST", "/", "{}");
  ASSERT_TRUE(kept.has_value()) << kept.error().ToString();
  EXPECT_EQ(kept->body, "a");

  pool.SetUrls(b.url());
  EXPECT_EQ(copy.current(), b.url());
  auto moved = copy.Do("POST", "/", "{}");
  ASSERT_TRUE(moved.has_value()) << moved.error().ToString();
  EXPECT_EQ(moved->body, "b");
  EXPECT_EQ(b.requests(), 1);
}

// Verify that a write called idempotent (a heartbeat) goes on to the next
// server when the first is frozen and times out, and becomes current there,
// while a plain write is not sent on (the frozen one may act on it later).
TEST(ServerPoolTest, IdempotentWritesGoPastAFrozenServer) {
  FrozenServer frozen;
  CountingServer good("g", CountingServer::Mode::kAnswer);
  const ServerPool pool(frozen.url() + "," + good.url());
  const Duration timeout = std::chrono::milliseconds(200);

  auto plain = pool.Do("POST", "/heartbeat", "{}", {}, timeout);
  ASSERT_FALSE(plain.has_value());
  EXPECT_EQ(plain.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(good.requests(), 0);

  auto beat = pool.Do("POST", "/heartbeat", "{}", {}, timeout, ServerPool::Resend::kAlways);
  ASSERT_TRUE(beat.has_value()) << beat.error().ToString();
  EXPECT_EQ(beat->body, "g");
  EXPECT_EQ(pool.current(), good.url());
}

// Verify that a call in flight while the list is replaced, even by the same
// list, still makes the server that answered it current: a pool whose list is
// refreshed more often than its calls last would otherwise never move.
TEST(ServerPoolTest, ACallSpanningANewListMovesTheCurrentServer) {
  CountingServer unavailable("u", CountingServer::Mode::kUnavailable);
  CountingServer held("h", CountingServer::Mode::kHeld);
  const std::string urls = unavailable.url() + "," + held.url();
  ServerPool pool(urls);
  Result<HttpResponse> answer = Unavailable("not yet");
  std::thread call([&] { answer = pool.Do("POST", "/", "{}"); });
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return held.requests() == 1; }));
  pool.SetUrls(urls);
  held.Release();
  call.join();
  ASSERT_TRUE(answer.has_value()) << answer.error().ToString();
  EXPECT_EQ(answer->body, "h");
  EXPECT_EQ(pool.current(), held.url());
}

}  // namespace
}  // namespace skiff::net
