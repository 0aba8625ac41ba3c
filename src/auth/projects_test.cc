#include "auth/projects.h"

#include <gtest/gtest.h>

#include "store/memory/memory_store.h"
#include "store/store_test_objects.h"

namespace skiff::auth {
namespace {

class ProjectStoreTest : public ::testing::Test {
 protected:
  store::MemoryStore store_;
  ManualClock clock_;
  ProjectStore projects_{&store_, &clock_};
};

// Verify that the default project always exists and cannot be made or deleted.
TEST_F(ProjectStoreTest, DefaultProjectAlwaysExists) {
  EXPECT_TRUE(*projects_.Exists("default"));
  EXPECT_EQ(projects_.Create("default").error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(projects_.Delete("default").error().code, ErrorCode::kFailedPrecondition);
  auto listed = projects_.List();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "default");
}

// Verify that a project is made once, listed after the default one, and
// deleted only when no app is in it.
TEST_F(ProjectStoreTest, CreateListDelete) {
  ASSERT_TRUE(projects_.Create("shop"));
  EXPECT_EQ(projects_.Create("shop").error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(projects_.Create("Shop!").error().field, "name");
  EXPECT_TRUE(*projects_.Exists("shop"));
  EXPECT_FALSE(*projects_.Exists("blog"));
  auto listed = projects_.List();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[1].name, "shop");
  EXPECT_EQ((*listed)[1].created_at, clock_.Now());

  model::App app = store::testing::MakeApp("web");
  app.spec.project = "shop";
  ASSERT_TRUE(store_.Commit(store::Txn().Put(app, store::kMustNotExist)));
  auto refused = projects_.Delete("shop");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("web"), std::string::npos);
  EXPECT_TRUE(*projects_.Exists("shop"));

  ASSERT_TRUE(store_.Commit(store::Txn().Delete(app, store_.GetApp("web")->version)));
  ASSERT_TRUE(projects_.Delete("shop"));
  EXPECT_FALSE(*projects_.Exists("shop"));
  EXPECT_EQ(projects_.Delete("shop").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace skiff::auth
