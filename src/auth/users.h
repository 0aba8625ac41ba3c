// UserStore: the people who use a cluster, their passwords and their
// sessions (issue 15, "Users for people"; docs/security.md).
//
// An admin adds a user with a name, a role (admin, deployer or viewer: edge
// and node are for machines) and, for a deployer or a viewer, the projects
// they act in (`skiff users add`, POST /v1/users). The user logs in with
// their password (`skiff login`, POST /v1/login) and gets a session token
// that expires; the API takes it as a bearer token, as it takes API tokens.
//
// Both live in the store's records (store/store.h), so every server of one
// database knows them. Neither is kept in the clear: a password as its
// Argon2id hash (auth/password.h), a session token as its SHA-256 (the
// record's key), like join tokens (api/join_tokens.h). A session names its
// user and is checked against the user's record each time it is used: a
// removed user's sessions stop working at once, and a user's role and
// projects are those of their record now, not those of when they logged in.
//
// Records: kUser, key = name, value {"id","hash","role","projects",
// "created_at"}; kSession, key = SHA-256 of the token, value {"user",
// "user_id","created_at","expires_at"}. `id` is random per user, so the
// sessions of a removed user never come back to life for a new user of the
// same name.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "auth/identity.h"
#include "auth/password.h"
#include "common/clock.h"
#include "common/result.h"
#include "store/store.h"

namespace skiff::auth {

// Every session token starts with this, so that the API tells a session from
// the other bearer tokens by looking at it.
inline constexpr std::string_view kSessionPrefix = "skiff-session-";

// What a wrong name and a wrong password are both told, so that a caller
// cannot learn which names exist.
inline constexpr std::string_view kWrongCredentials = "wrong user name or password";

struct User {
  std::string name;
  Role role = Role::kViewer;
  std::vector<std::string> projects;  // empty for an admin
  Time created_at;
};

struct Session {
  std::string token;  // the token itself: only from Login (never kept)
  std::string user;
  Role role = Role::kViewer;
  std::vector<std::string> projects;
  Time created_at;
  Time expires_at;
};

class UserStore {
 public:
  struct Options {
    // How long a session lives after Login.
    Duration session_lifetime = std::chrono::hours(12);
    // The cost of the hashes of new passwords (and of the dummy hash Login
    // verifies against for an unknown name).
    PasswordParams password_params;
  };

  // `store` and `clock` are not owned and must outlive this object (clock
  // null: the system clock).
  UserStore(store::Store* store, const Clock* clock) : UserStore(store, clock, Options{}) {}
  UserStore(store::Store* store, const Clock* clock, Options options);

  // Adds a user, durable before it returns. kInvalidArgument (its field
  // named) when `name` is no DNS label ("name"), `role` is not a person's
  // ("role"), a deployer or viewer has no project or an admin has some, a
  // project is no DNS label ("projects"), or the password breaks the rules
  // ("password"); kAlreadyExists when the name is taken (of two adds of one
  // name racing, on any servers, exactly one succeeds); kUnavailable when the
  // store cannot be written.
  Result<User> Add(const std::string& name, Role role, std::vector<std::string> projects,
                   std::string_view password);
  // Every user, by name (never a hash). kUnavailable when the store cannot be read.
  Result<std::vector<User>> List() const;
  // Removes a user and then their sessions (which stop working with the
  // user's record in any case). kNotFound for no such user; kUnavailable as
  // for Add.
  Status Remove(const std::string& name);

  // A new session of the user whose password `password` is, durable before
  // it returns; also drops the expired sessions of everyone. kUnauthenticated
  // with kWrongCredentials for an unknown name and for a wrong password
  // alike, taking about as long (an unknown name is verified against a dummy
  // hash); kUnavailable when the store cannot be read or written.
  Result<Session> Login(std::string_view name, std::string_view password);
  // Who the session `token` is of, as their user's record says now
  // {role, name = the user's, credential "user", projects}.
  // kUnauthenticated "unknown session" for a token of no session (or no
  // session token), "the session expired at …" for an expired one (its
  // record is then deleted), and likewise when its user was removed;
  // kUnavailable when the store cannot be read. Const for callers that only
  // check (api::TokenAuthenticator): deleting an expired session changes
  // nothing they can see.
  Result<Identity> Authenticate(std::string_view token) const;
  // Ends the session `token`. kUnauthenticated "unknown session" when there
  // is none; kUnavailable as for Add.
  Status Logout(std::string_view token);
  // Deletes every expired session; how many. kUnavailable as for Add.
  Result<int> DropExpiredSessions() const;

 private:
  // The PHC string Login verifies an unknown name's password against, made
  // on first use with options_.password_params.
  const std::string& DummyHash();

  store::Store* const store_;
  const Clock* const clock_;
  const Options options_;
  std::once_flag dummy_once_;
  std::string dummy_hash_;  // set once, under dummy_once_
};

}  // namespace skiff::auth
