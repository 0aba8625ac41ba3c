// Small readers of the Docker Engine API's JSON answers and the query escape
// of its filters, shared by DockerEngine and the Swarm orchestrator's engine
// (orchestrator/swarm/swarm_engine.h). Each reads leniently: a missing or
// mistyped field is the zero value, since the API adds and omits fields
// between versions.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace skiff::runtime::docker {

// Percent-escapes everything but RFC 3986's unreserved characters.
std::string QueryEscape(std::string_view text);

// o[key] when it is a string, else "".
std::string JsonString(const boost::json::object& o, std::string_view key);
// A {"k": "v"} object's string members (labels); empty when not an object.
std::map<std::string, std::string> JsonLabels(const boost::json::value* labels);
// o[key] as an RFC 3339 time with any fraction; the zero Time when missing,
// not a time, or Docker's zero time (0001-01-01T00:00:00Z).
Time JsonTime(const boost::json::object& o, std::string_view key);
// The integer at `path` (nested objects), 0 when any step is missing or it
// is not an integer.
int64_t JsonInt(const boost::json::object& o, std::initializer_list<std::string_view> path);

}  // namespace skiff::runtime::docker
