// The edge's optional access log: one JSON object a line per request
// (`skiff edge --access-log FILE`, `skiff server --access-log FILE`; "-" is
// standard output), for log shippers. Lines are buffered per thread and
// written in whole lines, so lines of different threads never interleave.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"

namespace skiff::edge {

struct AccessLogEntry {
  std::chrono::system_clock::time_point time;  // when the request arrived
  std::string_view client;                     // "127.0.0.1" (no port)
  std::string_view method;
  std::string_view host;      // the Host header as sent
  std::string_view target;    // path and query
  std::string_view app;       // "" when no app serves the host
  std::string_view upstream;  // "127.0.0.1:41000"; "" when none was tried
  int status = 0;
  uint64_t request_bytes = 0;             // request body bytes read
  uint64_t response_bytes = 0;            // response body bytes sent
  std::chrono::microseconds duration{0};  // arrival to the last byte sent
  std::string_view request_id;
  std::string_view user_agent;
};

// One line: {"time":"2026-11-23T01:02:03.456Z","client":"127.0.0.1",
// "method":"GET","host":"hello.localhost","target":"/x","app":"hello",
// "upstream":"127.0.0.1:41000","status":200,"request_bytes":0,
// "response_bytes":12,"duration_ms":0.412,"request_id":"…","user_agent":"curl/7.88.1"}
// followed by '\n'. Strings are JSON-escaped (control characters, DEL
// included, as \u00XX; bytes that are not UTF-8 — overlong forms, surrogates
// and cut sequences too — as \ufffd, one for each maximal invalid part as
// Unicode recommends; valid UTF-8 as it is), so a hostile header cannot forge
// a line. An unset `time` (the epoch) is written as "".
// Appends to *out: lines of several requests can be gathered before a Write.
void AppendAccessLogLine(const AccessLogEntry& entry, std::string* out);

// Where the lines go. Thread-safe.
class AccessLog {
 public:
  // "-" is standard output; anything else a file opened for appending
  // (created 0640). kUnavailable when it cannot be opened, naming the path.
  static Result<std::unique_ptr<AccessLog>> Open(const std::string& path);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Writes whole lines (one or more, each ending in '\n') with write(2)
  // under a lock, so writers never interleave; a write error is counted,
  // never thrown, and the rest of `lines` dropped, so a full disk cannot stop
  // traffic. Blocks while the file (or standard output) does.
  void Write(std::string_view lines);
  uint64_t write_errors() const;

 private:
  AccessLog(int fd, bool owned) : fd_(fd), owned_(owned) {}
  const int fd_;
  const bool owned_;
  mutable std::mutex mu_;
  uint64_t write_errors_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace skiff::edge
