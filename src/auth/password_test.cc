#include "auth/password.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace skiff::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Cheap costs for the tests that are not about the costs.
constexpr PasswordParams kCheap{.memory_kib = 256, .iterations = 1, .parallelism = 1};

// Verify that a hash is an Argon2id PHC string with the default (OWASP)
// parameters in it, that it verifies its password and no other, and that two
// hashes of one password differ (a fresh salt each).
TEST(PasswordTest, HashAndVerify) {
  auto hash = HashPassword("correct horse battery");
  ASSERT_TRUE(hash) << hash.error().ToString();
  EXPECT_THAT(*hash, StartsWith("$argon2id$v=19$m=19456,t=2,p=1$"));
  EXPECT_TRUE(VerifyPassword("correct horse battery", *hash));
  EXPECT_FALSE(VerifyPassword("correct horse batterY", *hash));
  EXPECT_FALSE(VerifyPassword("", *hash));
  auto again = HashPassword("correct horse battery");
  ASSERT_TRUE(again);
  EXPECT_NE(*hash, *again);
}

// Verify that a hash made with other parameters still verifies: they are read
// from the string, so the defaults can be raised later.
TEST(PasswordTest, ParametersTravelInTheString) {
  auto hash = HashPassword("correct horse battery", kCheap);
  ASSERT_TRUE(hash);
  EXPECT_THAT(*hash, StartsWith("$argon2id$v=19$m=256,t=1,p=1$"));
  EXPECT_TRUE(VerifyPassword("correct horse battery", *hash));
}

// Verify that the rules are enforced by name, and the password never echoed:
// 12 characters at least (code points, not bytes), 1024 bytes at most.
TEST(PasswordTest, Rules) {
  auto short_one = HashPassword("eleven-char", kCheap);
  ASSERT_FALSE(short_one);
  EXPECT_EQ(short_one.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(short_one.error().field, "password");
  EXPECT_THAT(short_one.error().message, HasSubstr("at least 12 characters (got 11)"));
  EXPECT_THAT(short_one.error().message, Not(HasSubstr("eleven-char")));
  // Eleven two-byte characters are 22 bytes but 11 characters.
  EXPECT_EQ(ValidatePassword("ééééééééééé").error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(ValidatePassword("éééééééééééé"));
  EXPECT_TRUE(ValidatePassword(std::string(1024, 'x')));
  auto long_one = ValidatePassword(std::string(1025, 'x'));
  ASSERT_FALSE(long_one);
  EXPECT_EQ(long_one.error().field, "password");
  EXPECT_THAT(long_one.error().message, HasSubstr("at most 1024 bytes"));
  EXPECT_TRUE(HashPassword("twelve chars", kCheap));
}

// Verify that a malformed or foreign encoded string verifies nothing.
TEST(PasswordTest, MalformedEncodedIsFalse) {
  auto hash = HashPassword("correct horse battery", kCheap);
  ASSERT_TRUE(hash);
  EXPECT_FALSE(VerifyPassword("correct horse battery", ""));
  EXPECT_FALSE(VerifyPassword("correct horse battery", "$argon2id$garbage"));
  EXPECT_FALSE(VerifyPassword("correct horse battery", hash->substr(0, hash->size() - 4)));
  std::string argon2i = *hash;
  argon2i.replace(0, 9, "$argon2i");
  EXPECT_FALSE(VerifyPassword("correct horse battery", argon2i));
  EXPECT_FALSE(VerifyPassword(std::string(1025, 'x'), *hash));
}

}  // namespace
}  // namespace skiff::auth
