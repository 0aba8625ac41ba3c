// A server's id (--server-id, default the host name) names it in the servers'
// list, names its node, and with a shared store is the first part of its
// edge's name in traffic reports (`<server-id>:edge`), which the API
// takes only in letters, digits, '-', '.' and '_' (docs/api.md): an id outside
// those would leave the edge unable to report, so it is refused at start.
#pragma once

#include <string>

#include "common/result.h"

namespace skiff::server {

// OK when `id` is 1 to 100 letters, digits, '-', '.' or '_'; else
// kInvalidArgument (field "server-id") naming --server-id and the rule.
Status CheckServerId(const std::string& id);

}  // namespace skiff::server
