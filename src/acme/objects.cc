#include "acme/objects.h"

#include <boost/json/parse.hpp>
#include <charconv>
#include <ctime>
#include <utility>

#include "acme/base64url.h"
#include "protocol/json_fields.h"

namespace skiff::acme {
namespace {

namespace json = boost::json;
using protocol::AsObject;
using protocol::BadField;
using protocol::Member;
using protocol::OptString;

Result<json::value> ParseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) return InvalidArgument("not JSON: " + ec.message());
  return value;
}

// `result`'s error as "ACME server sent a bad <what>: …".
template <typename T>
Result<T> Bad(Result<T> result, std::string_view what) {
  if (result) return result;
  Error error = std::move(result.error());
  error.message = "ACME server sent a bad " + std::string(what) + ": " + error.message;
  return tl::unexpected(std::move(error));
}

Result<std::string> Required(const json::object& obj, std::string_view key) {
  SKIFF_ASSIGN_OR_RETURN(std::optional<std::string> value, OptString(obj, key));
  if (!value || value->empty()) return tl::unexpected(BadField(key, "missing"));
  return *std::move(value);
}

Result<std::optional<Problem>> OptProblem(const json::object& obj) {
  const json::value* error = Member(obj, "error");
  if (error == nullptr) return std::optional<Problem>();
  SKIFF_ASSIGN_OR_RETURN(Problem problem, ParseProblem(*error));
  return std::optional<Problem>(std::move(problem));
}

Result<std::vector<std::string>> StringArray(const json::object& obj, std::string_view key) {
  std::vector<std::string> out;
  const json::value* array = Member(obj, key);
  if (array == nullptr) return out;
  if (!array->is_array()) return tl::unexpected(BadField(key, "not an array"));
  for (const json::value& item : array->get_array()) {
    if (!item.is_string()) return tl::unexpected(BadField(key, "not an array of strings"));
    out.emplace_back(item.get_string());
  }
  return out;
}

Result<std::string> IdentifierValue(const json::value& id) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* obj, AsObject(id, "identifier"));
  return Required(*obj, "value");
}

Result<Challenge> ChallengeOf(const json::value& value) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* obj, AsObject(value, "challenge"));
  Challenge challenge;
  SKIFF_ASSIGN_OR_RETURN(challenge.type, Required(*obj, "type"));
  SKIFF_ASSIGN_OR_RETURN(challenge.url, Required(*obj, "url"));
  SKIFF_ASSIGN_OR_RETURN(challenge.status, Required(*obj, "status"));
  SKIFF_ASSIGN_OR_RETURN(auto token, OptString(*obj, "token"));
  // The token goes into a URL path the edges serve (RFC 8555 §8.3: base64url,
  // unpadded): anything else ("../", "?") is refused before it gets there.
  if (token &&
      (token->empty() || token->find('=') != std::string::npos || !Base64UrlDecode(*token))) {
    return InvalidArgument("token: not base64url");
  }
  challenge.token = token.value_or("");
  SKIFF_ASSIGN_OR_RETURN(challenge.error, OptProblem(*obj));
  return challenge;
}

Result<Directory> DirectoryOf(const json::object& obj) {
  Directory directory;
  SKIFF_ASSIGN_OR_RETURN(directory.new_nonce, Required(obj, "newNonce"));
  SKIFF_ASSIGN_OR_RETURN(directory.new_account, Required(obj, "newAccount"));
  SKIFF_ASSIGN_OR_RETURN(directory.new_order, Required(obj, "newOrder"));
  if (const json::value* meta = Member(obj, "meta")) {
    SKIFF_ASSIGN_OR_RETURN(const json::object* meta_obj, AsObject(*meta, "meta"));
    SKIFF_ASSIGN_OR_RETURN(auto terms, OptString(*meta_obj, "termsOfService"));
    directory.terms_of_service = terms.value_or("");
  }
  return directory;
}

Result<Account> AccountOf(const json::object& obj, std::string url) {
  Account account;
  account.url = std::move(url);
  SKIFF_ASSIGN_OR_RETURN(account.status, Required(obj, "status"));
  return account;
}

