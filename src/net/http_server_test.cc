#include "net/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "fakes/testing.h"
#include "net/http_client.h"
#include "net/test_util.h"

namespace skiff::net {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpHandler handler, HttpServerOptions options = {}) {
    io_threads_ = std::make_unique<testing::IoThreads>(2);
    server_ = std::make_unique<HttpServer>(io_threads_->io(), std::move(handler), options);
    auto status = server_->Listen("127.0.0.1:0");
    ASSERT_TRUE(status) << status.error().ToString();
    ASSERT_NE(server_->port(), 0);
    client_ = std::make_unique<HttpClient>(BaseUrl());
  }

  // Handlers may still be running: stop them before the state they use goes.
  void TearDown() override {
    server_.reset();
    io_threads_.reset();
  }

  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  // A connected blocking socket for speaking raw HTTP.
  tcp::socket Connect() {
    tcp::socket socket(raw_io_);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    return socket;
  }

  // Reads one response from `socket`; returns status 0 when the connection ended.
  static http::response<http::string_body> ReadResponse(tcp::socket& socket,
                                                        beast::flat_buffer& buffer) {
    http::response<http::string_body> response;
    beast::error_code ec;
    http::read(socket, buffer, response, ec);
    if (ec) response.result(0);
    return response;
  }

  // How long IdleStreamHandler checks on its client at most (so that a test
  // of a close that goes unseen fails instead of hanging), and the longest a
  // test waits for it.
  static constexpr int kIdleStreamChecks = 1000;
  static constexpr auto kIdleStreamBound = std::chrono::seconds(10);

  // A stream with nothing to send: empty Writes every 5 ms until one reports
  // the client gone (gone_seen_) or kIdleStreamChecks pass, then finished_.
  // entered_ is set once it runs (and, when `wait_before_begin`, it waits for
  // release_ before it begins the response).
  HttpHandler IdleStreamHandler(bool wait_before_begin) {
    return [this, wait_before_begin](const HttpRequest&,
                                     ResponseWriter& writer) -> asio::awaitable<void> {
      if (wait_before_begin) {
        entered_ = true;
        co_await testing::WaitFor(release_);
      }
      co_await writer.Begin(200, {});
      entered_ = true;
      asio::steady_timer timer(co_await asio::this_coro::executor);
      for (int i = 0; i < kIdleStreamChecks; ++i) {
        if (!co_await writer.Write("")) {
          gone_seen_ = true;
          break;
        }
        timer.expires_after(std::chrono::milliseconds(5));
        co_await timer.async_wait(asio::use_awaitable);
      }
      finished_ = true;
    };
  }

  // Starts the server with IdleStreamHandler and sends it a request on a new
  // connection, which it returns.
  tcp::socket StartIdleStream(bool wait_before_begin) {
    Start(IdleStreamHandler(wait_before_begin));
    auto socket = Connect();
    asio::write(socket,
                asio::buffer(std::string_view("GET /v1/watch HTTP/1.1\r\nHost: x\r\n\r\n")));
    return socket;
  }

  // The idle stream ended because a Write reported its client gone, and the
  // server dropped the connection.
  void ExpectIdleStreamSawClientGone() {
    EXPECT_TRUE(skiff::testing::PollUntil([&] { return finished_.load(); }, kIdleStreamBound));
    EXPECT_TRUE(gone_seen_.load());
    EXPECT_TRUE(skiff::testing::PollUntil([&] { return server_->connection_count() == 0; }));
  }

  static HttpHandler OkHandler() {
    return [](const HttpRequest&, ResponseWriter& writer) -> asio::awaitable<void> {
      co_await writer.Send(TextResponse(200, "ok"));
    };
  }

  // The handler's view of the test, shared with coroutines on io threads.
  std::atomic<bool> release_{false};
  std::atomic<bool> entered_{false};
  std::atomic<bool> finished_{false};
  std::atomic<bool> gone_seen_{false};
  std::atomic<bool> drained_{false};
  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::vector<std::string> remotes_;

  asio::io_context raw_io_;
  std::unique_ptr<testing::IoThreads> io_threads_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpClient> client_;
};

