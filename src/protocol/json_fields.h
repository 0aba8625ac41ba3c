// Reading the fields of the protocol's JSON objects: one wording of errors for
// every message (kInvalidArgument, the field named), and the rule both codecs
// share for forward compatibility: a field that is absent or null reads as
// unset, a field nobody asks for is ignored, a known field of the wrong type
// fails.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace skiff::protocol {

// kInvalidArgument "FIELD: REASON" on `field` (just the reason when the field
// is empty: the value itself, which Within names).
Error BadField(std::string_view field, std::string_view reason);

// `error` (of a value read on its own) as one of the value at `path`: its
// field becomes "PATH.FIELD" (or PATH), and its message says where.
Error Within(std::string_view path, Error error);

// The object `v`, or a BadField on `what` (may be empty) when it is something else.
Result<const boost::json::object*> AsObject(const boost::json::value& v, std::string_view what);

// The member `key`, or null when absent or null.
const boost::json::value* Member(const boost::json::object& obj, std::string_view key);

// The member `key` of each type: unset when absent or null, a BadField naming
// the key when of another type or out of range (Within names where it is).
Result<std::optional<std::string>> OptString(const boost::json::object& obj, std::string_view key);
Result<std::optional<int64_t>> OptInt(const boost::json::object& obj, std::string_view key);
Result<std::optional<int>> OptSmallInt(const boost::json::object& obj, std::string_view key);
Result<std::optional<bool>> OptBool(const boost::json::object& obj, std::string_view key);
Result<std::optional<Time>> OptTime(const boost::json::object& obj, std::string_view key);

}  // namespace skiff::protocol
