#include "net/http.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>

namespace skiff::net {

namespace {

// Error bodies from foreign servers can be large HTML pages; a message keeps
// only their start.
constexpr size_t kMaxRawMessage = 200;

}  // namespace

std::string_view FindHeader(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

std::string HttpRequest::QueryOr(const std::string& key, std::string fallback) const {
  auto it = query.find(key);
  return it == query.end() ? std::move(fallback) : it->second;
}

HttpResponse JsonResponse(int status, const boost::json::value& body) {
  return HttpResponse{status, {{"Content-Type", "application/json"}}, boost::json::serialize(body)};
}

HttpResponse TextResponse(int status, std::string body, std::string content_type) {
  return HttpResponse{status, {{"Content-Type", std::move(content_type)}}, std::move(body)};
}

HttpResponse ErrorResponse(const Error& error) {
  boost::json::object inner;
  inner["code"] = ErrorCodeName(error.code);
  inner["message"] = error.message;
  if (!error.field.empty()) inner["field"] = error.field;
  boost::json::object outer;
  outer["error"] = std::move(inner);
  HttpResponse response = JsonResponse(HttpStatusFromErrorCode(error.code), outer);
  // Transient by definition (a store or peer down): say when to come back.
  if (error.code == ErrorCode::kUnavailable) response.headers.push_back({"Retry-After", "1"});
  return response;
}

int HttpStatusFromErrorCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
      return 409;
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kFailedPrecondition:
      return 412;
    case ErrorCode::kAborted:
      return 409;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kDeadlineExceeded:
      return 504;
    case ErrorCode::kResourceExhausted:
      return 413;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

ErrorCode ErrorCodeFromHttpStatus(int status) {
  switch (status) {
    case 400:
      return ErrorCode::kInvalidArgument;
    case 401:
      return ErrorCode::kUnauthenticated;
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 408:
      return ErrorCode::kDeadlineExceeded;
    case 409:
      return ErrorCode::kAborted;
    case 412:
      return ErrorCode::kFailedPrecondition;
    case 413:
      return ErrorCode::kResourceExhausted;
    case 429:
      return ErrorCode::kResourceExhausted;
    case 431:
      return ErrorCode::kResourceExhausted;
    case 502:
      return ErrorCode::kUnavailable;
    case 503:
      return ErrorCode::kUnavailable;
    case 504:
      return ErrorCode::kDeadlineExceeded;
    default:
      break;
  }
  if (status >= 400 && status < 500) return ErrorCode::kInvalidArgument;
  return ErrorCode::kInternal;
}

Error ErrorFromResponse(int status, std::string_view body) {
  Error error{ErrorCodeFromHttpStatus(status), {}, {}};
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(body, ec);
  if (!ec && parsed.is_object()) {
    const auto& object = parsed.get_object();
    if (const auto* inner = object.if_contains("error"); inner && inner->is_object()) {
      const auto& fields = inner->get_object();
      if (const auto* code = fields.if_contains("code"); code && code->is_string()) {
        error.code = ErrorCodeFromName(code->get_string());
      }
      if (const auto* message = fields.if_contains("message"); message && message->is_string()) {
        error.message = message->get_string();
      }
      if (const auto* field = fields.if_contains("field"); field && field->is_string()) {
        error.field = field->get_string();
      }
      if (!error.message.empty()) return error;
    }
    if (const auto* message = object.if_contains("message"); message && message->is_string()) {
      error.message = message->get_string();
      return error;
    }
  }
  std::string raw(body.substr(0, kMaxRawMessage));
  while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.back()))) raw.pop_back();
  error.message = "HTTP " + std::to_string(status);
  if (std::string_view reason = HttpReasonPhrase(status); !reason.empty()) {
    error.message += " ";
    error.message += reason;
  }
  if (!raw.empty()) error.message += ": " + raw;
  return error;
}

std::string_view HttpReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 308:
      return "Permanent Redirect";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return {};
  }
}

}  // namespace skiff::net
