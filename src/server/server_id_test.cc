#include "server/server_id.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace skiff::server {
namespace {

// Verify that host-name-like ids pass and that an empty, too long or
// ill-formed one (a ':' would split the edge's name) is kInvalidArgument on
// the field, naming --server-id.
TEST(CheckServerIdTest, TakesHostNamesOnly) {
  for (const std::string& id :
       std::vector<std::string>{"s1", "db-2.example.com", "node_3", std::string(100, 'a')}) {
    EXPECT_TRUE(CheckServerId(id)) << id;
  }
  for (const std::string& id :
       std::vector<std::string>{"", "a:1", "a b", "ü", "a/b", std::string(101, 'a')}) {
    Status checked = CheckServerId(id);
    ASSERT_FALSE(checked) << id;
    EXPECT_EQ(checked.error().code, ErrorCode::kInvalidArgument) << id;
    EXPECT_EQ(checked.error().field, "server-id") << id;
    EXPECT_THAT(checked.error().message, ::testing::HasSubstr("--server-id")) << id;
  }
}

}  // namespace
}  // namespace skiff::server