Result<Order> OrderOf(const json::object& obj, std::string url) {
  Order order;
  order.url = std::move(url);
  SKIFF_ASSIGN_OR_RETURN(order.status, Required(obj, "status"));
  if (const json::value* ids = Member(obj, "identifiers")) {
    if (!ids->is_array()) return tl::unexpected(BadField("identifiers", "not an array"));
    for (const json::value& id : ids->get_array()) {
      SKIFF_ASSIGN_OR_RETURN(std::string domain, IdentifierValue(id));
      order.domains.push_back(std::move(domain));
    }
  }
  SKIFF_ASSIGN_OR_RETURN(order.authorizations, StringArray(obj, "authorizations"));
  SKIFF_ASSIGN_OR_RETURN(order.finalize, Required(obj, "finalize"));
  SKIFF_ASSIGN_OR_RETURN(auto certificate, OptString(obj, "certificate"));
  order.certificate = certificate.value_or("");
  SKIFF_ASSIGN_OR_RETURN(order.error, OptProblem(obj));
  return order;
}

Result<Authorization> AuthorizationOf(const json::object& obj, std::string url) {
  Authorization authz;
  authz.url = std::move(url);
  SKIFF_ASSIGN_OR_RETURN(authz.status, Required(obj, "status"));
  const json::value* id = Member(obj, "identifier");
  if (id == nullptr) return tl::unexpected(BadField("identifier", "missing"));
  SKIFF_ASSIGN_OR_RETURN(authz.domain, IdentifierValue(*id));
  if (const json::value* wildcard = Member(obj, "wildcard")) {
    if (!wildcard->is_bool()) return tl::unexpected(BadField("wildcard", "not a boolean"));
    authz.wildcard = wildcard->get_bool();
  }
  if (const json::value* challenges = Member(obj, "challenges")) {
    if (!challenges->is_array()) return tl::unexpected(BadField("challenges", "not an array"));
    for (const json::value& c : challenges->get_array()) {
      SKIFF_ASSIGN_OR_RETURN(Challenge challenge, ChallengeOf(c));
      authz.challenges.push_back(std::move(challenge));
    }
  }
  return authz;
}

// `text` parsed as JSON, its object given to `of`; errors say it was a bad `what`.
template <typename T, typename F>
Result<T> ParseWith(std::string_view text, std::string_view what, F of) {
  auto parsed = [&]() -> Result<T> {
    SKIFF_ASSIGN_OR_RETURN(json::value value, ParseJson(text));
    SKIFF_ASSIGN_OR_RETURN(const json::object* obj, AsObject(value, ""));
    return of(*obj);
  };
  return Bad(parsed(), what);
}

}  // namespace

const Challenge* Authorization::Find(std::string_view type) const {
  for (const Challenge& c : challenges) {
    if (c.type == type) return &c;
  }
  return nullptr;
}

Result<Directory> ParseDirectory(std::string_view text) {
  return ParseWith<Directory>(text, "directory", DirectoryOf);
}
Result<Account> ParseAccount(std::string_view text, std::string url) {
  return ParseWith<Account>(text, "account",
                            [&](const json::object& obj) { return AccountOf(obj, url); });
}
Result<Order> ParseOrder(std::string_view text, std::string url) {
  return ParseWith<Order>(text, "order",
                          [&](const json::object& obj) { return OrderOf(obj, url); });
}
Result<Authorization> ParseAuthorization(std::string_view text, std::string url) {
  return ParseWith<Authorization>(
      text, "authorization", [&](const json::object& obj) { return AuthorizationOf(obj, url); });
}
Result<Challenge> ParseChallenge(std::string_view text) {
  auto parsed = [&]() -> Result<Challenge> {
    SKIFF_ASSIGN_OR_RETURN(json::value value, ParseJson(text));
    return ChallengeOf(value);
  };
  return Bad(parsed(), "challenge");
}

std::optional<Duration> ParseRetryAfter(std::string_view value, Time now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && end == value.data() + value.size()) {
    if (seconds < 0 || seconds > kMaxRetryAfter.count()) return std::nullopt;
    return std::chrono::seconds(seconds);
  }
  // An IMF-fixdate: "Wed, 21 Oct 2015 07:28:00 GMT".
  std::tm tm{};
  const std::string text(value);
  const char* rest = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (rest == nullptr || *rest != '\0') return std::nullopt;
  const Time at = std::chrono::system_clock::from_time_t(::timegm(&tm));
  if (at <= now) return Duration::zero();
  if (at - now > kMaxRetryAfter) return std::nullopt;
  return std::chrono::duration_cast<Duration>(at - now);
}

}  // namespace skiff::acme
