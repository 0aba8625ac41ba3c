// JoinTokenStore: the secrets that let machines join a cluster. An admin makes
// join tokens (POST /v1/join-tokens, `skiff nodes join-token`); an agent shows
// one the first time it registers and gets a node credential back, which it
// shows from then on (the server keeps only its SHA-256). Both live in
// DATA/join-tokens.json (mode 0600, replaced atomically on every change), so
// they survive a restart of the server.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace skiff::api {

inline constexpr const char* kJoinTokenFile = "join-tokens.json";

struct JoinToken {
  std::string token;
  Time created_at;
};

class JoinTokenStore {
 public:
  // Loads DATA/join-tokens.json, or starts empty when it does not exist.
  // `clock` is not owned and must outlive the store (null: the system clock).
  // Errors: kUnavailable when the file cannot be read; kFailedPrecondition when
  // it is readable by others or does not parse.
  static Result<std::unique_ptr<JoinTokenStore>> Open(const std::string& data_dir,
                                                      const Clock* clock = nullptr);

  // A new token (32 random bytes, hex), durable before it is returned.
  // kUnavailable when the file cannot be written (the token is then not kept).
  Result<JoinToken> Create();
  // The tokens, oldest first.
  std::vector<JoinToken> List() const;
  // Forgets the token (durably); nodes that joined with it keep their
  // credentials. kNotFound for a token not kept; kUnavailable as for Create.
  Status Revoke(const std::string& token);
  // Whether `token` is a kept join token (compared in constant time).
  bool IsJoinToken(std::string_view token) const;

  // A new credential for the node, replacing any earlier one (durably).
  // kUnavailable as for Create.
  Result<std::string> IssueCredential(const std::string& node_id);
  // The node whose credential `credential` is; nullopt when none.
  std::optional<std::string> NodeForCredential(std::string_view credential) const;

 private:
  JoinTokenStore(std::string path, const Clock* clock) : path_(std::move(path)), clock_(clock) {}
  Status SaveLocked() const;

  const std::string path_;
  const Clock* const clock_;
  mutable std::mutex mu_;
  std::vector<JoinToken> tokens_;  // GUARDED_BY(mu_)
  // node id -> SHA-256 of its credential (the credential itself is never kept).
  std::map<std::string, std::string> credential_hashes_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::api
