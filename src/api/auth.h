// Authentication of API requests: bearer tokens, default deny.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/http.h"

namespace skiff::auth {
class UserStore;
}  // namespace skiff::auth

namespace skiff::api {

class JoinTokenStore;

// Who is calling: the admin, the agent of one node (by its node credential),
// or a server's own edge (by its edge credential, JoinTokenStore).
struct Caller {
  bool admin = false;
  std::string node_id;  // the node's, when the caller is a node
  std::string edge;     // the edge's name, when the caller is an edge

  // Whether the caller may act for node `id`: the admin for any, a node for itself.
  bool MayActFor(const std::string& id) const {
    return admin || (!node_id.empty() && node_id == id);
  }
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;

  // OK when the request carries an admin credential; kUnauthenticated
  // (message says what was wrong, never echoes the token) otherwise. Every
  // route but the agent's ones asks this.
  // Thread-safety: called concurrently from the server's threads.
  virtual Status Authenticate(const net::HttpRequest& request) const = 0;

  // Who sent the request: the admin, a node or an edge by its credential.
  // kUnauthenticated as for Authenticate; kUnavailable when the credentials
  // cannot be read. Thread-safety: as Authenticate.
  virtual Result<Caller> Identify(const net::HttpRequest& request) const = 0;
};

// Accepts `Authorization: Bearer <token>` for any of a fixed set of admin
// tokens, compared in constant time (an empty set accepts nothing), and, for
// Identify, the node and edge credentials kept by `nodes` (when not null; not
// owned, must outlive this object). With `users` (likewise), a live session
// of a user whose role is admin is the admin too (auth/users.h; a session
// token starts with auth::kSessionPrefix); a session of another role is
// kPermissionDenied, as the routes today are the admin's.
class TokenAuthenticator final : public Authenticator {
 public:
  explicit TokenAuthenticator(std::vector<std::string> tokens,
                              const JoinTokenStore* nodes = nullptr,
                              const auth::UserStore* users = nullptr);
  // The same, from the tokens' SHA-256 (hex) rather than the tokens: a server
  // keeps only the hash of the cluster's admin token.
  static std::unique_ptr<TokenAuthenticator> FromHashes(std::vector<std::string> hashes,
                                                        const JoinTokenStore* nodes = nullptr,
                                                        const auth::UserStore* users = nullptr);

  // Authenticator:
  Status Authenticate(const net::HttpRequest& request) const override;
  Result<Caller> Identify(const net::HttpRequest& request) const override;

 private:
  TokenAuthenticator(std::vector<std::string> hashes, const JoinTokenStore* nodes,
                     const auth::UserStore* users, bool);

  const std::vector<std::string> hashes_;  // of the admin tokens
  const JoinTokenStore* const nodes_;
  const auth::UserStore* const users_;
};

// The token of an `Authorization: Bearer <token>` header ("" when the header is
// absent or another scheme). The scheme is case-insensitive (RFC 7235).
std::string BearerToken(const net::HttpRequest& request);

}  // namespace skiff::api
