#include "net/probe.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <memory>
#include <string>

#include "net/http_server.h"
#include "net/test_util.h"

namespace skiff::net {
namespace {

using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

class ProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    io_threads_ = std::make_unique<testing::IoThreads>(2);
    server_ = std::make_unique<HttpServer>(
        io_threads_->io(),
        [](const HttpRequest& request, ResponseWriter& writer) -> asio::awaitable<void> {
          int status = request.path == "/ok" ? 200 : request.path == "/moved" ? 302 : 503;
          co_await writer.Send(TextResponse(status, "x"));
        });
    ASSERT_TRUE(server_->Listen("127.0.0.1:0"));
  }
  void TearDown() override {
    server_.reset();
    io_threads_.reset();
  }

  ProbeResult Http(uint16_t port, std::string path, milliseconds timeout = milliseconds(2000)) {
    auto& io = io_threads_->io();
    return asio::co_spawn(io, ProbeHttp(io.get_executor(), "127.0.0.1", port, path, timeout),
                          asio::use_future)
        .get();
  }
  ProbeResult Tcp(uint16_t port) {
    auto& io = io_threads_->io();
    return asio::co_spawn(io, ProbeTcp(io.get_executor(), "127.0.0.1", port, milliseconds(2000)),
                          asio::use_future)
        .get();
  }
  static uint16_t ClosedPort() {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return acceptor.local_endpoint().port();
  }

  std::unique_ptr<testing::IoThreads> io_threads_;
  std::unique_ptr<HttpServer> server_;
};

// Verify that 2xx and 3xx answers are healthy.
TEST_F(ProbeTest, HttpOk) {
  auto result = Http(server_->port(), "/ok");
  EXPECT_TRUE(result.ok);
  EXPECT_EQ(result.message, "GET /ok returned 200");
  EXPECT_TRUE(Http(server_->port(), "/moved").ok);
}

// Verify that a 503 is unhealthy and says so.
TEST_F(ProbeTest, Http503) {
  auto result = Http(server_->port(), "/bad");
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.message, "GET /bad returned 503");
}

// Verify that a refused connection is unhealthy with the reason.
TEST_F(ProbeTest, HttpRefused) {
  auto result = Http(ClosedPort(), "/");
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.message, "connect: connection refused");
}

// Verify that a server that accepts but never answers times out.
TEST_F(ProbeTest, HttpTimeout) {
  asio::io_context io;
  tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto result = Http(silent.local_endpoint().port(), "/", milliseconds(100));
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.message, "GET / timed out after 100ms");
}

// Verify that a TCP probe succeeds against a listening port.
TEST_F(ProbeTest, TcpOk) {
  auto result = Tcp(server_->port());
  EXPECT_TRUE(result.ok);
}

// Verify that a TCP probe fails against a closed port.
TEST_F(ProbeTest, TcpRefused) {
  auto result = Tcp(ClosedPort());
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.message, "connect: connection refused");
}

}  // namespace
}  // namespace skiff::net
