// The routes of a store snapshot: what every edge of this control plane routes
// by (the server's own, through server/route_watcher.h, and the standalone
// ones, through GET /v1/routes). A pure function, here beside the control
// plane's other functions of a snapshot, because both the API and the
// server's wiring use it (api/ cannot depend on server/).
#pragma once

#include <string>
#include <vector>

#include "protocol/routes.h"
#include "store/store.h"

namespace skiff::controller {

// Every app that is not being deleted and has domains, by name, each domain
// split into host and path prefix, with the instances that may take traffic
// (wanted, running, healthy, with an address) by id; the set's revision is
// the snapshot's. Apps claiming one domain are all listed: the routing table
// decides between them. Of `certificates` (CertificateStore::ForEdges: every
// kept one, its key opened), those whose domain covers a host some listed app
// serves (exactly, or one label under a wildcard), so that an edge holds the
// keys of no domain it does not serve. `challenges` (AcmeChallengeStore::
// List: the HTTP-01 challenges the leader's orders wait on) are carried as
// they are: every edge answers them on its plain listener.
protocol::RouteSet BuildRoutes(const store::Snapshot& snapshot,
                               const std::vector<protocol::RouteCertificate>& certificates = {},
                               const std::vector<protocol::AcmeChallenge>& challenges = {});

// The tag of the routes document of `snapshot`, `certificates` and `challenges`
// (protocol/routes_codec.h): what an edge routing by exactly these routes
// reports, so a drain can tell.
std::string RoutesTagOf(const store::Snapshot& snapshot,
                        const std::vector<protocol::RouteCertificate>& certificates = {},
                        const std::vector<protocol::AcmeChallenge>& challenges = {});

}  // namespace skiff::controller
