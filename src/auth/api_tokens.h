// ApiTokenStore: the API tokens people and tools call with (issue 15),
// each with a name, a role (auth/identity.h) and, for a deployer or a viewer,
// its projects; optionally an expiry.
//
// A token reads "skiff-token.<name>.<64 hex digits>": the name says which
// record to check, the digits are the secret. Only its SHA-256 is kept (a
// record of kind api_token, keyed by name), compared in constant time; the
// token itself is shown once, when it is made. When each token was last used
// is kept apart (kind api_token_use), written at most once a minute per
// token, so that a busy token does not write on every request and a revoked
// one is not brought back by a late write.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/identity.h"
#include "common/clock.h"
#include "common/result.h"
#include "store/store.h"

namespace skiff::auth {

// The prefix every API token starts with.
inline constexpr std::string_view kApiTokenPrefix = "skiff-token.";

struct ApiToken {
  std::string name;
  Role role = Role::kViewer;
  std::vector<std::string> projects;
  Time created_at{};
  std::optional<Time> expires_at;
  std::optional<Time> last_used_at;
  std::string token;  // the token itself: only from Create (never kept)
};

struct NewApiToken {
  std::string name;  // a DNS label
  Role role = Role::kViewer;
  std::vector<std::string> projects;  // deployer, viewer: at least one; others: none
  std::optional<Duration> lifetime;   // none: it does not expire
};

class ApiTokenStore {
 public:
  // `store` and `clock` are not owned and must outlive this object (clock
  // null: the system clock).
  explicit ApiTokenStore(store::Store* store, const Clock* clock = nullptr);

  // Makes a token, durable before it returns; the only ApiToken with `token`
  // set. kInvalidArgument (naming the field: name, role, projects, expires)
  // for a bad name, a node role, a deployer or viewer without projects, an
  // admin or edge with some, a lifetime not positive; kAlreadyExists when the
  // name is taken; kUnavailable when the store cannot be written. Whether the
  // projects exist is the caller's to check (ProjectStore).
  Result<ApiToken> Create(const NewApiToken& request);

  // Every token, by name (never the token, nor its hash).
  Result<std::vector<ApiToken>> List() const;

  // Revokes token `name`: it is refused from then on, by every server.
  // kNotFound when there is none.
  Status Revoke(const std::string& name);

  // The caller `token` names, when it is a live token of this store: its
  // role, name and projects. kUnauthenticated when it is not one of ours
  // (kNotFound: not an API token at all, so the caller may try other kinds:
  // it does not start with kApiTokenPrefix), when it was revoked or never
  // made, or has expired (saying when; never echoing the token);
  // kUnavailable when the store cannot be read.
  Result<Identity> Authenticate(std::string_view token) const;

 private:
  // Notes that `name` was used now, at most once a minute per token.
  void NoteUse(const std::string& name, Time now) const;

  store::Store* const store_;
  const Clock* const clock_;
  mutable std::mutex mu_;
  mutable std::map<std::string, Time> last_noted_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::auth
