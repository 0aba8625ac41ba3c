#include "common/quantity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace skiff {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Verify the duration forms of the header.
TEST(QuantityTest, ParseDurationValid) {
  const std::vector<std::pair<std::string, Duration>> cases = {
      {"500ms", 500ms}, {"2s", 2s},   {"5m", 5min},  {"1h", 1h},        {"90d", 90 * 24h},
      {"1m30s", 90s},   {"0", 0ms},   {"0s", 0ms},   {"1.5s", 1500ms},  {"1h2m3s", 3723s},
      {"250ms", 250ms}, {"90s", 90s}, {"0.5m", 30s}, {"2h30m", 150min},
  };
  for (const auto& [text, expected] : cases) {
    auto d = ParseDuration(text);
    ASSERT_TRUE(d) << text << ": " << d.error().ToString();
    EXPECT_EQ(*d, expected) << text;
  }
}

// Verify that malformed and negative durations are kInvalidArgument quoting the input.
TEST(QuantityTest, ParseDurationInvalid) {
  for (std::string text :
       {"", "2", "2 seconds", "-1s", "1w", "s", "1s2", "ms", "1.s.5", " 2s", "2S", "1e3s"}) {
    auto d = ParseDuration(text);
    ASSERT_FALSE(d) << text;
    EXPECT_EQ(d.error().code, ErrorCode::kInvalidArgument) << text;
    EXPECT_THAT(d.error().message, HasSubstr("\"" + text + "\"")) << text;
    EXPECT_THAT(d.error().message, HasSubstr("not a duration"));
  }
}

// Verify that FormatDuration picks the largest exact unit.
TEST(QuantityTest, FormatDuration) {
  EXPECT_EQ(FormatDuration(0ms), "0s");
  EXPECT_EQ(FormatDuration(1500ms), "1500ms");
  EXPECT_EQ(FormatDuration(2000ms), "2s");
  EXPECT_EQ(FormatDuration(90s), "90s");
  EXPECT_EQ(FormatDuration(120s), "2m");
  EXPECT_EQ(FormatDuration(1h), "1h");
  EXPECT_EQ(FormatDuration(90min), "90m");
  EXPECT_EQ(FormatDuration(1ms), "1ms");
}

// Verify that every formatted duration parses back to itself.
TEST(QuantityTest, DurationRoundTrip) {
  for (Duration d :
       std::vector<Duration>{0ms, 1ms, 999ms, 1s, 1500ms, 61s, 5min, 90min, 1h, 25h, 3723s}) {
    auto back = ParseDuration(FormatDuration(d));
    ASSERT_TRUE(back) << FormatDuration(d);
    EXPECT_EQ(*back, d);
  }
}

// Verify the cpu forms: millicores and fractional cores.
TEST(QuantityTest, ParseCpu) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"250m", 250}, {"0.5", 500},    {"2", 2000}, {"1.25", 1250},
      {"0", 0},      {"1000m", 1000}, {"0m", 0},   {".5", 500},
  };
  for (const auto& [text, expected] : cases) {
    auto cpu = ParseCpuMillis(text);
    ASSERT_TRUE(cpu) << text << ": " << cpu.error().ToString();
    EXPECT_EQ(*cpu, expected) << text;
  }
  for (std::string text : {"", "m", "2 cores", "-1", "1.5m", "250M", "1c", "0.5 "}) {
    auto cpu = ParseCpuMillis(text);
    ASSERT_FALSE(cpu) << text;
    EXPECT_EQ(cpu.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(cpu.error().message, HasSubstr("not a cpu quantity (\"" + text + "\")"));
  }
}

// Verify FormatCpuMillis and that it parses back.
TEST(QuantityTest, FormatCpu) {
  EXPECT_EQ(FormatCpuMillis(250), "250m");
  EXPECT_EQ(FormatCpuMillis(2000), "2");
  EXPECT_EQ(FormatCpuMillis(1500), "1500m");
  EXPECT_EQ(FormatCpuMillis(0), "0");
  for (int64_t m : {0, 1, 250, 999, 1000, 1500, 64000}) {
    auto back = ParseCpuMillis(FormatCpuMillis(m));
    ASSERT_TRUE(back) << m;
    EXPECT_EQ(*back, m);
  }
}

// Verify the memory forms: binary and decimal units, plain bytes.
TEST(QuantityTest, ParseMemory) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"128Mi", 128LL << 20},
      {"1Gi", 1LL << 30},
      {"512M", 512'000'000},
      {"1G", 1'000'000'000},
      {"64Ki", 64 << 10},
      {"1000", 1000},
      {"0", 0},
      {"1Ti", 1LL << 40},
      {"2k", 2000},
      {"0.5Gi", 512LL << 20},
  };
  for (const auto& [text, expected] : cases) {
    auto bytes = ParseMemoryBytes(text);
    ASSERT_TRUE(bytes) << text << ": " << bytes.error().ToString();
    EXPECT_EQ(*bytes, expected) << text;
  }
  for (std::string text : {"", "Mi", "128MB", "-1Mi", "1 Gi", "12x", "1Pi"}) {
    auto bytes = ParseMemoryBytes(text);
    ASSERT_FALSE(bytes) << text;
    EXPECT_EQ(bytes.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(bytes.error().message, HasSubstr("not a memory quantity (\"" + text + "\")"));
  }
}

