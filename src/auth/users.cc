#include "auth/users.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "common/check.h"
#include "common/ids.h"
#include "common/logging.h"
#include "common/quantity.h"
#include "model/spec_parse.h"

namespace skiff::auth {
namespace json = boost::json;
namespace {

using store::RecordKind;

// 32 random bytes: 256 bits, beyond guessing.
constexpr size_t kSessionBytes = 32;

// A user's record, the hash and id included.
struct UserRecord {
  User user;
  std::string id;
  std::string hash;
};

struct SessionRecord {
  std::string user;
  std::string user_id;
  Time created_at;
  Time expires_at;
};

std::string StringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

Result<Time> TimeAt(const json::object& o, std::string_view key) {
  return ParseTime(StringAt(o, key));
}

Result<json::object> Parse(RecordKind kind, const std::string& key, const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return Internal(fmt::format("{} record {} does not decode", store::ToString(kind), key));
  }
  return std::move(v.get_object());
}

Result<UserRecord> DecodeUser(const std::string& name, const std::string& text) {
  SKIFF_ASSIGN_OR_RETURN(json::object o, Parse(RecordKind::kUser, name, text));
  UserRecord record;
  record.user.name = name;
  record.id = StringAt(o, "id");
  record.hash = StringAt(o, "hash");
  auto role = ParseRole(StringAt(o, "role"));
  auto created_at = TimeAt(o, "created_at");
  if (!role || !created_at) return Internal("user record " + name + " does not decode");
  record.user.role = *role;
  record.user.created_at = *created_at;
  if (const json::value* projects = o.if_contains("projects"); projects && projects->is_array()) {
    for (const json::value& p : projects->get_array()) {
      if (p.is_string()) record.user.projects.emplace_back(p.get_string());
    }
  }
  return record;
}

Result<SessionRecord> DecodeSession(const std::string& key, const std::string& text) {
  SKIFF_ASSIGN_OR_RETURN(json::object o, Parse(RecordKind::kSession, key, text));
  SessionRecord record;
  record.user = StringAt(o, "user");
  record.user_id = StringAt(o, "user_id");
  auto created_at = TimeAt(o, "created_at");
  auto expires_at = TimeAt(o, "expires_at");
  if (record.user.empty() || !created_at || !expires_at) {
    return Internal("session record does not decode");  // its key is a secret's hash: not said
  }
  record.created_at = *created_at;
  record.expires_at = *expires_at;
  return record;
}

bool IsPerson(Role role) {
  return role == Role::kAdmin || role == Role::kDeployer || role == Role::kViewer;
}

Status ValidateProjects(Role role, std::vector<std::string>& projects) {
  if (role == Role::kAdmin && !projects.empty()) {
    return InvalidArgument("projects: an admin acts in every project; give none", "projects");
  }
  if (role != Role::kAdmin && projects.empty()) {
    return InvalidArgument(
        fmt::format("projects: a {} needs at least one project (--project)", ToString(role)),
        "projects");
  }
  for (const std::string& p : projects) {
    SKIFF_RETURN_IF_ERROR(model::ValidateName(p, "projects"));
  }
  std::sort(projects.begin(), projects.end());
  projects.erase(std::unique(projects.begin(), projects.end()), projects.end());
  return OkStatus();
}

Error UnknownSession() { return Error{ErrorCode::kUnauthenticated, "unknown session", ""}; }

}  // namespace

UserStore::UserStore(store::Store* store, const Clock* clock, Options options)
    : store_(store),
      clock_(clock != nullptr ? clock : SystemClock::Get()),
      options_(std::move(options)) {
  SKIFF_CHECK(store_ != nullptr);
}

const std::string& UserStore::DummyHash() {
  std::call_once(dummy_once_, [this] {
    auto hash = HashPassword(RandomHex(16), options_.password_params);
    SKIFF_CHECK(hash.has_value());  // only fails out of memory
    dummy_hash_ = std::move(*hash);
  });
  return dummy_hash_;
}

Result<User> UserStore::Add(const std::string& name, Role role, std::vector<std::string> projects,
                            std::string_view password) {
  SKIFF_RETURN_IF_ERROR(model::ValidateName(name, "name"));
  if (name == "admin") {  // the cluster's admin token, in the audit trail
    return InvalidArgument("name: \"admin\" names the cluster's admin token; choose another",
                           "name");
  }
  if (!IsPerson(role)) {
    return InvalidArgument(
        fmt::format("role: a user is an admin, a deployer or a viewer (got \"{}\": that role is "
                    "for machines)",
                    ToString(role)),
        "role");
  }
  SKIFF_RETURN_IF_ERROR(ValidateProjects(role, projects));
  SKIFF_ASSIGN_OR_RETURN(std::string hash, HashPassword(password, options_.password_params));
  User user{
      .name = name, .role = role, .projects = std::move(projects), .created_at = clock_->Now()};
  json::array project_list;
  for (const std::string& p : user.projects) project_list.emplace_back(p);
  const json::object value{{"id", RandomHex(8)},
                           {"hash", hash},
                           {"role", ToString(role)},
                           {"projects", std::move(project_list)},
                           {"created_at", FormatTime(user.created_at)}};
  Status created = store_->CreateRecord(RecordKind::kUser, name, json::serialize(value));
  if (!created && created.error().code == ErrorCode::kAlreadyExists) {
    return AlreadyExists(fmt::format("user {} already exists", name));
  }
  SKIFF_RETURN_IF_ERROR(created);
  return user;
}

Result<std::vector<User>> UserStore::List() const {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> records,
                         store_->ListRecords(RecordKind::kUser));
  std::vector<User> users;
  for (const store::Record& record : records) {
    SKIFF_ASSIGN_OR_RETURN(UserRecord user, DecodeUser(record.key, record.value));
    users.push_back(std::move(user.user));
  }
  return users;  // by name: records come ascending by key
}

