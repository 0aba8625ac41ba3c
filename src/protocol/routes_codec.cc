#include "protocol/routes_codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "model/codec.h"
#include "model/spec_parse.h"
#include "protocol/json_fields.h"

namespace skiff::protocol {
namespace json = boost::json;
namespace {

// The list `key` of `obj`: empty when absent, a BadField when not a list.
Result<const json::array*> List(const json::object& obj, std::string_view key) {
  static const json::array kNone;
  const json::value* v = Member(obj, key);
  if (v == nullptr) return &kNone;
  if (!v->is_array()) return tl::unexpected(BadField(key, "must be a list"));
  return &v->get_array();
}

// A string field that must be there and not be empty.
Result<std::string> Required(const json::object& obj, std::string_view key) {
  SKIFF_ASSIGN_OR_RETURN(std::optional<std::string> text, OptString(obj, key));
  if (!text || text->empty()) return tl::unexpected(BadField(key, "required"));
  return std::move(*text);
}

Result<RouteDomain> DomainFromJson(const json::value& v) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* o, AsObject(v, ""));
  RouteDomain domain;
  SKIFF_ASSIGN_OR_RETURN(domain.host, Required(*o, "host"));
  SKIFF_ASSIGN_OR_RETURN(std::optional<std::string> path, OptString(*o, "path"));
  domain.path_prefix = path.value_or("");
  if (!domain.path_prefix.empty() && domain.path_prefix.front() != '/') {
    return tl::unexpected(BadField("path", fmt::format("must start with / (got \"{}\")", *path)));
  }
  return domain;
}

Result<RouteInstance> InstanceFromJson(const json::value& v) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* o, AsObject(v, ""));
  RouteInstance instance;
  SKIFF_ASSIGN_OR_RETURN(instance.id, Required(*o, "id"));
  SKIFF_ASSIGN_OR_RETURN(instance.address, Required(*o, "address"));
  SKIFF_ASSIGN_OR_RETURN(std::optional<std::string> traffic, OptString(*o, "traffic"));
  if (traffic) {
    std::optional<model::Traffic> group = model::ParseTraffic(*traffic);
    if (!group) {
      return tl::unexpected(
          BadField("traffic", fmt::format("must be serve, canary or hold (got \"{}\")", *traffic)));
    }
    instance.traffic = *group;
  }
  return instance;
}

// Reads each item of `items` with `read` into `out`; an error names the item.
template <typename T, typename F>
Status ReadEach(const json::array& items, std::string_view key, F read, std::vector<T>& out) {
  for (size_t n = 0; n < items.size(); ++n) {
    auto item = read(items[n]);
    if (!item) return tl::unexpected(Within(fmt::format("{}[{}]", key, n), item.error()));
    out.push_back(std::move(*item));
  }
  return OkStatus();
}

Result<AppRoutes> AppFromJson(const json::value& v) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* o, AsObject(v, ""));
  AppRoutes app;
  SKIFF_ASSIGN_OR_RETURN(app.name, Required(*o, "name"));
  SKIFF_ASSIGN_OR_RETURN(const json::array* domains, List(*o, "domains"));
  SKIFF_RETURN_IF_ERROR(ReadEach(*domains, "domains", DomainFromJson, app.domains));
  SKIFF_ASSIGN_OR_RETURN(std::optional<int> weight, OptSmallInt(*o, "canary_weight"));
  app.canary_weight = weight.value_or(0);
  if (const json::value* edge = Member(*o, "edge")) {
    // A newer server's policy fields (an edge.drain_timeout once) are passed over.
    SKIFF_ASSIGN_OR_RETURN(app.edge,
                           model::ParseEdgePolicyJson(*edge, model::UnknownFields::kIgnore));
  }
  SKIFF_ASSIGN_OR_RETURN(const json::array* instances, List(*o, "instances"));
  SKIFF_RETURN_IF_ERROR(ReadEach(*instances, "instances", InstanceFromJson, app.instances));
  SKIFF_ASSIGN_OR_RETURN(std::optional<bool> sleeping, OptBool(*o, "sleeping"));
  app.sleeping = sleeping.value_or(false);
  return app;
}

Result<RouteCertificate> CertificateFromJson(const json::value& v) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* o, AsObject(v, ""));
  RouteCertificate cert;
  SKIFF_ASSIGN_OR_RETURN(const json::array* domains, List(*o, "domains"));
  for (size_t n = 0; n < domains->size(); ++n) {
    const json::value& d = (*domains)[n];
    if (!d.is_string() || d.get_string().empty()) {
      return tl::unexpected(BadField(fmt::format("domains[{}]", n), "must be a domain name"));
    }
    cert.domains.emplace_back(d.get_string());
  }
  if (cert.domains.empty()) return tl::unexpected(BadField("domains", "required"));
  SKIFF_ASSIGN_OR_RETURN(cert.cert_pem, Required(*o, "cert"));
  SKIFF_ASSIGN_OR_RETURN(cert.key_pem, Required(*o, "key"));
  return cert;
}

