#include "controller/node_service.h"

#include <fmt/format.h>

#include "controller/report_merge.h"

namespace skiff::controller {
namespace {

// As AppService's kMaxAttempts: a few retries on a lost optimistic-concurrency
// race before telling the caller.
constexpr int kMaxCommitAttempts = 5;

}  // namespace

NodeService::NodeService(store::Store* store, const Clock* clock) : store_(store), clock_(clock) {}

Result<model::Node> NodeService::Register(const model::Node& node) {
  if (node.id.empty()) return InvalidArgument("a node needs an id", "id");
  if (node.address.empty()) return InvalidArgument("a node needs an address", "address");
  for (int attempt = 1;; ++attempt) {
    Time now = clock_->Now();
    auto existing = store_->GetNode(node.id);
    if (!existing && existing.error().code != ErrorCode::kNotFound) {
      return tl::unexpected(existing.error());
    }
    model::Node stored = node;
    int64_t expected = store::kMustNotExist;
    bool came_back = false;
    if (existing) {
      expected = existing->version;
      stored.allocated = existing->allocated;
      // Draining is the operator's decision; registering again does not undo it.
      stored.status = existing->status == model::NodeStatus::kDraining
                          ? model::NodeStatus::kDraining
                          : model::NodeStatus::kReady;
      came_back = existing->status == model::NodeStatus::kDown;
    } else {
      stored.status = model::NodeStatus::kReady;
    }
    stored.last_heartbeat = now;
    store::Txn txn;
    txn.Put(stored, expected);
    if (!existing || came_back) {
      model::Event e;
      e.time = now;
      e.kind = existing ? "node.ready" : "node.registered";
      e.message = fmt::format("node {} ({}) {} at {}", stored.name, stored.id,
                              existing ? "is back" : "registered", stored.address);
      e.details = {{"node", stored.id}};
      txn.AddEvent(e);
    }
    {
      // Before the commit: the controller loop wakes on it and must not find a
      // new node without a heartbeat (it would declare it down at once).
      std::lock_guard lock(mu_);
      heartbeats_[node.id] = now;
    }
    auto committed = store_->Commit(txn);
    if (committed) return store_->GetNode(node.id);
    if (committed.error().code != ErrorCode::kAborted &&
        committed.error().code != ErrorCode::kAlreadyExists) {
      return tl::unexpected(committed.error());
    }
    if (attempt == kMaxCommitAttempts) return tl::unexpected(committed.error());
  }
}

Status NodeService::Heartbeat(const std::string& node_id) {
  SKIFF_ASSIGN_OR_RETURN(model::Node node, store_->GetNode(node_id));
  const Time now = clock_->Now();
  {
    std::lock_guard lock(mu_);
    heartbeats_[node_id] = now;
  }
  if (node.status != model::NodeStatus::kDown) return OkStatus();
  // A node marked down that speaks again is back (the agent outlived a
  // partition or a server restart); a lost race here is settled by the next beat.
  const int64_t expected = node.version;
  node.status = model::NodeStatus::kReady;
  node.last_heartbeat = now;
  model::Event e;
  e.time = now;
  e.kind = "node.ready";
  e.message = fmt::format("node {} ({}) is back at {}", node.name, node.id, node.address);
  e.details = {{"node", node.id}};
  store::Txn txn;
  txn.Put(node, expected).AddEvent(e);
  auto committed = store_->Commit(txn);
  if (!committed && committed.error().code != ErrorCode::kAborted) {
    return tl::unexpected(committed.error());
  }
  return OkStatus();
}

Time NodeService::LastHeartbeat(const std::string& node_id) const {
  std::lock_guard lock(mu_);
  auto it = heartbeats_.find(node_id);
  return it == heartbeats_.end() ? Time{} : it->second;
}

Result<protocol::Assignments> NodeService::Assignments(const std::string& node_id) const {
  protocol::Assignments out;
  out.revision = store_->Revision();
  SKIFF_ASSIGN_OR_RETURN(out.instances, store_->ListInstances({.node = node_id}));
  for (const auto& i : out.instances) {
    std::string key = fmt::format("{}/{}", i.app, i.revision);
    if (out.specs.count(key)) continue;
    auto d = store_->GetDeployment(i.app, i.revision);
    if (d) out.specs[key] = d->spec;
  }
  return out;
}

Status NodeService::Report(const protocol::InstanceReport& report) {
  for (int attempt = 1;; ++attempt) {
    SKIFF_ASSIGN_OR_RETURN(const model::Instance stored, store_->GetInstance(report.instance_id));
    SKIFF_ASSIGN_OR_RETURN(MergedReport merged, MergeReport(stored, report, clock_->Now()));
    if (!merged.applied) return OkStatus();
    store::Txn txn;
    txn.Put(merged.instance, stored.version);
    for (model::Event& e : merged.events) txn.AddEvent(std::move(e));
    auto committed = store_->Commit(txn);
    if (committed) return OkStatus();
    if (committed.error().code != ErrorCode::kAborted || attempt == kMaxCommitAttempts) {
      return tl::unexpected(committed.error());
    }
  }
}

void NodeService::RecordSamples(const std::string& node_id,
                                const std::vector<protocol::InstanceSample>& samples) {
  std::map<std::string, model::ResourceSample> latest;
  for (const auto& s : samples) latest[s.instance_id] = s.sample;
  if (sample_listener_) sample_listener_(node_id, samples);
  std::lock_guard lock(mu_);
  samples_[node_id] = std::move(latest);
}

std::map<std::string, model::ResourceSample> NodeService::LatestSamples() const {
  std::map<std::string, model::ResourceSample> out;
  std::lock_guard lock(mu_);
  for (const auto& [node, samples] : samples_) out.insert(samples.begin(), samples.end());
  return out;
}

Status NodeService::Drain(const std::string& node_id) {
  for (int attempt = 1;; ++attempt) {
    SKIFF_ASSIGN_OR_RETURN(model::Node node, store_->GetNode(node_id));
    if (node.status == model::NodeStatus::kDraining) return OkStatus();
    const int64_t expected = node.version;
    node.status = model::NodeStatus::kDraining;
    store::Txn txn;
    txn.Put(node, expected);
    model::Event e;
    e.time = clock_->Now();
    e.kind = "node.draining";
    e.message = fmt::format("node {} is draining: its instances move to other nodes", node.name);
    e.details = {{"node", node.id}};
    txn.AddEvent(e);
    auto committed = store_->Commit(txn);
    if (committed) return OkStatus();
    if (committed.error().code != ErrorCode::kAborted || attempt == kMaxCommitAttempts) {
      return tl::unexpected(committed.error());
    }
  }
}

}  // namespace skiff::controller
