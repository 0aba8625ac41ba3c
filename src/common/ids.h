// Identifiers and secrets.
#pragma once

#include <string>
#include <string_view>

namespace skiff {

// n random bytes from the kernel's CSPRNG, as 2n lowercase hex digits. Thread-safe.
std::string RandomHex(size_t bytes);

// A short unique id with a readable prefix: NewId("hello") -> "hello-4f9a2c1b".
std::string NewId(std::string_view prefix);

// Constant-time comparison, for tokens.
bool SecureEquals(std::string_view a, std::string_view b);

}  // namespace skiff
