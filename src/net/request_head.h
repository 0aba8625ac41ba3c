// The first line of defence of Skiff's HTTP servers (the API and the edge):
// a strict scan of a request's head — request line and header fields, up to
// the empty line — before any parser reads it. It refuses what lets two
// parsers disagree on where a request ends (request smuggling) or carries
// bytes no well-behaved client sends:
//   a bare LF, a CR not before LF, a NUL; obs-fold (a line starting with SP or
//   HT); a field line without a colon, with an empty or non-token name, or
//   with whitespace before the colon; Content-Length twice, or not all
//   digits; Transfer-Encoding twice, not exactly "chunked", with
//   Content-Length, or in HTTP/1.0; Host twice, or missing in HTTP/1.1.
// Pure and allocation-light; fuzzed (fuzz/request_head_fuzz.cc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace skiff::net {

// Size limits of a request head (defaults: the edge's, as nginx and HAProxy
// use). The whole head is bounded separately (HttpServerOptions::max_header_bytes).
struct RequestHeadLimits {
  size_t request_line = 8 << 10;  // longer: 414
  size_t field_line = 8 << 10;    // one header line longer: 431
  size_t fields = 100;            // more header lines: 431
};

struct RequestHeadScan {
  enum class State {
    kIncomplete,  // no empty line yet, and nothing wrong so far: read more
    kComplete,    // a well-formed head of `length` bytes (the empty line included)
    kBad,         // refused: `problem` says why
  };
  State state = State::kIncomplete;
  size_t length = 0;
  std::string problem;
  int status = 400;  // for kBad: 400, or 414 / 431 for a limit
};

// Scans the head at the start of `data` (which may hold more: a body, or a
// next request). A limit is refused as soon as it is passed, complete head or not.
RequestHeadScan ScanRequestHead(std::string_view data, const RequestHeadLimits& limits = {});

}  // namespace skiff::net
