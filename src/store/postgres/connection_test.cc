// Connection beyond what the PostgreSQL store's tests cover: how often it
// tries to connect to a server it cannot reach.
#include "store/postgres/connection.h"

#include <gtest/gtest.h>

#include "fakes/testing.h"

namespace skiff::store::postgres {
namespace {

// Verify that after a failed connect the next EnsureConnected fails fast with
// the same error rather than trying again (every use would otherwise wait out
// a connect timeout, under the store's lock, on the API's event loop).
TEST(ConnectionTest, FailedConnectFailsFastForAWhile) {
  skiff::testing::TempDir nowhere;
  Connection connection("host=" + nowhere.path() + " dbname=skiff", {});
  Status first = connection.EnsureConnected();
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code, ErrorCode::kUnavailable);
  Status second = connection.EnsureConnected();
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(second.error().message, first.error().message);
  EXPECT_EQ(connection.connect_attempts(), 1);
}

}  // namespace
}  // namespace skiff::store::postgres
