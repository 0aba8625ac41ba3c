#include "net/http_client.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <exception>
#include <optional>

#include "net/no_throw.h"

namespace skiff::net {

struct HttpClient::TlsSetup {
  std::shared_ptr<boost::asio::ssl::context> context;
  std::string ca_fingerprint;  // empty: OpenSSL verified the chain in the handshake
};

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;
using boost::system::error_code;

// Guards against a runaway peer; real responses are far smaller.
constexpr uint64_t kMaxResponseBody = 256ull << 20;
// How much of a non-2xx body Stream() keeps for the error message.
constexpr uint64_t kMaxErrorBody = 1 << 20;

// Where a base URL points.
struct Target {
  bool is_unix = false;
  bool is_tls = false;      // https://
  std::string host;         // tcp
  std::string port;         // tcp
  std::string socket_path;  // unix
  std::string prefix;       // path put before every request path (tcp only)
  std::string display;      // "127.0.0.1:7070" or "unix:///var/run/docker.sock"
  std::string host_header;
};

Result<Target> ParseBaseUrl(const std::string& base_url) {
  static constexpr std::string_view kUnix = "unix://";
  Target target;
  if (base_url.rfind(kUnix, 0) == 0) {
    target.is_unix = true;
    target.socket_path = base_url.substr(kUnix.size());
    if (target.socket_path.empty()) {
      return InvalidArgument("base URL \"" + base_url + "\" names no socket path");
    }
    target.display = base_url;
    // Docker (and HTTP/1.1) insist on a Host header; any name does.
    target.host_header = "localhost";
    return target;
  }
  auto url = boost::urls::parse_uri(base_url);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
    return InvalidArgument("base URL \"" + base_url +
                           "\" is not http://host:port, https://host:port or unix:///path");
  }
  target.is_tls = url->scheme() == "https";
  const std::string default_port = target.is_tls ? "443" : "80";
  target.host = url->host_address();
  if (target.host.size() >= 2 && target.host.front() == '[') {
    target.host = target.host.substr(1, target.host.size() - 2);
  }
  target.port = url->has_port() ? std::string(url->port()) : default_port;
  target.prefix = std::string(url->encoded_path());
  while (!target.prefix.empty() && target.prefix.back() == '/') target.prefix.pop_back();
  target.display = std::string(url->encoded_host_and_port());
  if (!url->has_port()) target.display += ":" + default_port;
  target.host_header = std::string(url->encoded_host_and_port());
  return target;
}

std::string Lowercase(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

constexpr std::string_view kCannotConnect = "cannot connect to ";

// Maps a failed step ("connect", "send request", "read response") to the code
// that tells the caller what to do.
Error MapError(const error_code& ec, std::string_view step, const Target& target,
               Duration timeout) {
  if (ec == beast::error::timeout) {
    return Error{ErrorCode::kDeadlineExceeded, std::string(step) + " to " + target.display +
                                                   ": timed out after " +
                                                   std::to_string(timeout.count()) + "ms"};
  }
  if (step == "connect") {
    return Error{ErrorCode::kUnavailable,
                 std::string(kCannotConnect) + target.display + ": " + Lowercase(ec.message())};
  }
  if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return Error{ErrorCode::kInternal,
                 "bad HTTP response from " + target.display + ": " + ec.message()};
  }
  return Error{ErrorCode::kUnavailable,
               std::string(step) + " to " + target.display + ": " + Lowercase(ec.message())};
}

http::request<http::string_body> BuildRequest(const Target& target, std::string_view method,
                                              std::string_view path, std::string_view body,
                                              const HttpHeaders& headers) {
  http::request<http::string_body> request;
  request.version(11);
  if (auto verb = http::string_to_verb(method); verb != http::verb::unknown) {
    request.method(verb);
  } else {
    request.method_string(method);
  }
  std::string full_path = target.prefix + std::string(path);
  if (full_path.empty() || full_path.front() != '/') full_path.insert(0, "/");
  request.target(full_path);
  request.set(http::field::host, target.host_header);
  request.set(http::field::user_agent, "skiff");
  // A caller's Host (a virtual host behind a proxy) replaces the address's.
  for (const auto& [name, value] : headers) {
    if (beast::iequals(name, "Host")) {
      request.set(http::field::host, value);
    } else {
      request.insert(name, value);
    }
  }
  if (!body.empty() && FindHeader(headers, "Content-Type").empty()) {
    request.set(http::field::content_type, "application/json");
  }
  request.body() = std::string(body);
  request.keep_alive(false);
  request.prepare_payload();
  return request;
}