Result<AcmeChallenge> ChallengeFromJson(const json::value& v) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* o, AsObject(v, ""));
  AcmeChallenge challenge;
  SKIFF_ASSIGN_OR_RETURN(challenge.token, Required(*o, "token"));
  SKIFF_ASSIGN_OR_RETURN(challenge.key_authorization, Required(*o, "key_authorization"));
  return challenge;
}

// Pointers to `items` sorted by `key`.
template <typename T, typename K>
std::vector<const T*> SortedBy(const std::vector<T>& items, K key) {
  std::vector<const T*> sorted;
  for (const T& item : items) sorted.push_back(&item);
  std::sort(sorted.begin(), sorted.end(),
            [&](const T* a, const T* b) { return key(*a) < key(*b); });
  return sorted;
}

}  // namespace

json::value ToJson(const RouteSet& routes) {
  json::array app_list;
  for (const AppRoutes* app :
       SortedBy(routes.apps, [](const AppRoutes& a) -> const std::string& { return a.name; })) {
    json::array domains;
    for (const RouteDomain& d : app->domains) {
      json::object domain{{"host", d.host}};
      if (!d.path_prefix.empty()) domain["path"] = d.path_prefix;
      domains.push_back(std::move(domain));
    }
    json::array instances;
    for (const RouteInstance* i : SortedBy(
             app->instances, [](const RouteInstance& i) -> const std::string& { return i.id; })) {
      json::object instance{{"id", i->id}, {"address", i->address}};
      if (i->traffic != model::Traffic::kServe) instance["traffic"] = model::ToString(i->traffic);
      instances.push_back(std::move(instance));
    }
    json::object out{{"name", app->name},
                     {"domains", std::move(domains)},
                     {"canary_weight", app->canary_weight},
                     {"edge", model::EdgePolicyToJson(app->edge)},
                     {"instances", std::move(instances)}};
    if (app->sleeping) out["sleeping"] = true;
    app_list.push_back(std::move(out));
  }
  json::object doc{{"apps", std::move(app_list)}};
  if (!routes.certificates.empty()) {
    json::array certs;
    for (const RouteCertificate* c : SortedBy(routes.certificates, [](const RouteCertificate& c) {
           return c.domains.empty() ? std::string() : c.domains.front();
         })) {
      json::array domains;
      for (const std::string& d : c->domains) domains.emplace_back(d);
      certs.push_back(json::object{
          {"domains", std::move(domains)}, {"cert", c->cert_pem}, {"key", c->key_pem}});
    }
    doc["certificates"] = std::move(certs);
  }
  if (!routes.challenges.empty()) {
    json::array challenges;
    for (const AcmeChallenge* c :
         SortedBy(routes.challenges,
                  [](const AcmeChallenge& c) -> const std::string& { return c.token; })) {
      challenges.push_back(
          json::object{{"token", c->token}, {"key_authorization", c->key_authorization}});
    }
    doc["challenges"] = std::move(challenges);
  }
  return doc;
}

Result<RouteSet> RouteSetFromJson(const json::value& json) {
  SKIFF_ASSIGN_OR_RETURN(const json::object* o, AsObject(json, ""));
  const json::value* apps = Member(*o, "apps");
  if (apps == nullptr || !apps->is_array()) {
    return tl::unexpected(BadField("apps", "must be a list"));
  }
  RouteSet routes;
  SKIFF_RETURN_IF_ERROR(ReadEach(apps->get_array(), "apps", AppFromJson, routes.apps));
  SKIFF_ASSIGN_OR_RETURN(const json::array* certs, List(*o, "certificates"));
  SKIFF_RETURN_IF_ERROR(ReadEach(*certs, "certificates", CertificateFromJson, routes.certificates));
  SKIFF_ASSIGN_OR_RETURN(const json::array* challenges, List(*o, "challenges"));
  SKIFF_RETURN_IF_ERROR(ReadEach(*challenges, "challenges", ChallengeFromJson, routes.challenges));
  return routes;
}

std::string RoutesDocument(const RouteSet& routes) { return json::serialize(ToJson(routes)); }

Result<RouteSet> ParseRoutesDocument(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) return InvalidArgument("routes: not JSON (" + ec.message() + ")");
  return RouteSetFromJson(doc);
}

std::string RoutesTag(std::string_view document) {
  // FNV-1a, 64 bits: a change detector, not a security boundary.
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : document) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

}  // namespace skiff::protocol