// Verify that a request's method, path, headers and body reach the handler and
// the handler's JSON response reaches the client.
TEST_F(HttpServerTest, RoundTrip) {
  Start([](const HttpRequest& request, ResponseWriter& writer) -> asio::awaitable<void> {
    json::object out;
    out["method"] = request.method;
    out["path"] = request.path;
    out["target"] = request.target;
    out["body"] = request.body;
    out["header"] = std::string(request.Header("x-skiff-test"));
    out["remote_has_port"] = request.remote_address.rfind("127.0.0.1:", 0) == 0;
    co_await writer.Send(JsonResponse(201, out));
  });
  auto response = client_->Do("PUT", "/v1/apps/web?x=1", R"({"a":1})", {{"X-Skiff-Test", "yes"}});
  ASSERT_TRUE(response) << response.error().ToString();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->Header("content-type"), "application/json");
  auto body = json::parse(response->body).as_object();
  EXPECT_EQ(body["method"], "PUT");
  EXPECT_EQ(body["path"], "/v1/apps/web");
  EXPECT_EQ(body["target"], "/v1/apps/web?x=1");
  EXPECT_EQ(body["body"], R"({"a":1})");
  EXPECT_EQ(body["header"], "yes");
  EXPECT_EQ(body["remote_has_port"], true);
}

// Verify that the path and query parameters arrive percent-decoded.
TEST_F(HttpServerTest, DecodesPathAndQuery) {
  HttpRequest seen;
  Start([&](const HttpRequest& request, ResponseWriter& writer) -> asio::awaitable<void> {
    {
      std::lock_guard lock(mu_);
      seen = request;
    }
    co_await writer.Send(TextResponse(200, "ok"));
  });
  auto response = client_->Do("GET", "/v1/apps/my%20app?name=a%20b&slash=%2Fx&flag&n=1&n=2");
  ASSERT_TRUE(response) << response.error().ToString();
  std::lock_guard lock(mu_);
  EXPECT_EQ(seen.path, "/v1/apps/my app");
  EXPECT_EQ(seen.query.at("name"), "a b");
  EXPECT_EQ(seen.query.at("slash"), "/x");
  EXPECT_EQ(seen.query.at("flag"), "");
  EXPECT_EQ(seen.query.at("n"), "2");
  EXPECT_EQ(seen.QueryOr("missing", "dflt"), "dflt");
}

// Verify that a kept-alive connection carries several requests.
TEST_F(HttpServerTest, KeepAliveReusesConnection) {
  Start([this](const HttpRequest& request, ResponseWriter& writer) -> asio::awaitable<void> {
    {
      std::lock_guard lock(mu_);
      remotes_.push_back(request.remote_address);
    }
    co_await writer.Send(TextResponse(200, request.path));
  });
  auto socket = Connect();
  beast::flat_buffer buffer;
  for (std::string path : {"/one", "/two", "/three"}) {
    http::request<http::string_body> request{http::verb::get, path, 11};
    request.set(http::field::host, "test");
    http::write(socket, request);
    auto response = ReadResponse(socket, buffer);
    ASSERT_EQ(response.result_int(), 200u);
    EXPECT_EQ(response.body(), path);
    EXPECT_TRUE(response.keep_alive());
  }
  EXPECT_EQ(server_->connection_count(), 1u);
  std::lock_guard lock(mu_);
  ASSERT_EQ(remotes_.size(), 3u);
  EXPECT_EQ(remotes_[0], remotes_[1]);
  EXPECT_EQ(remotes_[1], remotes_[2]);
}

// Verify that a body over the limit is refused with 413 and the JSON error
// before the handler runs, and that the server keeps serving.
TEST_F(HttpServerTest, BodyTooLargeIs413) {
  Start([this](const HttpRequest&, ResponseWriter& writer) -> asio::awaitable<void> {
    ++calls_;
    co_await writer.Send(TextResponse(200, "ok"));
  });
  auto response = client_->Do("PUT", "/v1/apps/big", std::string(2 << 20, 'x'));
  ASSERT_TRUE(response) << response.error().ToString();
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->body,
            R"({"error":{"code":"resource_exhausted","message":"request body exceeds 1 MiB"}})");
  EXPECT_EQ(calls_.load(), 0);

  auto next = client_->Do("PUT", "/v1/apps/small", std::string(1 << 20, 'x'));
  ASSERT_TRUE(next) << next.error().ToString();
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(calls_.load(), 1);
}

