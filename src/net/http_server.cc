#include "net/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "common/check.h"
#include "common/logging.h"
#include "net/host_port.h"
#include "net/no_throw.h"
#include "net/request_head.h"

namespace skiff::net {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr size_t kReadChunk = 16 << 10;
// After refusing a request we read and discard what the client is still
// sending (never into memory), bounded by both, so that closing the socket with
// unread bytes does not reset the connection before the client reads our answer.
constexpr size_t kMaxDiscardBytes = 8 << 20;
constexpr auto kDiscardTime = std::chrono::seconds(2);

std::string EndpointString(const tcp::endpoint& endpoint) {
  return JoinHostPort(endpoint.address().to_string(), endpoint.port());
}

std::string SizeString(size_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % (1 << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// TCP keepalive on an accepted connection, so that one whose client's machine
// vanished (no FIN, no RST) fails after about 90 s of silence (kKeepAlive*)
// rather than hours (the system's default waits two before the first probe):
// a streamed response's watch then sees its client gone, and the stream gives
// back what it holds. Best effort: a failure leaves the default.
constexpr int kKeepAliveIdle = 60;      // s without traffic before the first probe
constexpr int kKeepAliveInterval = 10;  // s between probes
constexpr int kKeepAliveCount = 3;      // unanswered probes before the connection fails

void SetKeepAlive(tcp::socket& socket) {
  const int fd = socket.native_handle();
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &kKeepAliveIdle, sizeof kKeepAliveIdle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &kKeepAliveInterval, sizeof kKeepAliveInterval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &kKeepAliveCount, sizeof kKeepAliveCount);
}

// A violation of the HTTP grammar (as opposed to the peer going away).
bool IsParseError(const error_code& ec) {
  static const auto& category = http::make_error_code(http::error::bad_method).category();
  return ec.category() == category && ec != http::error::end_of_stream &&
         ec != http::error::partial_message && ec != http::error::need_more &&
         ec != http::error::need_buffer;
}

Status ToHttpRequest(http::request<http::string_body>& message, std::string remote,
                     HttpRequest& out) {
  out.method = std::string(message.method_string());
  out.target = std::string(message.target());
  auto url = boost::urls::parse_origin_form(out.target);
  if (!url) return InvalidArgument("malformed request target \"" + out.target + "\"");
  out.path = url->path();
  for (const auto& param : url->params()) {
    out.query[param.key] = param.has_value ? param.value : std::string();
  }
  for (const auto& field : message) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = std::move(message.body());
  out.remote_address = std::move(remote);
  return OkStatus();
}

// A connection's byte stream: plain TCP, or TLS over it. Deadlines, the socket
// and closing are the TCP stream's (a deadline that passes closes the socket,
// failing a TLS operation too); reads and writes go through TLS when there is
// one. An AsyncReadStream and AsyncWriteStream, for Beast and Asio's
// algorithms. Not movable: the TLS stream refers to the TCP one.
class ConnectionStream {
 public:
  using executor_type = beast::tcp_stream::executor_type;
  using TlsStream = asio::ssl::stream<beast::tcp_stream&>;

  // `tls` null: plain HTTP.
  ConnectionStream(tcp::socket socket, asio::ssl::context* tls) : tcp_(std::move(socket)) {
    if (tls != nullptr) tls_.emplace(tcp_, *tls);
  }
  ConnectionStream(const ConnectionStream&) = delete;
  ConnectionStream& operator=(const ConnectionStream&) = delete;

  executor_type get_executor() { return tcp_.get_executor(); }
  tcp::socket& socket() { return tcp_.socket(); }
  template <typename Rep, typename Period>
  void expires_after(std::chrono::duration<Rep, Period> after) {
    tcp_.expires_after(after);
  }
  void expires_never() { tcp_.expires_never(); }
  void cancel() { tcp_.cancel(); }
  void close() { tcp_.close(); }
  TlsStream* tls() { return tls_ ? &*tls_ : nullptr; }

  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, size_t)>(
        [this](auto handler, const Buffers& data) {
          if (tls_) {
            tls_->async_read_some(data, std::move(handler));
          } else {
            tcp_.async_read_some(data, std::move(handler));
          }
        },
        token, buffers);
  }

  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(error_code, size_t)>(
        [this](auto handler, const Buffers& data) {
          if (tls_) {
            tls_->async_write_some(data, std::move(handler));
          } else {
            tcp_.async_write_some(data, std::move(handler));
          }
        },
        token, buffers);
  }

 private:
  beast::tcp_stream tcp_;
  std::optional<TlsStream> tls_;
};

