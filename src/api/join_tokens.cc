#include "api/join_tokens.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>

#include "common/files.h"
#include "common/ids.h"
#include "common/quantity.h"

namespace skiff::api {
namespace json = boost::json;
namespace {

// 32 random bytes: 256 bits, beyond guessing.
constexpr size_t kSecretBytes = 32;
// How a kept credential hash is marked in the file.
constexpr std::string_view kHashPrefix = "sha256:";

Error Corrupt(const std::string& path, std::string_view why) {
  return Error{
      ErrorCode::kFailedPrecondition,
      fmt::format("{} is damaged ({}); restore it or delete it (nodes then join again)", path, why),
      ""};
}

}  // namespace

Result<std::unique_ptr<JoinTokenStore>> JoinTokenStore::Open(const std::string& data_dir,
                                                             const Clock* clock) {
  if (clock == nullptr) clock = SystemClock::Get();
  const std::string path = (std::filesystem::path(data_dir) / kJoinTokenFile).string();
  std::unique_ptr<JoinTokenStore> store(new JoinTokenStore(path, clock));
  auto text = ReadPrivateFile(path);
  if (!text && text.error().code == ErrorCode::kNotFound) return store;
  if (!text) return tl::unexpected(text.error());
  boost::system::error_code ec;
  json::value root = json::parse(*text, ec);
  if (ec || !root.is_object()) return tl::unexpected(Corrupt(path, "not a JSON object"));
  if (const json::value* list = root.get_object().if_contains("join_tokens")) {
    if (!list->is_array()) return tl::unexpected(Corrupt(path, "join_tokens"));
    for (const json::value& item : list->get_array()) {
      const json::object* o = item.if_object();
      const json::value* tv = o != nullptr ? o->if_contains("token") : nullptr;
      const json::string* token = tv != nullptr ? tv->if_string() : nullptr;
      if (token == nullptr) return tl::unexpected(Corrupt(path, "join_tokens.token"));
      JoinToken t{std::string(*token), Time{}};
      if (const json::value* at = o->if_contains("created_at"); at && at->is_string()) {
        if (auto parsed = ParseTime(at->get_string())) t.created_at = *parsed;
      }
      store->tokens_.push_back(std::move(t));
    }
  }
  if (const json::value* creds = root.get_object().if_contains("node_credentials")) {
    if (!creds->is_object()) return tl::unexpected(Corrupt(path, "node_credentials"));
    for (const auto& [node, credential] : creds->get_object()) {
      if (!credential.is_string()) return tl::unexpected(Corrupt(path, "node_credentials"));
      std::string_view kept = credential.get_string();
      // A file from before credentials were hashed holds them in the clear:
      // they are hashed here and written hashed on the next change.
      store->credential_hashes_[std::string(node)] =
          kept.starts_with(kHashPrefix) ? std::string(kept.substr(kHashPrefix.size()))
                                        : Sha256Hex(kept);
    }
  }
  return store;
}

Status JoinTokenStore::SaveLocked() const {
  json::array tokens;
  for (const JoinToken& t : tokens_) {
    tokens.push_back(json::object{{"token", t.token}, {"created_at", FormatTime(t.created_at)}});
  }
  json::object credentials;
  for (const auto& [node, hash] : credential_hashes_) {
    credentials[node] = std::string(kHashPrefix) + hash;
  }
  json::object root{{"join_tokens", std::move(tokens)},
                    {"node_credentials", std::move(credentials)}};
  return WriteFileAtomically(path_, json::serialize(root) + "\n", 0600);
}

Result<JoinToken> JoinTokenStore::Create() {
  JoinToken token{RandomHex(kSecretBytes), clock_->Now()};
  std::lock_guard lock(mu_);
  tokens_.push_back(token);
  if (Status saved = SaveLocked(); !saved) {
    tokens_.pop_back();
    return tl::unexpected(saved.error());
  }
  return token;
}

std::vector<JoinToken> JoinTokenStore::List() const {
  std::lock_guard lock(mu_);
  return tokens_;
}

Status JoinTokenStore::Revoke(const std::string& token) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(tokens_.begin(), tokens_.end(),
                         [&](const JoinToken& t) { return SecureEquals(t.token, token); });
  if (it == tokens_.end()) return NotFound("no such join token");
  JoinToken removed = *it;
  auto at = tokens_.erase(it);
  if (Status saved = SaveLocked(); !saved) {
    tokens_.insert(at, std::move(removed));
    return saved;
  }
  return OkStatus();
}

bool JoinTokenStore::IsJoinToken(std::string_view token) const {
  if (token.empty()) return false;
  std::lock_guard lock(mu_);
  // Every token is compared, so timing does not say which one matched.
  bool found = false;
  for (const JoinToken& t : tokens_) {
    if (SecureEquals(t.token, token)) found = true;
  }
  return found;
}

Result<std::string> JoinTokenStore::IssueCredential(const std::string& node_id) {
  std::string credential = RandomHex(kSecretBytes);
  std::lock_guard lock(mu_);
  std::optional<std::string> previous;
  if (auto it = credential_hashes_.find(node_id); it != credential_hashes_.end()) {
    previous = it->second;
  }
  credential_hashes_[node_id] = Sha256Hex(credential);
  if (Status saved = SaveLocked(); !saved) {
    if (previous) {
      credential_hashes_[node_id] = *previous;
    } else {
      credential_hashes_.erase(node_id);
    }
    return tl::unexpected(saved.error());
  }
  return credential;
}

std::optional<std::string> JoinTokenStore::NodeForCredential(std::string_view credential) const {
  if (credential.empty()) return std::nullopt;
  const std::string hash = Sha256Hex(credential);
  std::lock_guard lock(mu_);
  std::optional<std::string> node;
  for (const auto& [id, kept] : credential_hashes_) {
    if (SecureEquals(kept, hash)) node = id;
  }
  return node;
}

}  // namespace skiff::api
