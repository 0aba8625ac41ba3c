#include "edge/route_watcher.h"

#include "common/logging.h"

namespace skiff::edge {

RouteWatcher::RouteWatcher(store::Store* store, EdgeProxy* proxy) : store_(store), proxy_(proxy) {}

RouteWatcher::~RouteWatcher() { Stop(); }

void RouteWatcher::Start() {
  subscription_ = store_->Subscribe([this](int64_t revision) {
    {
      std::lock_guard lock(mu_);
      seen_ = std::max(seen_, revision);
    }
    cv_.notify_one();
  });
  Rebuild();
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

void RouteWatcher::Rebuild() {
  auto snapshot = store_->GetSnapshot();
  if (!snapshot) {
    // Keep serving with the table we have; the next commit tries again.
    SKIFF_LOG_WARN("edge: cannot read routes: {}", snapshot.error().ToString());
    return;
  }
  proxy_->SetTable(RoutingTable::Build(*snapshot, &states_));
  states_.Prune();
}

void RouteWatcher::Loop() {
  int64_t built = store_->Revision();
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || seen_ > built; });
      if (stopping_) return;
      built = seen_;
    }
    Rebuild();
  }
}

}  // namespace skiff::edge
