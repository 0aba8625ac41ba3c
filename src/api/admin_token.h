// The admin bearer token of a server: created once under the data directory,
// then reused, so `skiff` clients on the same machine can read it.
#pragma once

#include <string>

#include "common/result.h"
#include "store/store.h"

namespace skiff::api {

// The file name of the admin token inside the data directory.
inline constexpr const char* kAdminTokenFile = "admin.token";

// Returns the token stored in `data_dir`/admin.token, creating the file (mode
// 0600, O_CREAT|O_EXCL so it is never readable by others, not even briefly)
// with a fresh random token when absent. *created (optional) says which.
// Errors: kUnavailable when the directory or file cannot be read or written;
// kFailedPrecondition when the file exists but is empty or not private (mode
// other than 0600/0400: the token may have leaked and must be replaced by hand).
// Thread-safety: processes racing on first start all end up with the winner's
// token (the file appears whole, through link(2)).
Result<std::string> LoadOrCreateAdminToken(const std::string& data_dir, bool* created = nullptr);

struct AdminTokenOptions {
  // Other servers share the store (PostgreSQL): the first one's token is the
  // cluster's. Otherwise (SQLite, memory: one server) DATA/admin.token is the
  // truth: deleted, a new token is made and replaces the kept hash.
  bool shared_store = false;
  // Make a new token (DATA/admin.token, replaced) whose hash replaces the kept
  // one: the old token stops working, on every server of the database.
  bool renew = false;
};

// The SHA-256 of the admin token, kept in the store (a record of kind
// admin_token), so that every server of one database accepts the same token.
// On a shared store the first server to start on an empty database makes the
// token (as LoadOrCreateAdminToken: DATA/admin.token, or the token already
// there from an earlier version) and keeps its hash; a later one takes the
// kept hash and writes no token file (the operator copies the first server's,
// or renews it). Of servers starting at once on an empty database one wins;
// the others remove the token file they made and take the winner's (a create
// reported as existing whose kept hash is this token's is this server's win).
// A token file that is not the kept token's is left alone and logged (it is
// not accepted). On a store of its own (!shared_store) the token file's hash
// is kept, whatever was kept before. *created (optional): this call made the
// token file. Errors: as LoadOrCreateAdminToken, and the store's
// (kUnavailable); the token file is never removed on an error.
Result<std::string> LoadOrCreateClusterAdminTokenHash(store::Store* store,
                                                      const std::string& data_dir,
                                                      const AdminTokenOptions& options,
                                                      bool* created = nullptr);

// Whether `data_dir`/admin.token holds the token whose SHA-256 is `hash` (false
// when the file is absent, unreadable or another token's).
bool AdminTokenFileHolds(const std::string& data_dir, const std::string& hash);

}  // namespace skiff::api
