#include "runtime/docker/engine_json.h"

#include <cctype>

#include "runtime/docker/engine.h"  // ParseUnixNanos

namespace skiff::runtime::docker {
namespace {
namespace json = boost::json;
}  // namespace

std::string QueryEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string JsonString(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::map<std::string, std::string> JsonLabels(const json::value* labels) {
  std::map<std::string, std::string> out;
  if (labels == nullptr || !labels->is_object()) return out;
  for (const auto& [key, value] : labels->get_object()) {
    if (value.is_string()) out[std::string(key)] = std::string(value.get_string());
  }
  return out;
}

Time JsonTime(const json::object& o, std::string_view key) {
  auto nanos = ParseUnixNanos(JsonString(o, key));
  if (!nanos || *nanos <= 0) return Time{};
  return Time(std::chrono::duration_cast<Time::duration>(std::chrono::nanoseconds(*nanos)));
}

int64_t JsonInt(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::value* v = nullptr;
  const json::object* at = &o;
  for (std::string_view key : path) {
    if (at == nullptr) return 0;
    v = at->if_contains(key);
    if (v == nullptr) return 0;
    at = v->if_object();
  }
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return 0;
}

}  // namespace skiff::runtime::docker
