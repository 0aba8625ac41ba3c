// AuthFailureLimiter: failed authentications per source address, so tokens
// cannot be guessed at the API's speed, without locking out the clients that
// share an address with a guesser or that retry a stale credential.
//
// Each address (an IPv6 one by its /64, an IPv4-mapped one as IPv4) has a
// leaky bucket of `burst` failures that drains one every `per_failure`. A
// failure counts once per distinct token: a client that retries a refused
// credential (an agent whose node was re-joined elsewhere, an edge with a
// rotated token) adds nothing after its first try; a request with no token
// guesses nothing and counts nothing. While an address has no room for one
// more failure, its requests are refused (429 with Retry-After) before their
// token is looked at, but for tokens that authenticated lately (from any
// address): the agents, edges and people with good credentials behind a
// guesser's NAT or proxy go on working. Requests in flight hold room in the
// bucket, so parallel guesses do not pass the limit together.
//
// The limit is per server: servers sharing a database each keep their own.
//
// Thread-safety: every method may be called from any thread (one mutex,
// held for a few map operations; scans of at most max_addresses entries
// only when a table is full).
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"

namespace skiff::api {

class AuthFailureLimiter {
 public:
  struct Options {
    int burst = 10;                                  // 0: no limit
    Duration per_failure = std::chrono::seconds(6);  // drained each
    size_t max_addresses = 4096;                     // buckets kept at most
    size_t max_good_tokens = 4096;                   // tokens remembered as good at most
    Duration good_for = std::chrono::hours(1);       // how long a good token passes a block
  };

  AuthFailureLimiter() : AuthFailureLimiter(Options{}) {}
  // REQUIRES: options.max_addresses >= 1.
  explicit AuthFailureLimiter(Options options) : options_(options) {}

  // What a finished request tells of its token.
  enum class Outcome {
    kRefused,        // 401: the token is not good
    kAuthenticated,  // a guarded route answered 2xx/3xx: the token is good
    kNeither,        // anything else (404, 503, ...): nothing learned
  };

  struct Admission {
    bool admitted = true;
    std::chrono::seconds retry_after{0};  // when refused: whole seconds, at least 1
    // Refused because the table of addresses is full of ones with requests
    // in flight, not for this address's failures.
    bool table_full = false;
    // What Finish needs: the token's digest ("" for none) and whether the
    // request holds room in the bucket.
    std::string digest;
    bool holds_room = false;
  };

  // Whether the request from `address` (AddressKey) bearing `token` ("" for
  // none) may be authenticated now. Every admitted request must be ended
  // with Finish, once.
  Admission Admit(const std::string& address, std::string_view token, MonoTime now);
  // Ends an admitted request.
  void Finish(const std::string& address, const Admission& admission, Outcome outcome,
              MonoTime now);

  // Addresses with a bucket now (for tests).
  size_t size() const;

 private:
  struct Bucket {
    double failures = 0;  // as of `at`
    MonoTime at;
    int in_flight = 0;              // admitted requests with tokens that may fail
    std::deque<std::string> tried;  // digests of the last tokens refused here
  };
  double LevelAt(const Bucket& bucket, MonoTime now) const;
  // The bucket of `key`, made (evicting the emptiest idle one when full) if
  // needed; null when the table is full of buckets with requests in flight.
  Bucket* BucketOf(const std::string& key, MonoTime now);
  bool GoodLately(const std::string& digest, MonoTime now) const;

  const Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // GUARDED_BY(mu_): by AddressKey
  std::unordered_map<std::string, MonoTime> good_;   // GUARDED_BY(mu_): digest -> last use
};

// The key an address is limited by: its host ("127.0.0.1:53412" →
// "127.0.0.1"), an IPv4-mapped IPv6 one as IPv4, other IPv6 ones by their
// /64 ("[2001:db8:1:2::7]:80" → "2001:db8:1:2::/64"); a host that is no IP
// address as it is.
std::string AddressKey(std::string_view remote_address);

}  // namespace skiff::api
