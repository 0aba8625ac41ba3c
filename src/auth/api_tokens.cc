#include "auth/api_tokens.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "common/ids.h"
#include "common/quantity.h"
#include "model/spec_parse.h"

namespace skiff::auth {
namespace json = boost::json;
using store::RecordKind;

namespace {

constexpr size_t kSecretBytes = 32;
constexpr auto kUseNoteInterval = std::chrono::minutes(1);
// Ten years: far enough for "never" to be asked for as no expiry, near enough
// that the expiry time cannot overflow.
constexpr auto kLongestLifetime = std::chrono::hours(24 * 3650);

Error Invalid(std::string field, std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message), std::move(field)};
}

Status CheckRequest(const NewApiToken& r) {
  SKIFF_RETURN_IF_ERROR(model::ValidateName(r.name, "name"));
  if (r.name == "admin") {  // the cluster's admin token, in the audit trail
    return tl::unexpected(
        Invalid("name", "name: \"admin\" names the cluster's admin token; choose another"));
  }
  const bool scoped = r.role == Role::kDeployer || r.role == Role::kViewer;
  if (r.role == Role::kNode) {
    return tl::unexpected(Invalid(
        "role", "role: node credentials come from joining (skiff agent --join-token), not tokens"));
  }
  if (scoped && r.projects.empty()) {
    return tl::unexpected(Invalid(
        "projects", fmt::format("projects: a {} token needs at least one project (--project P)",
                                ToString(r.role))));
  }
  if (!scoped && !r.projects.empty()) {
    return tl::unexpected(Invalid(
        "projects",
        fmt::format("projects: an {} token acts in every project; give none", ToString(r.role))));
  }
  for (size_t i = 0; i < r.projects.size(); ++i) {
    SKIFF_RETURN_IF_ERROR(model::ValidateName(r.projects[i], fmt::format("projects[{}]", i)));
  }
  if (r.lifetime && (r.lifetime->count() <= 0 || *r.lifetime > kLongestLifetime)) {
    return tl::unexpected(
        Invalid("expires",
                "expires: must be a positive duration of at most 3650d, e.g. 90d; leave it "
                "out for a token that does not expire"));
  }
  return OkStatus();
}

std::string Serialize(const ApiToken& t, const std::string& hash) {
  json::array projects;
  for (const std::string& p : t.projects) projects.emplace_back(p);
  json::object o{{"hash", hash},
                 {"role", ToString(t.role)},
                 {"projects", std::move(projects)},
                 {"created_at", FormatTime(t.created_at)}};
  if (t.expires_at) o["expires_at"] = FormatTime(*t.expires_at);
  return json::serialize(o);
}

Error Corrupt(const std::string& name) {
  return Error{ErrorCode::kInternal, fmt::format("API token record {} does not parse", name), ""};
}

// The token and its kept hash, from a record.
Result<std::pair<ApiToken, std::string>> Parse(const std::string& name, const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  if (o == nullptr) return tl::unexpected(Corrupt(name));
  auto str = [o](std::string_view key) -> const json::string* {
    const json::value* f = o->if_contains(key);
    return f != nullptr ? f->if_string() : nullptr;
  };
  const json::string* hash = str("hash");
  const json::string* role_text = str("role");
  const json::string* created = str("created_at");
  const json::value* projects = o->if_contains("projects");
  if (hash == nullptr || role_text == nullptr || created == nullptr || projects == nullptr ||
      !projects->is_array()) {
    return tl::unexpected(Corrupt(name));
  }
  ApiToken t{.name = name};
  auto role = std::string_view(*role_text) == "node" ? Result<Role>(Role::kNode)
                                                     : ParseRole(std::string_view(*role_text));
  auto created_at = ParseTime(std::string_view(*created));
  if (!role || !created_at) return tl::unexpected(Corrupt(name));
  t.role = *role;
  t.created_at = *created_at;
  for (const json::value& p : projects->get_array()) {
    if (!p.is_string()) return tl::unexpected(Corrupt(name));
    t.projects.emplace_back(p.get_string());
  }
  if (const json::string* expires = str("expires_at")) {
    auto at = ParseTime(std::string_view(*expires));
    if (!at) return tl::unexpected(Corrupt(name));
    t.expires_at = *at;
  }
  return std::make_pair(std::move(t), std::string(*hash));
}

}  // namespace

