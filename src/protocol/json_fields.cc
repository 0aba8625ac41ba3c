#include "protocol/json_fields.h"

#include <fmt/format.h>

#include <limits>

#include "common/quantity.h"
#include "model/yaml_json.h"

namespace skiff::protocol {
namespace json = boost::json;

Error BadField(std::string_view field, std::string_view reason) {
  return Error{ErrorCode::kInvalidArgument,
               field.empty() ? std::string(reason) : fmt::format("{}: {}", field, reason),
               std::string(field)};
}

Error Within(std::string_view path, Error error) {
  error.message = fmt::format("{}: {}", path, error.message);
  error.field = error.field.empty() ? std::string(path) : fmt::format("{}.{}", path, error.field);
  return error;
}

Result<const json::object*> AsObject(const json::value& v, std::string_view what) {
  if (!v.is_object()) {
    return tl::unexpected(
        BadField(what, fmt::format("must be an object, not {}", model::JsonKindName(v))));
  }
  return &v.get_object();
}

const json::value* Member(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

Result<std::optional<std::string>> OptString(const json::object& obj, std::string_view key) {
  const json::value* v = Member(obj, key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) {
    return tl::unexpected(
        BadField(key, fmt::format("must be a string, not {}", model::JsonKindName(*v))));
  }
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::optional<int64_t>> OptInt(const json::object& obj, std::string_view key) {
  const json::value* v = Member(obj, key);
  if (v == nullptr) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->get_int64());
  if (v->is_uint64() && v->get_uint64() <= uint64_t(std::numeric_limits<int64_t>::max())) {
    return std::optional<int64_t>(static_cast<int64_t>(v->get_uint64()));
  }
  return tl::unexpected(
      BadField(key, fmt::format("must be an integer, not {}", model::JsonKindName(*v))));
}

Result<std::optional<int>> OptSmallInt(const json::object& obj, std::string_view key) {
  SKIFF_ASSIGN_OR_RETURN(std::optional<int64_t> n, OptInt(obj, key));
  if (!n) return std::optional<int>();
  if (*n < std::numeric_limits<int>::min() || *n > std::numeric_limits<int>::max()) {
    return tl::unexpected(BadField(key, fmt::format("out of range ({})", *n)));
  }
  return std::optional<int>(static_cast<int>(*n));
}

Result<std::optional<bool>> OptBool(const json::object& obj, std::string_view key) {
  const json::value* v = Member(obj, key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_bool()) {
    return tl::unexpected(
        BadField(key, fmt::format("must be true or false, not {}", model::JsonKindName(*v))));
  }
  return std::optional<bool>(v->get_bool());
}

Result<std::optional<Time>> OptTime(const json::object& obj, std::string_view key) {
  SKIFF_ASSIGN_OR_RETURN(std::optional<std::string> text, OptString(obj, key));
  if (!text) return std::optional<Time>();
  auto t = ParseTime(*text);
  if (!t) return tl::unexpected(BadField(key, t.error().message));
  return std::optional<Time>(*t);
}

}  // namespace skiff::protocol
