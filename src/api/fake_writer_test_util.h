// Test helpers for the API: an in-memory ResponseWriter and a way to run a
// handler coroutine to completion on a private io_context.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <functional>
#include <string>
#include <vector>

#include "net/http.h"
#include "net/http_server.h"

namespace skiff::api::testing {

namespace asio = boost::asio;

// Records what a handler sends. A streamed body is kept chunk by chunk; after
// `max_chunks` non-empty chunks Write reports the client gone, which is how a
// test ends a followed stream.
class FakeWriter final : public net::ResponseWriter {
 public:
  int status = 0;
  net::HttpHeaders headers;
  std::string body;  // Send's body, or the streamed chunks joined
  std::vector<std::string> chunks;
  bool streamed = false;
  bool ended = false;
  size_t max_chunks = 1000;
  // Called after each recorded chunk (on the handler's thread).
  std::function<void(const std::string&)> on_chunk;

  asio::awaitable<bool> Send(net::HttpResponse response) override {
    started_ = true;
    status = response.status;
    headers = response.headers;
    body = response.body;
    co_return true;
  }
  asio::awaitable<bool> Begin(int s, net::HttpHeaders h) override {
    started_ = true;
    streamed = true;
    status = s;
    headers = std::move(h);
    co_return true;
  }
  asio::awaitable<bool> Write(std::string_view chunk) override {
    if (chunk.empty()) co_return chunks.size() < max_chunks;
    chunks.emplace_back(chunk);
    body += chunk;
    if (on_chunk) on_chunk(std::string(chunk));
    co_return chunks.size() < max_chunks;
  }
  asio::awaitable<bool> End() override {
    ended = true;
    co_return true;
  }
  bool started() const override { return started_; }

  std::string_view Header(std::string_view name) const { return net::FindHeader(headers, name); }
  boost::json::value Json() const { return boost::json::parse(body); }

 private:
  bool started_ = false;
};

// Runs `handler(request, writer)` until it returns; rethrows its exception.
template <typename F>
void RunHandler(F&& handler, const net::HttpRequest& request, FakeWriter& writer) {
  asio::io_context io;
  std::exception_ptr failure;
  asio::co_spawn(io, handler(request, writer), [&failure](std::exception_ptr e) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace skiff::api::testing
