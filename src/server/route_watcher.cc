#include "server/route_watcher.h"

#include "common/logging.h"
#include "controller/routes.h"

namespace skiff::server {

RouteWatcher::RouteWatcher(store::Store* store, edge::EdgeProxy* proxy)
    : store_(store), proxy_(proxy), cache_(store), watcher_(store) {}

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
  if (Status updated = cache_.Update(); !updated) {
    // Keep serving with the table we have; the next commit tries again.
    SKIFF_LOG_WARN("edge: cannot read routes: {}", updated.error().ToString());
    return -1;
  }
  const store::Snapshot& snapshot = cache_.snapshot();
  proxy_->SetTable(edge::RoutingTable::Build(controller::BuildRoutes(snapshot), &states_));
  states_.Prune();
  return snapshot.revision;
}

}  // namespace skiff::server
