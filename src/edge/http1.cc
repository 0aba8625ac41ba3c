#include "edge/http1.h"

#include <algorithm>
#include <array>
#include <limits>

#include "net/http_syntax.h"

namespace skiff::edge::http1 {
namespace {

using net::EqualsIgnoreCase;
using net::IsTokenChar;
using net::TrimOws;

constexpr size_t kNpos = std::string_view::npos;
// Lengths stay below 2^63 so that callers may hold them in int64_t and add to them.
constexpr uint64_t kMaxLength = std::numeric_limits<int64_t>::max();
constexpr size_t kMaxResponseFields = 100;
constexpr size_t kMaxChunkSizeLine = 4 << 10;
constexpr size_t kMaxTrailerBytes = 8 << 10;
constexpr int kMaxChunkSizeDigits = 16;

// The bytes that end a line or have no place in one: a lookup instead of three
// comparisons in the loop every byte of a head goes through.
constexpr std::array<bool, 256> kLineStops = [] {
  std::array<bool, 256> table{};
  table['\r'] = table['\n'] = table['\0'] = true;
  return table;
}();

// FindLineEnd's answers besides the index of a CR.
constexpr size_t kMore = kNpos;         // the line goes on past the bytes seen
constexpr size_t kRefused = kNpos - 1;  // a byte no line may hold: *problem says which

// Where the line holding `pos` ends in `seen`: the index of its CR (an LF
// follows it), kMore, or kRefused for a NUL, a bare LF or a CR without LF.
size_t FindLineEnd(std::string_view seen, size_t pos, std::string* problem) {
  for (; pos < seen.size(); ++pos) {
    if (!kLineStops[static_cast<unsigned char>(seen[pos])]) continue;
    if (seen[pos] == '\0') {
      *problem = "NUL byte in the response head";
    } else if (seen[pos] == '\n') {
      *problem = "bare LF in the response head";
    } else if (pos + 1 == seen.size()) {
      return kMore;  // its LF may be next
    } else if (seen[pos + 1] != '\n') {
      *problem = "CR without LF in the response head";
    } else {
      return pos;
    }
    return kRefused;
  }
  return kMore;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The value of the all-digit `digits`; false when it is kMaxLength or more.
bool ParseLength(std::string_view digits, uint64_t* out) {
  uint64_t value = 0;
  for (char c : digits) {
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (kMaxLength - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = value;
  return true;
}

// Takes the next element of the comma-separated list `*list` (RFC 9110 5.6.1)
// into *element, without the whitespace around it, skipping empty ones; false
// when none is left.
bool NextElement(std::string_view* list, std::string_view* element) {
  while (!list->empty()) {
    const size_t comma = list->find(',');
    *element = TrimOws(list->substr(0, comma));
    list->remove_prefix(comma == kNpos ? list->size() : comma + 1);
    if (!element->empty()) return true;
  }
  return false;
}

// The options of every Connection field of a message (RFC 9110 7.6.1).
struct ConnectionOptions {
  bool close = false;
  bool keep_alive = false;
  bool upgrade = false;

  void Add(std::string_view value) {
    for (std::string_view option; NextElement(&value, &option);) {
      if (EqualsIgnoreCase(option, "close")) {
        close = true;
      } else if (EqualsIgnoreCase(option, "keep-alive")) {
        keep_alive = true;
      } else if (EqualsIgnoreCase(option, "upgrade")) {
        upgrade = true;
      }
    }
  }
};

// Resets *head for a new message without giving back its fields' capacity.
template <typename Head>
void ClearKeepingFields(Head* head) {
  std::vector<Field> fields = std::move(head->fields);
  fields.clear();
  *head = Head{};
  head->fields = std::move(fields);
}

bool Refuse(std::string* problem, std::string_view why) {
  *problem = why;
  return false;
}

ParseState Bad(std::string* problem, std::string why) {
  *problem = std::move(why);
  return ParseState::kBad;
}

// Splits "method SP target SP HTTP/1.x" into *out, and decides the path and
// the authority of the target's form (RFC 9112 3.2).
bool ParseRequestLine(std::string_view line, RequestHead* out, std::string_view* authority,
                      std::string* problem) {
  const size_t first_space = line.find(' ');
  const size_t last_space = line.rfind(' ');
  if (first_space == kNpos || first_space == last_space) {
    return Refuse(problem, "request line is not \"method target version\"");
  }
  out->method = line.substr(0, first_space);
  out->target = line.substr(first_space + 1, last_space - first_space - 1);
  const std::string_view version = line.substr(last_space + 1);
  if (out->method.empty() || !std::all_of(out->method.begin(), out->method.end(), [](char c) {
        return IsTokenChar(static_cast<unsigned char>(c));
      })) {
    return Refuse(problem, "request method is not a token");
  }
  if (version == "HTTP/1.1") {
    out->minor_version = 1;
  } else if (version == "HTTP/1.0") {
    out->minor_version = 0;
  } else {
    return Refuse(problem, "HTTP version is neither 1.0 nor 1.1");
  }
  // Whitespace or a control byte inside the target would split it differently
  // elsewhere; bytes over 0x7F (raw UTF-8) pass, as nginx lets them.
  if (out->target.empty() || std::any_of(out->target.begin(), out->target.end(), [](char c) {
        return static_cast<unsigned char>(c) <= ' ' || c == '\x7f';
      })) {
    return Refuse(problem, "request target is empty or holds whitespace or control bytes");
  }

  std::string_view target = out->target;
  if (target.front() == '/') {
    out->path = target.substr(0, target.find('?'));
    return true;
  }
  if (target == "*") {
    if (out->method != "OPTIONS") return Refuse(problem, "request target \"*\" without OPTIONS");
    out->path = target;
    return true;
  }
  constexpr std::string_view kScheme = "http://";
  if (target.size() < kScheme.size() ||
      !EqualsIgnoreCase(target.substr(0, kScheme.size()), kScheme)) {
    return Refuse(problem, "request target is neither \"/path\" nor an http:// URL");
  }
  target.remove_prefix(kScheme.size());
  const size_t authority_end = std::min(target.find('/'), target.find('?'));
  *authority = target.substr(0, authority_end);
  // userinfo ("user@host") is deprecated and a classic way to disguise a host.
  if (authority->empty() || authority->find('@') != kNpos) {
    return Refuse(problem, "request target's authority is empty or holds userinfo");
  }
  target.remove_prefix(authority->size());
  out->path = target.empty() || target.front() == '?' ? "/" : target.substr(0, target.find('?'));
  return true;
}

}  // namespace

bool ParseRequestHead(std::string_view head, RequestHead* out, std::string* problem) {
  ClearKeepingFields(out);
  out->length = head.size();
  const size_t line_end = head.find("\r\n");
  if (line_end == kNpos) return Refuse(problem, "request head without CRLF");
  std::string_view authority;
  if (!ParseRequestLine(head.substr(0, line_end), out, &authority, problem)) return false;

  ConnectionOptions connection;
  bool upgrade_field = false;
  size_t pos = line_end + 2;
  while (true) {
    // The scan saw every line end in CRLF and the head in an empty line.
    const size_t cr = head.find('\r', pos);
    if (cr == kNpos || cr + 1 == head.size()) {
      return Refuse(problem, "request head without its end");
    }
    if (cr == pos) break;  // the empty line
    const std::string_view line = head.substr(pos, cr - pos);
    pos = cr + 2;
    const size_t colon = line.find(':');
    if (colon == kNpos) return Refuse(problem, "header field without a colon");
    const Field field{line.substr(0, colon), TrimOws(line.substr(colon + 1))};
    out->fields.push_back(field);
    if (EqualsIgnoreCase(field.name, "Host")) {
      out->host = field.value;
    } else if (EqualsIgnoreCase(field.name, "Content-Length")) {
      uint64_t length = 0;
      if (!ParseLength(field.value, &length)) {
        return Refuse(problem, "Content-Length of 2^63 or more");
      }
      out->content_length = length;
    } else if (EqualsIgnoreCase(field.name, "Transfer-Encoding")) {
      out->chunked = true;  // the scan let through only "chunked"
    } else if (EqualsIgnoreCase(field.name, "Connection")) {
      connection.Add(field.value);
    } else if (EqualsIgnoreCase(field.name, "Upgrade")) {
      upgrade_field = upgrade_field || !field.value.empty();
    } else if (EqualsIgnoreCase(field.name, "Expect")) {
      out->expect_continue = out->expect_continue || EqualsIgnoreCase(field.value, "100-continue");
    }
  }

  // An absolute-form target names the host itself (RFC 9112 3.2.2); a Host
  // saying otherwise would route the request to one app and address it to another.
  if (!authority.empty()) {
    if (!out->host.empty() && !EqualsIgnoreCase(out->host, authority)) {
      return Refuse(problem, "Host differs from the request target's authority");
    }
    out->host = authority;
  }
  const bool http11 = out->minor_version == 1;
  out->keep_alive = !connection.close && (http11 || connection.keep_alive);
  // HTTP/1.0 has neither (RFC 9110 7.8 and 10.1.1: a server ignores them).
  out->upgrade = http11 && connection.upgrade && upgrade_field;
  out->expect_continue = http11 && out->expect_continue;
  return true;
}

ParseState ParseResponseHead(std::string_view data, size_t max_bytes, ResponseHead* out,
                             std::string* problem) {
  ClearKeepingFields(out);
  const std::string_view seen = data.substr(0, std::min(data.size(), max_bytes));
  // The answer when `seen` ends inside the head: more bytes are needed, or
  // they would take the head past max_bytes.
  const auto more = [&] {
    return data.size() > max_bytes
               ? Bad(problem, "response head over " + std::to_string(max_bytes) + " bytes")
               : ParseState::kIncomplete;
  };

  // The status line: "HTTP/1." DIGIT SP DIGIT{3}, then SP reason or CRLF.
  constexpr std::string_view kStatusLine = "HTTP/1.d ddd";
  for (size_t i = 0; i < kStatusLine.size(); ++i) {
    if (i == seen.size()) return more();
    const char c = seen[i];
    const bool ok = kStatusLine[i] == 'd' ? c >= '0' && c <= '9' : c == kStatusLine[i];
    if (!ok) {
      return Bad(problem, i < 9 ? "status line does not start with \"HTTP/1.x \""
                                : "status code is not 3 digits");
    }
  }
  if (seen[9] == '0') return Bad(problem, "status code under 100");
  out->minor_version = seen[7] - '0';
  out->status = (seen[9] - '0') * 100 + (seen[10] - '0') * 10 + (seen[11] - '0');
  if (seen.size() == 12) return more();
  if (seen[12] != ' ' && seen[12] != '\r') return Bad(problem, "status code is not 3 digits");
  const size_t status_end = FindLineEnd(seen, 12, problem);
  if (status_end == kMore) return more();
  if (status_end == kRefused) return ParseState::kBad;
  if (status_end > 12) out->reason = seen.substr(13, status_end - 13);

  ConnectionOptions connection;
  bool transfer_encoding = false;
  bool last_coding_chunked = false;
  size_t pos = status_end + 2;
  while (true) {
    if (pos == seen.size()) return more();
    const char first = seen[pos];
    if (first == '\r') {
      if (pos + 1 == seen.size()) return more();
      if (seen[pos + 1] != '\n') return Bad(problem, "CR without LF in the response head");
      out->length = pos + 2;
      break;
    }
    if (first == ' ' || first == '\t') return Bad(problem, "obsolete line folding");
    if (out->fields.size() == kMaxResponseFields) {
      return Bad(problem, "more than " + std::to_string(kMaxResponseFields) + " header fields");
    }
    size_t colon = pos;
    while (colon < seen.size() && IsTokenChar(static_cast<unsigned char>(seen[colon]))) ++colon;
    if (colon == seen.size()) return more();
    switch (seen[colon]) {
      case ':':
        break;
      case ' ':
      case '\t':
        return Bad(problem, "whitespace before the colon of a header field");
      case '\r':
        return Bad(problem, "header field without a colon");
      case '\n':
        return Bad(problem, "bare LF in the response head");
      case '\0':
        return Bad(problem, "NUL byte in the response head");
      default:
        return Bad(problem, "invalid character in a header field name");
    }
    if (colon == pos) return Bad(problem, "header field with an empty name");
    const size_t cr = FindLineEnd(seen, colon + 1, problem);
    if (cr == kMore) return more();
    if (cr == kRefused) return ParseState::kBad;
    const Field field{seen.substr(pos, colon - pos),
                      TrimOws(seen.substr(colon + 1, cr - colon - 1))};
    out->fields.push_back(field);
    pos = cr + 2;

    if (EqualsIgnoreCase(field.name, "Content-Length")) {
      uint64_t length = 0;
      if (!AllDigits(field.value)) return Bad(problem, "Content-Length is not a number");
      if (!ParseLength(field.value, &length)) return Bad(problem, "Content-Length of 2^63 or more");
      if (out->content_length && *out->content_length != length) {
        return Bad(problem, "two different Content-Length values");
      }
      out->content_length = length;
    } else if (EqualsIgnoreCase(field.name, "Transfer-Encoding")) {
      transfer_encoding = true;
      std::string_view codings = field.value;
      for (std::string_view coding; NextElement(&codings, &coding);) {
        last_coding_chunked = EqualsIgnoreCase(coding, "chunked");
        if (last_coding_chunked && out->chunked) return Bad(problem, "chunked given twice");
        out->chunked = out->chunked || last_coding_chunked;
      }
    } else if (EqualsIgnoreCase(field.name, "Connection")) {
      connection.Add(field.value);
    }
  }

  if (transfer_encoding) {
    // Any of these leaves the end of the body to guesswork (RFC 9112 6.1, 6.3).
    if (!last_coding_chunked) return Bad(problem, "Transfer-Encoding not ending in chunked");
    if (out->content_length) return Bad(problem, "both Content-Length and Transfer-Encoding");
    if (out->minor_version == 0) return Bad(problem, "Transfer-Encoding in an HTTP/1.0 response");
  }
  out->close = connection.close || (out->minor_version == 0 && !connection.keep_alive);
  return ParseState::kComplete;
}

bool ResponseHasBody(std::string_view method, int status) {
  if (method == "HEAD" || status < 200 || status == 204 || status == 304) return false;
  return !(method == "CONNECT" && status < 300);
}

size_t ChunkedDecoder::Feed(std::string_view in, std::vector<std::string_view>* payload) {
  size_t i = 0;
  while (i < in.size()) {
    if (state_ == State::kData) {
      // The bulk of the bytes: taken whole, not one at a time.
      const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size() - i));
      if (payload != nullptr) payload->push_back(in.substr(i, take));
      payload_bytes_ += take;
      remaining_ -= take;
      i += take;
      if (remaining_ == 0) state_ = State::kDataCr;
      continue;
    }
    // Once done, the rest is the next message's.
    if (state_ == State::kDone || state_ == State::kBad || !Step(in[i])) break;
    ++i;
  }
  return i;
}

bool ChunkedDecoder::Fail(const char* why) {
  state_ = State::kBad;
  problem_ = why;
  return false;
}

bool ChunkedDecoder::Step(char c) {
  switch (state_) {
    case State::kSize: {
      const int digit = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
      if (digit >= 0) {
        if (digits_ == kMaxChunkSizeDigits) return Fail("chunk size of more than 16 hex digits");
        remaining_ = remaining_ << 4 | static_cast<uint64_t>(digit);
        if (remaining_ > kMaxLength - payload_bytes_) {
          return Fail("chunked body of 2^63 bytes or more");
        }
        ++digits_;
        ++line_bytes_;
        return true;
      }
      if (digits_ == 0) return Fail("chunk size is not a hex number");
      if (c == ';') {
        state_ = State::kExtension;
        ++line_bytes_;
        return true;
      }
      if (c == '\r') {
        state_ = State::kSizeLf;
        return true;
      }
      return Fail(c == '\n' ? "bare LF after a chunk size" : "invalid byte after a chunk size");
    }
    case State::kExtension: {
      if (c == '\r') {
        state_ = State::kSizeLf;
        return true;
      }
      const auto byte = static_cast<unsigned char>(c);
      if ((byte < ' ' && c != '\t') || byte == 0x7f) {
        return Fail(c == '\n' ? "bare LF after a chunk extension"
                              : "control byte in a chunk extension");
      }
      if (++line_bytes_ > kMaxChunkSizeLine) return Fail("chunk size line over 4096 bytes");
      return true;
    }
    case State::kSizeLf:
      if (c != '\n') return Fail("CR without LF after a chunk size");
      state_ = remaining_ == 0 ? State::kTrailer : State::kData;
      digits_ = 0;
      line_bytes_ = 0;
      return true;
    case State::kDataCr:
    case State::kDataLf:
      if (c != (state_ == State::kDataCr ? '\r' : '\n')) {
        return Fail("chunk data not followed by CRLF");
      }
      state_ = state_ == State::kDataCr ? State::kDataLf : State::kSize;
      return true;
    case State::kTrailer:  // a field name, or the final empty line
      if (line_bytes_ == 0 && c == '\r') {
        state_ = State::kTrailerLf;
        return true;
      }
      if (line_bytes_ == 0 && (c == ' ' || c == '\t')) {
        return Fail("obsolete line folding in the trailer");
      }
      if (c == ':') {
        if (line_bytes_ == 0) return Fail("trailer field with an empty name");
        state_ = State::kTrailerValue;
      } else if (!IsTokenChar(static_cast<unsigned char>(c))) {
        return Fail(c == ' ' || c == '\t' ? "whitespace before the colon of a trailer field"
                    : c == '\n'           ? "bare LF in the trailer"
                    : c == '\r'           ? "trailer field without a colon"
                                          : "invalid character in a trailer field name");
      }
      return CountTrailerByte();
    case State::kTrailerValue:
      if (c == '\r') {
        state_ = State::kTrailerLf;
      } else if (c == '\n' || c == '\0') {
        return Fail(c == '\n' ? "bare LF in the trailer" : "NUL byte in the trailer");
      }
      return CountTrailerByte();
    case State::kTrailerLf:
      if (c != '\n') return Fail("CR without LF in the trailer");
      if (line_bytes_ == 0) {
        state_ = State::kDone;
        return true;
      }
      if (!CountTrailerByte()) return false;
      line_bytes_ = 0;
      state_ = State::kTrailer;
      return true;
    case State::kData:
    case State::kDone:
    case State::kBad:
      break;
  }
  return false;  // Feed never steps these
}

bool ChunkedDecoder::CountTrailerByte() {
  ++line_bytes_;
  if (++trailer_bytes_ > kMaxTrailerBytes) return Fail("trailer over 8192 bytes");
  return true;
}

}  // namespace skiff::edge::http1
