// The ACME resources a client reads (RFC 8555 §7.1): the directory, account,
// order, authorization and challenge objects, parsed from the server's JSON.
// Only what Skiff's HTTP-01 flow uses is kept; unknown fields are ignored, a
// known field of the wrong type fails.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acme/problem.h"
#include "common/clock.h"
#include "common/result.h"

namespace skiff::acme {

struct Directory {
  std::string new_nonce;
  std::string new_account;
  std::string new_order;
  std::string terms_of_service;  // meta.termsOfService, "" when none
};

struct Account {
  std::string url;     // the Location of newAccount's answer: the "kid"
  std::string status;  // "valid" | "deactivated" | "revoked"
};

struct Challenge {
  std::string type;  // "http-01", "dns-01", ...
  std::string url;
  std::string status;  // "pending" | "processing" | "valid" | "invalid"
  std::string token;
  std::optional<Problem> error;  // why it is invalid
};

struct Authorization {
  std::string url;     // where it was fetched (not in its JSON)
  std::string domain;  // identifier.value
  std::string status;  // "pending" | "valid" | "invalid" | "deactivated" | "expired" | "revoked"
  bool wildcard = false;
  std::vector<Challenge> challenges;
  std::optional<Duration> retry_after;  // the answer's Retry-After, when it had one

  // The challenge of `type`, or null.
  const Challenge* Find(std::string_view type) const;
};

struct Order {
  std::string url;                   // the Location of newOrder's answer (not in its JSON)
  std::string status;                // "pending" | "ready" | "processing" | "valid" | "invalid"
  std::vector<std::string> domains;  // identifiers' values
  std::vector<std::string> authorizations;  // URLs
  std::string finalize;
  std::string certificate;  // set once "valid"
  std::optional<Problem> error;
  std::optional<Duration> retry_after;
};

// Errors of every Parse*: kInvalidArgument "ACME server sent a bad <what>:
// <field>: <reason>" when the text is not JSON of that shape or a field the
// flow needs is missing.
Result<Directory> ParseDirectory(std::string_view json);
Result<Account> ParseAccount(std::string_view json, std::string url);
Result<Order> ParseOrder(std::string_view json, std::string url);
Result<Authorization> ParseAuthorization(std::string_view json, std::string url);
Result<Challenge> ParseChallenge(std::string_view json);

// A Retry-After header's value: delay-seconds, or an HTTP date (taken
// relative to `now`); unset when empty or neither.
std::optional<Duration> ParseRetryAfter(std::string_view value, Time now);

}  // namespace skiff::acme
