// AuthFailureLimiter: failed authentications per source address, so a
// token cannot be guessed at the API's speed. Each address has a leaky
// bucket of `burst` failures that drains one every `per_failure`; while it
// has no room for one more failure, every request from that address but
// GET /health is refused (429 with Retry-After) before any credential is
// looked at, so a blocked guesser learns nothing, also not from a right
// guess. Successes cost nothing.
//
// The address is the TCP peer's host: behind a proxy that ends TLS in front
// of the API (--insecure-http), all clients share the proxy's, and one
// guesser blocks them all for a while.
//
// Thread-safety: every method may be called from any thread (one mutex,
// held for a few arithmetic operations).
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"

namespace skiff::api {

class AuthFailureLimiter {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  struct Options {
    int burst = 10;                                  // failures in a row allowed
    Duration per_failure = std::chrono::seconds(6);  // one more allowed each (10 a minute)
    size_t max_addresses = 4096;                     // past this, drained buckets are dropped
  };

  AuthFailureLimiter() : AuthFailureLimiter(Options{}) {}
  explicit AuthFailureLimiter(Options options) : options_(options) {}

  // Whether `address` may try to authenticate at `now`; when not, sets
  // *retry_after to the whole seconds (at least 1) until it may.
  bool MayTry(const std::string& address, SteadyTime now, std::chrono::seconds* retry_after);

  // Notes a failed authentication (a 401) from `address` at `now`.
  void NoteFailure(const std::string& address, SteadyTime now);

  // Addresses with a bucket now (for tests).
  size_t size() const;

 private:
  struct Bucket {
    double failures = 0;  // as of `at`
    SteadyTime at;
  };
  // The bucket's level at `now`, drained since its last change.
  double LevelAt(const Bucket& bucket, SteadyTime now) const;

  const Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // GUARDED_BY(mu_)
};

// The host of a peer address: "127.0.0.1:53412" → "127.0.0.1",
// "[::1]:8080" → "::1"; as given when it has no port.
std::string PeerHost(std::string_view remote_address);

}  // namespace skiff::api
