// The routes document: a RouteSet (protocol/routes.h) as JSON. GET /v1/routes
// answers it, a standalone edge keeps the last one on disk, and the drain
// tracker compares an edge's tag of it with the server's.
//
//   {"apps":[{"name":"web",
//             "domains":[{"host":"web.com"},{"host":"web.com","path":"/api"}],
//             "canary_weight":10,
//             "edge":{"lb":"p2c","max_in_flight":1000,...},
//             "instances":[{"id":"web-1a2b","address":"127.0.0.1:20001"},
//                          {"id":"web-3c4d","address":"127.0.0.1:20002","traffic":"canary"}]}],
//    "certificates":[{"domains":["web.com"],"cert":"-----BEGIN...","key":"-----BEGIN..."}],
//    "challenges":[{"token":"abc","key_authorization":"abc.thumbprint"}]}
//
// `certificates` and `challenges` are left out when empty. `edge` is the app's spec.edge as
// model::EdgePolicyToJson writes it; `path` is there only for a path prefix and `traffic` only when
// not "serve". Written canonically (apps by name, instances by id, certificates by their first
// domain, challenges by token), so equal route sets give byte-equal documents and a hash of the
// text tells whether anything changed. Read forward-compatibly: fields this version does not know,
// at any level (the edge policy's too), are ignored, so an edge one version apart from its server
// keeps routing; a known field of the wrong type or value is kInvalidArgument naming it
// ("apps[0].instances[1].traffic").
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/routes.h"

namespace skiff::protocol {

// The header of GET /v1/routes answers that names the revision the document
// was made at (RouteSet::revision, which the document leaves out).
inline constexpr char kRevisionHeader[] = "X-Skiff-Revision";

boost::json::value ToJson(const RouteSet& routes);
// The revision of the result is 0: it does not travel in the document.
Result<RouteSet> RouteSetFromJson(const boost::json::value& json);

// The document as compact JSON text, and read back from text.
std::string RoutesDocument(const RouteSet& routes);
Result<RouteSet> ParseRoutesDocument(std::string_view text);

// A short fingerprint of a document's text (hex), for ETags.
std::string RoutesTag(std::string_view document);

}  // namespace skiff::protocol