// Verify FormatMemoryBytes uses exact binary units, else bytes, and parses back.
TEST(QuantityTest, FormatMemory) {
  EXPECT_EQ(FormatMemoryBytes(134217728), "128Mi");
  EXPECT_EQ(FormatMemoryBytes(1LL << 30), "1Gi");
  EXPECT_EQ(FormatMemoryBytes(1536LL << 20), "1536Mi");
  EXPECT_EQ(FormatMemoryBytes(1000), "1000");
  EXPECT_EQ(FormatMemoryBytes(2048), "2Ki");
  EXPECT_EQ(FormatMemoryBytes(0), "0");
  for (int64_t b : {0LL, 1LL, 1000LL, 1024LL, 512'000'000LL, 4294967296LL, 3LL << 40}) {
    auto back = ParseMemoryBytes(FormatMemoryBytes(b));
    ASSERT_TRUE(back) << b;
    EXPECT_EQ(*back, b);
  }
}

// Verify RFC 3339 formatting in UTC with milliseconds, and "" for the zero time.
TEST(QuantityTest, FormatTime) {
  EXPECT_EQ(FormatTime(Time{}), "");
  EXPECT_EQ(FormatTime(Time(1'795'335'377'123ms)), "2026-11-22T08:16:17.123Z");
  EXPECT_EQ(FormatTime(Time(1'795'335'377'000ms)), "2026-11-22T08:16:17.000Z");
  EXPECT_EQ(FormatTime(Time(1ms)), "1970-01-01T00:00:00.001Z");
}

// Verify ParseTime reads what FormatTime writes, the form without a fraction, and "".
TEST(QuantityTest, ParseTime) {
  auto t = ParseTime("2026-11-22T08:16:17.123Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, Time(1'795'335'377'123ms));
  auto whole = ParseTime("2026-11-22T08:16:17Z");
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, Time(1'795'335'377'000ms));
  auto empty = ParseTime("");
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, Time{});
  for (Time x : {Time(1ms), Time(1'795'335'377'123ms), Time(4'102'444'800'999ms)}) {
    auto back = ParseTime(FormatTime(x));
    ASSERT_TRUE(back) << FormatTime(x);
    EXPECT_EQ(*back, x);
  }
}

// Verify that malformed times are kInvalidArgument.
TEST(QuantityTest, ParseTimeInvalid) {
  for (std::string text : {"yesterday", "2026-11-22", "2026-11-22T08:16:17", "2026-11-22 08:16:17Z",
                           "2026-11-22T08:16:17+01:00"}) {
    auto t = ParseTime(text);
    ASSERT_FALSE(t) << text;
    EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument) << text;
  }
}

// Verify that fractions are read as fractions and impossible fields are rejected.
TEST(QuantityTest, ParseTimeStrict) {
  auto half = ParseTime("2026-11-22T08:16:17.5Z");
  ASSERT_TRUE(half);
  EXPECT_EQ(*half, Time(1'795'335'377'500ms));
  for (std::string text : {"2026-13-01T00:00:00Z", "2026-11-22T25:00:00Z", "2026-11-22T08:16:17xZ",
                           "2026-11-22T08:16:17.12aZ", "2026-04-31T00:00:00Z",
                           "2026-11-22 08:16:17Z", "2026-11-22T08:16:17.Z"}) {
    EXPECT_FALSE(ParseTime(text)) << text;
  }
}

// Verify that a well-formed time outside what Time holds (int64 nanoseconds:
// 1678 to 2261), such as Docker's zero time, is kInvalidArgument rather than an
// overflowing conversion (a signed overflow UBSan reported), and that the
// years at the edges of the range still parse.
TEST(QuantityTest, ParseTimeOutOfRange) {
  for (std::string text : {"0001-01-01T00:00:00Z", "1600-01-01T00:00:00Z", "2300-01-01T00:00:00Z",
                           "9999-12-31T23:59:59.999Z"}) {
    auto t = ParseTime(text);
    ASSERT_FALSE(t) << text;
    EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument) << text;
  }
  auto early = ParseTime("1678-01-01T00:00:00Z");
  ASSERT_TRUE(early) << early.error().ToString();
  EXPECT_EQ(*early, Time(std::chrono::seconds(-9'214'560'000)));
  auto late = ParseTime("2261-12-31T23:59:59.999Z");
  ASSERT_TRUE(late) << late.error().ToString();
  EXPECT_EQ(*late, Time(std::chrono::seconds(9'214'646'399)) + 999ms);
}

// Verify that a cpu quantity too large for int64 is rejected, not wrapped.
TEST(QuantityTest, ParseCpuOverflow) {
  EXPECT_FALSE(ParseCpuMillis("99999999999999999"));
  EXPECT_FALSE(ParseCpuMillis("99999999999999999999m"));
  EXPECT_EQ(ParseCpuMillis("64").value(), 64'000);
}

}  // namespace
}  // namespace skiff
