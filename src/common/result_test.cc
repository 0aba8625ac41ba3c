#include "common/result.h"

#include <gtest/gtest.h>

#include <string>

namespace skiff {
namespace {

Result<int> Half(int n) {
  if (n % 2 != 0) return InvalidArgument("odd", "n");
  return n / 2;
}

Result<int> Quarter(int n) {
  SKIFF_ASSIGN_OR_RETURN(int half, Half(n));
  SKIFF_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int n) {
  SKIFF_RETURN_IF_ERROR(Half(n));
  return OkStatus();
}

// Verify that every code has a distinct API name and that names map back.
TEST(ResultTest, ErrorCodeNamesRoundTrip) {
  const ErrorCode codes[] = {
      ErrorCode::kNotFound,           ErrorCode::kAlreadyExists,     ErrorCode::kInvalidArgument,
      ErrorCode::kFailedPrecondition, ErrorCode::kAborted,           ErrorCode::kUnavailable,
      ErrorCode::kDeadlineExceeded,   ErrorCode::kResourceExhausted, ErrorCode::kUnauthenticated,
      ErrorCode::kPermissionDenied,   ErrorCode::kInternal,
  };
  for (ErrorCode code : codes) EXPECT_EQ(ErrorCodeFromName(ErrorCodeName(code)), code);
  EXPECT_EQ(ErrorCodeName(ErrorCode::kInvalidArgument), "invalid_argument");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kNotFound), "not_found");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kFailedPrecondition), "failed_precondition");
  EXPECT_EQ(ErrorCodeFromName("no_such_code"), ErrorCode::kInternal);
}

// Verify that each helper makes an error of its own code.
TEST(ResultTest, HelpersSetCodes) {
  EXPECT_EQ(NotFound("m").value().code, ErrorCode::kNotFound);
  EXPECT_EQ(AlreadyExists("m").value().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(InvalidArgument("m").value().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(FailedPrecondition("m").value().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(Aborted("m").value().code, ErrorCode::kAborted);
  EXPECT_EQ(Unavailable("m").value().code, ErrorCode::kUnavailable);
  EXPECT_EQ(DeadlineExceeded("m").value().code, ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(ResourceExhausted("m").value().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(Unauthenticated("m").value().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(PermissionDenied("m").value().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(Internal("m").value().code, ErrorCode::kInternal);
  EXPECT_EQ(InvalidArgument("m", "f").value().field, "f");
}

// Verify Error::ToString with and without a field.
TEST(ResultTest, ErrorToString) {
  Error with_field{ErrorCode::kInvalidArgument, "not a duration (\"2 seconds\")",
                   "health.interval"};
  EXPECT_EQ(with_field.ToString(),
            "invalid_argument: health.interval: not a duration (\"2 seconds\")");
  Error without{ErrorCode::kNotFound, "app \"x\" not found", ""};
  EXPECT_EQ(without.ToString(), "not_found: app \"x\" not found");
}

// Verify that the macros pass values through and return the first error unchanged.
TEST(ResultTest, Macros) {
  auto ok = Quarter(8);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 2);
  auto inner = Quarter(6);  // 6 -> 3 -> odd
  ASSERT_FALSE(inner);
  EXPECT_EQ(inner.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(inner.error().field, "n");
  EXPECT_TRUE(CheckEven(4));
  auto status = CheckEven(3);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "odd");
}

}  // namespace
}  // namespace skiff
