#include "edge/forwarding.h"

#include <charconv>
#include <random>

#include "edge/routing_table.h"
#include "net/http.h"

namespace skiff::edge {
namespace {

using net::EqualsIgnoreCase;

// Case-insensitive comparison with a lowercase literal, length first.
bool Is(std::string_view name, std::string_view lower) {
  return name.size() == lower.size() && EqualsIgnoreCase(name, lower);
}

// Fields that describe one connection, never passed on, plus the framing and
// Expect, which the edge sets itself for each side.
bool IsHopByHop(std::string_view name) {
  switch (name.size()) {
    case 2:
      return Is(name, "te");
    case 6:
      return Is(name, "expect");
    case 7:
      return Is(name, "upgrade") || Is(name, "trailer");
    case 10:
      return Is(name, "connection") || Is(name, "keep-alive");
    case 14:
      return Is(name, "content-length");
    case 16:
      return Is(name, "proxy-connection");
    case 17:
      return Is(name, "transfer-encoding");
    default:
      return false;
  }
}

// Whether a Connection field of `fields` names `name` (beyond the standard
// tokens, which IsHopByHop covers).
bool NamedByConnection(const std::vector<http1::Field>& fields, std::string_view name) {
  for (const http1::Field& f : fields) {
    if (!Is(f.name, "connection")) continue;
    std::string_view list = f.value;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view token = list.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
        token.remove_prefix(1);
      }
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
        token.remove_suffix(1);
      }
      if (EqualsIgnoreCase(token, name)) return true;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return false;
}

// Fast check: does any Connection field list more than the standard tokens?
bool HasCustomConnectionTokens(const std::vector<http1::Field>& fields) {
  for (const http1::Field& f : fields) {
    if (!Is(f.name, "connection")) continue;
    std::string_view v = f.value;
    if (!(Is(v, "keep-alive") || Is(v, "close") || Is(v, "upgrade"))) return true;
  }
  return false;
}

void AppendField(std::string_view name, std::string_view value, std::string* out) {
  out->append(name);
  out->append(": ");
  out->append(value);
  out->append("\r\n");
}

void AppendNumber(uint64_t n, std::string* out) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out->append(digits, end);
}

}  // namespace

