// Plain HTTP value types shared by the server, the client and every handler.
// Nothing here depends on Beast, so the rest of Skiff can speak HTTP without
// pulling the parser into its compile units.
#pragma once

#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "net/http_syntax.h"  // EqualsIgnoreCase

namespace skiff::net {

// Header fields in arrival (or sending) order; names keep their spelling and
// are compared case-insensitively by the helpers below.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// The value of the first header named `name` (case-insensitive), or "" when
// absent. The view points into `headers`.
std::string_view FindHeader(const HttpHeaders& headers, std::string_view name);

struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // as sent: "/v1/apps/web?tail=10"
  std::string path;    // percent-decoded path: "/v1/apps/web"
  // Percent-decoded query parameters; a repeated key keeps its last value, a key
  // without "=" maps to "".
  std::map<std::string, std::string> query;
  HttpHeaders headers;
  std::string body;
  std::string remote_address;  // "127.0.0.1:53412"

  // See FindHeader.
  std::string_view Header(std::string_view name) const { return FindHeader(headers, name); }
  // The query parameter `key`, or `fallback` when absent.
  std::string QueryOr(const std::string& key, std::string fallback = {}) const;
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;

  std::string_view Header(std::string_view name) const { return FindHeader(headers, name); }
};

// A response with Content-Type application/json and the serialized `body`.
HttpResponse JsonResponse(int status, const boost::json::value& body);
// A response with the given Content-Type (text/plain by default).
HttpResponse TextResponse(int status, std::string body,
                          std::string content_type = "text/plain; charset=utf-8");
// Skiff's one error shape, {"error":{"code":"…","message":"…","field":"…"}}
// ("field" only when set), with the status HttpStatusFromErrorCode picks.
HttpResponse ErrorResponse(const Error& error);

// The single mapping between ErrorCode and HTTP status, both directions, so the
// server side and the client side agree (404 <-> kNotFound, 413 <->
// kResourceExhausted, 503 <-> kUnavailable, ...).
int HttpStatusFromErrorCode(ErrorCode code);
ErrorCode ErrorCodeFromHttpStatus(int status);

// The Error a non-2xx response stands for. Understands Skiff's error shape (code
// and field taken from it), a Docker-style {"message": "..."} body, and falls
// back to the HTTP status and the raw body (truncated) otherwise.
Error ErrorFromResponse(int status, std::string_view body);

// "Not Found" for 404, ... ("" for codes it does not know).
std::string_view HttpReasonPhrase(int status);

}  // namespace skiff::net
