#include "acme/problem.h"

#include <boost/json/parse.hpp>
#include <utility>

#include "net/http.h"
#include "protocol/json_fields.h"

namespace skiff::acme {
namespace {

constexpr std::string_view kAcmeErrorPrefix = "urn:ietf:params:acme:error:";
constexpr size_t kMaxQuotedBody = 200;

ErrorCode CodeOf(std::string_view type, int status) {
  static constexpr std::pair<std::string_view, ErrorCode> kCodes[] = {
      {"rateLimited", ErrorCode::kResourceExhausted},
      {"unauthorized", ErrorCode::kPermissionDenied},
      {"accountDoesNotExist", ErrorCode::kNotFound},
      {"badNonce", ErrorCode::kAborted},
      {"orderNotReady", ErrorCode::kFailedPrecondition},
      {"serverInternal", ErrorCode::kUnavailable},
      {"connection", ErrorCode::kFailedPrecondition},
      {"dns", ErrorCode::kFailedPrecondition},
      {"incorrectResponse", ErrorCode::kFailedPrecondition},
      {"tls", ErrorCode::kFailedPrecondition},
      {"caa", ErrorCode::kFailedPrecondition},
      {"userActionRequired", ErrorCode::kFailedPrecondition},
      {"externalAccountRequired", ErrorCode::kFailedPrecondition},
      {"malformed", ErrorCode::kInvalidArgument},
      {"badCSR", ErrorCode::kInvalidArgument},
      {"rejectedIdentifier", ErrorCode::kInvalidArgument},
      {"unsupportedIdentifier", ErrorCode::kInvalidArgument},
      {"invalidContact", ErrorCode::kInvalidArgument},
      {"unsupportedContact", ErrorCode::kInvalidArgument},
      {"badSignatureAlgorithm", ErrorCode::kInvalidArgument},
      {"badPublicKey", ErrorCode::kInvalidArgument},
      {"badRevocationReason", ErrorCode::kInvalidArgument},
      {"compound", ErrorCode::kFailedPrecondition},
  };
  if (type.starts_with(kAcmeErrorPrefix)) {
    type.remove_prefix(kAcmeErrorPrefix.size());
    for (const auto& [name, code] : kCodes) {
      if (name == type) return code;
    }
  }
  return status >= 400 ? net::ErrorCodeFromHttpStatus(status) : ErrorCode::kInternal;
}

void Describe(const Problem& problem, std::string* out) {
  *out += problem.detail.empty() ? std::string("(no detail)") : problem.detail;
  *out += " (";
  *out += problem.ShortType();
  *out += ")";
}

}  // namespace

std::string_view Problem::ShortType() const {
  std::string_view t = type;
  if (t.starts_with(kAcmeErrorPrefix)) t.remove_prefix(kAcmeErrorPrefix.size());
  return t;
}

Result<Problem> ParseProblem(const boost::json::value& json) {
  SKIFF_ASSIGN_OR_RETURN(const boost::json::object* obj, protocol::AsObject(json, "problem"));
  Problem problem;
  SKIFF_ASSIGN_OR_RETURN(auto type, protocol::OptString(*obj, "type"));
  SKIFF_ASSIGN_OR_RETURN(auto detail, protocol::OptString(*obj, "detail"));
  SKIFF_ASSIGN_OR_RETURN(auto status, protocol::OptSmallInt(*obj, "status"));
  problem.type = type.value_or("about:blank");
  problem.detail = detail.value_or("");
  problem.status = status.value_or(0);
  if (const boost::json::value* id = protocol::Member(*obj, "identifier")) {
    SKIFF_ASSIGN_OR_RETURN(const boost::json::object* id_obj,
                           protocol::AsObject(*id, "identifier"));
    SKIFF_ASSIGN_OR_RETURN(auto value, protocol::OptString(*id_obj, "value"));
    problem.identifier = value.value_or("");
  }
  if (const boost::json::value* subs = protocol::Member(*obj, "subproblems")) {
    if (!subs->is_array()) return tl::unexpected(protocol::BadField("subproblems", "not an array"));
    for (const boost::json::value& sub : subs->get_array()) {
      SKIFF_ASSIGN_OR_RETURN(Problem parsed, ParseProblem(sub));
      problem.subproblems.push_back(std::move(parsed));
    }
  }
  return problem;
}

Problem ProblemFromResponse(int status, std::string_view body) {
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(body, ec);
  if (!ec) {
    if (Result<Problem> problem = ParseProblem(json); problem) {
      if (problem->status == 0) problem->status = status;
      return *std::move(problem);
    }
  }
  Problem problem;
  problem.type = "about:blank";
  problem.status = status;
  problem.detail = "HTTP " + std::to_string(status) + ": " +
                   std::string(body.substr(0, kMaxQuotedBody)) +
                   (body.size() > kMaxQuotedBody ? "…" : "");
  return problem;
}

Error ProblemError(const Problem& problem, std::string_view what) {
  std::string message(what);
  message += ": ACME server said: ";
  Describe(problem, &message);
  for (const Problem& sub : problem.subproblems) {
    message += "; ";
    if (!sub.identifier.empty()) message += sub.identifier + ": ";
    Describe(sub, &message);
  }
  return Error{CodeOf(problem.type, problem.status), std::move(message), {}};
}

}  // namespace skiff::acme