// Verify that a chunked body growing past the limit is refused with 413 too.
TEST_F(HttpServerTest, ChunkedBodyTooLargeIs413) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  Start(OkHandler(), options);
  auto socket = Connect();
  std::string chunk(1000, 'x');
  std::string raw = "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) raw += "3e8\r\n" + chunk + "\r\n";
  raw += "0\r\n\r\n";
  asio::write(socket, asio::buffer(raw));
  beast::flat_buffer buffer;
  auto response = ReadResponse(socket, buffer);
  EXPECT_EQ(response.result_int(), 413u);
  EXPECT_THAT(response.body(), HasSubstr("request body exceeds 1 KiB"));
}

// Verify that bytes that are not HTTP get a 400 and the server stays healthy.
TEST_F(HttpServerTest, GarbageIs400) {
  Start(OkHandler());
  auto socket = Connect();
  asio::write(socket, asio::buffer(std::string("THIS IS NOT HTTP\x01\x02\r\n\r\n")));
  beast::flat_buffer buffer;
  auto response = ReadResponse(socket, buffer);
  EXPECT_EQ(response.result_int(), 400u);
  EXPECT_THAT(response.body(), HasSubstr(R"("code":"invalid_argument")"));
  EXPECT_FALSE(response.keep_alive());

  auto next = client_->Do("GET", "/");
  ASSERT_TRUE(next) << next.error().ToString();
  EXPECT_EQ(next->status, 200);
}

// Verify that an oversized header is refused with 431.
TEST_F(HttpServerTest, HeaderTooLargeIs431) {
  HttpServerOptions options;
  options.max_header_bytes = 1024;
  Start(OkHandler(), options);
  auto response = client_->Do("GET", "/", {}, {{"X-Big", std::string(4096, 'y')}});
  ASSERT_TRUE(response) << response.error().ToString();
  EXPECT_EQ(response->status, 431);
  EXPECT_EQ(ErrorFromResponse(response->status, response->body).code,
            ErrorCode::kResourceExhausted);
}

// Verify the connection cap: with max_connections open, one more gets a 503
// with Retry-After and is closed; once one closes, new ones are served again.
TEST_F(HttpServerTest, ConnectionCapAnswers503) {
  HttpServerOptions options;
  options.max_connections = 2;
  Start(OkHandler(), options);
  auto first = Connect();
  auto second = Connect();
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return server_->connection_count() == 2; }));
  auto third = Connect();
  // Without a cap the server would wait for a request here: bound the read.
  timeval timeout{5, 0};
  setsockopt(third.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  beast::flat_buffer buffer;
  auto refused = ReadResponse(third, buffer);
  EXPECT_EQ(refused.result_int(), 503u);
  EXPECT_EQ(refused[http::field::retry_after], "1");
  first.close();
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return server_->connection_count() == 1; }));
  auto response = client_->Do("GET", "/");
  ASSERT_TRUE(response) << response.error().ToString();
  EXPECT_EQ(response->status, 200);
}

