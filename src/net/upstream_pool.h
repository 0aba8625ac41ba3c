// UpstreamPool: the edge's HTTP/1.1 client to app instances, asynchronous
// (C++20 coroutines on the caller's io_context) with keep-alive connections
// pooled per upstream address, so a proxied request usually costs no connect.
//
// Errors say whether the request may have reached the upstream, which decides
// whether the edge may send it elsewhere:
//   kUnavailable       nothing was sent (connect refused / timed out): safe to retry
//   kAborted           the connection broke after the request went out
//   kDeadlineExceeded  no (complete) response in time
//   kResourceExhausted the response is larger than max_response_bytes
//   kInternal          the upstream answered something that is not HTTP
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "net/http.h"

namespace skiff::net {

struct UpstreamOptions {
  Duration connect_timeout = std::chrono::seconds(5);
  // From the request's first byte to the response's last.
  Duration response_timeout = std::chrono::seconds(60);
  size_t max_idle_per_address = 64;
  // An idle connection older than this is closed rather than reused: shorter
  // than the keep-alive timeout of common servers, so the edge drops it before
  // the upstream does (and connections to instances gone stay no longer).
  Duration idle_timeout = std::chrono::seconds(30);
  size_t max_response_bytes = 64 << 20;
};

// Where a response goes when the caller wants it as it arrives (server-sent
// events, long or unsized bodies) rather than whole. Used from the calling
// coroutine only.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Once the head is in: whether to take this response's body piece by piece.
  // `length` is its Content-Length, when it has one.
  virtual bool WantsStream(int status, const HttpHeaders& headers,
                           std::optional<uint64_t> length) = 0;
  // The head, then every piece of the body; false when the receiver is gone
  // (the rest is not read and the connection is dropped).
  virtual boost::asio::awaitable<bool> Begin(int status, const HttpHeaders& headers) = 0;
  virtual boost::asio::awaitable<bool> Write(std::string_view piece) = 0;
};

struct UpstreamReply {
  // Status and headers; the body too unless streamed.
  HttpResponse response;
  // The body went to the StreamSink (Begin was called), whatever came of it.
  bool streamed = false;
  // The whole response was read (false: a stream the upstream or the client cut short).
  bool complete = false;
};

class UpstreamPool {
 public:
  // `io` runs the connections and must outlive the pool.
  UpstreamPool(boost::asio::io_context& io, UpstreamOptions options = {});
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // Sends request.method / request.target / request.headers / request.body to
  // `address` ("127.0.0.1:20001") and reads the response: whole, or, when
  // `sink` (optional) wants it, its body piece by piece into the sink. The
  // caller's headers go as given (the caller removes hop-by-hop ones); Host
  // must be among them. A pooled connection the upstream closed meanwhile is
  // replaced by a fresh one transparently when the request had not gone out
  // yet, or when `idempotent` says sending it twice is harmless. Once a
  // stream began, its failures end the stream, not the call (see
  // UpstreamReply::complete). Thread-safe: any number of concurrent calls.
  boost::asio::awaitable<Result<UpstreamReply>> Send(const std::string& address,
                                                     const HttpRequest& request, bool idempotent,
                                                     StreamSink* sink = nullptr);

  // Idle connections kept now (for tests and metrics).
  size_t idle_count() const;

  class Connection;

 private:
  std::unique_ptr<Connection> TakeIdle(const std::string& address);
  void GiveBack(const std::string& address, std::unique_ptr<Connection> connection);

  boost::asio::io_context& io_;
  const UpstreamOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;  // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point last_prune_;                      // GUARDED_BY(mu_)
};

}  // namespace skiff::net
