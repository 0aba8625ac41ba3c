#include "server/takeover.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace skiff::server {
namespace {

using ::testing::HasSubstr;

constexpr Duration kTakeoverAlive = std::chrono::seconds(5);

store::ServerRecord Listed(std::string id, std::string address, Duration silent) {
  store::ServerRecord r;
  r.id = std::move(id);
  r.address = std::move(address);
  r.silent = silent;
  return r;
}

model::Node NodeOf(std::string id, std::string name, model::NodeStatus status) {
  model::Node node;
  node.id = std::move(id);
  node.name = std::move(name);
  node.status = status;
  return node;
}

const StartingServer kSelf{"b", "http://127.0.0.2:7070"};

// Verify that a server may start as itself: first start, restart at its own
// URL while its old entry is fresh, restart at a new URL once the old entry
// is silent, its own node, a down node of a live server, a node whose server
// is silent.
TEST(CheckNoTakeoverTest, StartsAsItself) {
  using model::NodeStatus;
  const std::vector<store::ServerRecord> a_live{
      Listed("a", "http://127.0.0.1:7070", Duration(100))};
  EXPECT_TRUE(CheckNoTakeover(kSelf, std::nullopt, {}, kTakeoverAlive));
  EXPECT_TRUE(CheckNoTakeover(
      kSelf, std::nullopt, {Listed("b", "http://127.0.0.2:7070", Duration(100))}, kTakeoverAlive));
  EXPECT_TRUE(CheckNoTakeover(
      kSelf, std::nullopt, {Listed("b", "http://127.0.0.2:7071", kTakeoverAlive)}, kTakeoverAlive));
  EXPECT_TRUE(
      CheckNoTakeover(kSelf, NodeOf("node-b", "b", NodeStatus::kReady), a_live, kTakeoverAlive));
  EXPECT_TRUE(
      CheckNoTakeover(kSelf, NodeOf("node-a", "a", NodeStatus::kDown), a_live, kTakeoverAlive));
  EXPECT_TRUE(CheckNoTakeover(kSelf, NodeOf("node-a", "a", NodeStatus::kReady),
                              {Listed("a", "http://127.0.0.1:7070", kTakeoverAlive)},
                              kTakeoverAlive));
  EXPECT_TRUE(
      CheckNoTakeover(kSelf, NodeOf("node-c", "c", NodeStatus::kReady), a_live, kTakeoverAlive));
}

// Verify that a second server under a live one's id is kAlreadyExists naming
// the id, the live one's URL, its node and --server-id / --data.
TEST(CheckNoTakeoverTest, RefusesALiveServersId) {
  Status checked =
      CheckNoTakeover(kSelf, NodeOf("node-b", "b", model::NodeStatus::kReady),
                      {Listed("b", "http://10.0.0.9:7070", Duration(1500))}, kTakeoverAlive);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, ErrorCode::kAlreadyExists);
  EXPECT_THAT(checked.error().message, HasSubstr("server id b is in use"));
  EXPECT_THAT(checked.error().message, HasSubstr("http://10.0.0.9:7070 (heard 1500ms ago)"));
  EXPECT_THAT(checked.error().message, HasSubstr("node node-b"));
  EXPECT_THAT(checked.error().message, HasSubstr("--server-id"));
  EXPECT_THAT(checked.error().message, HasSubstr("--data"));
}

// Verify that a data directory copied from a live server, its node ready or
// draining, is kAlreadyExists naming the node, that server and --data.
TEST(CheckNoTakeoverTest, RefusesALiveServersNode) {
  for (model::NodeStatus status : {model::NodeStatus::kReady, model::NodeStatus::kDraining}) {
    Status checked =
        CheckNoTakeover(kSelf, NodeOf("node-a", "a", status),
                        {Listed("a", "http://127.0.0.1:7070", Duration(200))}, kTakeoverAlive);
    ASSERT_FALSE(checked);
    EXPECT_EQ(checked.error().code, ErrorCode::kAlreadyExists);
    EXPECT_THAT(checked.error().message,
                HasSubstr("node node-a of this data directory is server a's, live at "
                          "http://127.0.0.1:7070"));
    EXPECT_THAT(checked.error().message, HasSubstr("its own --data"));
  }
}

}  // namespace
}  // namespace skiff::server