// Verify that a client sending its header too slowly is disconnected.
TEST_F(HttpServerTest, SlowHeaderIsDisconnected) {
  HttpServerOptions options;
  options.header_timeout = std::chrono::milliseconds(100);
  Start(OkHandler(), options);
  auto socket = Connect();
  asio::write(socket, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: t\r\n")));
  char byte;
  beast::error_code ec;
  asio::read(socket, asio::buffer(&byte, 1), ec);  // returns when the server closes
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_TRUE(skiff::testing::PollUntil([&] { return server_->connection_count() == 0; }));
}

// Verify that an idle kept-alive connection is closed after the idle timeout.
TEST_F(HttpServerTest, IdleConnectionIsClosed) {
  HttpServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(100);
  Start(OkHandler(), options);
  auto socket = Connect();
  char byte;
  beast::error_code ec;
  asio::read(socket, asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);
}

// Verify that an exception from a handler becomes a 500 JSON error and the
// server keeps serving.
TEST_F(HttpServerTest, HandlerExceptionIs500) {
  Start([](const HttpRequest& request, ResponseWriter& writer) -> asio::awaitable<void> {
    if (request.path == "/boom") throw std::runtime_error("boom");
    co_await writer.Send(TextResponse(200, "ok"));
  });
  auto response = client_->Do("GET", "/boom");
  ASSERT_TRUE(response) << response.error().ToString();
  EXPECT_EQ(response->status, 500);
  auto error = ErrorFromResponse(response->status, response->body);
  EXPECT_EQ(error.code, ErrorCode::kInternal);
  EXPECT_THAT(error.message, HasSubstr("boom"));

  auto next = client_->Do("GET", "/fine");
  ASSERT_TRUE(next) << next.error().ToString();
  EXPECT_EQ(next->status, 200);
}

// Verify that a handler returning without answering produces a 500.
TEST_F(HttpServerTest, SilentHandlerIs500) {
  Start([](const HttpRequest&, ResponseWriter&) -> asio::awaitable<void> { co_return; });
  auto response = client_->Do("GET", "/");
  ASSERT_TRUE(response) << response.error().ToString();
  EXPECT_EQ(response->status, 500);
}

// Verify that streamed chunks reach the client while the handler is still
// running: the handler only ends after the client has seen the first chunk.
TEST_F(HttpServerTest, StreamedChunksArriveBeforeEnd) {
  Start([this](const HttpRequest&, ResponseWriter& writer) -> asio::awaitable<void> {
    // Named first: g++ 12 rejects a braced list of literals inside co_await.
    HttpHeaders headers = {{"Content-Type", "text/plain"}};
    co_await writer.Begin(200, std::move(headers));
    co_await writer.Write("first\n");
    co_await testing::WaitFor(release_);
    co_await writer.Write("second\n");
    finished_ = true;
    co_await writer.End();
  });
  std::vector<std::string> chunks;
  bool handler_finished_at_first_chunk = true;
  auto status = client_->Stream("GET", "/v1/events?follow=true", {}, [&](std::string_view data) {
    if (chunks.empty()) handler_finished_at_first_chunk = finished_.load();
    chunks.emplace_back(data);
    release_ = true;
    return true;
  });
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(*status, 200);
  EXPECT_FALSE(handler_finished_at_first_chunk);
  std::string all;
  for (const auto& chunk : chunks) all += chunk;
  EXPECT_EQ(chunks.front(), "first\n");
  EXPECT_EQ(all, "first\nsecond\n");
}

// Verify that a streaming handler learns that its client went away.
TEST_F(HttpServerTest, StreamingHandlerSeesClientDisconnect) {
  Start([this](const HttpRequest&, ResponseWriter& writer) -> asio::awaitable<void> {
    co_await writer.Begin(200, {});
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (co_await writer.Write("tick\n")) {
      timer.expires_after(std::chrono::milliseconds(5));
      co_await timer.async_wait(asio::use_awaitable);
    }
    finished_ = true;
  });
  auto status = client_->Stream("GET", "/v1/watch", {}, [](std::string_view) { return false; });
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_TRUE(skiff::testing::PollUntil([&] { return finished_.load(); }));
  EXPECT_TRUE(skiff::testing::PollUntil([&] { return server_->connection_count() == 0; }));
}

// Verify that a streaming handler with nothing to send learns within a bound
// that its client closed the connection: its empty Writes report the client
// gone, although no byte was written since the client left.
TEST_F(HttpServerTest, IdleStreamingHandlerSeesClientClose) {
  auto socket = StartIdleStream(/*wait_before_begin=*/false);
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  http::read_header(socket, buffer, parser);
  EXPECT_EQ(parser.get().result_int(), 200);
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return entered_.load(); }));
  socket.close();
  ExpectIdleStreamSawClientGone();
}

// Verify that a client that ends its side of the connection while the handler
// has not begun its response yet is seen gone once it does: the close came
// while nothing watched the socket, and must not be missed for that.
TEST_F(HttpServerTest, ClientHalfClosedBeforeBeginIsSeen) {
  auto socket = StartIdleStream(/*wait_before_begin=*/true);
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return entered_.load(); }));
  socket.shutdown(tcp::socket::shutdown_send);
  release_ = true;
  ExpectIdleStreamSawClientGone();
}

