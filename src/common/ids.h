// Identifiers and secrets.
#pragma once

#include <string>
#include <string_view>

namespace skiff {

// n random bytes from the kernel's CSPRNG, as 2n lowercase hex digits. Thread-safe.
std::string RandomHex(size_t bytes);

// A short unique id with a readable prefix: NewId("hello") -> "hello-4f9a2c1b".
std::string NewId(std::string_view prefix);

// SHA-256 of `text`, as 64 lowercase hex digits: how secrets are kept at rest,
// so a leaked file holds nothing that authenticates.
std::string Sha256Hex(std::string_view text);

// Constant-time comparison, for tokens.
bool SecureEquals(std::string_view a, std::string_view b);

}  // namespace skiff
