// Parsing and printing of the quantities users write in specs and flags.
// Every parser returns kInvalidArgument with a message that quotes the input
// and says what form is expected; the caller adds the field path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace skiff {

// "500ms", "2s", "5m", "1h", "1m30s", "0". Negative durations are rejected.
Result<Duration> ParseDuration(std::string_view text);
// The largest exact unit: 1500ms -> "1500ms", 2000ms -> "2s", 90s -> "90s", 0 -> "0s".
std::string FormatDuration(Duration d);

// CPU in millicores: "250m" -> 250, "0.5" -> 500, "2" -> 2000.
Result<int64_t> ParseCpuMillis(std::string_view text);
// 250 -> "250m", 2000 -> "2".
std::string FormatCpuMillis(int64_t millis);

// Memory in bytes: "128Mi", "1Gi", "512M", "1G", "64Ki", "1000" (bytes).
Result<int64_t> ParseMemoryBytes(std::string_view text);
// Binary units when exact: 134217728 -> "128Mi"; otherwise plain bytes.
std::string FormatMemoryBytes(int64_t bytes);

// RFC 3339 in UTC with milliseconds: "2026-11-22T08:09:37.123Z". Zero time -> "".
std::string FormatTime(Time t);
// Accepts what FormatTime writes (and without the fraction). A time Time cannot
// hold (before 1678 or after 2261) is kInvalidArgument.
Result<Time> ParseTime(std::string_view text);

}  // namespace skiff