// One accepted connection. Everything but `stream`'s construction happens on
// the connection's strand (the stream's executor).
struct Connection {
  Connection(tcp::socket socket, asio::ssl::context* tls) : stream(std::move(socket), tls) {}
  ConnectionStream stream;
  // Cancels the session coroutine (and so the handler) when the stop grace ends.
  asio::cancellation_signal cancel;
  bool idle = false;      // waiting for the first byte of a request
  bool stopping = false;  // server is stopping: no keep-alive, close when idle
  std::string remote;
};

// What the socket watch of a streamed response found; shared with the
// receive's completion handler, which may run after the writer is gone.
// Touched on the connection's strand only.
struct PeerWatch {
  bool active = true;  // the writer still streams: the socket may be used
  bool gone = false;   // the client closed or reset the connection
  char byte = 0;       // where the peek puts the first waiting byte
};

// Peeks at the client's side of `socket` (MSG_PEEK: nothing is taken from it)
// and says what is there: end of file or an error is a client gone; bytes are
// its next request (pipelined), which stay in the socket for the session to
// read, and the watch ends, since what follows them cannot be seen without
// reading them. A close that came before the watch began (a handler slow to
// Begin) is seen too: the receive is tried at once, and asio's epoll reactor
// re-arms the descriptor when it queues an operation, so the state the socket
// is in is reported, not only its later changes (the tests close and reset
// before Begin).
// Over TLS the socket is watched the same way: a client that closes or resets
// its connection is seen; one that sends a close_notify alert first is not
// (the alert is bytes like a request's, so the watch ends at it) and is
// noticed at the next write instead. TODO: watch through the TLS layer.
// REQUIRES: on the connection's strand; `socket` lives while `watch->active`.
void WatchPeer(std::shared_ptr<PeerWatch> watch, tcp::socket& socket) {
  socket.async_receive(asio::buffer(&watch->byte, 1), tcp::socket::message_peek,
                       [watch](const error_code& ec, size_t) {
                         // Inactive: the response ended and cancelled the receive.
                         if (!watch->active) return;
                         // End of file, a reset, or the socket closed by the stream's
                         // write timeout or the stop grace (EINTR is retried inside).
                         if (ec) watch->gone = true;
                       });
}

class ConnectionWriter final : public ResponseWriter {
 public:
  ConnectionWriter(Connection& connection, unsigned version, bool keep_alive, bool head,
                   Duration write_timeout)
      : connection_(connection),
        version_(version),
        keep_alive_(keep_alive),
        head_(head),
        write_timeout_(write_timeout) {}
  ~ConnectionWriter() override { StopWatch(); }
  ConnectionWriter(const ConnectionWriter&) = delete;
  ConnectionWriter& operator=(const ConnectionWriter&) = delete;

  asio::awaitable<bool> Send(HttpResponse response) override {
    SKIFF_CHECK(state_ == State::kNone);
    state_ = State::kDone;
    http::response<http::string_body> message{static_cast<http::status>(response.status), version_};
    for (auto& [name, value] : response.headers) message.insert(name, value);
    // A HEAD answer may state the length the GET would have (a proxy passes
    // the upstream's on): keep it rather than count the empty body.
    const bool head_length = head_ && !FindHeader(response.headers, "Content-Length").empty();
    message.body() = std::move(response.body);
    message.keep_alive(KeepAlive());
    if (!head_length) message.prepare_payload();
    Arm();
    error_code ec;
    if (head_) {
      http::response_serializer<http::string_body> serializer(message);
      std::tie(ec, std::ignore) =
          co_await http::async_write_header(connection_.stream, serializer, kNoThrow);
    } else {
      std::tie(ec, std::ignore) = co_await http::async_write(connection_.stream, message, kNoThrow);
    }
    co_return Finish(ec);
  }

