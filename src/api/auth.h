// Authentication of API requests: bearer tokens, default deny.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "auth/api_tokens.h"
#include "auth/identity.h"
#include "common/result.h"
#include "net/http.h"

namespace skiff::auth {
class UserStore;
}  // namespace skiff::auth

namespace skiff::api {

class JoinTokenStore;

// Who is calling: a person or tool (admin, deployer, viewer), a node by its
// credential, an edge by its own (auth/identity.h).
using Caller = auth::Identity;

// Whether `caller` may act for node `id`: the admin for any, a node for itself.
inline bool MayActForNode(const Caller& caller, const std::string& id) {
  return caller.admin() || (caller.role == auth::Role::kNode && caller.name == id);
}

class Authenticator {
 public:
  virtual ~Authenticator() = default;

  // Who sent the request, by its bearer token. kUnauthenticated (the message
  // says what was wrong, never echoes the token) without a token or with one
  // that is not live; kUnavailable when the credentials cannot be read.
  // Thread-safety: called concurrently from the server's threads.
  virtual Result<Caller> Identify(const net::HttpRequest& request) const = 0;
};

// Identifies callers by `Authorization: Bearer <token>`: any of a fixed set of
// admin tokens, compared in constant time (an empty set accepts nothing); the
// API tokens of `api_tokens` (auth::kApiTokenPrefix), the sessions of
// `users` (auth::kSessionPrefix), and the node and edge credentials kept by
// `nodes`, each when not null (not owned, must outlive this object).
class TokenAuthenticator final : public Authenticator {
 public:
  explicit TokenAuthenticator(std::vector<std::string> tokens,
                              const JoinTokenStore* nodes = nullptr,
                              const auth::ApiTokenStore* api_tokens = nullptr,
                              const auth::UserStore* users = nullptr);
  // The same, from the tokens' SHA-256 (hex) rather than the tokens: a server
  // keeps only the hash of the cluster's admin token.
  static std::unique_ptr<TokenAuthenticator> FromHashes(
      std::vector<std::string> hashes, const JoinTokenStore* nodes = nullptr,
      const auth::ApiTokenStore* api_tokens = nullptr, const auth::UserStore* users = nullptr);

  // Authenticator:
  Result<Caller> Identify(const net::HttpRequest& request) const override;

 private:
  TokenAuthenticator(std::vector<std::string> hashes, const JoinTokenStore* nodes,
                     const auth::ApiTokenStore* api_tokens, const auth::UserStore* users, bool);

  const std::vector<std::string> hashes_;  // of the admin tokens
  const JoinTokenStore* const nodes_;
  const auth::ApiTokenStore* const api_tokens_;
  const auth::UserStore* const users_;
};

// The token of an `Authorization: Bearer <token>` header ("" when the header is
// absent or another scheme). The scheme is case-insensitive (RFC 7235).
std::string BearerToken(const net::HttpRequest& request);

}  // namespace skiff::api
