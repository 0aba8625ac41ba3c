// Small helpers for reading requests (query integers, booleans, JSON bodies)
// and for the head of a streamed answer.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "net/http.h"

namespace skiff::api {

// The integer query parameter `key`, `fallback` when absent; kInvalidArgument
// (field = key) when not an integer or below `min`.
Result<int64_t> QueryInt(const net::HttpRequest& request, const std::string& key, int64_t fallback,
                         int64_t min);
// "true"/"1"/"" (bare key) are true, "false"/"0" false, absent is `fallback`;
// anything else is kInvalidArgument (field = key).
Result<bool> QueryBool(const net::HttpRequest& request, const std::string& key, bool fallback);
// The body as a JSON object; an empty body is an empty object.
// kInvalidArgument when it is not JSON or not an object.
Result<boost::json::object> JsonObjectBody(const net::HttpRequest& request);
// The optional integer member `key` of `obj`; kInvalidArgument (field = key)
// when present but not an integer.
Result<std::optional<int64_t>> OptionalInt(const boost::json::object& obj, const std::string& key);
// The headers of a streamed answer of `content_type` (NDJSON, Server-Sent
// Events): no caching and no buffering, so a proxy in front passes each line
// on at once.
net::HttpHeaders StreamHeaders(const char* content_type);

}  // namespace skiff::api
