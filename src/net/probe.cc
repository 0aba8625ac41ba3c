#include "net/probe.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

namespace skiff::net {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// A health endpoint's body is never needed; a bound keeps a broken one cheap.
constexpr uint64_t kMaxProbeBody = 64 << 10;

std::string Describe(const error_code& ec, Duration timeout) {
  if (ec == beast::error::timeout)
    return "timed out after " + std::to_string(timeout.count()) + "ms";
  std::string text = ec.message();
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// Connects `stream` (whose deadline is already set) to host:port.
asio::awaitable<error_code> Connect(beast::tcp_stream& stream, const std::string& host,
                                    uint16_t port) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    auto [connect_ec] = co_await stream.async_connect(tcp::endpoint(address, port), kNoThrow);
    co_return connect_ec;
  }
  tcp::resolver resolver(stream.get_executor());
  auto [resolve_ec, results] =
      co_await resolver.async_resolve(host, std::to_string(port), kNoThrow);
  if (resolve_ec) co_return resolve_ec;
  auto [connect_ec, endpoint] = co_await stream.async_connect(results, kNoThrow);
  co_return connect_ec;
}

// The probes proper run on a strand of the caller's executor: a tcp_stream's
// timeout handler closes the socket from the stream's executor, which must not
// race with the coroutine when the io_context runs on several threads.
asio::awaitable<ProbeResult> HttpOnStrand(std::string host, uint16_t port, std::string path,
                                          Duration timeout) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  if (auto ec = co_await Connect(stream, host, port)) {
    co_return ProbeResult{false, "connect: " + Describe(ec, timeout)};
  }
  http::request<http::empty_body> request{http::verb::get, path, 11};
  request.set(http::field::host, host + ":" + std::to_string(port));
  request.set(http::field::user_agent, "skiff-probe");
  request.keep_alive(false);
  const std::string what = "GET " + path;
  auto [write_ec, written] = co_await http::async_write(stream, request, kNoThrow);
  if (write_ec) co_return ProbeResult{false, what + ": " + Describe(write_ec, timeout)};
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxProbeBody);
  auto [read_ec, read] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.close();
  if (read_ec) {
    if (read_ec == beast::error::timeout) {
      co_return ProbeResult{false,
                            what + " timed out after " + std::to_string(timeout.count()) + "ms"};
    }
    co_return ProbeResult{false, what + ": " + Describe(read_ec, timeout)};
  }
  const int status = static_cast<int>(parser.get().result_int());
  co_return ProbeResult{status >= 200 && status < 400,
                        what + " returned " + std::to_string(status)};
}

asio::awaitable<ProbeResult> TcpOnStrand(std::string host, uint16_t port, Duration timeout) {
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  if (auto ec = co_await Connect(stream, host, port)) {
    co_return ProbeResult{false, "connect: " + Describe(ec, timeout)};
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.close();
  co_return ProbeResult{true, "connected"};
}

}  // namespace

asio::awaitable<ProbeResult> ProbeHttp(asio::any_io_executor executor, std::string host,
                                       uint16_t port, std::string path, Duration timeout) {
  if (path.empty() || path.front() != '/') path.insert(0, "/");
  co_return co_await asio::co_spawn(asio::make_strand(executor),
                                    HttpOnStrand(std::move(host), port, std::move(path), timeout),
                                    asio::use_awaitable);
}

asio::awaitable<ProbeResult> ProbeTcp(asio::any_io_executor executor, std::string host,
                                      uint16_t port, Duration timeout) {
  co_return co_await asio::co_spawn(asio::make_strand(executor),
                                    TcpOnStrand(std::move(host), port, timeout),
                                    asio::use_awaitable);
}

}  // namespace skiff::net
