// JSON mapping of the model: the API's shapes (DESIGN.md) and the stored form are
// the same JSON, so there is exactly one mapping. Decoding is strict about types
// and returns kInvalidArgument naming the field; unknown fields are ignored here
// (the user-facing spec parser in spec_parse.h is the strict one).
#pragma once

#include <boost/json.hpp>

#include "common/result.h"
#include "model/resources.h"
#include "model/spec.h"

namespace skiff::model {

// The spec in canonical form: every field present, durations as "2s", cpu as
// "250m", memory as "128Mi". Canonical JSON of equal specs is equal.
boost::json::value SpecToJson(const AppSpec& spec);
// Reads what SpecToJson writes, through the parser of spec_parse.h: values are
// checked as in a user's spec, but fields this version does not know are
// ignored (a newer server's, say), so stored specs and specs sent to agents
// stay readable one version apart.
Result<AppSpec> SpecFromJson(const boost::json::value& json);

// The spec's `edge` section as SpecToJson writes it (read back with
// ParseEdgePolicyJson of spec_parse.h).
boost::json::value EdgePolicyToJson(const EdgePolicy& edge);

boost::json::value ToJson(const App& app);
boost::json::value ToJson(const Deployment& d);
boost::json::value ToJson(const Instance& i);
boost::json::value ToJson(const Node& n);
boost::json::value ToJson(const Event& e);

Result<App> AppFromJson(const boost::json::value& json);
Result<Deployment> DeploymentFromJson(const boost::json::value& json);
Result<Instance> InstanceFromJson(const boost::json::value& json);
Result<Node> NodeFromJson(const boost::json::value& json);
Result<Event> EventFromJson(const boost::json::value& json);

}  // namespace skiff::model
