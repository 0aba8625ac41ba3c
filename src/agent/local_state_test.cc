#include "agent/local_state.h"

#include <gtest/gtest.h>

#include <fstream>

#include "fakes/testing.h"

namespace skiff::agent {
namespace {

// Verify that instances and the node id survive a reload from the file.
TEST(LocalStateTest, RoundTrip) {
  skiff::testing::TempDir dir;
  const std::string path = dir.File("state.json");
  LocalInstance a{"process",
                  "pid:12:345",
                  3,
                  20001,
                  "hello",
                  2,
                  Time(std::chrono::milliseconds(1'700'000'000'123))};
  {
    LocalState state(path);
    ASSERT_TRUE(state.Load().has_value());  // missing file: empty
    EXPECT_TRUE(state.instances().empty());
    ASSERT_TRUE(state.SetNodeId("node-1").has_value());
    ASSERT_TRUE(state.Put("a", a).has_value());
    ASSERT_TRUE(state.Put("b", a).has_value());
    ASSERT_TRUE(state.Remove("b").has_value());
    ASSERT_TRUE(state.Remove("nope").has_value());
  }
  LocalState state(path);
  ASSERT_TRUE(state.Load().has_value());
  EXPECT_EQ(state.node_id(), "node-1");
  auto instances = state.instances();
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances.at("a"), a);
}

// Verify that a corrupt state file is kInternal, naming the file.
TEST(LocalStateTest, CorruptFile) {
  skiff::testing::TempDir dir;
  const std::string path = dir.File("state.json");
  std::ofstream(path) << "{not json";
  LocalState state(path);
  auto loaded = state.Load();
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().code, ErrorCode::kInternal);
  EXPECT_NE(loaded.error().message.find(path), std::string::npos);
}

}  // namespace
}  // namespace skiff::agent
