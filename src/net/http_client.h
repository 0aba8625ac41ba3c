// HttpClient: a small blocking HTTP/1.1 client for the CLI, agents, the Docker
// driver and tests. Each call opens a fresh connection (TCP or unix socket),
// runs on its own private io_context, and closes the connection when done, so
// calls never interfere and the object can be shared between threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "net/http.h"
#include "net/tls.h"

namespace skiff::net {

// Whether `error` (from HttpClient) says the request never left: the
// connection could not be made, or the server's certificate was not trusted,
// so the server did nothing of it and any request, even a write, may be sent
// elsewhere.
bool NeverSent(const Error& error);

class HttpClient {
 public:
  static constexpr Duration kDefaultTimeout = std::chrono::seconds(30);

  // `base_url` is "http://host:port" or "https://host:port" (optionally with a
  // path prefix that is put before every request path) or
  // "unix:///path/to/socket". An https:// server is trusted as `trust` says
  // (the system's roots by default) and its certificate must name the URL's
  // host (or IP); TLS 1.2 at least. A base URL that does not parse, or a
  // `trust` that does not, makes every call fail with kInvalidArgument.
  explicit HttpClient(std::string base_url, TlsTrust trust = {});

  // Sends one request and reads the whole response, whatever its status (a 404
  // is a response, not an error here; see ErrorFromResponse). A Host among
  // `headers` replaces the one of the base URL. `path` includes
  // the query ("/v1/apps?x=1"). A non-empty body without a Content-Type header
  // is sent as application/json. `timeout` bounds the whole call.
  // Thread-safe; blocks the calling thread.
  // Errors: kUnavailable when the server cannot be reached or drops the
  // connection (the message names the address: "cannot connect to
  // 127.0.0.1:7070: connection refused"), kDeadlineExceeded on timeout,
  // kInternal for a response that is not valid HTTP, kInvalidArgument for a bad
  // base URL or method; kUnauthenticated, the message starting "cannot trust
  // the server at ADDR", when an https:// server's certificate does not verify
  // (or its chain has no CA with the pinned fingerprint: the message gives the
  // one it sent and the one expected), checked before anything is sent;
  // kAborted when a stop is requested on `stop` (from any
  // thread), which ends the call at once, closing the connection (the owner of
  // a call to a peer that may hang, as the Docker engine's exit watcher, need
  // not wait out `timeout` to shut down).
  Result<HttpResponse> Do(std::string_view method, std::string_view path,
                          std::string_view body = {}, const HttpHeaders& headers = {},
                          Duration timeout = kDefaultTimeout, std::stop_token stop = {}) const;

  // Sends a body-less request and hands the response body to `on_data` as the
  // bytes arrive (chunked encoding already removed; chunk boundaries are not
  // preserved). Stops early, closing the connection, when `on_data` returns
  // false. `timeout` bounds connecting and receiving the response header, and
  // then each wait for more body bytes (an inactivity limit); zero means no
  // limit once the header is in. Called on the calling thread.
  // Returns the 2xx status once the body ended or `on_data` said stop. A
  // non-2xx response is not streamed: its body is read and returned as the
  // Error ErrorFromResponse makes of it (kNotFound for a 404, ...).
  // A stop requested on `stop` (from any thread) ends the call at once,
  // closing the connection, with kAborted: how the owner of an endless stream
  // (the Docker engine's events) ends it without waiting for the next byte.
  // Other errors as for Do().
  Result<int> Stream(std::string_view method, std::string_view path, const HttpHeaders& headers,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     Duration timeout = kDefaultTimeout, std::stop_token stop = {}) const;

  // The same with a request body (sent as for Do()): the Docker engine's build
  // API takes a tar stream and answers with the build's output as it runs.
  Result<int> Stream(std::string_view method, std::string_view path, std::string_view body,
                     const HttpHeaders& headers,
                     const std::function<bool(std::string_view chunk)>& on_data,
                     Duration timeout = kDefaultTimeout, std::stop_token stop = {}) const;

  // OK when the base URL parses; else the kInvalidArgument every call gives.
  Status Check() const;

  const std::string& base_url() const { return base_url_; }

  // What a TLS connection needs, made once per client (OpenSSL's contexts are
  // shareable between threads once set up).
  struct TlsSetup;

 private:
  std::string base_url_;
  // Set for an https:// base URL whose trust parses; else tls_error_ may say
  // why not.
  std::shared_ptr<const TlsSetup> tls_;
  std::optional<Error> tls_error_;
};

}  // namespace skiff::net
