#include "edge/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/quantity.h"

namespace skiff::edge {
namespace {

// Bytes that pass into a JSON string as they are: printable ASCII but for
// the quote and the backslash. The rest goes through the slow path.
bool IsPlain(unsigned char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

// The length of the valid UTF-8 sequence (RFC 3629) of two or more bytes
// starting at s[0], or, when it is not one, minus the length of its maximal
// valid prefix (at least 1): that prefix becomes one U+FFFD, as the Unicode
// standard recommends, and decoding resumes at the byte that broke it.
int Utf8SequenceLength(std::string_view s) {
  const unsigned char lead = static_cast<unsigned char>(s[0]);
  int length;
  // The range of the second byte is narrower than 80..BF after some leads:
  // that is what rules out overlong forms (E0, F0), UTF-16 surrogates (ED)
  // and code points past U+10FFFF (F4).
  unsigned char low = 0x80, high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return -1;  // ASCII is not handled here; 80..C1 and F5..FF never lead
  }
  for (int i = 1; i < length; ++i) {
    if (static_cast<size_t>(i) >= s.size()) return -i;
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < low || c > high) return -i;
    low = 0x80;
    high = 0xbf;
  }
  return length;
}

void AppendEscaped(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size()) {
    size_t plain = i;
    while (plain < s.size() && IsPlain(static_cast<unsigned char>(s[plain]))) ++plain;
    out->append(s.substr(i, plain - i));
    i = plain;
    if (i == s.size()) break;
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x80) {  // a control character, DEL included
      const char escape[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      out->append(escape, sizeof escape);
      ++i;
    } else if (const int n = Utf8SequenceLength(s.substr(i)); n > 0) {
      out->append(s.substr(i, n));
      i += n;
    } else {
      out->append("\\ufffd");
      i += -n;
    }
  }
}

void AppendString(std::string_view name, std::string_view value, std::string* out) {
  out->push_back('"');
  out->append(name);
  out->append("\":\"");
  AppendEscaped(value, out);
  out->append("\",");
}

void AppendDigits(uint64_t value, std::string* out) {
  char digits[24];
  out->append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
}

void AppendNumber(std::string_view name, uint64_t value, std::string* out) {
  out->push_back('"');
  out->append(name);
  out->append("\":");
  AppendDigits(value, out);
  out->push_back(',');
}

}  // namespace

void AppendAccessLogLine(const AccessLogEntry& entry, std::string* out) {
  out->push_back('{');
  AppendString("time", FormatTime(entry.time), out);
  AppendString("client", entry.client, out);
  AppendString("method", entry.method, out);
  AppendString("host", entry.host, out);
  AppendString("target", entry.target, out);
  AppendString("app", entry.app, out);
  AppendString("upstream", entry.upstream, out);
  AppendNumber("status", static_cast<uint64_t>(std::max(entry.status, 0)), out);
  AppendNumber("request_bytes", entry.request_bytes, out);
  AppendNumber("response_bytes", entry.response_bytes, out);
  // Milliseconds with three decimals, from whole microseconds. A negative
  // duration (a clock stepped back) is written as 0.
  const uint64_t micros = static_cast<uint64_t>(std::max<int64_t>(entry.duration.count(), 0));
  out->append("\"duration_ms\":");
  AppendDigits(micros / 1000, out);
  const uint64_t fraction = micros % 1000;
  const char decimals[] = {'.', static_cast<char>('0' + fraction / 100),
                           static_cast<char>('0' + fraction / 10 % 10),
                           static_cast<char>('0' + fraction % 10), ','};
  out->append(decimals, sizeof decimals);
  AppendString("request_id", entry.request_id, out);
  AppendString("user_agent", entry.user_agent, out);
  out->back() = '}';  // over the last field's comma
  out->push_back('\n');
}

Result<std::unique_ptr<AccessLog>> AccessLog::Open(const std::string& path) {
  if (path == "-") return std::unique_ptr<AccessLog>(new AccessLog(STDOUT_FILENO, false));
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Unavailable("cannot open access log " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<AccessLog>(new AccessLog(fd, true));
}

AccessLog::~AccessLog() {
  if (owned_) ::close(fd_);
}

void AccessLog::Write(std::string_view lines) {
  std::lock_guard lock(mu_);
  // One writer at a time, and the whole text before the lock is let go, so
  // lines never interleave even when write(2) takes only part of them.
  while (!lines.empty()) {
    const ssize_t n = ::write(fd_, lines.data(), lines.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // The rest is dropped (the disk is full, the reader of standard output
      // went away, ...): traffic matters more than its log.
      ++write_errors_;
      return;
    }
    lines.remove_prefix(static_cast<size_t>(n));
  }
}

uint64_t AccessLog::write_errors() const {
  std::lock_guard lock(mu_);
  return write_errors_;
}

}  // namespace skiff::edge
