// Compression of responses at the edge: whether a response should be gzipped
// for a client, and a streaming gzip encoder (zlib) that never holds a
// response back (every Compress flushes, so server-sent data and long polls
// arrive as they are produced).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace skiff::edge {

struct GzipDecisionInput {
  std::string_view method;            // the request's
  std::string_view accept_encoding;   // the request's Accept-Encoding ("" when absent)
  int status = 200;                   // the response's
  std::string_view content_type;      // the response's Content-Type ("" when absent)
  std::string_view content_encoding;  // the response's Content-Encoding ("" when absent)
  std::string_view cache_control;     // the response's Cache-Control ("" when absent)
  bool has_length = false;            // the response has a Content-Length...
  uint64_t length = 0;                // ...of this many bytes
};

// Whether to gzip this response: the client accepts gzip (Accept-Encoding
// lists "gzip" — or its alias "x-gzip" — with a q-value above 0, or does not
// name it and lists "*" with a q-value above 0; "gzip;q=0" refuses it, and so
// does "identity" alone; names compare case-insensitively, an element with a
// malformed q-value is ignored), the
// response has a body (not HEAD, not 1xx/204/304, not a 206 range), no
// Content-Encoding yet (or "identity"), no "Cache-Control: no-transform", a
// compressible type (by the media type, before any ';', case-insensitively:
// text/* except text/event-stream, application/json,
// application/javascript, application/xml, application/*+json, application/*+xml,
// image/svg+xml, application/wasm), and either no length or at least
// kMinGzipBytes.
inline constexpr uint64_t kMinGzipBytes = 256;
bool ShouldGzip(const GzipDecisionInput& in);

// A gzip stream (RFC 1952) written in pieces. Not thread-safe; one per response.
class GzipEncoder {
 public:
  // `level` 1 (fastest, nginx's default) to 9.
  // REQUIRES: 1 <= level <= 9.
  explicit GzipEncoder(int level = 1);
  ~GzipEncoder();
  GzipEncoder(const GzipEncoder&) = delete;
  GzipEncoder& operator=(const GzipEncoder&) = delete;

  // Compresses `in` and appends to *out everything the decoder needs to
  // decode `in` so far (a sync flush), so nothing is held back. An empty
  // `in` appends nothing.
  // REQUIRES: Finish has not been called.
  void Compress(std::string_view in, std::string* out);
  // Appends the end of the stream (the final block and the trailer); after
  // no Compress at all, a whole gzip stream of nothing.
  // REQUIRES: Finish has not been called (once per encoder).
  void Finish(std::string* out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace skiff::edge
