// Lenient readers of the server's JSON for the client's printouts: a missing
// field or one of another type reads as empty, so an older or newer server
// still gets a printout instead of an exception.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace skiff::cli {

// v[key] as text: strings as they are, null or missing as "", anything else
// as its JSON.
std::string Str(const boost::json::value& v, std::string_view key);

// v[key] as an integer; 0 when missing or not a number.
int64_t Int(const boost::json::value& v, std::string_view key);

// v[key] as a bool; false when missing or not a bool.
bool Bool(const boost::json::value& v, std::string_view key);

// v[key] as an array; an empty one when missing or not an array.
const boost::json::array& Array(const boost::json::value& v, std::string_view key);

// v[key] as it is; null when missing.
const boost::json::value& Field(const boost::json::value& v, std::string_view key);

}  // namespace skiff::cli
