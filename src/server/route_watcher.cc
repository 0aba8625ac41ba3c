#include "server/route_watcher.h"

#include "common/logging.h"
#include "controller/routes.h"

namespace skiff::server {

RouteWatcher::RouteWatcher(store::Store* store, store::SharedSnapshotCache* snapshots,
                           edge::EdgeProxy* proxy, const controller::CertificateStore* certificates,
                           const controller::AcmeChallengeStore* challenges)
    : snapshots_(snapshots),
      proxy_(proxy),
      certificates_(certificates),
      challenges_(challenges),
      watcher_(store) {}

RouteWatcher::~RouteWatcher() { Stop(); }

void RouteWatcher::Start() {
  // A failed rebuild (-1) is tried again at once on the watcher's thread; a
  // later failure waits for the next commit rather than spin. A commit that
  // lands while a table is built wakes the next round.
  const int64_t built = Rebuild();
  watcher_.Start(
      [this](int64_t) {
        Rebuild();
        return store::CommitWatcher::kNoTimer;
      },
      built);
}

void RouteWatcher::Stop() { watcher_.Stop(); }

int64_t RouteWatcher::Rebuild() {
  // Only the routes are made under the cache's lock; the table outside it.
  // The certificates are read after the snapshot (CertificatesForRoutes says why).
  auto routes = snapshots_->Read([this](const store::Snapshot& snapshot) {
    return controller::BuildRoutes(snapshot, controller::CertificatesForRoutes(certificates_),
                                   controller::ChallengesForRoutes(challenges_));
  });
  if (!routes) {
    // Keep serving with the table we have; the next commit tries again.
    SKIFF_LOG_WARN("edge: cannot read routes: {}", routes.error().ToString());
    return -1;
  }
  const int64_t revision = routes->revision;
  proxy_->SetTable(edge::RoutingTable::Build(*routes, &states_));
  states_.Prune();
  return revision;
}

}  // namespace skiff::server
