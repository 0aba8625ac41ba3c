#include "controller/controller_loop.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/ids.h"
#include "common/logging.h"
#include "common/quantity.h"
#include "controller/node_service.h"

namespace skiff::controller {
namespace {

// A pass that lost a race computes again at once, but not forever in a tight
// loop against a store that keeps moving: after this many, wait for the next
// change or timer.
constexpr int kMaxImmediateRetries = 8;

}  // namespace

ControllerLoop::ControllerLoop(store::Store* store, NodeService* nodes, const Clock* clock,
                               ControllerLoopOptions options)
    : store_(store),
      nodes_(nodes),
      clock_(clock),
      options_(std::move(options)),
      cache_(store),
      watcher_(store) {
  if (!options_.new_id) options_.new_id = [](const std::string& app) { return NewId(app); };
  started_at_ = clock_->Now();
}

ControllerLoop::~ControllerLoop() { Stop(); }

void ControllerLoop::Start() {
  started_at_ = clock_->Now();
  watcher_.Start([this](int64_t) { return Round(); });
}

void ControllerLoop::Stop() { watcher_.Stop(); }

Time ControllerLoop::next_due() const { return next_due_; }

int64_t ControllerLoop::passes() const {
  std::lock_guard lock(mu_);
  return passes_;
}

std::string ControllerLoop::health() const {
  std::lock_guard lock(mu_);
  return last_error_.empty() ? "ok" : last_error_;
}

bool ControllerLoop::CheckNodes(Time now, const std::vector<model::Node>& nodes) {
  if (nodes_ == nullptr) return false;
  bool wrote = false;
  for (model::Node node : nodes) {
    if (node.status != model::NodeStatus::kReady) continue;
    Time last = std::max(nodes_->LastHeartbeat(node.id), started_at_);
    if (now - last <= options_.node_timeout) continue;
    const int64_t expected = node.version;
    node.status = model::NodeStatus::kDown;
    node.last_heartbeat = last;
    store::Txn txn;
    txn.Put(node, expected);
    if (options_.fence_epoch != 0) txn.Fenced(options_.fence_epoch);
    model::Event event;
    event.time = now;
    event.kind = "node.down";
    event.message = fmt::format("node {} ({}) is down: no heartbeat for {}", node.name, node.id,
                                FormatDuration(std::chrono::duration_cast<Duration>(now - last)));
    event.details = {{"node", node.id}};
    txn.AddEvent(std::move(event));
    if (store_->Commit(txn)) {
      SKIFF_LOG_WARN("node {} is down: no heartbeat since {}", node.id, FormatTime(last));
      wrote = true;
    }
  }
  return wrote;
}

Time ControllerLoop::NextDue(const store::Snapshot& snapshot, Time now) const {
  Time due = now + options_.resync_interval;
  for (const model::Instance& i : snapshot.instances) {
    if (i.restart_at != Time{} && i.restart_at > now) due = std::min(due, i.restart_at);
  }
  // A node that stops beating is noticed when its time is up, not at the next resync.
  if (nodes_ != nullptr) {
    for (const model::Node& node : snapshot.nodes) {
      if (node.status != model::NodeStatus::kReady) continue;
      const Time expires = std::max(nodes_->LastHeartbeat(node.id), started_at_) +
                           options_.node_timeout + std::chrono::milliseconds(1);
      if (expires > now) due = std::min(due, expires);
    }
  }
  return due;
}

Result<ApplyOutcome> ControllerLoop::RunOnce() {
  const Time now = clock_->Now();
  SKIFF_RETURN_IF_ERROR(cache_.Update());
  // The pass computes with the nodes it marked down (its writes read back).
  if (CheckNodes(now, cache_.snapshot().nodes)) SKIFF_RETURN_IF_ERROR(cache_.Update());
  const store::Snapshot& snapshot = cache_.snapshot();
  ReconcilerConfig config{.new_id = options_.new_id};
  Time wake;  // when time alone makes the reconciler act (a rollout's timers)
  Actions actions = Compute(snapshot, now, config, &wake);
  for (const Action& action : actions) SKIFF_LOG_DEBUG("reconcile: {}", Describe(action));
  auto outcome = ApplyActions(*store_, snapshot, actions, now, options_.fence_epoch);
  next_due_ = std::min(NextDue(snapshot, now), wake);
  std::lock_guard lock(mu_);
  ++passes_;
  return outcome;
}

Duration ControllerLoop::Round() {
  auto outcome = RunOnce();
  {
    std::lock_guard lock(mu_);
    last_error_ = outcome ? std::string() : outcome.error().ToString();
  }
  if (!outcome) {
    SKIFF_LOG_WARN("reconcile: {}; trying again on the next change", outcome.error().ToString());
  } else if (outcome->conflicts > 0 && retries_ < kMaxImmediateRetries) {
    ++retries_;
    return Duration(0);  // the state moved under the pass: compute from a fresh snapshot
  }
  retries_ = 0;
  // Until a change newer than what the pass read, or until due. Our own writes
  // are changes too; the pass after them finds nothing to do.
  const auto wait = std::chrono::duration_cast<Duration>(next_due_ - clock_->Now());
  return std::max(wait, Duration(10));
}

}  // namespace skiff::controller
