#include "server/route_watcher.h"

#include "common/logging.h"
#include "controller/routes.h"

namespace skiff::server {

RouteWatcher::RouteWatcher(store::Store* store, edge::EdgeProxy* proxy)
    : store_(store), proxy_(proxy) {}

RouteWatcher::~RouteWatcher() { Stop(); }

void RouteWatcher::Start() {
  subscription_ = store_->Subscribe([this](int64_t revision) {
    {
      std::lock_guard lock(mu_);
      seen_ = std::max(seen_, revision);
    }
    cv_.notify_one();
  });
  first_built_ = Rebuild();
  thread_ = std::thread([this] { Loop(); });
}

void RouteWatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  subscription_.reset();
}

int64_t RouteWatcher::Rebuild() {
  auto snapshot = store_->GetSnapshot();
  if (!snapshot) {
    // Keep serving with the table we have; the next commit tries again.
    SKIFF_LOG_WARN("edge: cannot read routes: {}", snapshot.error().ToString());
    return -1;
  }
  proxy_->SetTable(edge::RoutingTable::Build(controller::BuildRoutes(*snapshot), &states_));
  states_.Prune();
  return snapshot->revision;
}

void RouteWatcher::Loop() {
  int64_t built = first_built_;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || seen_ > built; });
      if (stopping_) return;
    }
    // The snapshot's revision, not the latest heard of: a commit that lands
    // while the table is built wakes the next round.
    int64_t revision = Rebuild();
    if (revision >= 0) {
      built = revision;
    } else {
      std::lock_guard lock(mu_);
      built = seen_;  // failed: wait for the next commit rather than spin
    }
  }
}

}  // namespace skiff::server