uint64_t FastRandom() {
  thread_local uint64_t state = (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  uint64_t z = (state += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

std::string_view ClientRequestId(const http1::RequestHead& request) {
  for (const http1::Field& f : request.fields) {
    if (!Is(f.name, "x-request-id")) continue;
    if (f.value.empty() || f.value.size() > 200) return {};
    for (unsigned char c : f.value) {
      if (c <= 0x20 || c >= 0x7f) return {};
    }
    return f.value;
  }
  return {};
}

std::string NewRequestId() {
  // Not a secret, so no syscall per request.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    uint64_t bits = FastRandom();
    for (int i = 0; i < 16; ++i, bits >>= 4) id[half * 16 + i] = kHex[bits & 15];
  }
  return id;
}

void AppendUpstreamHead(const http1::RequestHead& request, std::string_view client_ip,
                        std::string_view request_id, bool tls, std::string* out) {
  out->append(request.method);
  out->push_back(' ');
  out->append(request.target);
  out->append(" HTTP/1.1\r\n");
  const bool custom = HasCustomConnectionTokens(request.fields);
  std::string_view upgrade;
  std::string forwarded_for;  // earlier proxies' lists, each followed by ", "
  for (const http1::Field& f : request.fields) {
    if (IsHopByHop(f.name)) {
      if (request.upgrade && Is(f.name, "upgrade")) upgrade = f.value;
      continue;
    }
    if (f.name.size() >= 11 && (f.name[0] == 'x' || f.name[0] == 'X')) {
      if (Is(f.name, "x-forwarded-for")) {
        forwarded_for.append(f.value);
        forwarded_for.append(", ");
        continue;
      }
      if (Is(f.name, "x-request-id") || Is(f.name, "x-forwarded-proto") ||
          Is(f.name, "x-forwarded-host")) {
        continue;
      }
    }
    if (custom && NamedByConnection(request.fields, f.name)) continue;
    AppendField(f.name, f.value, out);
  }
  if (request.chunked) {
    out->append("Transfer-Encoding: chunked\r\n");
  } else if (request.content_length) {
    out->append("Content-Length: ");
    AppendNumber(*request.content_length, out);
    out->append("\r\n");
  }
  if (!upgrade.empty()) {
    out->append("Connection: upgrade\r\n");
    AppendField("Upgrade", upgrade, out);
  }
  out->append("X-Forwarded-For: ");
  out->append(forwarded_for);
  out->append(client_ip);
  out->append(tls ? "\r\nX-Forwarded-Proto: https\r\n" : "\r\nX-Forwarded-Proto: http\r\n");
  AppendField("X-Forwarded-Host", request.host, out);
  AppendField("X-Request-Id", request_id, out);
  out->append("\r\n");
}

void AppendClientHead(const http1::ResponseHead& response, const ClientFraming& framing,
                      std::string_view request_id, std::string* out,
                      std::string_view extra_fields) {
  out->append("HTTP/1.1 ");
  AppendNumber(static_cast<uint64_t>(response.status), out);
  out->push_back(' ');
  out->append(response.reason.empty() ? net::HttpReasonPhrase(response.status) : response.reason);
  out->append("\r\n");
  const bool custom = HasCustomConnectionTokens(response.fields);
  bool vary_added = false;
  for (const http1::Field& f : response.fields) {
    if (IsHopByHop(f.name)) {
      const bool keep = (framing.upgrade && Is(f.name, "upgrade")) ||
                        (framing.body == ClientFraming::Body::kNone && !framing.gzip &&
                         Is(f.name, "content-length"));
      if (keep) AppendField(f.name, f.value, out);
      continue;
    }
    if (Is(f.name, "x-request-id")) continue;
    if (framing.gzip) {
      if (Is(f.name, "vary")) {
        out->append(f.name);
        out->append(": ");
        out->append(f.value);
        out->append(", Accept-Encoding\r\n");
        vary_added = true;
        continue;
      }
      if (Is(f.name, "etag") && !f.value.starts_with("W/")) {
        // The gzipped body is another representation: a strong tag would lie.
        out->append(f.name);
        out->append(": W/");
        out->append(f.value);
        out->append("\r\n");
        continue;
      }
    }
    if (custom && NamedByConnection(response.fields, f.name)) continue;
    AppendField(f.name, f.value, out);
  }
  if (framing.gzip) {
    out->append("Content-Encoding: gzip\r\n");
    if (!vary_added) out->append("Vary: Accept-Encoding\r\n");
  }
  switch (framing.body) {
    case ClientFraming::Body::kLength:
      out->append("Content-Length: ");
      AppendNumber(*response.content_length, out);
      out->append("\r\n");
      break;
    case ClientFraming::Body::kChunked:
      out->append("Transfer-Encoding: chunked\r\n");
      break;
    case ClientFraming::Body::kNone:
    case ClientFraming::Body::kClose:
      break;
  }
  if (framing.upgrade) {
    out->append("Connection: upgrade\r\n");
  } else if (framing.close) {
    out->append("Connection: close\r\n");
  } else if (framing.keep_alive_10) {
    out->append("Connection: keep-alive\r\n");
  }
  out->append(extra_fields);
  AppendField("X-Request-Id", request_id, out);
  out->append("\r\n");
}

void AppendRefusal(int status, std::string_view message, std::string_view request_id,
                   int retry_after_seconds, bool close, std::string* out) {
  std::string extra;
  if (status == 429 || status == 503) {
    extra.append("Retry-After: ");
    AppendNumber(static_cast<uint64_t>(retry_after_seconds), &extra);
    extra.append("\r\n");
  }
  std::string body(message);
  body.push_back('\n');
  AppendOwnAnswer(status, body, extra, request_id, close, out);
}

void AppendOwnAnswer(int status, std::string_view body, std::string_view extra_fields,
                     std::string_view request_id, bool close, std::string* out) {
  out->append("HTTP/1.1 ");
  AppendNumber(static_cast<uint64_t>(status), out);
  out->push_back(' ');
  out->append(net::HttpReasonPhrase(status));
  out->append("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  AppendNumber(body.size(), out);
  out->append("\r\n");
  out->append(extra_fields);
  if (close) out->append("Connection: close\r\n");
  if (!request_id.empty()) AppendField("X-Request-Id", request_id, out);
  out->append("\r\n");
  out->append(body);
}

int AppendRedirect(const http1::RequestHead& request, uint16_t https_port,
                   std::string_view request_id, bool close, std::string* out) {
  std::string location = "Location: https://" + NormaliseHost(request.host);
  if (https_port != 443) {
    location.push_back(':');
    AppendNumber(https_port, &location);
  }
  // (An absolute-form target's own host is not repeated: the path only.)
  std::string_view target = request.target;
  if (!target.starts_with('/')) {
    const size_t scheme = target.find("://");
    const size_t path =
        scheme == std::string_view::npos ? target.npos : target.find('/', scheme + 3);
    target = path == std::string_view::npos ? std::string_view("/") : target.substr(path);
  }
  location.append(target);
  location.append("\r\n");
  const int status = request.method == "GET" || request.method == "HEAD" ? 301 : 308;
  AppendOwnAnswer(status, "", location, request_id, close, out);
  return status;
}

std::string_view FindField(const std::vector<http1::Field>& fields, std::string_view name) {
  for (const http1::Field& f : fields) {
    if (f.name.size() == name.size() && EqualsIgnoreCase(f.name, name)) return f.value;
  }
  return {};
}

bool IsIdempotent(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}) {
    if (method == m) return true;
  }
  return false;
}

}  // namespace skiff::edge
