#include "server/own_edge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "store/memory/memory_store.h"

namespace skiff::server {
namespace {

// A leader in miniature: takes a report when its credential is one the store
// keeps for the edge, as the API does (401 otherwise).
class OwnEdgeTest : public ::testing::Test {
 protected:
  OwnEdge::Deps DepsFor(const std::string& server_id) {
    OwnEdge::Deps deps;
    deps.tokens = &tokens_;
    deps.server_id = server_id;
    const std::string name = OwnEdge::NameOf(server_id);
    deps.post = [this, name](const std::string& credential) -> OwnEdge::Sink {
      return [this, name, credential](const metrics::TrafficSnapshot&) -> Status {
        ++posts_;
        auto edge = tokens_.EdgeForCredential(credential);
        if (!edge) return tl::unexpected(edge.error());
        if (*edge != name) return tl::unexpected(Error{ErrorCode::kUnauthenticated, "no", ""});
        return OkStatus();
      };
    };
    deps.leave = [this](const std::string& credential) -> Status {
      auto edge = tokens_.EdgeForCredential(credential);
      if (edge && *edge) left_.push_back(**edge);
      return OkStatus();
    };
    deps.forget = [this, name] {
      forgotten_.push_back(name);
      return OkStatus();
    };
    return deps;
  }

  // The owners of the edge credentials kept.
  std::vector<std::string> Owners() {
    std::vector<std::string> owners;
    auto records = store_.ListRecords(store::RecordKind::kEdgeCredential);
    EXPECT_TRUE(records.has_value());
    for (const store::Record& r : records.value_or(std::vector<store::Record>{})) {
      owners.push_back(r.value);
    }
    return owners;
  }

  store::MemoryStore store_;
  api::JoinTokenStore tokens_{&store_};
  int posts_ = 0;
  std::vector<std::string> left_;
  std::vector<std::string> forgotten_;
};

// Verify that the edge is named by its server's id alone, and that each start
// leaves one credential of the server's edge, its earlier ones (a name with
// a port included) dropped, another server's kept.
TEST_F(OwnEdgeTest, OneCredentialPerServerAcrossRestarts) {
  EXPECT_EQ(OwnEdge::NameOf("s1"), "s1:edge");
  ASSERT_TRUE(tokens_.IssueEdgeCredential("s1:41234", "s1:41234"));
  ASSERT_TRUE(tokens_.IssueEdgeCredential("s10:edge", "s10:"));
  for (int start = 0; start < 3; ++start) {
    OwnEdge edge(DepsFor("s1"));
    ASSERT_TRUE(edge.Start());
    ASSERT_TRUE(edge.sink()(metrics::TrafficSnapshot{}));
  }
  std::vector<std::string> owners = Owners();
  std::sort(owners.begin(), owners.end());
  EXPECT_EQ(owners, (std::vector<std::string>{"s10:edge", "s1:edge"}));
}

// Verify that a report refused for a credential deleted meanwhile is sent
// again with a new one, which later reports use.
TEST_F(OwnEdgeTest, ReissuesACredentialTheLeaderRefuses) {
  OwnEdge edge(DepsFor("s1"));
  ASSERT_TRUE(edge.Start());
  OwnEdge::Sink sink = edge.sink();
  ASSERT_TRUE(sink(metrics::TrafficSnapshot{}));
  ASSERT_TRUE(tokens_.RevokeEdgeCredentials("s1:"));
  posts_ = 0;
  Status reported = sink(metrics::TrafficSnapshot{});
  EXPECT_TRUE(reported) << reported.error().ToString();
  EXPECT_EQ(posts_, 2);
  EXPECT_EQ(Owners(), std::vector<std::string>{"s1:edge"});
  EXPECT_TRUE(sink(metrics::TrafficSnapshot{}));
  EXPECT_EQ(posts_, 3);
}

// Verify that an edge that leaves tells the leader with its credential,
// leaves the roster and has no credential left; a second Leave does nothing.
TEST_F(OwnEdgeTest, LeavingSaysGoodbyeAndDropsTheCredential) {
  ASSERT_TRUE(tokens_.IssueEdgeCredential("s10:edge", "s10:"));
  OwnEdge edge(DepsFor("s1"));
  ASSERT_TRUE(edge.Start());
  edge.Leave();
  EXPECT_EQ(left_, std::vector<std::string>{"s1:edge"});
  EXPECT_EQ(forgotten_, std::vector<std::string>{"s1:edge"});
  EXPECT_EQ(Owners(), std::vector<std::string>{"s10:edge"});
  edge.Leave();
  EXPECT_EQ(left_.size(), 1u);
}

}  // namespace
}  // namespace skiff::server
