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
#include <string>
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

class UpstreamPool {
 public:
  // `io` runs the connections and must outlive the pool.
  UpstreamPool(boost::asio::io_context& io, UpstreamOptions options = {});
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // Sends request.method / request.target / request.headers / request.body to
  // `address` ("127.0.0.1:20001") and reads the whole response. The caller's
  // headers go as given (the caller removes hop-by-hop ones); Host must be
  // among them. A pooled connection the upstream closed meanwhile is replaced
  // by a fresh one transparently when the request had not gone out yet, or
  // when `idempotent` says sending it twice is harmless.
  // Thread-safe: any number of concurrent calls.
  boost::asio::awaitable<Result<HttpResponse>> Send(const std::string& address,
                                                    const HttpRequest& request, bool idempotent);

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
