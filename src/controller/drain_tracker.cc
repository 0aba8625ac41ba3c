#include "controller/drain_tracker.h"

#include <tuple>
#include <utility>

#include "common/logging.h"

namespace skiff::controller {
namespace {

// Stopping, with a drain the edges have not finished and whose deadline has
// not passed.
bool Drains(const model::Instance& i, Time now) {
  return i.desired == model::DesiredState::kStop && !i.drained && i.drain_until != Time{} &&
         now < i.drain_until;
}

}  // namespace

DrainTracker::DrainTracker(store::Store* store, const Clock* clock, EdgesFn edges,
                           RoutesTagFn routes_tag, int64_t fence_epoch,
                           store::SharedSnapshotCache* snapshots)
    : store_(store),
      clock_(clock),
      edges_(std::move(edges)),
      routes_tag_(std::move(routes_tag)),
      fence_epoch_(fence_epoch),
      snapshots_(snapshots),
      watcher_(store) {}

DrainTracker::~DrainTracker() { Stop(); }

void DrainTracker::Start() {
  // Idle (nothing drains): a round on a commit only. Draining: a round every
  // interval too, since requests finishing at the edges commit nothing.
  watcher_.Start([this](int64_t) {
    return Check() > 0 ? Duration(kCheckInterval) : store::CommitWatcher::kNoTimer;
  });
}

void DrainTracker::Stop() { watcher_.Stop(); }

size_t DrainTracker::Check() {
  const Time now = clock_->Now();
  if (store_->Revision() != listed_ && !FollowChanges(now)) Relist(now);
  std::erase_if(pending_, [&](const auto& entry) { return now >= entry.second.until; });
  if (pending_.empty()) return 0;

  const std::map<std::string, metrics::EdgeRoutes> edges = edges_();
  for (auto it = pending_.begin(); it != pending_.end();) {
    bool done = true;
    for (const auto& [name, edge] : edges) {
      if (!EdgeDone(edge, it->first, it->second)) {
        done = false;
        break;
      }
    }
    if (done && MarkDrained(it->first)) {
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return pending_.size();
}

bool DrainTracker::FollowChanges(Time now) {
  if (listed_ < 0) return false;
  auto changes = store_->ChangesSince(listed_, kMaxChanges);
  if (!changes || changes->size() >= kMaxChanges) return false;  // compacted, or far behind
  for (const store::Change& change : *changes) {
    listed_ = change.revision;
    const auto* i = std::get_if<model::Instance>(&change.object);
    if (i == nullptr) continue;
    if (change.deleted || !Drains(*i, now)) {
      pending_.erase(i->id);
    } else {
      auto [it, added] = pending_.try_emplace(i->id, Pending{change.revision, i->drain_until});
      if (!added) it->second.until = i->drain_until;  // the first revision stays
    }
  }
  return true;
}

void DrainTracker::Relist(Time now) {
  const int64_t revision = store_->Revision();
  auto instances = store_->ListInstances({});
  if (!instances) {
    SKIFF_LOG_WARN("drain: cannot list instances: {}", instances.error().ToString());
    return;
  }
  // The listing is at `revision` or later: changes after it are replayed
  // next time (at worst twice, which changes nothing).
  listed_ = revision;
  std::map<std::string, Pending> pending;
  for (const model::Instance& i : *instances) {
    if (!Drains(i, now)) continue;
    auto known = pending_.find(i.id);
    pending[i.id] =
        Pending{known != pending_.end() ? known->second.since : i.version, i.drain_until};
  }
  pending_ = std::move(pending);
}

bool DrainTracker::EdgeDone(const metrics::EdgeRoutes& edge, const std::string& id,
                            const Pending& p) {
  if (auto it = edge.leaving.find(id); it != edge.leaving.end() && it->second > 0) return false;
  if (edge.revision >= p.since) return true;
  return !edge.tag.empty() && edge.tag == CurrentTag();
}

const std::string& DrainTracker::CurrentTag() {
  const int64_t revision = store_->Revision();
  if (revision != tag_revision_) {
    auto tag_of = [this](const store::Snapshot& snapshot) {
      return std::make_pair(routes_tag_(snapshot), snapshot.revision);
    };
    Result<std::pair<std::string, int64_t>> tagged =
        snapshots_ != nullptr ? snapshots_->Read(tag_of) : store_->GetSnapshot().map(tag_of);
    if (!tagged) return tag_;  // the old one: at worst an edge waits a round longer
    std::tie(tag_, tag_revision_) = std::move(*tagged);
  }
  return tag_;
}

bool DrainTracker::MarkDrained(const std::string& id) {
  auto instance = store_->GetInstance(id);
  if (!instance) return instance.error().code == ErrorCode::kNotFound;  // deleted: nothing to do
  if (instance->drained || instance->desired != model::DesiredState::kStop) return true;
  model::Instance drained = *instance;
  drained.drained = true;
  drained.updated_at = clock_->Now();
  store::Txn txn;
  txn.Put(drained, instance->version);
  if (fence_epoch_ != 0) txn.Fenced(fence_epoch_);
  if (auto committed = store_->Commit(txn); !committed) {
    // kAborted: the instance changed since it was read (an agent report, say).
    if (committed.error().code != ErrorCode::kAborted) {
      SKIFF_LOG_WARN("drain: cannot mark {} drained: {}", id, committed.error().ToString());
    }
    return false;
  }
  SKIFF_LOG_DEBUG("drain: {} is drained; its agent may stop it", id);
  return true;
}

}  // namespace skiff::controller
