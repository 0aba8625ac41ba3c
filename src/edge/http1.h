// HTTP/1.1 message parsing for the edge's data path, zero-copy: every view
// points into the caller's buffer and is valid only as long as those bytes
// are. Three parts:
//   ParseRequestHead   a request head that net::ScanRequestHead already
//                      passed, split into views and its framing decided;
//   ParseResponseHead  an upstream's response head, scanned strictly (an
//                      instance is trusted no more than a client: what it
//                      could smuggle back to a client is refused as 502);
//   ChunkedDecoder     the chunked transfer coding, incrementally, for both
//                      directions: to find where a message ends while relaying
//                      it verbatim, and to take its payload out.
// Pure, no allocation on the request path beyond the caller's vectors (their
// capacity is reused); fuzzed (fuzz/response_head_fuzz.cc, fuzz/chunked_fuzz.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::edge::http1 {

struct Field {
  std::string_view name;   // as sent (any case)
  std::string_view value;  // without surrounding spaces or tabs
};

struct RequestHead {
  std::string_view method;  // "GET"
  std::string_view target;  // "/a/b?x=1" (origin form; absolute form and "*" kept whole)
  // Target up to '?': "/a/b". Of an absolute form "http://h/a/b?x=1", its path
  // "/a/b" ("/" when it has none: then a static string, not the buffer).
  std::string_view path;
  int minor_version = 1;  // HTTP/1.<minor_version>; 0 or 1
  std::vector<Field> fields;
  // The Host value, or an absolute-form target's authority, which it must equal
  // (RFC 9112 3.2.2); "" when neither: HTTP/1.0.
  std::string_view host;
  std::optional<uint64_t> content_length;  // when Content-Length was sent
  bool chunked = false;                    // Transfer-Encoding: chunked
  // HTTP/1.1 without "Connection: close", or HTTP/1.0 with "Connection: keep-alive".
  bool keep_alive = true;
  // "Connection: upgrade" (a token of it, any case) and a non-empty Upgrade
  // field in HTTP/1.1: the client asks to switch protocols (WebSocket).
  bool upgrade = false;
  // "Expect: 100-continue" (any case) in HTTP/1.1 (HTTP/1.0 ignores it: RFC 9110 10.1.1).
  bool expect_continue = false;
  size_t length = 0;  // bytes of the head, the empty line included
};

// Splits `head` — exactly the bytes net::ScanRequestHead reported complete
// (request line, fields and the empty line) — into `out`. Clears out->fields
// first (keeping its capacity). Returns false only for what the scan does not
// judge: a request line that is not "method SP target SP version" (a token, no
// whitespace or control byte in the target), a Content-Length of 2^63 or more,
// an HTTP version other than 1.0 or 1.1, a target that is neither origin form
// ("/...") nor "*" with OPTIONS nor an absolute "http://" URL (with a host, no
// userinfo, and equal to the Host field when both are sent); `problem` then
// says why, for a 400.
// REQUIRES: ScanRequestHead(head).state == kComplete and its length == head.size().
bool ParseRequestHead(std::string_view head, RequestHead* out, std::string* problem);

struct ResponseHead {
  int status = 0;  // 100..999
  // HTTP/1.<minor_version>: any digit; 0 means HTTP/1.0 framing and keep-alive.
  int minor_version = 1;
  std::string_view reason;  // may be empty
  std::vector<Field> fields;
  std::optional<uint64_t> content_length;  // when Content-Length was sent
  bool chunked = false;                    // Transfer-Encoding with chunked as its last coding
  // The instance will close after this response: HTTP/1.1 with
  // "Connection: close", or HTTP/1.0 without "Connection: keep-alive".
  bool close = false;
  size_t length = 0;  // bytes of the head, the empty line included
};

enum class ParseState {
  kIncomplete,  // no empty line yet and nothing wrong so far: read more
  kComplete,    // *out is filled
  kBad,         // refused: *problem says why
};

// Parses the response head at the start of `data` (which may hold body bytes
// after it). Clears out->fields first; *out is meaningful only when kComplete.
// Refuses (kBad): a head over `max_bytes` (complete or not), a status line that
// is not "HTTP/1.x DDD[ reason]" or a status under 100, bare LF, NUL or a CR
// not before LF anywhere in the head, obs-fold, a field line without a colon
// or with an empty / non-token name or whitespace before the colon,
// Content-Length twice with different values (the same value twice passes) or
// not all digits (so no "42, 42") or of 2^63 or more, Transfer-Encoding whose
// last coding is not chunked (a length the edge could not know) or chunked
// given twice or in HTTP/1.0 (RFC 9112 6.1: faulty framing), and both
// Transfer-Encoding and Content-Length. More than 100 fields is refused too.
// A refusal comes as soon as the bytes seen show it, complete head or not.
ParseState ParseResponseHead(std::string_view data, size_t max_bytes, ResponseHead* out,
                             std::string* problem);

// Whether a response to `method` with `status` has a body at all (RFC 9112
// 6.3): not to HEAD, not 1xx, 204 or 304, and not a 2xx to CONNECT.
bool ResponseHasBody(std::string_view method, int status);

// The chunked transfer coding (RFC 9112 7.1), decoded incrementally as bytes
// arrive in pieces of any size. Strict: a chunk size is 1 to 16 hex digits,
// optionally followed by extensions (";name[=value]", at most 4 KiB a line,
// not parsed, no control byte but HTAB); every line ends in CRLF (a bare LF or
// a stray CR is refused); the payload stays under 2^63 bytes in all; the data
// of a chunk must be followed by CRLF; trailer fields are checked like header
// fields and bounded to 8 KiB in all. After the final empty line the decoder
// is done and consumes nothing more (what follows is the next message).
class ChunkedDecoder {
 public:
  // Consumes bytes from the start of `in` and returns how many. Stops early
  // only when done() or bad() (the refused byte is not counted; once done or
  // bad, consumes nothing). When `payload` is not null, appends to it a
  // view (into `in`) of each piece of chunk data in `in`, in order; the caller
  // clears it.
  size_t Feed(std::string_view in, std::vector<std::string_view>* payload = nullptr);

  bool done() const { return state_ == State::kDone; }
  bool bad() const { return state_ == State::kBad; }
  const std::string& problem() const { return problem_; }
  // Payload bytes decoded so far (for body limits).
  uint64_t payload_bytes() const { return payload_bytes_; }

  // Starts over for a new message.
  void Reset() { *this = ChunkedDecoder(); }

 private:
  enum class State {
    kSize,          // reading hex digits of a chunk size
    kExtension,     // after the size, up to CR
    kSizeLf,        // the LF after a size line's CR
    kData,          // `remaining_` bytes of chunk data
    kDataCr,        // the CR after chunk data
    kDataLf,        // the LF after it
    kTrailer,       // a trailer field's name (or the final empty line)
    kTrailerValue,  // a trailer field's value, up to CR
    kTrailerLf,     // the LF after a trailer line's CR
    kDone,
    kBad,
  };

  // Takes one byte of framing (any state but kData, kDone, kBad); false when
  // it is refused (then bad()).
  bool Step(char c);
  bool CountTrailerByte();
  bool Fail(const char* why);

  State state_ = State::kSize;
  uint64_t remaining_ = 0;    // chunk data left in this chunk; in kSize: the size so far
  int digits_ = 0;            // hex digits of the current size
  size_t line_bytes_ = 0;     // bytes of the current size/extension or trailer line
  size_t trailer_bytes_ = 0;  // trailer bytes in all
  uint64_t payload_bytes_ = 0;
  std::string problem_;
};

}  // namespace skiff::edge::http1