Status UserStore::Remove(const std::string& name) {
  if (name.empty()) return NotFound("no such user \"\"");
  // The user first: their sessions stop working with it.
  Status deleted = store_->DeleteRecord(RecordKind::kUser, name);
  if (!deleted && deleted.error().code == ErrorCode::kNotFound) {
    return NotFound(fmt::format("no such user {} (skiff users lists them)", name));
  }
  SKIFF_RETURN_IF_ERROR(deleted);
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> sessions,
                         store_->ListRecords(RecordKind::kSession));
  for (const store::Record& record : sessions) {
    auto session = DecodeSession(record.key, record.value);
    if (session && session->user != name) continue;
    Status gone = store_->DeleteRecord(RecordKind::kSession, record.key);
    if (!gone && gone.error().code != ErrorCode::kNotFound) return gone;
  }
  return OkStatus();
}

Result<Session> UserStore::Login(std::string_view name, std::string_view password) {
  const Error wrong{ErrorCode::kUnauthenticated, std::string(kWrongCredentials), ""};
  Result<std::string> value = name.empty()
                                  ? Result<std::string>(NotFound("no name"))
                                  : store_->GetRecord(RecordKind::kUser, std::string(name));
  if (!value) {
    if (value.error().code != ErrorCode::kNotFound) return tl::unexpected(value.error());
    // As long as a wrong password takes: the answer's time says nothing of
    // whether the name exists.
    (void)VerifyPassword(password, DummyHash());
    return tl::unexpected(wrong);
  }
  SKIFF_ASSIGN_OR_RETURN(UserRecord user, DecodeUser(std::string(name), *value));
  if (!VerifyPassword(password, user.hash)) return tl::unexpected(wrong);

  Session session;
  session.token = std::string(kSessionPrefix) + RandomHex(kSessionBytes);
  session.user = user.user.name;
  session.role = user.user.role;
  session.projects = user.user.projects;
  session.created_at = clock_->Now();
  session.expires_at = session.created_at + options_.session_lifetime;
  const json::object record{{"user", session.user},
                            {"user_id", user.id},
                            {"created_at", FormatTime(session.created_at)},
                            {"expires_at", FormatTime(session.expires_at)}};
  SKIFF_RETURN_IF_ERROR(store_->CreateRecord(RecordKind::kSession, Sha256Hex(session.token),
                                             json::serialize(record)));
  // Expired sessions go here too, so they cannot pile up on a server that
  // never drops them otherwise; the new session is good either way.
  if (auto dropped = DropExpiredSessions(); !dropped) {
    SKIFF_LOG_WARN("cannot drop expired sessions: {}", dropped.error().ToString());
  }
  return session;
}

Result<Identity> UserStore::Authenticate(std::string_view token) const {
  if (!token.starts_with(kSessionPrefix)) return tl::unexpected(UnknownSession());
  // Looked up by hash, as join tokens are: what the lookup's timing could
  // tell is of the hash, not of any kept token.
  const std::string key = Sha256Hex(token);
  auto value = store_->GetRecord(RecordKind::kSession, key);
  if (!value) {
    if (value.error().code == ErrorCode::kNotFound) return tl::unexpected(UnknownSession());
    return tl::unexpected(value.error());
  }
  auto forget = [&] {
    Status gone = store_->DeleteRecord(RecordKind::kSession, key);
    if (!gone && gone.error().code != ErrorCode::kNotFound) {
      SKIFF_LOG_WARN("cannot delete a dead session: {}", gone.error().ToString());
    }
  };
  auto session = DecodeSession(key, *value);
  if (!session) {
    forget();
    return tl::unexpected(UnknownSession());
  }
  if (clock_->Now() >= session->expires_at) {
    forget();
    return Unauthenticated(fmt::format("the session expired at {}: skiff login again",
                                       FormatTime(session->expires_at)));
  }
  auto user_value = store_->GetRecord(RecordKind::kUser, session->user);
  if (!user_value && user_value.error().code != ErrorCode::kNotFound) {
    return tl::unexpected(user_value.error());
  }
  std::optional<UserRecord> user;
  if (user_value) {
    SKIFF_ASSIGN_OR_RETURN(user, DecodeUser(session->user, *user_value));
  }
  if (!user || !SecureEquals(user->id, session->user_id)) {
    forget();
    return Unauthenticated(
        fmt::format("the session's user {} was removed: ask an admin", session->user));
  }
  return Identity{.role = user->user.role,
                  .name = user->user.name,
                  .credential = "user",
                  .projects = user->user.projects};
}

Status UserStore::Logout(std::string_view token) {
  if (!token.starts_with(kSessionPrefix)) return tl::unexpected(UnknownSession());
  Status deleted = store_->DeleteRecord(RecordKind::kSession, Sha256Hex(token));
  if (!deleted && deleted.error().code == ErrorCode::kNotFound) {
    return tl::unexpected(UnknownSession());
  }
  return deleted;
}

Result<int> UserStore::DropExpiredSessions() const {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::Record> sessions,
                         store_->ListRecords(RecordKind::kSession));
  const Time now = clock_->Now();
  int dropped = 0;
  for (const store::Record& record : sessions) {
    auto session = DecodeSession(record.key, record.value);
    if (session && now < session->expires_at) continue;
    Status gone = store_->DeleteRecord(RecordKind::kSession, record.key);
    if (gone) {
      ++dropped;
    } else if (gone.error().code != ErrorCode::kNotFound) {
      return tl::unexpected(gone.error());
    }
  }
  return dropped;
}

}  // namespace skiff::auth
