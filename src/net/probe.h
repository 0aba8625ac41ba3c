// Health probes for instances: one HTTP GET or one TCP connect, bounded by a
// timeout. Coroutines, so the agent can run many at once on its io_context.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace skiff::net {

namespace asio = boost::asio;

struct ProbeResult {
  bool ok = false;
  // Why it failed, for events and `skiff status`: "GET /healthz returned 503",
  // "connect: connection refused", "GET / timed out after 1000ms". On success a
  // short note ("GET / returned 200", "connected").
  std::string message;
};

// GETs http://host:port/path (a fresh connection, "Connection: close"); 2xx and
// 3xx count as healthy (redirects are not followed). `host` is an IP address or
// a name (resolved without a timeout bound; prefer addresses). Never throws for
// network errors; runs on `executor`.
asio::awaitable<ProbeResult> ProbeHttp(asio::any_io_executor executor, std::string host,
                                       uint16_t port, std::string path, Duration timeout);

// Healthy when a TCP connection to host:port opens within `timeout`; it is
// closed again at once.
asio::awaitable<ProbeResult> ProbeTcp(asio::any_io_executor executor, std::string host,
                                      uint16_t port, Duration timeout);

}  // namespace skiff::net