// Verify that a client that closed the connection before the handler began its
// response is seen gone once it does, before the handler writes anything.
TEST_F(HttpServerTest, ClientClosedBeforeBeginIsSeen) {
  auto socket = StartIdleStream(/*wait_before_begin=*/true);
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return entered_.load(); }));
  socket.close();
  release_ = true;
  ExpectIdleStreamSawClientGone();
}

// Verify that a client that resets the connection (SO_LINGER 0) during an idle
// stream is seen gone.
TEST_F(HttpServerTest, IdleStreamingHandlerSeesClientReset) {
  auto socket = StartIdleStream(/*wait_before_begin=*/false);
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  http::read_header(socket, buffer, parser);
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return entered_.load(); }));
  socket.set_option(asio::socket_base::linger(true, 0));
  socket.close();
  ExpectIdleStreamSawClientGone();
}

// Verify the pipelining caveat (docs/api.md): a client that pipelines a
// request behind a stream and then closes is not seen by the watch, which
// ended at the request's bytes, but the handler's writes fail soon after (the
// first may still be taken by the kernel).
TEST_F(HttpServerTest, ClientClosingBehindAPipelinedRequestIsSeenByWrites) {
  std::atomic<int> writes{0};
  Start([&](const HttpRequest&, ResponseWriter& writer) -> asio::awaitable<void> {
    co_await writer.Begin(200, {});
    co_await testing::WaitFor(release_);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (int i = 0; i < kIdleStreamChecks; ++i) {
      if (!co_await writer.Write("x")) {
        gone_seen_ = true;
        break;
      }
      ++writes;
      timer.expires_after(std::chrono::milliseconds(5));
      co_await timer.async_wait(asio::use_awaitable);
    }
    finished_ = true;
  });
  auto socket = Connect();
  asio::write(socket, asio::buffer(std::string_view("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")));
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> parser;
  http::read_header(socket, buffer, parser);
  // Sent once the stream began: it stays in the socket, where the watch sees it.
  asio::write(socket, asio::buffer(std::string_view("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")));
  socket.close();
  release_ = true;
  ExpectIdleStreamSawClientGone();
  EXPECT_LE(writes.load(), 2);
}