  asio::awaitable<bool> Begin(int status, HttpHeaders headers) override {
    SKIFF_CHECK(state_ == State::kNone);
    state_ = State::kStreaming;
    // HTTP/1.0 has no chunked encoding: the body runs until the connection closes.
    chunked_ = version_ >= 11;
    http::response<http::empty_body> message{static_cast<http::status>(status), version_};
    for (auto& [name, value] : headers) message.insert(name, value);
    if (chunked_) {
      message.chunked(true);
      message.keep_alive(KeepAlive());
    } else {
      message.keep_alive(false);
      close_after_ = true;
    }
    http::response_serializer<http::empty_body> serializer(message);
    Arm();
    auto [ec, n] = co_await http::async_write_header(connection_.stream, serializer, kNoThrow);
    if (!Finish(ec)) co_return false;
    // A streaming handler may go a long time without writing (a watch with
    // nothing new): the socket is watched meanwhile so that a client that
    // closed its connection is noticed without waiting for a write to fail.
    watch_ = std::make_shared<PeerWatch>();
    WatchPeer(watch_, connection_.stream.socket());
    co_return true;
  }

  asio::awaitable<bool> Write(std::string_view chunk) override {
    SKIFF_CHECK(state_ == State::kStreaming);
    if (watch_ && watch_->gone) failed_ = true;
    if (failed_) co_return false;
    // An empty chunk would be the terminator in chunked encoding.
    if (chunk.empty()) co_return true;
    Arm();
    error_code ec;
    if (chunked_) {
      std::tie(ec, std::ignore) = co_await asio::async_write(
          connection_.stream, http::make_chunk(asio::buffer(chunk.data(), chunk.size())), kNoThrow);
    } else {
      std::tie(ec, std::ignore) = co_await asio::async_write(
          connection_.stream, asio::buffer(chunk.data(), chunk.size()), kNoThrow);
    }
    co_return Finish(ec);
  }

  asio::awaitable<bool> End() override {
    SKIFF_CHECK(state_ != State::kNone);
    if (state_ != State::kStreaming) co_return !failed_;
    state_ = State::kDone;
    if (watch_ && watch_->gone) failed_ = true;
    StopWatch();
    if (failed_) co_return false;
    if (!chunked_) co_return true;
    Arm();
    auto [ec, n] =
        co_await asio::async_write(connection_.stream, http::make_chunk_last(), kNoThrow);
    co_return Finish(ec);
  }

  bool started() const override { return state_ != State::kNone; }
  bool streaming() const { return state_ == State::kStreaming; }
  // Whether the connection can carry another request after this response.
  bool reusable() const { return state_ == State::kDone && !failed_ && !close_after_; }
  // The response cannot be completed (e.g. the handler threw mid-stream).
  void Abandon() { failed_ = true; }

 private:
  enum class State { kNone, kStreaming, kDone };

  bool KeepAlive() {
    bool keep = keep_alive_ && !connection_.stopping;
    if (!keep) close_after_ = true;
    return keep;
  }
  void Arm() { connection_.stream.expires_after(write_timeout_); }
  bool Finish(const error_code& ec) {
    connection_.stream.expires_never();
    if (ec) failed_ = true;
    return !failed_;
  }
  // Ends the socket watch before the socket is written or read otherwise.
  void StopWatch() {
    if (!watch_ || !watch_->active) return;
    watch_->active = false;
    error_code ignored;
    connection_.stream.socket().cancel(ignored);  // only the watch's receive is pending
  }

  Connection& connection_;
  const unsigned version_;
  const bool keep_alive_;
  const bool head_;
  const Duration write_timeout_;
  State state_ = State::kNone;
  bool chunked_ = false;
  bool failed_ = false;
  bool close_after_ = false;
  std::shared_ptr<PeerWatch> watch_;  // while streaming
};

}  // namespace

class HttpServer::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, HttpHandler handler, HttpServerOptions options)
      : io_(io),
        handler_(std::move(handler)),
        options_(options),
        acceptor_(asio::make_strand(io)),
        grace_timer_(io) {}

  Status Listen(std::string_view address);
  void Stop(std::function<void()> on_drained);
  uint16_t port() const { return port_.load(); }
  size_t connection_count() const {
    std::lock_guard lock(mu_);
    return connections_.size();
  }

 private:
  static asio::awaitable<void> AcceptLoop(std::shared_ptr<Impl> self);
  static asio::awaitable<void> Session(std::shared_ptr<Impl> self,
                                       std::shared_ptr<Connection> connection);
  asio::awaitable<void> Serve(Connection& connection);
  asio::awaitable<void> RunHandler(const HttpRequest& request, ConnectionWriter& writer);
  asio::awaitable<void> RefuseAndClose(Connection& connection, unsigned version, int status,
                                       const Error& error);
  void Remove(const std::shared_ptr<Connection>& connection);

  asio::io_context& io_;
  const HttpHandler handler_;
  const HttpServerOptions options_;
  tcp::acceptor acceptor_;  // used on its own strand only
  std::atomic<uint16_t> port_{0};

  mutable std::mutex mu_;
  std::set<std::shared_ptr<Connection>> connections_;  // guarded by mu_
  bool stopping_ = false;                              // guarded by mu_
  std::function<void()> on_drained_;                   // guarded by mu_
  asio::steady_timer grace_timer_;                     // calls guarded by mu_
};

