#include "common/quantity.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace skiff {
namespace {

// Parses a non-negative decimal ("12", "0.5") at the front of text; advances it.
bool ParseNumber(std::string_view& text, double& out) {
  size_t i = 0;
  bool digits = false;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, digits = true;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, digits = true;
  }
  if (!digits) return false;
  std::string number(text.substr(0, i));
  out = std::strtod(number.c_str(), nullptr);
  text.remove_prefix(i);
  return true;
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument(
        fmt::format("not a duration (\"{}\"); use e.g. 500ms, 2s, 5m, 1h, 90d", text));
  };
  std::string_view rest = text;
  if (rest.empty()) return bad();
  if (rest == "0") return Duration(0);
  double total_ms = 0;
  while (!rest.empty()) {
    double value = 0;
    if (!ParseNumber(rest, value)) return bad();
    size_t unit_len = 0;
    while (unit_len < rest.size() && std::isalpha(static_cast<unsigned char>(rest[unit_len]))) {
      ++unit_len;
    }
    std::string_view unit = rest.substr(0, unit_len);
    rest.remove_prefix(unit_len);
    if (unit == "ms") {
      total_ms += value;
    } else if (unit == "s") {
      total_ms += value * 1000;
    } else if (unit == "m") {
      total_ms += value * 60'000;
    } else if (unit == "h") {
      total_ms += value * 3'600'000;
    } else if (unit == "d") {  // token lifetimes, retention: "90d"
      total_ms += value * 86'400'000;
    } else {
      return bad();
    }
  }
  if (total_ms > 1e15) return bad();
  return Duration(static_cast<int64_t>(std::llround(total_ms)));
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

Result<int64_t> ParseCpuMillis(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument(fmt::format("not a cpu quantity (\"{}\"); use e.g. 250m or 0.5", text));
  };
  std::string_view rest = text;
  double value = 0;
  if (!ParseNumber(rest, value)) return bad();
  // A machine has no more than a few thousand cpus; far larger numbers would
  // overflow int64 millicores.
  constexpr double kMaxMillis = 1e15;
  if (rest == "m") {
    if (value != std::floor(value) || value > kMaxMillis) return bad();
    return static_cast<int64_t>(value);
  }
  if (!rest.empty() || value * 1000 > kMaxMillis) return bad();
  return static_cast<int64_t>(std::llround(value * 1000));
}

std::string FormatCpuMillis(int64_t millis) {
  if (millis % 1000 == 0) return fmt::format("{}", millis / 1000);
  return fmt::format("{}m", millis);
}

Result<int64_t> ParseMemoryBytes(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument(
        fmt::format("not a memory quantity (\"{}\"); use e.g. 128Mi, 1Gi or 512M", text));
  };
  std::string_view rest = text;
  double value = 0;
  if (!ParseNumber(rest, value)) return bad();
  double mult = 1;
  if (rest.empty()) {
    mult = 1;
  } else if (rest == "Ki") {
    mult = 1024.0;
  } else if (rest == "Mi") {
    mult = 1024.0 * 1024;
  } else if (rest == "Gi") {
    mult = 1024.0 * 1024 * 1024;
  } else if (rest == "Ti") {
    mult = 1024.0 * 1024 * 1024 * 1024;
  } else if (rest == "K" || rest == "k") {
    mult = 1e3;
  } else if (rest == "M") {
    mult = 1e6;
  } else if (rest == "G") {
    mult = 1e9;
  } else if (rest == "T") {
    mult = 1e12;
  } else {
    return bad();
  }
  double bytes = value * mult;
  if (bytes > 9e18) return bad();
  return static_cast<int64_t>(std::llround(bytes));
}

std::string FormatMemoryBytes(int64_t bytes) {
  constexpr std::pair<int64_t, const char*> kUnits[] = {
      {1LL << 40, "Ti"}, {1LL << 30, "Gi"}, {1LL << 20, "Mi"}, {1LL << 10, "Ki"}};
  if (bytes == 0) return "0";
  for (const auto& [size, suffix] : kUnits) {
    if (bytes % size == 0) return fmt::format("{}{}", bytes / size, suffix);
  }
  return fmt::format("{}", bytes);
}

std::string FormatTime(Time t) {
  if (t == Time{}) return "";
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

Result<Time> ParseTime(std::string_view text) {
  if (text.empty()) return Time{};
  auto bad = [&] {
    return InvalidArgument(
        fmt::format("not an RFC 3339 UTC time (\"{}\"); use e.g. 2026-11-22T08:16:17.500Z", text));
  };
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z, every digit where the layout says.
  auto digits = [&](size_t at, size_t n, int& out) {
    if (at + n > text.size()) return false;
    auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + n, out);
    return ec == std::errc() && end == text.data() + at + n;
  };
  std::tm tm{};
  if (text.size() < 20 || !digits(0, 4, tm.tm_year) || text[4] != '-' || !digits(5, 2, tm.tm_mon) ||
      text[7] != '-' || !digits(8, 2, tm.tm_mday) || text[10] != 'T' ||
      !digits(11, 2, tm.tm_hour) || text[13] != ':' || !digits(14, 2, tm.tm_min) ||
      text[16] != ':' || !digits(17, 2, tm.tm_sec) || text.back() != 'Z') {
    return bad();
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return bad();
  }
  // The fraction: any number of digits, read as a fraction of a second.
  int64_t ms = 0;
  std::string_view fraction = text.substr(19, text.size() - 20);
  if (!fraction.empty()) {
    if (fraction[0] != '.' || fraction.size() < 2) return bad();
    int64_t scale = 100;
    for (char c : fraction.substr(1)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return bad();
      ms += (c - '0') * scale;
      scale /= 10;
    }
  }
  const int mday = tm.tm_mday;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t secs = timegm(&tm);
  // timegm normalises 31 April to 1 May: a day that does not exist is an error.
  std::tm check{};
  gmtime_r(&secs, &check);
  if (check.tm_mday != mday && tm.tm_sec != 60) return bad();
  // Time counts nanoseconds in an int64 (years 1678 to 2261): a time outside
  // that (Docker's zero time 0001-01-01, say) would overflow the conversion.
  // One second of margin each side leaves room for the fraction and a leap second.
  constexpr int64_t kMaxSeconds =
      std::chrono::duration_cast<std::chrono::seconds>(Time::duration::max()).count() - 1;
  constexpr int64_t kMinSeconds =
      std::chrono::duration_cast<std::chrono::seconds>(Time::duration::min()).count() + 1;
  if (secs > kMaxSeconds || secs < kMinSeconds) {
    return InvalidArgument(
        fmt::format("time out of range (\"{}\"): must be between 1678 and 2261", text));
  }
  return Time(std::chrono::seconds(secs)) + std::chrono::milliseconds(ms);
}

}  // namespace skiff
