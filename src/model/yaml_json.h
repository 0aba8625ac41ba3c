// YAML -> JSON, so that one strict validator (over boost::json) serves both
// formats. YAML scalars carry no type, so plain (unquoted) scalars are resolved by
// the YAML 1.2 core schema: null, true/false, integers, floats, else strings.
// `on`/`yes` therefore stay strings, and a quoted "80" stays a string, as in JSON.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace skiff::model {

// Path of keys (and "[i]" for list items) from the document root to a node.
using YamlPath = std::vector<std::string>;

// Converts the first YAML document in `text`. Plain scalars at a path for which
// `keep_text` returns true become the string exactly as written (env values:
// `VERSION: 1.10` must not turn into 1.1). Thread-compatible, no state.
// Errors: kInvalidArgument "invalid YAML at line L, column C: ..." for bad syntax,
// kInvalidArgument for non-scalar or duplicate mapping keys.
Result<boost::json::value> YamlToJson(std::string_view text,
                                      const std::function<bool(const YamlPath&)>& keep_text);

// "null", "a bool", "a number", "a string", "a list", "an object": how errors
// name the kind of JSON value found where another was expected.
std::string_view JsonKindName(const boost::json::value& v);

}  // namespace skiff::model