Status HttpServer::Impl::Listen(std::string_view address) {
  SKIFF_ASSIGN_OR_RETURN(HostPort parsed, ParseHostPort(address, "listen address"));
  const std::string& host = parsed.host;
  const uint16_t port = parsed.port;
  const std::string port_text = std::to_string(port);
  error_code ec;
  tcp::endpoint endpoint;
  if (host.empty()) {
    endpoint = tcp::endpoint(tcp::v4(), port);
  } else if (auto ip = asio::ip::make_address(host, ec); !ec) {
    endpoint = tcp::endpoint(ip, port);
  } else {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(host, port_text, ec);
    if (ec || results.empty()) {
      return InvalidArgument("cannot resolve listen host \"" + host + "\": " + ec.message());
    }
    endpoint = results.begin()->endpoint();
  }
  const std::string where = EndpointString(endpoint);
  if (acceptor_.open(endpoint.protocol(), ec); ec) {
    return Unavailable("cannot listen on " + where + ": " + ec.message());
  }
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor_.bind(endpoint, ec); ec) {
    return Unavailable("cannot listen on " + where + ": " + ec.message());
  }
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Unavailable("cannot listen on " + where + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  asio::co_spawn(acceptor_.get_executor(), AcceptLoop(shared_from_this()), asio::detached);
  return OkStatus();
}

