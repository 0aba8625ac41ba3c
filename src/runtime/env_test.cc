#include "runtime/env.h"

#include <gtest/gtest.h>

namespace skiff::runtime {
namespace {

const std::map<std::string, std::string> kVars = {
    {"PORT", "20001"}, {"HOST", "127.0.0.1"}, {"EMPTY", ""}, {"LOOP", "${PORT}"}};

// Verify that known variables are replaced wherever they appear.
TEST(SubstituteVarsTest, ReplacesKnownVariables) {
  EXPECT_EQ(SubstituteVars("${PORT}", kVars), "20001");
  EXPECT_EQ(SubstituteVars("--bind=${HOST}:${PORT}/x", kVars), "--bind=127.0.0.1:20001/x");
  EXPECT_EQ(SubstituteVars("a${EMPTY}b", kVars), "ab");
}

// Verify that unknown and malformed references are left exactly as written.
TEST(SubstituteVarsTest, LeavesUnknownAndMalformedAlone) {
  EXPECT_EQ(SubstituteVars("${NOPE}", kVars), "${NOPE}");
  EXPECT_EQ(SubstituteVars("${PORT", kVars), "${PORT");
  EXPECT_EQ(SubstituteVars("${}", kVars), "${}");
  EXPECT_EQ(SubstituteVars("${1X}", kVars), "${1X}");
  EXPECT_EQ(SubstituteVars("$PORT", kVars), "$PORT");
  EXPECT_EQ(SubstituteVars("cost: 5$", kVars), "cost: 5$");
  EXPECT_EQ(SubstituteVars("", kVars), "");
}

// Verify that "$$" is the escape for a literal dollar, also before a brace.
TEST(SubstituteVarsTest, DoubleDollarEscapes) {
  EXPECT_EQ(SubstituteVars("$$", kVars), "$");
  EXPECT_EQ(SubstituteVars("$${PORT}", kVars), "${PORT}");
  EXPECT_EQ(SubstituteVars("$$$${PORT}", kVars), "$${PORT}");
  EXPECT_EQ(SubstituteVars("$$${PORT}", kVars), "$20001");
}

// Verify that a substituted value is not expanded a second time.
TEST(SubstituteVarsTest, IsSinglePass) { EXPECT_EQ(SubstituteVars("${LOOP}", kVars), "${PORT}"); }

}  // namespace
}  // namespace skiff::runtime
