#include "net/http_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>

#include "fakes/testing.h"
#include "net/http_server.h"
#include "net/test_util.h"

namespace skiff::net {
namespace {

using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;
using ::testing::HasSubstr;

// A free port: bound, then released, so nothing listens there.
uint16_t ClosedPort() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// A tiny unix-socket HTTP server answering each connection with `reply`
// (written raw) once the request header is in, then closing.
class UnixServer {
 public:
  UnixServer(std::string path, std::string reply)
      : acceptor_(io_, unix_socket::endpoint(path)), reply_(std::move(reply)) {
    asio::co_spawn(io_, Serve(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~UnixServer() {
    io_.stop();
    thread_.join();
  }
  std::string last_request() {
    std::lock_guard lock(mu_);
    return last_request_;
  }

 private:
  asio::awaitable<void> Serve() {
    for (;;) {
      auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
      std::string request;
      co_await asio::async_read_until(socket, asio::dynamic_buffer(request), "\r\n\r\n",
                                      asio::use_awaitable);
      {
        std::lock_guard lock(mu_);
        last_request_ = request;
      }
      co_await asio::async_write(socket, asio::buffer(reply_), asio::use_awaitable);
      boost::system::error_code ec;
      socket.shutdown(unix_socket::socket::shutdown_both, ec);
    }
  }

  asio::io_context io_;
  unix_socket::acceptor acceptor_;
  std::string reply_;
  std::thread thread_;
  std::mutex mu_;
  std::string last_request_;
};

// Verify that a refused connection is kUnavailable and names the address.
TEST(HttpClientTest, ConnectionRefusedIsUnavailable) {
  uint16_t port = ClosedPort();
  HttpClient client("http://127.0.0.1:" + std::to_string(port));
  auto response = client.Do("GET", "/v1/apps");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(response.error().message,
            "cannot connect to 127.0.0.1:" + std::to_string(port) + ": connection refused");
}

// Verify that a server that never answers makes the call kDeadlineExceeded.
TEST(HttpClientTest, SilentServerIsDeadlineExceeded) {
  // The kernel completes connections to a listening socket nobody accepts from.
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  HttpClient client("http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()));
  auto response = client.Do("GET", "/", {}, {}, std::chrono::milliseconds(100));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kDeadlineExceeded);
  auto streamed = client.Stream(
      "GET", "/", {}, [](std::string_view) { return true; }, std::chrono::milliseconds(100));
  ASSERT_FALSE(streamed);
  EXPECT_EQ(streamed.error().code, ErrorCode::kDeadlineExceeded);
}

// Verify that a base URL that is neither http:// nor unix:// is rejected.
TEST(HttpClientTest, BadBaseUrlIsInvalidArgument) {
  for (std::string url : {"ftp://x:1", "127.0.0.1:7070", "unix://"}) {
    auto response = HttpClient(url).Do("GET", "/");
    ASSERT_FALSE(response) << url;
    EXPECT_EQ(response.error().code, ErrorCode::kInvalidArgument) << url;
  }
}

// Verify that requests go over a unix socket, with a Host header.
TEST(HttpClientTest, UnixSocketDo) {
  skiff::testing::TempDir dir;
  std::string path = dir.File("docker.sock");
  UnixServer server(path,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                    "Connection: close\r\n\r\nOK");
  HttpClient client("unix://" + path);
  auto response = client.Do("GET", "/_ping");
  ASSERT_TRUE(response) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "OK");
  EXPECT_EQ(response->Header("content-type"), "text/plain");
  EXPECT_THAT(server.last_request(), HasSubstr("GET /_ping HTTP/1.1\r\n"));
  EXPECT_THAT(server.last_request(), HasSubstr("Host: localhost\r\n"));
}

// Verify that a chunked response over a unix socket is de-chunked for Stream.
TEST(HttpClientTest, UnixSocketStream) {
  skiff::testing::TempDir dir;
  std::string path = dir.File("docker.sock");
  UnixServer server(path,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "6\r\nline1\n\r\n6\r\nline2\n\r\n0\r\n\r\n");
  HttpClient client("unix://" + path);
  std::string all;
  auto status = client.Stream("GET", "/containers/x/logs?follow=1", {}, [&](std::string_view data) {
    all += data;
    return true;
  });
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(*status, 200);
  EXPECT_EQ(all, "line1\nline2\n");
}

// Verify that a stop requested while Stream waits on an endless, quiet body
// ends the call at once with kAborted, and that one requested before the
// call ends it before it begins.
TEST(HttpClientTest, StreamEndsWhenStopIsRequested) {
  skiff::testing::TempDir dir;
  const std::string path = dir.File("events.sock");
  asio::io_context io;
  unix_socket::acceptor acceptor(io, unix_socket::endpoint(path));
  unix_socket::socket peer(io);
  std::thread server([&] {
    acceptor.accept(peer);
    std::string request;
    asio::read_until(peer, asio::dynamic_buffer(request), "\r\n\r\n");
    // One event, then nothing: the connection stays open.
    asio::write(peer,
                asio::buffer(std::string_view(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n")));
  });
  HttpClient client("unix://" + path);
  std::stop_source stop;
  std::atomic<bool> got_first = false;
  std::thread stopper([&] {
    skiff::testing::PollUntil([&] { return got_first.load(); });
    stop.request_stop();
  });
  auto streamed = client.Stream(
      "GET", "/events", {},
      [&](std::string_view data) {
        got_first = data == "first\n";
        return true;
      },
      Duration::zero(), stop.get_token());
  stopper.join();
  server.join();
  EXPECT_TRUE(got_first.load());
  ASSERT_FALSE(streamed);
  EXPECT_EQ(streamed.error().code, ErrorCode::kAborted);

  std::stop_source stopped;
  stopped.request_stop();
  auto never = client.Stream(
      "GET", "/events", {}, [](std::string_view) { return true; }, Duration::zero(),
      stopped.get_token());
  ASSERT_FALSE(never);
  EXPECT_EQ(never.error().code, ErrorCode::kAborted);
}

// Verify that a stop requested while Do waits for a peer that never answers
// ends the call at once with kAborted (not after its timeout).
TEST(HttpClientTest, DoEndsWhenStopIsRequested) {
  skiff::testing::TempDir dir;
  const std::string path = dir.File("silent.sock");
  asio::io_context io;
  unix_socket::acceptor acceptor(io, unix_socket::endpoint(path));
  unix_socket::socket peer(io);
  std::atomic<bool> asked = false;
  std::thread server([&] {
    acceptor.accept(peer);
    std::string request;
    asio::read_until(peer, asio::dynamic_buffer(request), "\r\n\r\n");
    asked = true;  // and never answers
  });
  std::stop_source stop;
  std::thread stopper([&] {
    skiff::testing::PollUntil([&] { return asked.load(); });
    stop.request_stop();
  });
  HttpClient client("unix://" + path);
  auto response =
      client.Do("GET", "/containers/json", {}, {}, std::chrono::seconds(20), stop.get_token());
  stopper.join();
  server.join();
  EXPECT_TRUE(asked.load());
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kAborted);
}

// Verify that Stream sends a request body with its length and content type
// (the engine's build API takes a tar stream and streams its output back).
TEST(HttpClientTest, UnixSocketStreamWithBody) {
  skiff::testing::TempDir dir;
  std::string path = dir.File("docker.sock");
  UnixServer server(path,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nbuilt\r\n0\r\n\r\n");
  HttpClient client("unix://" + path);
  std::string all;
  auto status = client.Stream("POST", "/build", std::string(1000, 't'),
                              {{"Content-Type", "application/x-tar"}}, [&](std::string_view data) {
                                all += data;
                                return true;
                              });
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(all, "built");
  EXPECT_THAT(server.last_request(), HasSubstr("POST /build HTTP/1.1\r\n"));
  EXPECT_THAT(server.last_request(), HasSubstr("Content-Length: 1000\r\n"));
  EXPECT_THAT(server.last_request(), HasSubstr("Content-Type: application/x-tar\r\n"));
}

// Verify that a missing unix socket is kUnavailable naming the socket.
TEST(HttpClientTest, MissingUnixSocketIsUnavailable) {
  skiff::testing::TempDir dir;
  HttpClient client("unix://" + dir.File("none.sock"));
  auto response = client.Do("GET", "/_ping");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(response.error().message, HasSubstr("none.sock"));
}

// Verify that Stream turns a non-2xx answer into the Error its body describes,
// without streaming it.
TEST(HttpClientTest, StreamErrorStatusBecomesError) {
  auto io_threads = std::make_unique<testing::IoThreads>(1);
  HttpServer server(io_threads->io(),
                    [](const HttpRequest&, ResponseWriter& writer) -> asio::awaitable<void> {
                      HttpResponse response =
                          ErrorResponse(Error{ErrorCode::kNotFound, "app \"web\" not found", ""});
                      co_await writer.Send(std::move(response));
                    });
  ASSERT_TRUE(server.Listen("127.0.0.1:0"));
  HttpClient client("http://127.0.0.1:" + std::to_string(server.port()));
  bool called = false;
  auto status = client.Stream("GET", "/v1/apps/web/logs?follow=true", {}, [&](std::string_view) {
    called = true;
    return true;
  });
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(status.error().message, "app \"web\" not found");
  EXPECT_FALSE(called);
}

// Verify the error mapping between statuses, codes and error bodies.
TEST(HttpClientTest, ErrorFromResponse) {
  auto skiff_error = ErrorFromResponse(
      400, R"({"error":{"code":"invalid_argument","message":"bad","field":"health.interval"}})");
  EXPECT_EQ(skiff_error.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(skiff_error.message, "bad");
  EXPECT_EQ(skiff_error.field, "health.interval");
  auto docker_error = ErrorFromResponse(404, R"({"message":"No such container: x"})");
  EXPECT_EQ(docker_error.code, ErrorCode::kNotFound);
  EXPECT_EQ(docker_error.message, "No such container: x");
  auto raw = ErrorFromResponse(503, "down\n");
  EXPECT_EQ(raw.code, ErrorCode::kUnavailable);
  EXPECT_EQ(raw.message, "HTTP 503 Service Unavailable: down");
  for (auto code :
       {ErrorCode::kNotFound, ErrorCode::kInvalidArgument, ErrorCode::kUnavailable,
        ErrorCode::kResourceExhausted, ErrorCode::kPermissionDenied, ErrorCode::kUnauthenticated,
        ErrorCode::kFailedPrecondition, ErrorCode::kDeadlineExceeded, ErrorCode::kInternal}) {
    EXPECT_EQ(ErrorCodeFromHttpStatus(HttpStatusFromErrorCode(code)), code);
  }
}

}  // namespace
}  // namespace skiff::net