asio::awaitable<void> HttpServer::Impl::AcceptLoop(std::shared_ptr<Impl> self) {
  for (;;) {
    tcp::socket socket(asio::make_strand(self->io_));
    auto [ec] = co_await self->acceptor_.async_accept(socket, kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) co_return;
      // Typically out of file descriptors: back off instead of spinning.
      SKIFF_LOG_WARN("http: accept failed: {}", ec.message());
      asio::steady_timer pause(self->acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    auto connection = std::make_shared<Connection>(std::move(socket), self->options_.tls.get());
    bool over_cap = false;
    {
      std::lock_guard lock(self->mu_);
      if (self->stopping_) continue;  // the socket closes with `connection`
      over_cap = self->options_.max_connections > 0 &&
                 self->connections_.size() >= self->options_.max_connections;
      if (!over_cap) self->connections_.insert(connection);
    }
    if (over_cap && self->options_.tls) {
      // Past the cap over TLS: no handshake for a 503; the client sees the close.
      continue;
    }
    if (over_cap) {
      // Past the cap: a short 503 (best effort, never waiting on the client),
      // then the connection closes with `connection`.
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
          "Content-Length: 0\r\n\r\n";
      error_code ignored;
      connection->stream.socket().non_blocking(true, ignored);
      connection->stream.socket().write_some(asio::buffer(kBusy), ignored);
      connection->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      continue;
    }
    auto executor = connection->stream.get_executor();
    auto slot = connection->cancel.slot();
    asio::co_spawn(executor, Session(self, std::move(connection)),
                   asio::bind_cancellation_slot(slot, asio::detached));
  }
}

asio::awaitable<void> HttpServer::Impl::Session(std::shared_ptr<Impl> self,
                                                std::shared_ptr<Connection> connection) {
  try {
    co_await self->Serve(*connection);
  } catch (const std::exception& e) {
    // Cancelled at the end of the stop grace, or an I/O error thrown by a
    // handler's own awaits; either way the connection is done.
    SKIFF_LOG_DEBUG("http: connection from {} ended: {}", connection->remote, e.what());
  }
  error_code ec;
  connection->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  connection->stream.close();
  self->Remove(connection);
}

asio::awaitable<void> HttpServer::Impl::Serve(Connection& connection) {
  auto& stream = connection.stream;
  error_code ec;
  stream.socket().set_option(tcp::no_delay(true), ec);
  SetKeepAlive(stream.socket());
  connection.remote = EndpointString(stream.socket().remote_endpoint(ec));
  if (auto* tls = stream.tls()) {
    // The handshake is bounded like a request's header (a slow client).
    stream.expires_after(options_.header_timeout);
    auto [handshake_ec] = co_await tls->async_handshake(asio::ssl::stream_base::server, kNoThrow);
    if (handshake_ec) {
      SKIFF_LOG_DEBUG("http: TLS handshake with {} failed: {}", connection.remote,
                      handshake_ec.message());
      co_return;
    }
  }
  beast::flat_buffer buffer;
  for (;;) {
    if (buffer.size() == 0) {
      // Between requests the idle timeout applies, and Stop() may close us.
      connection.idle = true;
      if (connection.stopping) co_return;
      stream.expires_after(options_.idle_timeout);
      auto [read_ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunk), kNoThrow);
      connection.idle = false;
      if (read_ec) co_return;
      buffer.commit(n);
    }

    // The head must pass the strict scan (request_head.h) before the parser
    // sees it: what it refuses is what request smuggling is made of.
    RequestHeadScan scan;
    stream.expires_after(options_.header_timeout);
    while (true) {
      auto data = buffer.cdata();
      scan = ScanRequestHead(std::string_view(static_cast<const char*>(data.data()), data.size()));
      if (scan.state != RequestHeadScan::State::kIncomplete) break;
      if (buffer.size() > options_.max_header_bytes) break;
      auto [read_ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunk), kNoThrow);
      if (read_ec) co_return;  // closed, or too slow
      buffer.commit(n);
    }
    if (scan.state != RequestHeadScan::State::kComplete) {
      // Incomplete here: the whole head is over max_header_bytes.
      const int status = scan.state == RequestHeadScan::State::kIncomplete ? 431 : scan.status;
      Error refused =
          status != 400
              ? Error{ErrorCode::kResourceExhausted,
                      scan.state == RequestHeadScan::State::kIncomplete
                          ? "request header exceeds " + SizeString(options_.max_header_bytes)
                          : scan.problem}
              : Error{ErrorCode::kInvalidArgument, "malformed HTTP request: " + scan.problem};
      co_await RefuseAndClose(connection, 11, status, refused);
      co_return;
    }

    // g++ 12 destroys brace-initialised temporaries inside a co_await
    // expression twice, so refusals are built here and sent in one place.
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    parser.body_limit(options_.max_body_bytes);
    int refuse_status = 0;
    Error refusal;
    const size_t body_limit = options_.max_body_bytes;
    const std::string too_large = "request body exceeds " + SizeString(body_limit);
    stream.expires_after(options_.header_timeout);
    std::tie(ec, std::ignore) = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
    if (ec == http::error::body_limit) {  // a Content-Length over the limit
      refuse_status = 413;
      refusal = Error{ErrorCode::kResourceExhausted, too_large};
    } else if (ec == http::error::header_limit) {
      refuse_status = 431;
      refusal = Error{ErrorCode::kResourceExhausted,
                      "request header exceeds " + SizeString(options_.max_header_bytes)};
    } else if (IsParseError(ec)) {
      refuse_status = 400;
      refusal = Error{ErrorCode::kInvalidArgument, "malformed HTTP request: " + ec.message()};
    } else if (ec) {
      co_return;  // closed, or too slow (the stream is already closed)
    } else if (auto length = parser.content_length(); length && *length > body_limit) {
      refuse_status = 413;
      refusal = Error{ErrorCode::kResourceExhausted, too_large};
    } else if (!parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        stream.expires_after(options_.write_timeout);
        std::tie(ec, std::ignore) =
            co_await asio::async_write(stream, asio::buffer(kContinue), kNoThrow);
        if (ec) co_return;
      }
      stream.expires_after(options_.body_timeout);
      std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, parser, kNoThrow);
      if (ec == http::error::body_limit) {
        refuse_status = 413;
        refusal = Error{ErrorCode::kResourceExhausted, too_large};
      } else if (IsParseError(ec)) {
        refuse_status = 400;
        refusal = Error{ErrorCode::kInvalidArgument, "malformed HTTP request: " + ec.message()};
      } else if (ec) {
        co_return;
      }
    }
    const unsigned version = parser.is_header_done() ? parser.get().version() : 11;
    HttpRequest request;
    if (refuse_status == 0) {
      if (auto status = ToHttpRequest(parser.get(), connection.remote, request); !status) {
        refuse_status = 400;
        refusal = status.error();
      }
    }
    if (refuse_status != 0) {
      co_await RefuseAndClose(connection, version, refuse_status, refusal);
      co_return;
    }
    stream.expires_never();

    const bool keep_alive = parser.get().keep_alive();
    const bool head = parser.get().method() == http::verb::head;
    ConnectionWriter writer(connection, version, keep_alive, head, options_.write_timeout);
    co_await RunHandler(request, writer);
    if (!writer.reusable()) co_return;
  }
}

