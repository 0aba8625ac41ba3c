// SKIFF_CHECK: the one way a programmer error (a broken invariant, never bad
// input) stops the process, with the place and the condition on stderr.
#pragma once

namespace skiff::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition);
}  // namespace skiff::internal

#define SKIFF_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::skiff::internal::CheckFailed(__FILE__, __LINE__, #cond))
