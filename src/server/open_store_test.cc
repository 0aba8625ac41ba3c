#include "server/open_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace skiff::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Verify that a --store echoed in a message shows no password: neither a
// URI's user-info nor a key=value password.
TEST(OpenStoreTest, MasksCredentialsOfTheStoreSpec) {
  EXPECT_EQ(MaskStoreSpec("postgres://skiff:s3cret@db:5432/skiff"), "postgres://***@db:5432/skiff");
  EXPECT_EQ(MaskStoreSpec("postgres://db/skiff?sslmode=require"),
            "postgres://db/skiff?sslmode=require");
  EXPECT_EQ(MaskStoreSpec("host=db password=s3cret dbname=skiff"),
            "host=db password=*** dbname=skiff");
  EXPECT_EQ(MaskStoreSpec("sqlite"), "sqlite");

  Status refused = CheckStoreSpec("postgress://skiff:s3cret@db/skiff");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(refused.error().message, HasSubstr("postgress://***@db/skiff"));
  EXPECT_THAT(refused.error().message, Not(HasSubstr("s3cret")));
}

}  // namespace
}  // namespace skiff::server
