#include "net/request_head.h"

#include <algorithm>
#include <optional>

#include "net/http_syntax.h"

namespace skiff::net {
namespace {

using State = RequestHeadScan::State;

RequestHeadScan Bad(std::string problem, int status = 400) {
  RequestHeadScan r;
  r.state = State::kBad;
  r.problem = std::move(problem);
  r.status = status;
  return r;
}

// The limits, checked on the lines seen so far (the last may be partial).
std::optional<RequestHeadScan> OverLimit(std::string_view seen, const RequestHeadLimits& limits) {
  size_t start = 0;
  size_t line = 0;
  while (start < seen.size()) {
    size_t end = seen.find("\r\n", start);
    const size_t length = (end == std::string_view::npos ? seen.size() : end) - start;
    if (end != std::string_view::npos && length == 0) break;  // the empty line: head done
    if (line == 0 && length > limits.request_line) {
      return Bad("request line longer than " + std::to_string(limits.request_line) + " bytes", 414);
    }
    if (line > 0 && length > limits.field_line) {
      return Bad("header line longer than " + std::to_string(limits.field_line) + " bytes", 431);
    }
    if (line > limits.fields) {
      return Bad("more than " + std::to_string(limits.fields) + " header fields", 431);
    }
    if (end == std::string_view::npos) break;
    start = end + 2;
    ++line;
  }
  return std::nullopt;
}

}  // namespace

RequestHeadScan ScanRequestHead(std::string_view data, const RequestHeadLimits& limits) {
  // Bytes first: every LF after a CR, every CR before an LF, no NUL. A CR at
  // the very end may still get its LF.
  size_t end = std::string_view::npos;
  for (size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (c == '\0') return Bad("NUL byte in the request head");
    if (c == '\n' && (i == 0 || data[i - 1] != '\r')) return Bad("bare LF in the request head");
    if (c == '\r' && i + 1 < data.size() && data[i + 1] != '\n') {
      return Bad("CR without LF in the request head");
    }
    if (c == '\n' && i >= 3 && data.compare(i - 3, 4, "\r\n\r\n") == 0) {
      end = i + 1;
      break;
    }
  }
  if (auto over =
          OverLimit(data.substr(0, end == std::string_view::npos ? data.size() : end), limits)) {
    return *over;
  }
  if (end == std::string_view::npos) return RequestHeadScan{};

  std::string_view head = data.substr(0, end - 4);  // without the final CRLF CRLF
  size_t line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  const bool http10 = request_line.ends_with(" HTTP/1.0");
  int content_lengths = 0, transfer_encodings = 0, hosts = 0;
  std::string_view transfer_encoding;
  for (size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
       pos < head.size();) {
    size_t next = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, next == std::string_view::npos ? next : next - pos);
    pos = next == std::string_view::npos ? head.size() : next + 2;
    if (line.empty()) return Bad("empty line inside the request head");
    if (line.front() == ' ' || line.front() == '\t') return Bad("obsolete line folding");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Bad("header field without a colon");
    std::string_view name = line.substr(0, colon);
    if (name.empty()) return Bad("header field with an empty name");
    if (!std::all_of(name.begin(), name.end(),
                     [](char c) { return IsTokenChar(static_cast<unsigned char>(c)); })) {
      return Bad("invalid header field name \"" + std::string(name) + "\"");
    }
    std::string_view value = TrimOws(line.substr(colon + 1));
    if (EqualsIgnoreCase(name, "Content-Length")) {
      ++content_lengths;
      if (value.empty() ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return Bad("Content-Length is not a number");
      }
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      ++transfer_encodings;
      transfer_encoding = value;
    } else if (EqualsIgnoreCase(name, "Host")) {
      ++hosts;
    }
  }
  if (content_lengths > 1) return Bad("more than one Content-Length");
  if (transfer_encodings > 1) return Bad("more than one Transfer-Encoding");
  if (transfer_encodings == 1) {
    if (!EqualsIgnoreCase(transfer_encoding, "chunked")) {
      return Bad("Transfer-Encoding other than chunked");
    }
    if (content_lengths > 0) return Bad("both Content-Length and Transfer-Encoding");
    if (http10) return Bad("Transfer-Encoding in an HTTP/1.0 request");
  }
  if (hosts > 1) return Bad("more than one Host");
  if (hosts == 0 && !http10) return Bad("no Host header");
  RequestHeadScan ok;
  ok.state = State::kComplete;
  ok.length = end;
  return ok;
}

}  // namespace skiff::net
