// Authentication of API requests: bearer tokens, default deny.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "net/http.h"

namespace skiff::api {

class Authenticator {
 public:
  virtual ~Authenticator() = default;

  // OK when the request carries an acceptable credential; kUnauthenticated
  // (message says what was wrong, never echoes the token) otherwise.
  // Thread-safety: called concurrently from the server's threads.
  virtual Status Authenticate(const net::HttpRequest& request) const = 0;
};

// Accepts `Authorization: Bearer <token>` for any of a fixed set of tokens,
// compared in constant time. An empty set accepts nothing.
class TokenAuthenticator final : public Authenticator {
 public:
  explicit TokenAuthenticator(std::vector<std::string> tokens);

  // Authenticator:
  Status Authenticate(const net::HttpRequest& request) const override;

 private:
  const std::vector<std::string> tokens_;
};

// The token of an `Authorization: Bearer <token>` header ("" when the header is
// absent or another scheme). The scheme is case-insensitive (RFC 7235).
std::string BearerToken(const net::HttpRequest& request);

}  // namespace skiff::api