ApiTokenStore::ApiTokenStore(store::Store* store, const Clock* clock)
    : store_(store), clock_(clock != nullptr ? clock : SystemClock::Get()) {}

Result<ApiToken> ApiTokenStore::Create(const NewApiToken& request) {
  SKIFF_RETURN_IF_ERROR(CheckRequest(request));
  ApiToken t{.name = request.name,
             .role = request.role,
             .projects = request.projects,
             .created_at = clock_->Now()};
  if (request.lifetime) t.expires_at = t.created_at + *request.lifetime;
  t.token = fmt::format("{}{}.{}", kApiTokenPrefix, t.name, RandomHex(kSecretBytes));
  Status created =
      store_->CreateRecord(RecordKind::kApiToken, t.name, Serialize(t, Sha256Hex(t.token)));
  if (!created && created.error().code == ErrorCode::kAlreadyExists) {
    return tl::unexpected(Error{ErrorCode::kAlreadyExists,
                                fmt::format("a token named {} exists: revoke it first or choose "
                                            "another name",
                                            t.name),
                                "name"});
  }
  SKIFF_RETURN_IF_ERROR(created);
  // A use noted for an earlier token of this name is not this one's.
  (void)store_->DeleteRecord(RecordKind::kApiTokenUse, t.name);
  return t;
}

Result<std::vector<ApiToken>> ApiTokenStore::List() const {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> records,
                         store_->ListRecords(RecordKind::kApiToken));
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> uses,
                         store_->ListRecords(RecordKind::kApiTokenUse));
  std::map<std::string, Time> used;
  for (const store::Record& u : uses) {
    if (auto at = ParseTime(u.value)) used[u.key] = *at;
  }
  std::vector<ApiToken> out;
  for (const store::Record& record : records) {
    SKIFF_ASSIGN_OR_RETURN(auto parsed, Parse(record.key, record.value));
    ApiToken t = std::move(parsed.first);
    if (auto u = used.find(t.name); u != used.end() && u->second >= t.created_at) {
      t.last_used_at = u->second;
    }
    out.push_back(std::move(t));
  }
  return out;
}

Status ApiTokenStore::Revoke(const std::string& name) {
  Status removed = store_->DeleteRecord(RecordKind::kApiToken, name);
  if (!removed && removed.error().code == ErrorCode::kNotFound) {
    return NotFound(fmt::format("no token named {} (skiff tokens lists them)", name));
  }
  SKIFF_RETURN_IF_ERROR(removed);
  (void)store_->DeleteRecord(RecordKind::kApiTokenUse, name);
  std::lock_guard lock(mu_);
  last_noted_.erase(name);
  return OkStatus();
}

Result<Identity> ApiTokenStore::Authenticate(std::string_view token) const {
  if (!token.starts_with(kApiTokenPrefix)) return NotFound("not an API token");
  std::string_view rest = token.substr(kApiTokenPrefix.size());
  const size_t dot = rest.find('.');
  const std::string name(rest.substr(0, dot == std::string_view::npos ? 0 : dot));
  auto refused = [] { return Unauthenticated("the bearer token was refused"); };
  if (name.empty() || !model::ValidateName(name)) return refused();
  auto record = store_->GetRecord(RecordKind::kApiToken, name);
  if (!record && record.error().code == ErrorCode::kNotFound) return refused();
  if (!record) return tl::unexpected(record.error());
  SKIFF_ASSIGN_OR_RETURN(auto parsed, Parse(name, *record));
  if (!SecureEquals(Sha256Hex(token), parsed.second)) return refused();
  const ApiToken& t = parsed.first;
  const Time now = clock_->Now();
  if (t.expires_at && now >= *t.expires_at) {
    return Unauthenticated(fmt::format("the token {} expired at {}: ask an admin for a new one",
                                       name, FormatTime(*t.expires_at)));
  }
  NoteUse(name, now);
  return Identity{.role = t.role, .name = name, .credential = "token", .projects = t.projects};
}

void ApiTokenStore::NoteUse(const std::string& name, Time now) const {
  {
    std::lock_guard lock(mu_);
    auto [it, fresh] = last_noted_.try_emplace(name, now);
    if (!fresh) {
      if (now - it->second < kUseNoteInterval) return;
      it->second = now;
    }
  }
  // Best effort: a lost note only makes "last used" older.
  (void)store_->PutRecord(RecordKind::kApiTokenUse, name, FormatTime(now));
}

}  // namespace skiff::auth