asio::awaitable<void> HttpServer::Impl::RunHandler(const HttpRequest& request,
                                                   ConnectionWriter& writer) {
  std::string failure;
  try {
    co_await handler_(request, writer);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (!failure.empty()) {
    SKIFF_LOG_ERROR("http: handler for {} {} threw: {}", request.method, request.target, failure);
    if (!writer.started()) {
      HttpResponse response =
          ErrorResponse(Error{ErrorCode::kInternal, "internal error: " + failure});
      co_await writer.Send(std::move(response));
    } else {
      writer.Abandon();  // a half-sent response cannot be repaired
    }
    co_return;
  }
  if (!writer.started()) {
    SKIFF_LOG_ERROR("http: handler for {} {} sent no response", request.method, request.target);
    HttpResponse response =
        ErrorResponse(Error{ErrorCode::kInternal, "internal error: handler sent no response"});
    co_await writer.Send(std::move(response));
  } else if (writer.streaming()) {
    co_await writer.End();
  }
}

asio::awaitable<void> HttpServer::Impl::RefuseAndClose(Connection& connection, unsigned version,
                                                       int status, const Error& error) {
  auto response = ErrorResponse(error);
  http::response<http::string_body> message{static_cast<http::status>(status), version};
  for (auto& [name, value] : response.headers) message.insert(name, value);
  message.body() = std::move(response.body);
  message.keep_alive(false);
  message.prepare_payload();
  auto& stream = connection.stream;
  stream.expires_after(options_.write_timeout);
  auto [ec, n] = co_await http::async_write(stream, message, kNoThrow);
  if (ec) co_return;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 16 << 10> sink;
  size_t discarded = 0;
  stream.expires_after(kDiscardTime);
  while (discarded < kMaxDiscardBytes) {
    auto [read_ec, read] = co_await stream.async_read_some(asio::buffer(sink), kNoThrow);
    if (read_ec) break;
    discarded += read;
  }
}

void HttpServer::Impl::Remove(const std::shared_ptr<Connection>& connection) {
  std::function<void()> on_drained;
  {
    std::lock_guard lock(mu_);
    connections_.erase(connection);
    if (!stopping_ || !connections_.empty()) return;
    grace_timer_.cancel();
    on_drained = std::move(on_drained_);
    on_drained_ = nullptr;
  }
  if (on_drained) on_drained();
}

void HttpServer::Impl::Stop(std::function<void()> on_drained) {
  std::vector<std::shared_ptr<Connection>> connections;
  auto self = shared_from_this();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    connections.assign(connections_.begin(), connections_.end());
    if (connections.empty()) {
      if (on_drained) asio::post(io_, std::move(on_drained));
    } else {
      on_drained_ = std::move(on_drained);
      grace_timer_.expires_after(options_.stop_grace);
      grace_timer_.async_wait([self](error_code ec) {
        if (ec) return;
        std::vector<std::shared_ptr<Connection>> late;
        {
          std::lock_guard lock(self->mu_);
          late.assign(self->connections_.begin(), self->connections_.end());
        }
        for (auto& connection : late) {
          SKIFF_LOG_WARN("http: closing connection from {} at the end of the stop grace",
                         connection->remote);
          asio::post(connection->stream.get_executor(), [connection] {
            connection->stream.close();
            connection->cancel.emit(asio::cancellation_type::terminal);
          });
        }
      });
    }
  }
  asio::post(acceptor_.get_executor(), [self] {
    error_code ec;
    self->acceptor_.close(ec);
  });
  for (auto& connection : connections) {
    asio::post(connection->stream.get_executor(), [connection] {
      connection->stopping = true;
      if (connection->idle) connection->stream.cancel();
    });
  }
}

HttpServer::HttpServer(asio::io_context& io, HttpHandler handler, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(handler), options)) {}

HttpServer::~HttpServer() { impl_->Stop(nullptr); }

Status HttpServer::Listen(std::string_view address) { return impl_->Listen(address); }

uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::Stop(std::function<void()> on_drained) { impl_->Stop(std::move(on_drained)); }

size_t HttpServer::connection_count() const { return impl_->connection_count(); }

}  // namespace skiff::net
