// ACME problem documents (RFC 8555 §6.7, RFC 7807): what an ACME server says
// went wrong, turned into Skiff errors that keep the server's own words.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace skiff::acme {

struct Problem {
  // "urn:ietf:params:acme:error:badNonce", ... ("about:blank" when absent).
  std::string type;
  std::string detail;
  int status = 0;  // the HTTP status it came with, 0 when unknown
  // For subproblems (RFC 8555 §6.7.1): the identifier it is about.
  std::string identifier;
  std::vector<Problem> subproblems;

  // The type without the "urn:ietf:params:acme:error:" prefix ("badNonce").
  std::string_view ShortType() const;
};

// A problem document from its JSON value.
// Errors: kInvalidArgument when it is not an object or a field has the wrong type.
Result<Problem> ParseProblem(const boost::json::value& json);
// ...and from the body of a response with `status`: when the body is not a
// problem document (a proxy's HTML page), a problem of type "about:blank"
// whose detail is the status and the start of the body.
Problem ProblemFromResponse(int status, std::string_view body);

// The Error `problem` stands for, `what` saying what was being done ("new
// order for web.example"). The message is
//   "<what>: ACME server said: <detail> (<short type>)[; <identifier>: <detail> (<type>)…]"
// and the code follows the type: rateLimited → kResourceExhausted,
// unauthorized → kPermissionDenied, accountDoesNotExist → kNotFound,
// badNonce → kAborted, orderNotReady → kFailedPrecondition, serverInternal →
// kUnavailable, the validation failures (connection, dns, incorrectResponse,
// tls, caa) kFailedPrecondition, the malformed-request ones
// (malformed, badCSR, rejectedIdentifier, …) kInvalidArgument; anything else
// by its HTTP status.
Error ProblemError(const Problem& problem, std::string_view what);

}  // namespace skiff::acme
