#include "auth/password.h"

#include <argon2.h>
#include <fmt/format.h>
#include <openssl/rand.h>

#include <array>

namespace skiff::auth {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

// Code points: bytes that do not continue a UTF-8 sequence.
size_t Chars(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xc0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

Status ValidatePassword(std::string_view password) {
  if (password.size() > kMaxPasswordBytes) {
    return InvalidArgument(fmt::format("password: must be at most {} bytes (got {})",
                                       kMaxPasswordBytes, password.size()),
                           "password");
  }
  if (const size_t chars = Chars(password); chars < kMinPasswordChars) {
    return InvalidArgument(
        fmt::format("password: must be at least {} characters (got {})", kMinPasswordChars, chars),
        "password");
  }
  return OkStatus();
}

Result<std::string> HashPassword(std::string_view password, const PasswordParams& params) {
  SKIFF_RETURN_IF_ERROR(ValidatePassword(password));
  std::array<unsigned char, kSaltBytes> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return Internal("password: no random salt from OpenSSL");
  }
  std::string encoded(argon2_encodedlen(params.iterations, params.memory_kib, params.parallelism,
                                        kSaltBytes, kHashBytes, Argon2_id),
                      '\0');
  const int rc = argon2id_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                       password.data(), password.size(), salt.data(), salt.size(),
                                       kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return Internal(fmt::format("password: Argon2id failed: {}", argon2_error_message(rc)));
  }
  encoded.resize(encoded.find('\0'));  // the length counts the terminator
  return encoded;
}

bool VerifyPassword(std::string_view password, std::string_view encoded) {
  if (password.size() > kMaxPasswordBytes || !encoded.starts_with("$argon2id$")) return false;
  const std::string terminated(encoded);  // libargon2 reads a C string
  return argon2id_verify(terminated.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace skiff::auth
