// How the durable stores keep objects: model/codec.h JSON text, the object's
// version (an event's id) in a column of its own. Shared by the SQLite and
// PostgreSQL backends so both store the same bytes and decode them alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "store/store.h"

namespace skiff::store {

// The object as stored JSON text.
std::string EncodeObject(const Object& object);

// The stored JSON back to an object of `kind` whose version (an event's id) is
// `version`: the column is the truth, whatever the JSON says. kInternal when the
// text is not JSON or does not decode as `kind`.
Result<Object> DecodeObject(Kind kind, std::string_view data, int64_t version);

// The inverse of ToString(Kind); std::nullopt for an unknown name.
std::optional<Kind> ParseKind(std::string_view name);

// The least string above every string that starts with `prefix`; empty when
// there is none (a prefix of 0xff bytes only). For key-range scans.
std::string PrefixEnd(std::string prefix);

// A limit as SQL's signed 64-bit LIMIT; "no limit" callers pass SIZE_MAX.
int64_t ClampLimit(size_t limit);

// Audit entries (store/audit.h) are rows of plain columns, their time in
// milliseconds since the epoch (the engine keeps whole milliseconds). The
// columns every read selects, in this order.
inline constexpr const char* kAuditColumns =
    "id, time_ms, who, role, credential, source, method, path, project, app, request_id, code, "
    "revision";
int64_t ToMillis(Time t);
Time FromMillis(int64_t ms);
// filter.since in milliseconds; the least int64_t when it is unset (Time{}),
// so that "time_ms >= since" holds for every row.
int64_t SinceMillis(const AuditFilter& filter);

}  // namespace skiff::store
