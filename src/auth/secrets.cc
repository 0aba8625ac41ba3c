#include "auth/secrets.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "common/quantity.h"

namespace skiff::auth {
namespace json = boost::json;
using store::RecordKind;

namespace {

constexpr size_t kMaxKeyLength = 256;

std::string RecordKey(const std::string& app, const std::string& key) { return app + "/" + key; }

// What a secret's envelope is bound to: its app and its name, so that it
// opens in no other record.
std::string Binding(std::string_view app, std::string_view key) {
  return crypto::AssociatedData("app-secret", {app, key});
}

bool IsNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

}  // namespace

Status ValidateSecretKey(std::string_view key) {
  if (key.empty()) return InvalidArgument("required", "key");
  if (key.size() > kMaxKeyLength) {
    return InvalidArgument(fmt::format("at most {} characters", kMaxKeyLength), "key");
  }
  if (!IsNameStart(key[0])) {
    return InvalidArgument(
        "must be an environment variable's name: a letter or '_' first, then letters, digits, '_'",
        "key");
  }
  for (char c : key) {
    if (!IsNameChar(c)) {
      return InvalidArgument("must be an environment variable's name: letters, digits and '_' only",
                             "key");
    }
  }
  if (key == "PORT" || key == "HOST" || key.starts_with("SKIFF_")) {
    return InvalidArgument(
        fmt::format("{} is set by Skiff for every instance (PORT, HOST, SKIFF_*): choose another "
                    "name",
                    key),
        "key");
  }
  return OkStatus();
}

Status ValidateSecretValue(std::string_view value) {
  if (value.empty())
    return InvalidArgument("must not be empty (unset the secret instead)", "value");
  if (value.size() > kMaxSecretBytes) {
    return InvalidArgument(fmt::format("at most {} bytes (got {})", kMaxSecretBytes, value.size()),
                           "value");
  }
  if (value.find('\0') != std::string_view::npos) {
    return InvalidArgument("must not contain a NUL byte: an environment variable cannot hold one",
                           "value");
  }
  return OkStatus();
}

SecretStore::SecretStore(store::Store* store, const crypto::Keyring* keyring, const Clock* clock)
    : store_(store), keyring_(keyring), clock_(clock != nullptr ? clock : SystemClock::Get()) {}

Result<SecretStore::Kept> SecretStore::Parse(const store::Record& record) {
  const auto bad = [&](std::string_view what) {
    return Internal(fmt::format("the secret record {} does not parse: {}", record.key, what));
  };
  boost::system::error_code ec;
  json::value doc = json::parse(record.value, ec);
  if (ec || !doc.is_object()) return bad("not a JSON object");
  const json::object& o = doc.as_object();
  const json::value* envelope = o.if_contains("envelope");
  const json::value* version = o.if_contains("version");
  const json::value* updated = o.if_contains("updated_at");
  if (envelope == nullptr || !envelope->is_string() || version == nullptr || !version->is_int64()) {
    return bad("no envelope or version");
  }
  Kept kept;
  kept.envelope = std::string(envelope->as_string());
  kept.version = version->as_int64();
  if (updated != nullptr && updated->is_string()) {
    kept.updated_at = ParseTime(updated->as_string()).value_or(Time{});
  }
  return kept;
}

Result<std::map<std::string, SecretStore::Kept>> SecretStore::Read(const std::string& app) const {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> records,
                         store_->ListRecords(RecordKind::kSecret));
  const std::string prefix = app + "/";
  std::map<std::string, Kept> out;
  for (const store::Record& record : records) {
    if (!record.key.starts_with(prefix)) continue;
    SKIFF_ASSIGN_OR_RETURN(Kept kept, Parse(record));
    out[record.key.substr(prefix.size())] = std::move(kept);
  }
  return out;
}

namespace {

std::string RecordOf(std::string_view envelope, int64_t version, Time updated_at) {
  return json::serialize(json::object{
      {"envelope", envelope}, {"version", version}, {"updated_at", FormatTime(updated_at)}});
}

}  // namespace

