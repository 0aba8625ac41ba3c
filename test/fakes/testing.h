// Helpers shared by tests: temp dirs and polling with a deadline (never sleeps
// to synchronise).
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace skiff::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A blocking TCP socket connected to 127.0.0.1:port, its reads timing out
// after 5 s (a test never hangs on a silent peer); -1 when it cannot connect.
int ConnectLoopback(int port);

// Reads from the blocking socket `fd` into *got until it holds `want`;
// false when the connection ends (or a read times out) first.
bool RecvUntil(int fd, std::string_view want, std::string* got);

// A TCP socket listening on 127.0.0.1 at a port the kernel picks (written to
// `port`); -1 on failure.
int ListenLoopback(int* port);

// Sets this process's soft limit of open files (RLIMIT_NOFILE) to `soft`
// while it lives, and puts back the limit it found when it goes.
class ScopedSoftFileLimit {
 public:
  explicit ScopedSoftFileLimit(rlim_t soft);
  ~ScopedSoftFileLimit();
  ScopedSoftFileLimit(const ScopedSoftFileLimit&) = delete;
  ScopedSoftFileLimit& operator=(const ScopedSoftFileLimit&) = delete;
  // Whether the soft limit is `soft` (false when the hard limit is lower).
  bool ok() const { return ok_; }
  rlim_t hard() const { return found_.rlim_max; }

 private:
  rlimit found_{};
  bool ok_ = false;
};

// The whole content of the file at `path` (bytes as they are); "" when it
// cannot be read.
std::string ReadWholeFile(const std::string& path);

// Whether the tests run in CI (CI=true), where a missing real part (a Docker
// engine, PostgreSQL) fails a test rather than skipping it.
bool InCi();

// Calls `condition` every `every` until it returns true (-> true) or `timeout`
// passes (-> false).
bool PollUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = std::chrono::seconds(10),
               std::chrono::milliseconds every = std::chrono::milliseconds(10));

}  // namespace skiff::testing
