// HttpServer: HTTP/1.1 with keep-alive on an io_context the caller owns and runs
// on as many threads as it likes. Every connection runs on its own strand, and
// the handler runs on that strand too, so a handler needs no locking for its
// own request but must not block the thread (it is a coroutine: co_await).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "net/http.h"

namespace skiff::net {

namespace asio = boost::asio;

// How a handler answers: either Send() once, or stream with Begin(), any
// number of Write()s and End(). Owned by the server; valid only while the
// handler runs. Not thread-safe: use it from the handler's coroutine only.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;

  // Sends a complete response (Content-Length framed). Returns false when the
  // client has gone away or the write timed out; the connection is then closed.
  // REQUIRES: nothing sent yet.
  virtual asio::awaitable<bool> Send(HttpResponse response) = 0;

  // Starts a streamed response (chunked transfer encoding; on an HTTP/1.0
  // connection the body is sent raw and the connection closed at the end).
  // Returns false when the client has gone away.
  // REQUIRES: nothing sent yet.
  virtual asio::awaitable<bool> Begin(int status, HttpHeaders headers) = 0;

  // Sends one chunk and flushes it at once. Returns false once the client has
  // gone away (or the server is being torn down): the handler should stop
  // producing and return. An empty chunk sends nothing and reports whether the
  // client is known to be gone: from Begin() on, the server watches the
  // connection, and one the client closed or reset is known at once, so a
  // handler with nothing to send learns it at its next empty Write. (A client
  // that half-closes its side while it still reads counts as gone too.)
  // REQUIRES: Begin() succeeded, End() not called.
  virtual asio::awaitable<bool> Write(std::string_view chunk) = 0;

  // Ends a streamed response. If a handler returns without calling it, the
  // server ends the stream itself.
  // REQUIRES: Begin() called.
  virtual asio::awaitable<bool> End() = 0;

  // True once Send() or Begin() was called (even if the write failed).
  virtual bool started() const = 0;
};

// Handles one request. Runs on the connection's strand. An exception escaping
// it becomes a 500 JSON error (if nothing was sent yet) and a log line; it
// never takes the server down. Returning without sending anything is a bug
// answered with a 500 as well.
//
// Beware g++ 12: a brace-initialised temporary inside a co_await expression is
// destroyed twice (`co_await w.Send(ErrorResponse(Error{...}))` corrupts the
// heap); build such a value in a named local first and co_await with that.
using HttpHandler = std::function<asio::awaitable<void>(const HttpRequest&, ResponseWriter&)>;

struct HttpServerOptions {
  // A larger body is refused with 413 before it is read.
  size_t max_body_bytes = 1 << 20;
  // Request line plus header fields; larger is refused with 431.
  size_t max_header_bytes = 16 << 10;
  // From the first byte of a request to the end of its header (slow clients).
  Duration header_timeout = std::chrono::seconds(10);
  // Reading the body once the header is in.
  Duration body_timeout = std::chrono::seconds(60);
  // How long a kept-alive connection may sit without a new request.
  Duration idle_timeout = std::chrono::seconds(60);
  // One write (a full response or one chunk) to a client that does not read.
  Duration write_timeout = std::chrono::seconds(30);
  // Open connections at most (0: no cap); one more gets a 503 and is closed.
  size_t max_connections = 0;
  // After Stop(), how long in-flight requests may still run before their
  // connections are closed and their handlers cancelled.
  Duration stop_grace = std::chrono::seconds(10);
  // Serve HTTPS with this context (net::MakeServerTlsContext: the
  // certificate and key; TLS 1.2 at least), the handshake bounded by
  // header_timeout; null serves plain HTTP. Everything else (keep-alive,
  // streamed responses, limits, Stop) works the same over both.
  std::shared_ptr<asio::ssl::context> tls;
};

class HttpServer {
 public:
  // `io` must outlive every coroutine the server starts (destroying the
  // io_context is fine; it destroys them). The handler is called concurrently
  // from several threads for different connections.
  HttpServer(asio::io_context& io, HttpHandler handler, HttpServerOptions options = {});
  // Calls Stop() if it was not called; pending connections keep the internal
  // state alive until they finish.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds "host:port" ("127.0.0.1:7070", "0.0.0.0:0", "[::1]:8080",
  // "localhost:7070") and starts accepting. Port 0 picks a free port (see
  // port()). Errors: kInvalidArgument for an address that does not parse or
  // resolve, kUnavailable when it cannot be bound (in use, no permission).
  // REQUIRES: called once.
  Status Listen(std::string_view address);

  // The bound port; 0 before a successful Listen(). Thread-safe.
  uint16_t port() const;

  // Graceful shutdown, returns at once (safe to call from any thread, also from
  // a handler): stops accepting, closes idle connections, lets in-flight
  // requests finish and then closes their connections; after `stop_grace` the
  // rest are closed and their handlers cancelled. `on_drained` (optional) runs
  // on the io_context once no connection is left. Later calls do nothing.
  void Stop(std::function<void()> on_drained = nullptr);

  // Open connections right now. Thread-safe; for tests and metrics.
  size_t connection_count() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace skiff::net
