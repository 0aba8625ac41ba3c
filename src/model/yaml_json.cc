#include "model/yaml_json.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <set>

namespace skiff::model {
namespace json = boost::json;
namespace {

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

bool IsNull(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> AsBool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

std::optional<int64_t> AsInt(std::string_view s) {
  int base = 10;
  std::string_view digits = s;
  bool negative = false;
  if (digits.starts_with("0x")) {
    base = 16;
    digits.remove_prefix(2);
  } else if (digits.starts_with("0o")) {
    base = 8;
    digits.remove_prefix(2);
  } else if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  if (value > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  int64_t v = static_cast<int64_t>(value);
  return negative ? -v : v;
}

std::optional<double> AsFloat(std::string_view s) {
  // [-+]? ( \.[0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t whole = digits();
  size_t fraction = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = digits();
  }
  if (whole == 0 && fraction == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (digits() == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  return std::strtod(std::string(s).c_str(), nullptr);
}

json::value ResolvePlain(const std::string& s) {
  if (IsNull(s)) return nullptr;
  if (auto b = AsBool(s)) return *b;
  if (auto n = AsInt(s)) return *n;
  if (auto d = AsFloat(s)) return *d;
  return json::string(s);
}

std::string PathString(const YamlPath& path) {
  std::string out;
  for (const auto& part : path) {
    if (!out.empty() && !part.starts_with("[")) out += '.';
    out += part;
  }
  return out;
}

class Converter {
 public:
  explicit Converter(const std::function<bool(const YamlPath&)>& keep_text)
      : keep_text_(keep_text) {}

  Result<json::value> Convert(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return json::value(nullptr);
      case YAML::NodeType::Scalar:
        return Scalar(node);
      case YAML::NodeType::Sequence: {
        json::array out;
        size_t index = 0;
        for (const auto& item : node) {
          path_.push_back(fmt::format("[{}]", index++));
          auto v = Convert(item);
          path_.pop_back();
          if (!v) return v;
          out.push_back(std::move(*v));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        json::object out;
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            return InvalidArgument(
                fmt::format("{}: mapping keys must be plain strings", PathString(path_)),
                PathString(path_));
          }
          const std::string& key = kv.first.Scalar();
          path_.push_back(key);
          std::string here = PathString(path_);
          if (out.contains(key)) {
            path_.pop_back();
            return InvalidArgument(
                fmt::format("{}: duplicate key (line {})", here, kv.first.Mark().line + 1), here);
          }
          auto v = Convert(kv.second);
          path_.pop_back();
          if (!v) return v;
          out[key] = std::move(*v);
        }
        return out;
      }
    }
    return json::value(nullptr);
  }

 private:
  json::value Scalar(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    const std::string& tag = node.Tag();
    if (tag == "?") {  // plain: resolve by the core schema unless asked to keep the text
      if (keep_text_(path_) && !IsNull(text)) return json::string(text);
      return ResolvePlain(text);
    }
    if (tag.starts_with(kTagPrefix)) {  // an explicit !!int, !!str, ...
      std::string_view type = std::string_view(tag).substr(kTagPrefix.size());
      if (type == "str") return json::string(text);
      json::value resolved = ResolvePlain(text);
      if ((type == "int" && resolved.is_int64()) || (type == "bool" && resolved.is_bool()) ||
          (type == "null" && resolved.is_null()) ||
          (type == "float" && (resolved.is_double() || resolved.is_int64()))) {
        return resolved;
      }
    }
    return json::string(text);  // quoted ("!") or an unknown tag: the text as written
  }

  const std::function<bool(const YamlPath&)>& keep_text_;
  YamlPath path_;
};

}  // namespace

Result<json::value> YamlToJson(std::string_view text,
                               const std::function<bool(const YamlPath&)>& keep_text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(fmt::format("invalid YAML at line {}, column {}: {}", e.mark.line + 1,
                                       e.mark.column + 1, e.msg));
  }
  try {
    Converter converter(keep_text);
    return converter.Convert(root);
  } catch (const YAML::Exception& e) {  // defensive: accessors may throw on odd documents
    return InvalidArgument(fmt::format("invalid YAML: {}", e.msg));
  }
}

std::string_view JsonKindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a bool";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "a list";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

}  // namespace skiff::model
