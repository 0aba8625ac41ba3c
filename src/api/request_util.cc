#include "api/request_util.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>

namespace skiff::api {

Result<int64_t> QueryInt(const net::HttpRequest& request, const std::string& key, int64_t fallback,
                         int64_t min) {
  auto it = request.query.find(key);
  if (it == request.query.end()) return fallback;
  const std::string& text = it->second;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return InvalidArgument(fmt::format("{}: not an integer (\"{}\")", key, text), key);
  }
  if (value < min) {
    return InvalidArgument(fmt::format("{}: must be >= {} (got {})", key, min, value), key);
  }
  return value;
}

Result<bool> QueryBool(const net::HttpRequest& request, const std::string& key, bool fallback) {
  auto it = request.query.find(key);
  if (it == request.query.end()) return fallback;
  const std::string& v = it->second;
  if (v.empty() || v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return InvalidArgument(fmt::format("{}: not a boolean (\"{}\"); use true or false", key, v), key);
}

Result<boost::json::object> JsonObjectBody(const net::HttpRequest& request) {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return boost::json::object{};
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(request.body, ec);
  if (ec) return InvalidArgument(fmt::format("body: not JSON ({})", ec.message()), "body");
  if (!v.is_object()) return InvalidArgument("body: must be a JSON object", "body");
  return std::move(v.as_object());
}

Result<std::optional<int64_t>> OptionalInt(const boost::json::object& obj, const std::string& key) {
  const boost::json::value* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return std::optional<int64_t>(static_cast<int64_t>(v->as_uint64()));
  }
  if (v->is_double()) {
    double d = v->as_double();
    if (d >= -9e18 && d <= 9e18 && d == std::trunc(d)) {
      return std::optional<int64_t>(static_cast<int64_t>(d));
    }
  }
  return InvalidArgument(
      fmt::format("{}: must be an integer (got {})", key, boost::json::serialize(*v)), key);
}

net::HttpHeaders StreamHeaders(const char* content_type) {
  return {
      {"Content-Type", content_type}, {"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
}

}  // namespace skiff::api
