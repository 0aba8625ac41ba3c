// JoinTokenStore: the secrets that let machines join a cluster. An admin makes
// join tokens (POST /v1/join-tokens, `skiff nodes join-token`); an agent shows
// one the first time it registers and gets a node credential back, which it
// shows from then on.
//
// Both live in the store's records (store/store.h), so every server of one
// database knows them: a token made on one server lets an agent join through
// another, a credential one server issued is accepted by all, and a revoked
// token is refused by all. Neither is kept in the clear: a join token is kept
// as its SHA-256 (keyed by it, with its first characters to recognise it by),
// a credential likewise (keyed by its SHA-256, naming its node). The token
// itself is shown once, when it is made.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "store/store.h"

namespace skiff::api {

// The file earlier versions kept join tokens and credentials in, under the
// data directory: imported once (ImportFile), then deleted.
inline constexpr const char* kJoinTokenFile = "join-tokens.json";

struct JoinToken {
  std::string id;      // names the token in lists and revocations
  std::string prefix;  // the token's first characters, to recognise it by
  Time created_at;
  std::string token;  // the token itself: only from Create (never kept)
};

class JoinTokenStore {
 public:
  // `store` and `clock` are not owned and must outlive this object (clock
  // null: the system clock). Tokens made carry `ca_fingerprint`, the server
  // CA's (net/join_token.h: "SKIFF1-<fingerprint>-<secret>"); empty: bare
  // secrets, as earlier versions made.
  explicit JoinTokenStore(store::Store* store, const Clock* clock = nullptr,
                          std::string ca_fingerprint = "");

  // Moves DATA/join-tokens.json of an earlier version into the store, once:
  // its tokens and credentials (hashed, when the file had them in the clear)
  // become records, then the file is deleted (it may hold secrets in the
  // clear; no copy is left in the data directory). Nothing to do when there is no such file.
  // Errors: kFailedPrecondition when it is readable by others or does not parse; kUnavailable when
  // it or the store cannot be read or written (then the file stays, and the next start imports it
  // again: importing twice keeps the same).
  Status ImportFile(const std::string& data_dir);

  // A new token (32 random bytes, hex, after the CA's fingerprint), durable
  // before it is returned; the only JoinToken with `token` set. Only its
  // secret is kept (hashed) and checked. kUnavailable when the store cannot be
  // written (the token is then not kept).
  Result<JoinToken> Create();
  // The tokens (without `token`), oldest first. kUnavailable as for Create.
  Result<std::vector<JoinToken>> List() const;
  // Forgets the token named by its id (never by the token itself: it would
  // travel in a URL path); nodes that joined with it keep their credentials.
  // kNotFound for an id of no kept token (or not an id); kUnavailable as for
  // Create.
  Status Revoke(const std::string& id);
  // Whether `token` is a kept join token: its secret is kept, whatever
  // fingerprint it carries (the agent verified the server by it), and a bare
  // secret of an earlier version is one too. kUnavailable as for Create.
  Result<bool> IsJoinToken(std::string_view token) const;

  // A new credential for the node, replacing those it had before the call
  // (durably; a concurrent issue for the node is not undone: both stay valid
  // until the next). kUnavailable as for Create, when the new credential could
  // not be kept; once it is, a failure to delete an old one is only logged.
  Result<std::string> IssueCredential(const std::string& node_id);
  // The node whose credential `credential` is; nullopt when none.
  // kUnavailable as for Create.
  Result<std::optional<std::string>> NodeForCredential(std::string_view credential) const;

  // The same for a server's own edge `edge` (its name in traffic reports):
  // the server makes it for its edge when it shares its database
  // (docs/postgres.md), so that the edge may report its traffic, as itself
  // only, to whichever server leads. Not made by any API call. It replaces
  // the credentials of every edge whose name starts with `family` (the
  // server's edges under any name it gave them before: "<server-id>:").
  // REQUIRES: `edge` starts with `family`.
  Result<std::string> IssueEdgeCredential(const std::string& edge, std::string_view family);
  Result<std::optional<std::string>> EdgeForCredential(std::string_view credential) const;
  // Deletes the credentials of every edge whose name starts with `family`
  // (a server's edge that leaves). kUnavailable as for Create, when some
  // could not be deleted.
  Status RevokeEdgeCredentials(std::string_view family);

 private:
  // A new credential of kind `kind` for `owner`, replacing the earlier ones
  // of the owners `replaced` says (as IssueCredential), and the owner of a
  // credential.
  Result<std::string> Issue(store::RecordKind kind, const std::string& owner,
                            const std::function<bool(const std::string&)>& replaced);
  Result<std::optional<std::string>> OwnerOf(store::RecordKind kind,
                                             std::string_view credential) const;

  // Keeps a token known by its hash.
  Status Keep(const std::string& hash, const std::string& prefix, Time created_at);

  store::Store* const store_;
  const Clock* const clock_;
  const std::string ca_fingerprint_;
};

}  // namespace skiff::api
