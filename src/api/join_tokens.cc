#include "api/join_tokens.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>

#include "common/check.h"
#include "common/files.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/quantity.h"
#include "net/join_token.h"

namespace skiff::api {
namespace json = boost::json;
namespace {

using store::RecordKind;

// 32 random bytes: 256 bits, beyond guessing.
constexpr size_t kSecretBytes = 32;
// How many of a token's characters a list shows (32 of its 256 bits).
constexpr size_t kPrefixChars = 8;
// A token's id: the first characters of its SHA-256 (the record's key), so
// importing a token twice keeps one record, and the id says nothing of the token.
constexpr size_t kIdChars = 16;
// How a kept credential hash is marked in an earlier version's file.
constexpr std::string_view kHashPrefix = "sha256:";

Error Corrupt(const std::string& path, std::string_view why) {
  return Error{
      ErrorCode::kFailedPrecondition,
      fmt::format("{} is damaged ({}); restore it or delete it (nodes then join again)", path, why),
      ""};
}

// The record of a token: {"prefix":"…","created_at":"…"}, keyed by its hash.
Result<JoinToken> TokenOf(const store::Record& record) {
  boost::system::error_code ec;
  json::value v = json::parse(record.value, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* prefix = o != nullptr ? o->if_contains("prefix") : nullptr;
  const json::value* at = o != nullptr ? o->if_contains("created_at") : nullptr;
  if (prefix == nullptr || !prefix->is_string() || at == nullptr || !at->is_string()) {
    return Internal("join token record " + record.key + " does not decode");
  }
  JoinToken token;
  token.id = record.key.substr(0, kIdChars);
  token.prefix = std::string(prefix->get_string());
  if (auto parsed = ParseTime(at->get_string())) token.created_at = *parsed;
  return token;
}

}  // namespace

JoinTokenStore::JoinTokenStore(store::Store* store, const Clock* clock, std::string ca_fingerprint)
    : store_(store),
      clock_(clock != nullptr ? clock : SystemClock::Get()),
      ca_fingerprint_(std::move(ca_fingerprint)) {}

Status JoinTokenStore::Keep(const std::string& hash, const std::string& prefix, Time created_at) {
  json::object value{{"prefix", prefix}, {"created_at", FormatTime(created_at)}};
  return store_->PutRecord(RecordKind::kJoinToken, hash, json::serialize(value));
}

Status JoinTokenStore::ImportFile(const std::string& data_dir) {
  const std::string path = (std::filesystem::path(data_dir) / kJoinTokenFile).string();
  auto text = ReadPrivateFile(path);
  if (!text && text.error().code == ErrorCode::kNotFound) return OkStatus();
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
      Time created_at = clock_->Now();
      if (const json::value* at = o->if_contains("created_at"); at && at->is_string()) {
        if (auto parsed = ParseTime(at->get_string())) created_at = *parsed;
      }
      const std::string clear(*token);
      SKIFF_RETURN_IF_ERROR(Keep(Sha256Hex(clear), clear.substr(0, kPrefixChars), created_at));
    }
  }
  if (const json::value* creds = root.get_object().if_contains("node_credentials")) {
    if (!creds->is_object()) return tl::unexpected(Corrupt(path, "node_credentials"));
    for (const auto& [node, credential] : creds->get_object()) {
      if (!credential.is_string()) return tl::unexpected(Corrupt(path, "node_credentials"));
      std::string_view kept = credential.get_string();
      // A file from before credentials were hashed holds them in the clear.
      const std::string hash = kept.starts_with(kHashPrefix)
                                   ? std::string(kept.substr(kHashPrefix.size()))
                                   : Sha256Hex(kept);
      SKIFF_RETURN_IF_ERROR(
          store_->PutRecord(RecordKind::kNodeCredential, hash, std::string(node)));
    }
  }
  // Deleted, not kept aside: it holds join tokens and credentials in the
  // clear, and the store now holds their hashes.
  std::error_code removed;
  std::filesystem::remove(path, removed);
  if (removed) {
    return Unavailable(fmt::format("imported {} into the store but cannot delete it: {}", path,
                                   removed.message()));
  }
  return OkStatus();
}

Result<JoinToken> JoinTokenStore::Create() {
  JoinToken token;
  const std::string secret = RandomHex(kSecretBytes);
  token.token = net::FormatJoinToken(ca_fingerprint_, secret);
  token.prefix = secret.substr(0, kPrefixChars);
  token.created_at = clock_->Now();
  // The secret alone is kept (hashed): the fingerprint is public.
  const std::string hash = Sha256Hex(secret);
  token.id = hash.substr(0, kIdChars);
  SKIFF_RETURN_IF_ERROR(Keep(hash, token.prefix, token.created_at));
  return token;
}

