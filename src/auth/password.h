// Passwords of people (auth/users.h): checked against the rules, kept only as
// an Argon2id hash (RFC 9106, libargon2) in its PHC string form
// ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"), which carries its own
// salt and cost parameters: a hash made with lower costs than today's still
// verifies, so the costs can be raised without invalidating any password.
//
// Thread-safety: every function may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace skiff::auth {

// What a password must be: at least kMinPasswordChars characters (UTF-8 code
// points) and at most kMaxPasswordBytes bytes (an upper bound keeps a request
// from making the server hash megabytes).
inline constexpr size_t kMinPasswordChars = 12;
inline constexpr size_t kMaxPasswordBytes = 1024;

// The cost of one hash. The defaults are OWASP's minimum for Argon2id
// (19 MiB, 2 passes, 1 lane): some 30-60 ms of one core, fit for a small
// server that must not be brought down by a handful of logins.
struct PasswordParams {
  uint32_t memory_kib = 19 * 1024;
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
};

// kInvalidArgument (field "password") naming the rule `password` breaks;
// never echoes the password.
Status ValidatePassword(std::string_view password);

// The PHC string of `password` under a fresh random 16-byte salt and a
// 32-byte hash. kInvalidArgument as ValidatePassword; kInternal when
// libargon2 fails (out of memory).
Result<std::string> HashPassword(std::string_view password, const PasswordParams& params = {});

// Whether `password` is the one `encoded` (a PHC string of HashPassword, any
// parameters) was made from. False for a malformed `encoded`, a hash of
// another Argon2 variant, and a password longer than kMaxPasswordBytes. Takes
// as long as one hash with `encoded`'s parameters.
bool VerifyPassword(std::string_view password, std::string_view encoded);

}  // namespace skiff::auth
