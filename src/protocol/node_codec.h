// JSON mapping of what an agent and the control plane exchange over HTTP
// (protocol/node.h): the bodies of the /v1/agent/... calls. Decoding is
// strict about types and returns kInvalidArgument naming the field (its path,
// as "specs.web/3.edge.lb"); unknown fields are ignored, in the specs too, so
// either side may grow new ones and an agent one version apart from its server
// keeps working (protocol/json_fields.h).
#pragma once

#include <boost/json.hpp>
#include <vector>

#include "common/result.h"
#include "protocol/node.h"

namespace skiff::protocol {

// Unset optional fields are left out (and read back unset).
boost::json::value ToJson(const InstanceReport& report);
Result<InstanceReport> InstanceReportFromJson(const boost::json::value& json);

boost::json::value ToJson(const model::ResourceSample& sample);
Result<model::ResourceSample> ResourceSampleFromJson(const boost::json::value& json);

// {"samples":[{"instance":"…","at":"…","cpu_millis":N,"memory_bytes":N,
// "memory_limit_bytes":N,"cpu_reserved_millis":N,"memory_reserved_bytes":N}]}:
// the last three left out when 0, and read as 0 when absent (older agents).
boost::json::value SamplesToJson(const std::vector<InstanceSample>& samples);
Result<std::vector<InstanceSample>> SamplesFromJson(const boost::json::value& json);

// {"revision":N,"instances":[…],"specs":{"app/rev":{…}}}: instances as
// model::ToJson, specs as model::SpecToJson.
boost::json::value ToJson(const Assignments& assignments);
Result<Assignments> AssignmentsFromJson(const boost::json::value& json);

}  // namespace skiff::protocol