Result<int64_t> SecretStore::Set(const std::string& app, const std::string& key,
                                 std::string_view value) {
  SKIFF_RETURN_IF_ERROR(ValidateSecretKey(key));
  SKIFF_RETURN_IF_ERROR(ValidateSecretValue(value));
  std::lock_guard lock(write_mu_);
  int64_t version = 1;
  const std::string record_key = RecordKey(app, key);
  auto before = store_->GetRecord(RecordKind::kSecret, record_key);
  if (before) {
    SKIFF_ASSIGN_OR_RETURN(Kept kept, Parse({record_key, *before}));
    version = kept.version + 1;
  } else if (before.error().code != ErrorCode::kNotFound) {
    return tl::unexpected(before.error());
  }
  auto envelope = keyring_->Seal(value, Binding(app, key));
  // OpenSSL's words, never the value; said again in case that changes.
  if (!envelope) return Internal(fmt::format("cannot seal the secret {} of {}", key, app));
  SKIFF_RETURN_IF_ERROR(store_->PutRecord(RecordKind::kSecret, RecordKey(app, key),
                                          RecordOf(*envelope, version, clock_->Now())));
  return version;
}

Result<std::vector<SecretInfo>> SecretStore::List(const std::string& app) const {
  SKIFF_ASSIGN_OR_RETURN(auto kept, Read(app));
  std::vector<SecretInfo> out;
  out.reserve(kept.size());
  for (const auto& [key, k] : kept) out.push_back({key, k.version, k.updated_at});
  return out;
}

Status SecretStore::Unset(const std::string& app, const std::string& key) {
  std::lock_guard lock(write_mu_);
  Status removed = store_->DeleteRecord(RecordKind::kSecret, RecordKey(app, key));
  if (!removed && removed.error().code == ErrorCode::kNotFound) {
    return NotFound(fmt::format("app {} has no secret {}", app, key));
  }
  return removed;
}

Result<int> SecretStore::RemoveApp(const std::string& app) {
  std::lock_guard lock(write_mu_);
  SKIFF_ASSIGN_OR_RETURN(auto kept, Read(app));
  int removed = 0;
  for (const auto& [key, k] : kept) {
    Status s = store_->DeleteRecord(RecordKind::kSecret, RecordKey(app, key));
    if (!s && s.error().code != ErrorCode::kNotFound) return tl::unexpected(s.error());
    if (s) ++removed;
  }
  return removed;
}

Result<std::map<std::string, std::string>> SecretStore::Values(const std::string& app) const {
  SKIFF_ASSIGN_OR_RETURN(auto kept, Read(app));
  std::map<std::string, std::string> out;
  for (const auto& [key, k] : kept) {
    auto value = keyring_->Open(k.envelope, Binding(app, key));
    if (!value) {
      return FailedPrecondition(
          fmt::format("the secret record {}: {}", RecordKey(app, key), value.error().message));
    }
    out[key] = std::move(*value);
  }
  return out;
}

Result<std::map<std::string, int64_t>> SecretStore::Versions(const std::string& app) const {
  SKIFF_ASSIGN_OR_RETURN(auto kept, Read(app));
  std::map<std::string, int64_t> out;
  for (const auto& [key, k] : kept) out[key] = k.version;
  return out;
}

Result<int> SecretStore::Reseal(const crypto::ResealProgress& progress) {
  std::lock_guard lock(write_mu_);
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> records,
                         store_->ListRecords(RecordKind::kSecret));
  const int total = static_cast<int>(records.size());
  int resealed = 0;
  for (int done = 0; done < total; ++done) {
    if (progress) progress(done, total);
    const store::Record& record = records[done];
    const size_t slash = record.key.find('/');
    if (slash == std::string::npos) continue;
    const std::string app = record.key.substr(0, slash);
    const std::string key = record.key.substr(slash + 1);
    SKIFF_ASSIGN_OR_RETURN(Kept kept, Parse(record));
    auto id = crypto::Keyring::KeyIdOf(kept.envelope);
    if (id && *id == keyring_->active_id()) continue;
    auto value = keyring_->Open(kept.envelope, Binding(app, key));
    if (!value) {
      return FailedPrecondition(
          fmt::format("the secret record {}: {}", record.key, value.error().message));
    }
    auto envelope = keyring_->Seal(*value, Binding(app, key));
    if (!envelope) return Internal(fmt::format("cannot seal the secret record {}", record.key));
    SKIFF_RETURN_IF_ERROR(store_->PutRecord(RecordKind::kSecret, record.key,
                                            RecordOf(*envelope, kept.version, kept.updated_at)));
    ++resealed;
  }
  if (progress) progress(total, total);
  return resealed;
}

}  // namespace skiff::auth
