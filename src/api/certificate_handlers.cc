// /v1/certificates: the edges' TLS certificates (controller/certificate_store.h).
// A listing never carries a key, sealed or not.
#include <boost/json.hpp>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/request_util.h"
#include "common/quantity.h"

namespace skiff::api {
namespace json = boost::json;
namespace {

Error NoCertificateStore() {
  return Error{ErrorCode::kNotFound, "this server keeps no certificates", ""};
}

json::object CertificateJson(const controller::StoredCertificate& c) {
  json::array names;
  for (const std::string& name : c.names) names.emplace_back(name);
  return json::object{
      {"domain", c.domain},
      {"issuer", c.issuer},
      {"names", std::move(names)},
      {"fingerprint", c.fingerprint},
      {"not_before", FormatTime(c.not_before)},
      {"not_after", FormatTime(c.not_after)},
      {"source", controller::ToString(c.source)},
      {"last_error", c.last_error},
      {"failures", c.failures},
      {"updated", FormatTime(c.updated)},
  };
}

// The string member `key`; kInvalidArgument (field = key) when absent or not a string.
Result<std::string> RequiredString(const json::object& body, const char* key) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr || !v->is_string() || v->as_string().empty()) {
    return InvalidArgument("required (a non-empty string)", key);
  }
  return std::string(v->as_string());
}

}  // namespace

net::HttpResponse AddCertificate(const ApiDeps& deps, const net::HttpRequest& request,
                                 const PathParams&) {
  if (deps.certificates == nullptr) return ErrorReply(NoCertificateStore());
  auto body = JsonObjectBody(request);
  if (!body) return ErrorReply(body.error());
  Result<std::string> fields[] = {RequiredString(*body, "domain"), RequiredString(*body, "cert"),
                                  RequiredString(*body, "key")};
  for (const auto& field : fields) {
    if (!field) return ErrorReply(field.error());
  }
  auto kept = deps.certificates->Put(*fields[0], *fields[1], *fields[2],
                                     controller::CertificateSource::kManual);
  if (!kept) return ErrorReply(kept.error());
  return net::JsonResponse(201, CertificateJson(*kept));
}

net::HttpResponse ListCertificates(const ApiDeps& deps, const net::HttpRequest&,
                                   const PathParams&) {
  if (deps.certificates == nullptr) return ErrorReply(NoCertificateStore());
  auto kept = deps.certificates->List();
  if (!kept) return ErrorReply(kept.error());
  json::array list;
  for (const controller::StoredCertificate& c : *kept) list.push_back(CertificateJson(c));
  return net::JsonResponse(200, json::object{{"certificates", std::move(list)}});
}

net::HttpResponse RemoveCertificate(const ApiDeps& deps, const net::HttpRequest&,
                                    const PathParams& params) {
  if (deps.certificates == nullptr) return ErrorReply(NoCertificateStore());
  if (Status removed = deps.certificates->Remove(params.at("domain")); !removed) {
    return ErrorReply(removed.error());
  }
  return net::JsonResponse(200, json::object{{"removed", true}});
}

}  // namespace skiff::api