// Verify that a request pipelined behind a streamed response is not taken for
// the client going away, and is answered on the same connection once the
// stream ends.
TEST_F(HttpServerTest, RequestPipelinedBehindStreamIsAnswered) {
  Start([this](const HttpRequest& request, ResponseWriter& writer) -> asio::awaitable<void> {
    if (request.path != "/stream") {
      co_await writer.Send(TextResponse(200, "second"));
      co_return;
    }
    co_await writer.Begin(200, {});
    co_await writer.Write("first");
    // Released once the next request is sent; then 200 ms more of checks on
    // the client, with that request's bytes waiting in the socket.
    co_await testing::WaitFor(release_);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (int i = 0; i < 40; ++i) {
      if (!co_await writer.Write("")) co_return;  // taken for gone: the test fails below
      timer.expires_after(std::chrono::milliseconds(5));
      co_await timer.async_wait(asio::use_awaitable);
    }
    finished_ = true;
    co_await writer.End();
  });
  auto socket = Connect();
  asio::write(socket, asio::buffer(std::string_view("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> streamed;
  http::read_header(socket, buffer, streamed);
  asio::write(socket, asio::buffer(std::string_view("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")));
  release_ = true;
  http::read(socket, buffer, streamed);
  EXPECT_TRUE(finished_.load());
  EXPECT_EQ(streamed.get().body(), "first");
  auto second = ReadResponse(socket, buffer);
  EXPECT_EQ(second.result_int(), 200);
  EXPECT_EQ(second.body(), "second");
}

// The kernel's timer on the server's side of a loopback connection whose
// client port is `client_port`, from /proc/net/tcp: its kind ("tr": 2 is
// keepalive) and the clock ticks (1/100 s) to its expiry; {-1, -1} if absent.
std::pair<int, long> ServerSideTimer(uint16_t server_port, uint16_t client_port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // the header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer;
    fields >> slot >> local >> remote >> state >> queues >> timer;
    auto port_of = [](const std::string& address) {
      return static_cast<uint16_t>(std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
    };
    if (port_of(local) != server_port || port_of(remote) != client_port) continue;
    const size_t colon = timer.find(':');
    return {std::stoi(timer.substr(0, colon), nullptr, 16),
            std::stol(timer.substr(colon + 1), nullptr, 16)};
  }
  return {-1, -1};
}

// Verify that an accepted connection has TCP keepalive on, with its first
// probe after about a minute of silence (not the system's two hours), so that
// a client whose machine vanished is found gone.
TEST_F(HttpServerTest, AcceptedConnectionsHaveKeepAlive) {
  Start(OkHandler());
  auto socket = Connect();
  beast::flat_buffer buffer;
  asio::write(socket, asio::buffer(std::string_view("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  ASSERT_EQ(ReadResponse(socket, buffer).result_int(), 200);  // the options are set by now
  const auto [kind, ticks] = ServerSideTimer(server_->port(), socket.local_endpoint().port());
  EXPECT_EQ(kind, 2);
  EXPECT_GT(ticks, 0);
  EXPECT_LE(ticks, 60 * 100);
}

// Verify that Stop() lets an in-flight request finish, refuses new
// connections, and reports when drained.
TEST_F(HttpServerTest, StopLetsInFlightRequestFinish) {
  Start([this](const HttpRequest&, ResponseWriter& writer) -> asio::awaitable<void> {
    entered_ = true;
    co_await testing::WaitFor(release_);
    co_await writer.Send(TextResponse(200, "done"));
  });
  Result<HttpResponse> in_flight;
  std::thread caller([&] { in_flight = client_->Do("GET", "/slow"); });
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return entered_.load(); }));

  server_->Stop([this] { drained_ = true; });
  EXPECT_TRUE(skiff::testing::PollUntil([&] {
    auto refused = client_->Do("GET", "/new", {}, {}, std::chrono::seconds(1));
    return !refused && refused.error().code == ErrorCode::kUnavailable;
  }));
  EXPECT_FALSE(drained_.load());

  release_ = true;
  caller.join();
  ASSERT_TRUE(in_flight) << in_flight.error().ToString();
  EXPECT_EQ(in_flight->status, 200);
  EXPECT_EQ(in_flight->body, "done");
  EXPECT_TRUE(skiff::testing::PollUntil([&] { return drained_.load(); }));
}

// Verify that Stop() closes idle kept-alive connections at once.
TEST_F(HttpServerTest, StopClosesIdleConnections) {
  Start(OkHandler());
  auto socket = Connect();
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return server_->connection_count() == 1; }));
  server_->Stop([this] { drained_ = true; });
  char byte;
  beast::error_code ec;
  asio::read(socket, asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_TRUE(skiff::testing::PollUntil([&] { return drained_.load(); }));
}

// Verify that a handler still running when the stop grace ends is cancelled
// and its connection closed.
TEST_F(HttpServerTest, StopGraceCancelsStuckHandler) {
  HttpServerOptions options;
  options.stop_grace = std::chrono::milliseconds(100);
  Start(
      [this](const HttpRequest&, ResponseWriter& writer) -> asio::awaitable<void> {
        entered_ = true;
        co_await testing::WaitFor(release_);  // never released
        co_await writer.Send(TextResponse(200, "late"));
      },
      options);
  Result<HttpResponse> in_flight;
  std::thread caller([&] { in_flight = client_->Do("GET", "/stuck"); });
  ASSERT_TRUE(skiff::testing::PollUntil([&] { return entered_.load(); }));
  server_->Stop([this] { drained_ = true; });
  EXPECT_TRUE(skiff::testing::PollUntil([&] { return drained_.load(); }));
  caller.join();
  ASSERT_FALSE(in_flight);
  EXPECT_EQ(in_flight.error().code, ErrorCode::kUnavailable);
}

// Verify that Listen() reports an address that is already taken.
TEST_F(HttpServerTest, ListenOnBusyPortIsUnavailable) {
  Start(OkHandler());
  HttpServer second(io_threads_->io(), OkHandler());
  auto status = second.Listen("127.0.0.1:" + std::to_string(server_->port()));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
  auto bad = second.Listen("nonsense");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff::net
