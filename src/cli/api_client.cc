#include "cli/api_client.h"

#include <fmt/format.h>

namespace skiff::cli {

Result<net::HttpResponse> HttpTransport::Do(std::string_view method, std::string_view path,
                                            std::string_view body,
                                            const net::HttpHeaders& headers) {
  return client_.Do(method, path, body, headers);
}

Result<int> HttpTransport::Stream(std::string_view path, const net::HttpHeaders& headers,
                                  const std::function<bool(std::string_view)>& on_data) {
  // Zero: a followed stream may stay quiet for as long as nothing happens.
  return client_.Stream("GET", path, headers, on_data, Duration(0));
}

ApiClient::ApiClient(Transport* transport, std::string token)
    : transport_(transport), token_(std::move(token)) {}

net::HttpHeaders ApiClient::Headers() const {
  net::HttpHeaders headers;
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
  headers.emplace_back("Accept", "application/json");
  return headers;
}

Result<Reply> ApiClient::Call(std::string_view method, std::string_view path, std::string_view body,
                              std::string content_type) {
  net::HttpHeaders headers = Headers();
  if (!body.empty()) {
    headers.emplace_back("Content-Type",
                         content_type.empty() ? "application/json" : std::move(content_type));
  }
  SKIFF_ASSIGN_OR_RETURN(net::HttpResponse response, transport_->Do(method, path, body, headers));
  if (response.status < 200 || response.status > 299) {
    return tl::unexpected(net::ErrorFromResponse(response.status, response.body));
  }
  Reply reply;
  reply.status = response.status;
  reply.text = std::move(response.body);
  boost::system::error_code ec;
  if (!reply.text.empty()) {
    boost::json::value v = boost::json::parse(reply.text, ec);
    if (!ec) reply.body = std::move(v);
  }
  return reply;
}

Status ApiClient::StreamLines(std::string_view path,
                              const std::function<bool(std::string_view)>& on_line) {
  std::string pending;
  bool stopped = false;
  auto result = transport_->Stream(path, Headers(), [&](std::string_view data) {
    pending.append(data);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (!on_line(std::string_view(pending).substr(start, nl - start))) {
        stopped = true;
        return false;
      }
    }
    pending.erase(0, start);
    return true;
  });
  if (!result) return tl::unexpected(result.error());
  if (!stopped && !pending.empty()) on_line(pending);
  return OkStatus();
}

std::string Explain(const Error& error, const std::string& addr) {
  switch (error.code) {
    case ErrorCode::kUnavailable:
      return fmt::format(
          "cannot reach the Skiff server at {}: {} — is `skiff server` running? "
          "set SKIFF_ADDR to point elsewhere",
          addr, error.message);
    case ErrorCode::kUnauthenticated:
      return fmt::format(
          "401: the token was refused — set SKIFF_TOKEN or --token (the server wrote it to "
          "DATA/admin.token), or `skiff login`{}",
          error.message.empty() ? "" : " (" + error.message + ")");
    case ErrorCode::kPermissionDenied:
      return fmt::format("403: not allowed: {}", error.message);
    case ErrorCode::kDeadlineExceeded:
      return fmt::format("the Skiff server at {} did not answer in time: {}", addr, error.message);
    default:
      break;
  }
  std::string message = error.message;
  if (!error.field.empty() && message.rfind(error.field, 0) != 0) {
    message = error.field + ": " + message;
  }
  return fmt::format("{}: {}", ErrorCodeName(error.code), message);
}

}  // namespace skiff::cli
