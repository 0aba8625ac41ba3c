// Parsing and validation of user-written app specs.
//
// Validation is whole: all problems are collected, and the returned Error
// (kInvalidArgument) has `field` = the first problem's path and `message` = every
// problem as "path: reason", joined by "; ". Reasons follow DESIGN.md:
//   replicas: must be >= 0 (got -1)
//   health.interval: not a duration ("2 seconds"); use e.g. 500ms, 2s, 5m, 1h
//   run: exactly one of command, image, build
//   health.intervl: unknown field; did you mean "interval"?
#pragma once

#include <boost/json.hpp>
#include <string_view>

#include "common/result.h"
#include "model/spec.h"

namespace skiff::model {

enum class SpecFormat { kYaml, kJson };

// What a field the parser does not know is: a mistake in what a user wrote
// (kReject, with the nearest known name suggested), or something a newer
// Skiff wrote that this one may pass over (kIgnore: specs read from the store
// or from another part of Skiff). Values of known fields are checked either way.
enum class UnknownFields { kReject, kIgnore };

// Parses text (YAML is a superset of JSON, but JSON gets exact JSON errors).
Result<AppSpec> ParseAppSpec(std::string_view text, SpecFormat format);
// Parses an already-decoded JSON document.
Result<AppSpec> ParseAppSpecJson(const boost::json::value& json,
                                 UnknownFields unknown = UnknownFields::kReject);
// Parses the `edge` section of a spec on its own (fields named "edge.…").
Result<EdgePolicy> ParseEdgePolicyJson(const boost::json::value& json, UnknownFields unknown);

// Checks what ParseAppSpec cannot know: that `autoscale.window` is at least
// the server's sample interval (the agents' and edges' reporting period), so
// every window holds a sample. kInvalidArgument with field "autoscale.window"
// otherwise. The API calls it on apply with its configured interval.
Status CheckAutoscaleWindow(const Autoscale& autoscale, Duration sample_interval);

// Checks a DNS label: 1-63 of [a-z0-9-], starting with a letter, not ending in '-'.
Status ValidateName(std::string_view name, std::string_view field = "name");

}  // namespace skiff::model
