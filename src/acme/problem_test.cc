#include "acme/problem.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace skiff::acme {
namespace {

// Verify that each ACME error type maps to the code that tells the caller
// what to do, and the message keeps the server's detail and names the type.
TEST(Problem, ErrorCodesAndMessages) {
  struct Case {
    std::string type;
    int status;
    ErrorCode code;
  };
  const Case cases[] = {
      {"urn:ietf:params:acme:error:rateLimited", 429, ErrorCode::kResourceExhausted},
      {"urn:ietf:params:acme:error:unauthorized", 403, ErrorCode::kPermissionDenied},
      {"urn:ietf:params:acme:error:accountDoesNotExist", 400, ErrorCode::kNotFound},
      {"urn:ietf:params:acme:error:badNonce", 400, ErrorCode::kAborted},
      {"urn:ietf:params:acme:error:orderNotReady", 403, ErrorCode::kFailedPrecondition},
      {"urn:ietf:params:acme:error:serverInternal", 500, ErrorCode::kUnavailable},
      {"urn:ietf:params:acme:error:connection", 400, ErrorCode::kFailedPrecondition},
      {"urn:ietf:params:acme:error:dns", 400, ErrorCode::kFailedPrecondition},
      {"urn:ietf:params:acme:error:incorrectResponse", 400, ErrorCode::kFailedPrecondition},
      {"urn:ietf:params:acme:error:malformed", 400, ErrorCode::kInvalidArgument},
      {"urn:ietf:params:acme:error:badCSR", 400, ErrorCode::kInvalidArgument},
      {"urn:ietf:params:acme:error:rejectedIdentifier", 400, ErrorCode::kInvalidArgument},
      {"urn:ietf:params:acme:error:somethingNew", 404, ErrorCode::kNotFound},
      {"about:blank", 503, ErrorCode::kUnavailable},
  };
  for (const Case& c : cases) {
    Problem problem;
    problem.type = c.type;
    problem.status = c.status;
    problem.detail = "the server's words";
    Error error = ProblemError(problem, "new order for web.skiff.test");
    EXPECT_EQ(error.code, c.code) << c.type;
    EXPECT_EQ(error.message,
              "new order for web.skiff.test: ACME server said: the server's words (" +
                  std::string(problem.ShortType()) + ")");
  }
}

// Verify that subproblems (RFC 8555 §6.7.1's example) are parsed with their
// identifiers and named in the message.
TEST(Problem, Subproblems) {
  auto problem = ParseProblem(boost::json::parse(R"({
    "type": "urn:ietf:params:acme:error:malformed",
    "detail": "Some of the identifiers requested were rejected",
    "subproblems": [
      {"type": "urn:ietf:params:acme:error:malformed",
       "detail": "Invalid underscore in DNS name \"_example.org\"",
       "identifier": {"type": "dns", "value": "_example.org"}},
      {"type": "urn:ietf:params:acme:error:rejectedIdentifier",
       "detail": "This CA will not issue for \"example.net\"",
       "identifier": {"type": "dns", "value": "example.net"}}]})"));
  ASSERT_TRUE(problem) << problem.error().ToString();
  ASSERT_EQ(problem->subproblems.size(), 2u);
  EXPECT_EQ(problem->subproblems[1].identifier, "example.net");
  Error error = ProblemError(*problem, "new order");
  EXPECT_EQ(error.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(error.message,
            "new order: ACME server said: Some of the identifiers requested were rejected "
            "(malformed); _example.org: Invalid underscore in DNS name \"_example.org\" "
            "(malformed); example.net: This CA will not issue for \"example.net\" "
            "(rejectedIdentifier)");
}

// Verify that a response body that is not a problem document still gives a
// problem with the status and the start of the body.
TEST(Problem, FromResponse) {
  Problem json = ProblemFromResponse(
      400,
      R"({"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce"})");
  EXPECT_EQ(json.ShortType(), "badNonce");
  EXPECT_EQ(json.status, 400);
  Problem html = ProblemFromResponse(502, "<html>Bad Gateway</html>");
  EXPECT_EQ(html.type, "about:blank");
  EXPECT_EQ(html.detail, "HTTP 502: <html>Bad Gateway</html>");
  EXPECT_EQ(ProblemError(html, "x").code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace skiff::acme