// A socket stream whose operations fail with beast::error::timeout (closing the
// socket) once the deadline set by expires_after passes.
template <typename Protocol>
using Stream = beast::basic_stream<Protocol>;

asio::awaitable<error_code> Connect(Stream<tcp>& stream, const Target& target) {
  error_code ec;
  auto address = asio::ip::make_address(target.host, ec);
  if (!ec) {
    unsigned long port = std::stoul(target.port);
    auto [connect_ec] = co_await stream.async_connect(
        tcp::endpoint(address, static_cast<uint16_t>(port)), kNoThrow);
    co_return connect_ec;
  }
  // Names are rare here (the CLI mostly talks to an IP); resolving blocks, which
  // a blocking client may do.
  tcp::resolver resolver(stream.get_executor());
  auto results = resolver.resolve(target.host, target.port, ec);
  if (ec) co_return ec;
  auto [connect_ec, endpoint] = co_await stream.async_connect(results, kNoThrow);
  co_return connect_ec;
}

asio::awaitable<error_code> Connect(Stream<unix_socket>& stream, const Target& target) {
  auto [ec] = co_await stream.async_connect(unix_socket::endpoint(target.socket_path), kNoThrow);
  co_return ec;
}

template <typename Protocol>
void Close(Stream<Protocol>& stream) {
  error_code ec;
  stream.socket().shutdown(Protocol::socket::shutdown_both, ec);
  stream.close();
}

// Sends `request` on `io` (the connection, or the TLS stream over it) and
// reads the whole response; `stream` is the socket's stream under it.
template <typename IoStream, typename Protocol>
asio::awaitable<Result<HttpResponse>> Exchange(IoStream& io, Stream<Protocol>& stream,
                                               const Target& target,
                                               http::request<http::string_body>& request,
                                               Duration timeout) {
  auto [write_ec, written] = co_await http::async_write(io, request, kNoThrow);
  if (write_ec) co_return tl::unexpected(MapError(write_ec, "send request", target, timeout));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBody);
  if (request.method() == http::verb::head) parser.skip(true);
  auto [read_ec, read] = co_await http::async_read(io, buffer, parser, kNoThrow);
  if (read_ec) co_return tl::unexpected(MapError(read_ec, "read response", target, timeout));
  Close(stream);
  auto& message = parser.get();
  HttpResponse response;
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(message.body());
  co_return response;
}

// Sends `request` on `io` and streams the response to `on_data` (see
// HttpClient::Stream); `stream` is the socket's stream under `io`, whose
// deadline is `limit` until the header is in.
template <typename IoStream, typename Protocol>
asio::awaitable<Result<int>> StreamExchange(IoStream& io, Stream<Protocol>& stream,
                                            const Target& target,
                                            http::request<http::string_body>& request,
                                            const std::function<bool(std::string_view)>& on_data,
                                            Duration timeout, Duration limit) {
  auto [write_ec, written] = co_await http::async_write(io, request, kNoThrow);
  if (write_ec) co_return tl::unexpected(MapError(write_ec, "send request", target, limit));
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  auto [header_ec, header_read] = co_await http::async_read_header(io, buffer, parser, kNoThrow);
  if (header_ec) co_return tl::unexpected(MapError(header_ec, "read response", target, limit));
  const int status = static_cast<int>(parser.get().result_int());
  const bool success = status >= 200 && status < 300;

  std::array<char, 16 << 10> chunk;
  std::string error_body;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    if (timeout == Duration::zero() && success) {
      stream.expires_never();
    } else {
      stream.expires_after(limit);
    }
    auto [ec, n] = co_await http::async_read_some(io, buffer, parser, kNoThrow);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return tl::unexpected(MapError(ec, "read response", target, limit));
    std::string_view data(chunk.data(), chunk.size() - parser.get().body().size);
    if (data.empty()) continue;
    if (!success) {
      if (error_body.size() < kMaxErrorBody) error_body.append(data);
      continue;
    }
    if (!on_data(data)) break;
  }
  Close(stream);
  if (!success) co_return tl::unexpected(ErrorFromResponse(status, error_body));
  co_return status;
}

