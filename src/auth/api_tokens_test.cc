#include "auth/api_tokens.h"

#include <gtest/gtest.h>

#include "common/ids.h"
#include "store/memory/memory_store.h"

namespace skiff::auth {
namespace {

class ApiTokenStoreTest : public ::testing::Test {
 protected:
  store::MemoryStore store_;
  ManualClock clock_;
  ApiTokenStore tokens_{&store_, &clock_};
};

// Verify that a token made is accepted with its role and projects, and that
// only its hash is kept.
TEST_F(ApiTokenStoreTest, MadeTokenIdentifiesItsHolder) {
  auto made = tokens_.Create(
      {.name = "ci", .role = Role::kDeployer, .projects = {"shop"}, .lifetime = std::nullopt});
  ASSERT_TRUE(made) << made.error().ToString();
  EXPECT_TRUE(made->token.starts_with("skiff-token.ci."));
  auto who = tokens_.Authenticate(made->token);
  ASSERT_TRUE(who) << who.error().ToString();
  EXPECT_EQ(who->role, Role::kDeployer);
  EXPECT_EQ(who->name, "ci");
  EXPECT_EQ(who->credential, "token");
  EXPECT_EQ(who->projects, std::vector<std::string>{"shop"});
  auto kept = store_.GetRecord(store::RecordKind::kApiToken, "ci");
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->find(made->token), std::string::npos);
  EXPECT_NE(kept->find(Sha256Hex(made->token)), std::string::npos);
}

// Verify that a wrong secret, an unknown name, a revoked token and an expired
// one are all refused as unauthenticated, and that other tokens are not ours.
TEST_F(ApiTokenStoreTest, RefusesWhatIsNotLive) {
  auto made = tokens_.Create({.name = "short",
                              .role = Role::kViewer,
                              .projects = {"default"},
                              .lifetime = std::chrono::hours(1)});
  ASSERT_TRUE(made);
  std::string wrong = made->token;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(tokens_.Authenticate(wrong).error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(tokens_.Authenticate("skiff-token.nobody." + std::string(64, 'a')).error().code,
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(tokens_.Authenticate("skiff-token.").error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(tokens_.Authenticate("SKIFF1-abc").error().code, ErrorCode::kNotFound);
  clock_.Advance(std::chrono::hours(1) - std::chrono::milliseconds(1));
  EXPECT_TRUE(tokens_.Authenticate(made->token));  // its last millisecond
  clock_.Advance(std::chrono::milliseconds(1));
  auto expired = tokens_.Authenticate(made->token);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(expired.error().message.find("expired"), std::string::npos);
  EXPECT_EQ(expired.error().message.find(made->token), std::string::npos);

  auto other = tokens_.Create({.name = "gone", .role = Role::kAdmin});
  ASSERT_TRUE(other);
  ASSERT_TRUE(tokens_.Revoke("gone"));
  EXPECT_EQ(tokens_.Authenticate(other->token).error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(tokens_.Revoke("gone").error().code, ErrorCode::kNotFound);
}

// Verify that bad requests name their field and keep nothing.
TEST_F(ApiTokenStoreTest, BadRequestsNameTheField) {
  struct Case {
    NewApiToken request;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{.name = "Bad_Name", .role = Role::kAdmin}, "name"},
      {{.name = "n", .role = Role::kNode}, "role"},
      {{.name = "v", .role = Role::kViewer}, "projects"},
      {{.name = "a", .role = Role::kAdmin, .projects = {"x"}}, "projects"},
      {{.name = "e", .role = Role::kEdge, .projects = {"x"}}, "projects"},
      {{.name = "d", .role = Role::kDeployer, .projects = {"Not A Label"}}, "projects[0]"},
      {{.name = "t", .role = Role::kAdmin, .lifetime = Duration(0)}, "expires"},
      {{.name = "t", .role = Role::kAdmin, .lifetime = std::chrono::hours(24 * 3651)}, "expires"},
      {{.name = "admin", .role = Role::kAdmin}, "name"},
  };
  for (const Case& c : cases) {
    auto made = tokens_.Create(c.request);
    ASSERT_FALSE(made) << c.request.name;
    EXPECT_EQ(made.error().code, ErrorCode::kInvalidArgument) << c.request.name;
    EXPECT_EQ(made.error().field, c.field) << c.request.name;
  }
  EXPECT_TRUE(tokens_.List()->empty());
}

// Verify that a name is taken once, that List shows no token and says when
// each was last used (noted at most once a minute).
TEST_F(ApiTokenStoreTest, ListsWithLastUse) {
  auto made = tokens_.Create({.name = "ci", .role = Role::kAdmin});
  ASSERT_TRUE(made);
  EXPECT_EQ(tokens_.Create({.name = "ci", .role = Role::kAdmin}).error().code,
            ErrorCode::kAlreadyExists);
  auto listed = tokens_.List();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].token.empty());
  EXPECT_FALSE((*listed)[0].last_used_at);
  const Time first = clock_.Now();
  ASSERT_TRUE(tokens_.Authenticate(made->token));
  clock_.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(tokens_.Authenticate(made->token));  // within the minute: not noted
  EXPECT_EQ(tokens_.List()->at(0).last_used_at, first);
  clock_.Advance(std::chrono::minutes(1));
  ASSERT_TRUE(tokens_.Authenticate(made->token));
  EXPECT_EQ(tokens_.List()->at(0).last_used_at, clock_.Now());
}

}  // namespace
}  // namespace skiff::auth
