#include "net/upstream_pool.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace skiff::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// "127.0.0.1:20001" -> an endpoint; instance addresses are numeric.
Result<tcp::endpoint> ParseAddress(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos)
    return InvalidArgument("upstream address without a port: " + address);
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (ec || port <= 0 || port > 65535) return InvalidArgument("bad upstream address: " + address);
  return tcp::endpoint(ip, static_cast<uint16_t>(port));
}

}  // namespace

class UpstreamPool::Connection {
 public:
  explicit Connection(asio::io_context& io) : stream(io) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since;
};

UpstreamPool::UpstreamPool(asio::io_context& io, UpstreamOptions options)
    : io_(io), options_(options) {}

UpstreamPool::~UpstreamPool() = default;

size_t UpstreamPool::idle_count() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [address, list] : idle_) n += list.size();
  return n;
}

std::unique_ptr<UpstreamPool::Connection> UpstreamPool::TakeIdle(const std::string& address) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  auto it = idle_.find(address);
  while (it != idle_.end() && !it->second.empty()) {
    std::unique_ptr<Connection> c = std::move(it->second.back());
    it->second.pop_back();
    if (now - c->idle_since < options_.idle_timeout) return c;  // else: closed here
  }
  return nullptr;
}

void UpstreamPool::GiveBack(const std::string& address, std::unique_ptr<Connection> connection) {
  const auto now = std::chrono::steady_clock::now();
  connection->idle_since = now;
  std::lock_guard lock(mu_);
  auto& list = idle_[address];
  if (list.size() < options_.max_idle_per_address) list.push_back(std::move(connection));
  // Now and then, close what idled too long everywhere: addresses of
  // instances that are gone are never asked for again.
  if (now - last_prune_ < options_.idle_timeout) return;
  last_prune_ = now;
  for (auto entry = idle_.begin(); entry != idle_.end();) {
    std::erase_if(entry->second,
                  [&](const auto& c) { return now - c->idle_since >= options_.idle_timeout; });
    entry = entry->second.empty() ? idle_.erase(entry) : std::next(entry);
  }
}

asio::awaitable<Result<UpstreamReply>> UpstreamPool::Send(const std::string& address,
                                                          const HttpRequest& request,
                                                          bool idempotent, StreamSink* sink) {
  auto endpoint = ParseAddress(address);
  if (!endpoint) co_return tl::unexpected(endpoint.error());

  http::request<http::string_body> message{http::string_to_verb(request.method), request.target,
                                           11};
  if (message.method() == http::verb::unknown) message.method_string(request.method);
  for (const auto& [name, value] : request.headers) message.insert(name, value);
  message.body() = request.body;
  if (!request.body.empty() || message.method() == http::verb::post ||
      message.method() == http::verb::put || message.method() == http::verb::patch) {
    message.prepare_payload();
  }
  const bool head = message.method() == http::verb::head;

  // A pooled connection may have been closed by the upstream since (its idle
  // timeout): that shows as an error before any response byte. Then try once
  // more on a fresh connection, if the request may be sent twice or provably
  // never left (the write itself failed).
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> c = attempt == 0 ? TakeIdle(address) : nullptr;
    const bool reused = c != nullptr;
    if (!c) {
      c = std::make_unique<Connection>(io_);
      c->stream.expires_after(options_.connect_timeout);
      auto [ec] = co_await c->stream.async_connect(*endpoint, kNoThrow);
      if (ec) {
        co_return Unavailable("cannot connect to " + address + ": " + ec.message());
      }
      c->stream.socket().set_option(tcp::no_delay(true), ec);
    }
    c->stream.expires_after(options_.response_timeout);
    auto [write_ec, written] = co_await http::async_write(c->stream, message, kNoThrow);
    if (write_ec) {
      if (reused) continue;  // nothing the upstream could act on went out
      co_return Aborted("sending to " + address + ": " + write_ec.message());
    }
    // The head first; the body after, whole or piece by piece (buffer_body).
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);  // bounded below, for bodies read whole
    parser.skip(head);
    auto [read_ec, read] = co_await http::async_read_header(c->stream, c->buffer, parser, kNoThrow);
    if (read_ec) {
      if (read_ec == beast::error::timeout) {
        co_return DeadlineExceeded("no response from " + address + " in time");
      }
      const bool nothing_back =
          read == 0 && (read_ec == http::error::end_of_stream ||
                        read_ec == asio::error::connection_reset || read_ec == asio::error::eof);
      if (reused && nothing_back && idempotent) continue;
      if (read_ec == http::error::end_of_stream || read_ec == asio::error::eof ||
          read_ec == asio::error::connection_reset) {
        co_return Aborted("connection to " + address + " closed: " + read_ec.message());
      }
      co_return Internal("bad response from " + address + ": " + read_ec.message());
    }
    UpstreamReply out;
    out.response.status = static_cast<int>(parser.get().result_int());
    for (const auto& field : parser.get()) {
      out.response.headers.emplace_back(std::string(field.name_string()),
                                        std::string(field.value()));
    }
    const auto length = parser.content_length();
    out.streamed = sink != nullptr && !parser.is_done() &&
                   sink->WantsStream(out.response.status, out.response.headers,
                                     length ? std::optional<uint64_t>(*length) : std::nullopt);
    if (out.streamed && !co_await sink->Begin(out.response.status, out.response.headers)) {
      co_return out;  // the client is gone; the connection is dropped
    }
    std::array<char, 16 << 10> piece;
    while (!parser.is_done()) {
      parser.get().body().data = piece.data();
      parser.get().body().size = piece.size();
      // A stream may idle between pieces (server-sent events): the limit is
      // per piece there, on the whole response otherwise.
      if (out.streamed) c->stream.expires_after(options_.response_timeout);
      auto [body_ec, unused] =
          co_await http::async_read_some(c->stream, c->buffer, parser, kNoThrow);
      if (body_ec == http::error::need_buffer) body_ec = {};
      const size_t got = piece.size() - parser.get().body().size;
      if (body_ec) {
        if (out.streamed) co_return out;  // cut short: the client sees the stream end
        if (body_ec == beast::error::timeout) {
          co_return DeadlineExceeded("no complete response from " + address + " in time");
        }
        co_return Aborted("the response of " + address + " broke off: " + body_ec.message());
      }
      if (out.streamed) {
        if (got > 0 && !co_await sink->Write(std::string_view(piece.data(), got))) co_return out;
      } else {
        if (out.response.body.size() + got > options_.max_response_bytes) {
          co_return ResourceExhausted("the response of " + address + " is too large");
        }
        out.response.body.append(piece.data(), got);
      }
    }
    out.complete = true;
    if (parser.keep_alive()) {
      c->stream.expires_never();
      GiveBack(address, std::move(c));
    }
    co_return out;
  }
  co_return Aborted("connection to " + address + " closed before it answered");
}

}  // namespace skiff::net