Result<std::vector<JoinToken>> JoinTokenStore::List() const {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> records,
                         store_->ListRecords(RecordKind::kJoinToken));
  std::vector<JoinToken> out;
  for (const store::Record& record : records) {
    SKIFF_ASSIGN_OR_RETURN(JoinToken token, TokenOf(record));
    out.push_back(std::move(token));
  }
  std::stable_sort(out.begin(), out.end(), [](const JoinToken& a, const JoinToken& b) {
    return a.created_at < b.created_at;
  });
  return out;
}

Status JoinTokenStore::Revoke(const std::string& id) {
  // By id only, never by the token: a secret in a URL path ends up in access
  // logs and proxies' histories.
  if (id.size() != kIdChars)
    return NotFound("no such join token id (GET /v1/join-tokens lists them)");
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> records,
                         store_->ListRecords(RecordKind::kJoinToken));
  for (const store::Record& record : records) {
    if (!record.key.starts_with(id)) continue;
    Status deleted = store_->DeleteRecord(RecordKind::kJoinToken, record.key);
    if (!deleted && deleted.error().code == ErrorCode::kNotFound) {
      return NotFound("no such join token id");  // another server revoked it meanwhile
    }
    return deleted;
  }
  return NotFound("no such join token id (GET /v1/join-tokens lists them)");
}

Result<bool> JoinTokenStore::IsJoinToken(std::string_view token) const {
  if (token.empty()) return false;
  // Looked up by hash: what the lookup's timing could tell is of the hash,
  // not of any kept token.
  const std::string secret = net::ParseJoinToken(token).secret;
  auto record = store_->GetRecord(RecordKind::kJoinToken, Sha256Hex(secret));
  if (record) return true;
  if (record.error().code == ErrorCode::kNotFound) return false;
  return tl::unexpected(record.error());
}

Result<std::string> JoinTokenStore::IssueCredential(const std::string& node_id) {
  return Issue(RecordKind::kNodeCredential, node_id,
               [&node_id](const std::string& owner) { return owner == node_id; });
}

Result<std::string> JoinTokenStore::IssueEdgeCredential(const std::string& edge,
                                                        std::string_view family) {
  SKIFF_CHECK(edge.starts_with(family));
  return Issue(RecordKind::kEdgeCredential, edge,
               [family](const std::string& owner) { return owner.starts_with(family); });
}

Status JoinTokenStore::RevokeEdgeCredentials(std::string_view family) {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> records,
                         store_->ListRecords(RecordKind::kEdgeCredential));
  for (const store::Record& record : records) {
    if (!record.value.starts_with(family)) continue;
    Status deleted = store_->DeleteRecord(RecordKind::kEdgeCredential, record.key);
    if (!deleted && deleted.error().code != ErrorCode::kNotFound) return deleted;
  }
  return OkStatus();
}

Result<std::string> JoinTokenStore::Issue(RecordKind kind, const std::string& owner,
                                          const std::function<bool(const std::string&)>& replaced) {
  // The owner's earlier credentials are those kept before the new one: listed
  // first, so two issues racing for one owner never delete each other's new one.
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> records, store_->ListRecords(kind));
  std::string credential = RandomHex(kSecretBytes);
  const std::string hash = Sha256Hex(credential);
  SKIFF_RETURN_IF_ERROR(store_->PutRecord(kind, hash, owner));
  // The old ones go after the new one is kept. The new one is valid from here
  // on, so a failure to delete an old one is logged, not returned: an old one
  // left stays valid a while longer (until the next issue deletes it).
  for (const store::Record& record : records) {
    if (!replaced(record.value)) continue;
    Status deleted = store_->DeleteRecord(kind, record.key);
    if (!deleted && deleted.error().code != ErrorCode::kNotFound) {
      SKIFF_LOG_WARN("{}: cannot delete an earlier credential of {}: {}", ToString(kind), owner,
                     deleted.error().ToString());
    }
  }
  return credential;
}

Result<std::optional<std::string>> JoinTokenStore::NodeForCredential(
    std::string_view credential) const {
  return OwnerOf(RecordKind::kNodeCredential, credential);
}

Result<std::optional<std::string>> JoinTokenStore::EdgeForCredential(
    std::string_view credential) const {
  return OwnerOf(RecordKind::kEdgeCredential, credential);
}

Result<std::optional<std::string>> JoinTokenStore::OwnerOf(RecordKind kind,
                                                           std::string_view credential) const {
  if (credential.empty()) return std::optional<std::string>();
  auto node = store_->GetRecord(kind, Sha256Hex(credential));
  if (node) return std::optional<std::string>(std::move(*node));
  if (node.error().code == ErrorCode::kNotFound) return std::optional<std::string>();
  return tl::unexpected(node.error());
}

}  // namespace skiff::api