// The TLS handshake on `secure`, then the pinned CA's check when there is
// one: all before anything is sent.
template <typename SecureStream>
asio::awaitable<Status> Handshake(SecureStream& secure, const Target& target,
                                  const HttpClient::TlsSetup& tls, Duration timeout) {
  SSL* ssl = secure.native_handle();
  if (auto named = SetPeerName(ssl, target.host); !named) co_return named;
  auto [ec] = co_await secure.async_handshake(asio::ssl::stream_base::client, kNoThrow);
  if (ec) {
    if (ec == beast::error::timeout)
      co_return tl::unexpected(MapError(ec, "connect", target, timeout));
    if (auto verified = HandshakeVerifyError(ssl, target.display); !verified) co_return verified;
    co_return tl::unexpected(
        Error{ErrorCode::kUnavailable, std::string(kCannotConnect) + target.display +
                                           ": TLS handshake failed: " + Lowercase(ec.message())});
  }
  if (!tls.ca_fingerprint.empty()) {
    TlsPeerCheck check{target.display, target.host, tls.ca_fingerprint};
    co_return VerifyPinnedPeer(ssl, check);
  }
  co_return OkStatus();
}

template <typename Protocol>
asio::awaitable<Result<HttpResponse>> DoOn(const Target& target, const HttpClient::TlsSetup* tls,
                                           http::request<http::string_body> request,
                                           Duration timeout) {
  Stream<Protocol> stream(co_await asio::this_coro::executor);
  // One deadline for the whole exchange.
  stream.expires_after(timeout);
  if (auto ec = co_await Connect(stream, target))
    co_return tl::unexpected(MapError(ec, "connect", target, timeout));
  if (tls != nullptr) {
    asio::ssl::stream<Stream<Protocol>&> secure(stream, *tls->context);
    if (auto status = co_await Handshake(secure, target, *tls, timeout); !status) {
      co_return tl::unexpected(status.error());
    }
    co_return co_await Exchange(secure, stream, target, request, timeout);
  }
  co_return co_await Exchange(stream, stream, target, request, timeout);
}

template <typename Protocol>
asio::awaitable<Result<int>> StreamOn(const Target& target, const HttpClient::TlsSetup* tls,
                                      http::request<http::string_body> request,
                                      const std::function<bool(std::string_view)>& on_data,
                                      Duration timeout) {
  // The header phase always has a limit, even when the body has none.
  const Duration limit = timeout == Duration::zero() ? HttpClient::kDefaultTimeout : timeout;
  Stream<Protocol> stream(co_await asio::this_coro::executor);
  stream.expires_after(limit);
  if (auto ec = co_await Connect(stream, target))
    co_return tl::unexpected(MapError(ec, "connect", target, limit));
  if (tls != nullptr) {
    asio::ssl::stream<Stream<Protocol>&> secure(stream, *tls->context);
    if (auto status = co_await Handshake(secure, target, *tls, limit); !status) {
      co_return tl::unexpected(status.error());
    }
    co_return co_await StreamExchange(secure, stream, target, request, on_data, timeout, limit);
  }
  co_return co_await StreamExchange(stream, stream, target, request, on_data, timeout, limit);
}

