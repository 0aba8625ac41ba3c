// RouteSet: what an edge routes by (DESIGN.md, Flow 4), as one value that
// stands on its own. The control plane builds it from its store
// (controller/routes.h); later, regions and orchestrators that keep no local
// store produce it too. The edge builds its routing table from it
// (edge/routing_table.h) and never sees where it came from;
// protocol/routes_codec.h is its JSON, the routes document of GET /v1/routes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/resources.h"
#include "model/spec.h"

namespace skiff::protocol {

// An instance that may take an app's traffic now.
struct RouteInstance {
  std::string id;
  std::string address;                              // host:port
  model::Traffic traffic = model::Traffic::kServe;  // its group (serve, canary, hold)
  friend bool operator==(const RouteInstance&, const RouteInstance&) = default;
};

// One of an app's domains: requests for `host` whose path is `path_prefix` or
// below it go to the app.
struct RouteDomain {
  std::string host;         // lowercase, no port
  std::string path_prefix;  // "" or "/api" (no trailing slash)
  friend bool operator==(const RouteDomain&, const RouteDomain&) = default;
};

// An app that serves at least one domain.
struct AppRoutes {
  std::string name;
  std::vector<RouteDomain> domains;
  // Percent of requests that go to the canaries while both the serve and the
  // canary group have instances (the app's update.canary_weight).
  int canary_weight = 0;
  model::EdgePolicy edge;                // the app's spec.edge
  std::vector<RouteInstance> instances;  // empty: the app answers 503
  // The app scaled to zero (autoscale.scale_to_zero) and no instance of it
  // takes traffic yet: asleep, or woken and starting. An edge holds its
  // requests (edge.wake_queue, edge.wake_timeout) and asks the control plane
  // to wake it, rather than answering 503. Absent from the JSON when false
  // (older documents read as awake).
  bool sleeping = false;
  friend bool operator==(const AppRoutes&, const AppRoutes&) = default;
};

// A certificate the edges serve over TLS, with its private key in clear:
// it travels only over the authenticated channel the routes take (TLS off
// loopback) and is kept on the edge's disk 0600. The edge picks it by SNI
// alone (edge/tls/cert_table.h): the exact name, else the one-label wildcard
// over it, and of two certificates listing one name the first; which app
// routes the host plays no part. So the edge serves no app another app's
// certificate only because the sender guarantees, and the edge does not check,
// that: a name is listed by one certificate at most, and a certificate lists
// only names of the app it was ordered for, a wildcard "*.web.com" only when
// every host one label under web.com that any app routes is that app's or has
// its own exact certificate (found before the wildcard).
struct RouteCertificate {
  // The names it serves, lowercase: "web.com", or "*.web.com" for one label
  // under web.com. The certificate itself (its SANs) is the authority; this
  // list is what the control plane validated it for.
  std::vector<std::string> domains;
  std::string cert_pem;  // the leaf first, then the chain
  std::string key_pem;   // PKCS#8 or traditional PEM
  friend bool operator==(const RouteCertificate&, const RouteCertificate&) = default;
};

// A pending ACME HTTP-01 challenge: every edge answers
// GET /.well-known/acme-challenge/<token> on its plain listener, for any
// host, with `key_authorization` (RFC 8555 §8.3).
struct AcmeChallenge {
  std::string token;
  std::string key_authorization;
  friend bool operator==(const AcmeChallenge&, const AcmeChallenge&) = default;
};

struct RouteSet {
  // What the routes were made from, as a store revision (0: unknown). It is
  // not part of the JSON (equal routes make equal documents whatever the
  // revision); GET /v1/routes sends it beside the document.
  int64_t revision = 0;
  std::vector<AppRoutes> apps;
  std::vector<RouteCertificate> certificates;
  std::vector<AcmeChallenge> challenges;
  friend bool operator==(const RouteSet&, const RouteSet&) = default;
};

}  // namespace skiff::protocol
