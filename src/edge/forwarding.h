// How the edge rewrites message heads as they pass (RFC 9110 7.6): the
// hop-by-hop fields (and those a Connection field names) stay behind, the
// framing is set by the edge for its own side of each connection, and the
// X-Forwarded-* and X-Request-Id fields are added. Pure; appends to strings
// whose capacity the caller reuses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "edge/http1.h"

namespace skiff::edge {

// The X-Request-Id the client sent, when it is one worth keeping (1 to 200
// visible ASCII characters); "" otherwise.
std::string_view ClientRequestId(const http1::RequestHead& request);

// A random number from a per-thread generator (splitmix64, seeded from the
// system): cheap enough for every request, not for secrets.
uint64_t FastRandom();

// A fresh request id: 32 hex digits (128 random bits).
std::string NewRequestId();

// The head to send an instance for `request`: the request line (always
// HTTP/1.1: the edge keeps its upstream connections alive), the end-to-end
// fields, the body's framing as the client sent it (Content-Length or
// Transfer-Encoding: chunked), "Connection: upgrade" and Upgrade when the
// client asked to switch protocols, then X-Forwarded-For (earlier proxies'
// list, then `client_ip`), X-Forwarded-Proto (https when `tls`),
// X-Forwarded-Host and X-Request-Id. Expect is dropped: the edge answers
// "100 Continue" itself.
void AppendUpstreamHead(const http1::RequestHead& request, std::string_view client_ip,
                        std::string_view request_id, bool tls, std::string* out);

// How the edge frames a response toward the client.
struct ClientFraming {
  enum class Body {
    kNone,     // no body (HEAD, 204, 304, 1xx) — a HEAD answer keeps the length
    kLength,   // the instance's Content-Length, passed on
    kChunked,  // Transfer-Encoding: chunked
    kClose,    // the body runs until the edge closes the connection
  };
  Body body = Body::kLength;
  bool gzip = false;           // Content-Encoding: gzip is added, the length dropped
  bool close = false;          // Connection: close (the edge closes after this response)
  bool keep_alive_10 = false;  // Connection: keep-alive (an HTTP/1.0 client kept)
  bool upgrade = false;        // a 101: Connection: upgrade and Upgrade are passed on
};

// The head to send the client for the instance's `response`: "HTTP/1.1",
// its status and reason, its end-to-end fields, X-Request-Id set to
// `request_id`, the framing of `framing`, and `extra_fields` (whole lines,
// "Name: value\r\n" each: the edge's own, such as HSTS).
void AppendClientHead(const http1::ResponseHead& response, const ClientFraming& framing,
                      std::string_view request_id, std::string* out,
                      std::string_view extra_fields = {});

// A whole answer of the edge's own (404, 503, ...): a text/plain body of
// `message` and a newline, X-Request-Id, Retry-After for 429 and 503, and
// "Connection: close" when `close`.
void AppendRefusal(int status, std::string_view message, std::string_view request_id,
                   int retry_after_seconds, bool close, std::string* out);

// A whole answer of the edge's own: `status`, a text/plain `body`,
// `extra_fields` (whole lines), X-Request-Id (unless empty) and
// "Connection: close" when `close`.
void AppendOwnAnswer(int status, std::string_view body, std::string_view extra_fields,
                     std::string_view request_id, bool close, std::string* out);

// A redirect to the same host and target over https (`https_port` named
// unless 443), with an empty body: 301 for GET and HEAD, 308 for other methods
// (with 301 clients may repeat a POST as a GET, losing its body). Returns the
// status.
int AppendRedirect(const http1::RequestHead& request, uint16_t https_port,
                   std::string_view request_id, bool close, std::string* out);

// The value of the first field named `name` (any case), "" when none.
std::string_view FindField(const std::vector<http1::Field>& fields, std::string_view name);

// Whether sending `method` twice is harmless (RFC 9110 9.2.2).
bool IsIdempotent(std::string_view method);

}  // namespace skiff::edge
