#include "model/yaml_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace skiff::model {
namespace {

using ::testing::HasSubstr;
namespace json = boost::json;

bool Never(const YamlPath&) { return false; }

// Verify that plain scalars resolve by the YAML 1.2 core schema and quoted ones stay strings.
TEST(YamlJsonTest, CoreSchema) {
  auto doc = YamlToJson(
      "a: 1\nb: -7\nc: 0x1F\nd: 0o17\ne: 1.5\nf: 1e3\ng: true\nh: False\ni: ~\nj:\n"
      "k: on\nl: yes\nm: '80'\nn: \"true\"\no: 2s\np: !!str 5\nq: .inf\nr: 99999999999999999999\n",
      Never);
  ASSERT_TRUE(doc) << doc.error().ToString();
  const json::object& o = doc->as_object();
  EXPECT_EQ(o.at("a"), 1);
  EXPECT_EQ(o.at("b"), -7);
  EXPECT_EQ(o.at("c"), 31);
  EXPECT_EQ(o.at("d"), 15);
  EXPECT_EQ(o.at("e"), 1.5);
  EXPECT_EQ(o.at("f"), 1000.0);
  EXPECT_EQ(o.at("g"), true);
  EXPECT_EQ(o.at("h"), false);
  EXPECT_TRUE(o.at("i").is_null());
  EXPECT_TRUE(o.at("j").is_null());
  EXPECT_EQ(o.at("k"), "on");
  EXPECT_EQ(o.at("l"), "yes");
  EXPECT_EQ(o.at("m"), "80");
  EXPECT_EQ(o.at("n"), "true");
  EXPECT_EQ(o.at("o"), "2s");
  EXPECT_EQ(o.at("p"), "5");
  EXPECT_EQ(o.at("q"), ".inf");
  EXPECT_TRUE(o.at("r").is_double());  // too large for int64: a float, as YAML 1.2 allows
}

// Verify that keep_text keeps plain scalars as written, at exactly the paths asked for.
TEST(YamlJsonTest, KeepText) {
  auto keep = [](const YamlPath& p) { return p.size() == 2 && p[0] == "env"; };
  auto doc = YamlToJson("env: {A: 1.10, B: on, C: 007, D: ~}\nx: [1, {y: 2}]\n", keep);
  ASSERT_TRUE(doc) << doc.error().ToString();
  EXPECT_EQ(doc->at("env").at("A"), "1.10");
  EXPECT_EQ(doc->at("env").at("B"), "on");
  EXPECT_EQ(doc->at("env").at("C"), "007");
  EXPECT_TRUE(doc->at("env").at("D").is_null());  // null stays null: nothing was written
  EXPECT_EQ(doc->at("x").at(0), 1);
  EXPECT_EQ(doc->at("x").at(1).at("y"), 2);
}

// Verify that list items are addressed as "[i]" in the path given to keep_text.
TEST(YamlJsonTest, ListPaths) {
  std::vector<YamlPath> seen;
  auto record = [&](const YamlPath& p) {
    seen.push_back(p);
    return false;
  };
  ASSERT_TRUE(YamlToJson("run: {command: [a, b]}\n", record));
  EXPECT_THAT(seen, ::testing::Contains(YamlPath{"run", "command", "[1]"}));
}

// Verify that syntax errors carry a 1-based line and column.
TEST(YamlJsonTest, SyntaxError) {
  auto doc = YamlToJson("a: 1\nb: [1, 2\n", Never);
  ASSERT_FALSE(doc);
  EXPECT_EQ(doc.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(doc.error().message, HasSubstr("invalid YAML at line "));
}

// Verify that duplicate and non-scalar keys are rejected with the path.
TEST(YamlJsonTest, BadKeys) {
  auto dup = YamlToJson("a: {b: 1, b: 2}\n", Never);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(dup.error().field, "a.b");
  auto complex = YamlToJson("? [1, 2]\n: x\n", Never);
  ASSERT_FALSE(complex);
  EXPECT_EQ(complex.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff::model
