// Result<T> and Error: how every fallible call in Skiff reports failure.
//
// ErrorCode is a closed set (Abseil's canonical codes, trimmed); each code tells
// the caller what to do next, which is why there is no generic "failed":
//   kNotFound            the thing named does not exist; do not retry as is.
//   kAlreadyExists       a create collided with an existing thing.
//   kInvalidArgument     the input is wrong whatever the state; fix the input.
//   kFailedPrecondition  the state forbids it now (e.g. a watch revision compacted);
//                        re-read the state before retrying.
//   kAborted             a concurrent write won (optimistic concurrency); re-read, retry.
//   kUnavailable         transient (peer down, I/O hiccup); retry with backoff.
//   kDeadlineExceeded    took too long; may or may not have happened.
//   kResourceExhausted   a limit was hit (body size, capacity, quota).
//   kUnauthenticated     no or bad credentials.
//   kPermissionDenied    credentials fine, action not allowed.
//   kInternal            a bug or broken invariant; report it.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

namespace skiff {

enum class ErrorCode {
  kNotFound,
  kAlreadyExists,
  kInvalidArgument,
  kFailedPrecondition,
  kAborted,
  kUnavailable,
  kDeadlineExceeded,
  kResourceExhausted,
  kUnauthenticated,
  kPermissionDenied,
  kInternal,
};

// "not_found", "invalid_argument", ...: the spelling used in the API's error JSON.
std::string_view ErrorCodeName(ErrorCode code);
// The inverse of ErrorCodeName; kInternal for an unknown name.
ErrorCode ErrorCodeFromName(std::string_view name);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // The spec field path the error is about ("health.interval"), empty when none.
  std::string field;

  // "invalid_argument: health.interval: not a duration (\"2 seconds\")"
  std::string ToString() const;
};

template <typename T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline tl::unexpected<Error> MakeError(ErrorCode code, std::string message,
                                       std::string field = {}) {
  return tl::unexpected<Error>(Error{code, std::move(message), std::move(field)});
}
inline tl::unexpected<Error> NotFound(std::string m) {
  return MakeError(ErrorCode::kNotFound, std::move(m));
}
inline tl::unexpected<Error> AlreadyExists(std::string m) {
  return MakeError(ErrorCode::kAlreadyExists, std::move(m));
}
inline tl::unexpected<Error> InvalidArgument(std::string m, std::string field = {}) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(m), std::move(field));
}
inline tl::unexpected<Error> FailedPrecondition(std::string m) {
  return MakeError(ErrorCode::kFailedPrecondition, std::move(m));
}
inline tl::unexpected<Error> Aborted(std::string m) {
  return MakeError(ErrorCode::kAborted, std::move(m));
}
inline tl::unexpected<Error> Unavailable(std::string m) {
  return MakeError(ErrorCode::kUnavailable, std::move(m));
}
inline tl::unexpected<Error> DeadlineExceeded(std::string m) {
  return MakeError(ErrorCode::kDeadlineExceeded, std::move(m));
}
inline tl::unexpected<Error> ResourceExhausted(std::string m) {
  return MakeError(ErrorCode::kResourceExhausted, std::move(m));
}
inline tl::unexpected<Error> Unauthenticated(std::string m) {
  return MakeError(ErrorCode::kUnauthenticated, std::move(m));
}
inline tl::unexpected<Error> PermissionDenied(std::string m) {
  return MakeError(ErrorCode::kPermissionDenied, std::move(m));
}
inline tl::unexpected<Error> Internal(std::string m) {
  return MakeError(ErrorCode::kInternal, std::move(m));
}

inline Status OkStatus() { return {}; }

}  // namespace skiff

// Evaluates a Result-returning expression; on error returns the error from the
// enclosing function (which must return a Result of any T).
#define SKIFF_RETURN_IF_ERROR(expr)                                   \
  do {                                                                \
    auto skiff_status_ = (expr);                                      \
    if (!skiff_status_) return tl::unexpected(skiff_status_.error()); \
  } while (0)

#define SKIFF_CONCAT_INNER_(a, b) a##b
#define SKIFF_CONCAT_(a, b) SKIFF_CONCAT_INNER_(a, b)
// SKIFF_ASSIGN_OR_RETURN(auto x, Foo()); declares x from Foo()'s value or returns its error.
#define SKIFF_ASSIGN_OR_RETURN(lhs, expr)                                  \
  auto SKIFF_CONCAT_(skiff_result_, __LINE__) = (expr);                    \
  if (!SKIFF_CONCAT_(skiff_result_, __LINE__))                             \
    return tl::unexpected(SKIFF_CONCAT_(skiff_result_, __LINE__).error()); \
  lhs = std::move(*SKIFF_CONCAT_(skiff_result_, __LINE__))
