#include "cli/json_fields.h"

namespace skiff::cli {
namespace json = boost::json;

const json::value& Field(const json::value& v, std::string_view key) {
  static const json::value kNull;
  const json::object* o = v.if_object();
  const json::value* f = o != nullptr ? o->if_contains(key) : nullptr;
  return f != nullptr ? *f : kNull;
}

std::string Str(const json::value& v, std::string_view key) {
  const json::value& f = Field(v, key);
  if (f.is_string()) return std::string(f.get_string());
  if (f.is_null()) return {};
  return json::serialize(f);
}

int64_t Int(const json::value& v, std::string_view key) {
  const json::value& f = Field(v, key);
  if (f.is_int64()) return f.get_int64();
  if (f.is_uint64()) return static_cast<int64_t>(f.get_uint64());
  if (f.is_double()) return static_cast<int64_t>(f.get_double());
  return 0;
}

bool Bool(const json::value& v, std::string_view key) {
  const json::value& f = Field(v, key);
  return f.is_bool() && f.get_bool();
}

const json::array& Array(const json::value& v, std::string_view key) {
  static const json::array kEmpty;
  const json::value& f = Field(v, key);
  return f.is_array() ? f.get_array() : kEmpty;
}

}  // namespace skiff::cli