// Runs `operation` to completion on a private io_context.
template <typename T>
Result<T> RunBlocking(asio::io_context& io, asio::awaitable<Result<T>> operation) {
  std::optional<Result<T>> outcome;
  asio::co_spawn(io, std::move(operation), [&outcome](std::exception_ptr error, Result<T> result) {
    if (!error) {
      outcome = std::move(result);
      return;
    }
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      outcome = Internal(std::string("http client: ") + e.what());
    } catch (...) {
      outcome = Internal("http client: unknown exception");
    }
  });
  io.run();
  if (!outcome) return Internal("http client: operation did not complete");
  return std::move(*outcome);
}

}  // namespace

bool NeverSent(const Error& error) {
  // Both spellings MapError gives a failed connect: refused, and timed out.
  return (error.code == ErrorCode::kUnavailable && error.message.starts_with(kCannotConnect)) ||
         (error.code == ErrorCode::kDeadlineExceeded && error.message.starts_with("connect to ")) ||
         (error.code == ErrorCode::kUnauthenticated && error.message.starts_with(kCannotTrust));
}

HttpClient::HttpClient(std::string base_url, TlsTrust trust) : base_url_(std::move(base_url)) {
  auto target = ParseBaseUrl(base_url_);
  if (!target || !target->is_tls) return;
  auto context = MakeClientTlsContext(trust);
  if (!context) {
    tls_error_ = context.error();
    return;
  }
  tls_ = std::make_shared<const TlsSetup>(TlsSetup{*context, std::move(trust.ca_fingerprint)});
}

Status HttpClient::Check() const {
  SKIFF_ASSIGN_OR_RETURN(Target target, ParseBaseUrl(base_url_));
  if (tls_error_) return tl::unexpected(*tls_error_);
  return OkStatus();
}

Result<HttpResponse> HttpClient::Do(std::string_view method, std::string_view path,
                                    std::string_view body, const HttpHeaders& headers,
                                    Duration timeout, std::stop_token stop) const {
  SKIFF_RETURN_IF_ERROR(Check());
  SKIFF_ASSIGN_OR_RETURN(Target target, ParseBaseUrl(base_url_));
  if (method.empty()) return InvalidArgument("empty HTTP method");
  auto request = BuildRequest(target, method, path, body, headers);
  asio::io_context io;
  // As in Stream: stopping the context ends run(), and destroying the
  // unfinished coroutine closes the connection.
  std::stop_callback on_stop(stop, [&io] { io.stop(); });
  auto result =
      target.is_unix
          ? RunBlocking(io, DoOn<unix_socket>(target, nullptr, std::move(request), timeout))
          : RunBlocking(io, DoOn<tcp>(target, tls_.get(), std::move(request), timeout));
  if (stop.stop_requested()) return Aborted("call to " + target.display + " cancelled");
  return result;
}

Result<int> HttpClient::Stream(std::string_view method, std::string_view path,
                               const HttpHeaders& headers,
                               const std::function<bool(std::string_view chunk)>& on_data,
                               Duration timeout, std::stop_token stop) const {
  return Stream(method, path, {}, headers, on_data, timeout, std::move(stop));
}

Result<int> HttpClient::Stream(std::string_view method, std::string_view path,
                               std::string_view body, const HttpHeaders& headers,
                               const std::function<bool(std::string_view chunk)>& on_data,
                               Duration timeout, std::stop_token stop) const {
  SKIFF_RETURN_IF_ERROR(Check());
  SKIFF_ASSIGN_OR_RETURN(Target target, ParseBaseUrl(base_url_));
  if (method.empty()) return InvalidArgument("empty HTTP method");
  auto request = BuildRequest(target, method, path, body, headers);
  asio::io_context io;
  // Stopping the context ends run() (at once if it has not begun); destroying
  // it then destroys the unfinished coroutine, which closes the connection.
  std::stop_callback on_stop(stop, [&io] { io.stop(); });
  auto result =
      target.is_unix
          ? RunBlocking(
                io, StreamOn<unix_socket>(target, nullptr, std::move(request), on_data, timeout))
          : RunBlocking(io,
                        StreamOn<tcp>(target, tls_.get(), std::move(request), on_data, timeout));
  if (stop.stop_requested()) return Aborted("stream to " + target.display + " cancelled");
  return result;
}

}  // namespace skiff::net
