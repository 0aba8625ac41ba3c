// The scheduler: pure placement of instances onto nodes (Flow 2 of DESIGN.md).
//
// A PlacementIndex is built once from a snapshot of nodes and the instances that
// hold resources on them; it knows what is allocated on every node and how many
// instances of each app every node runs. Place() then answers a request
// ("3 instances of app hello, 250m / 128Mi each, spread, zone == a") with a Plan:
// a node per instance, or the reason nothing fits, aggregated over all nodes the
// way Nomad reports it ("no node fits: 3 nodes filtered by constraint zone == a,
// 1 node out of memory (needs 128Mi, 64Mi free), 1 node draining").
//
// Place() does no I/O and reads no clock; the same index and request give the
// same plan. Ties between nodes are broken by node id, so plans are
// deterministic.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/resources.h"

namespace skiff::scheduler {

// What an instance reserves on its node (normally its revision's spec.resources).
using ResourcesOf = std::function<model::Resources(const model::Instance&)>;

struct ClusterSnapshot {
  std::vector<model::Node> nodes;
  // Every instance that holds resources on its node: the caller decides which
  // (typically placed instances that are wanted or still alive). Instances with
  // an empty node, or a node not in `nodes`, are ignored.
  std::vector<model::Instance> instances;
};

struct PlacementRequest {
  std::string app;
  model::Resources resources;  // per instance
  model::Placement placement;  // strategy and constraints
  // The runtime driver the instances need ("process", "docker"): nodes whose
  // agents do not offer it are infeasible. Empty: any node.
  std::string driver;
  int count = 1;  // instances to place
  // Round-robin only: the node chosen last for this app (empty = none yet); the
  // next choice is the first feasible node whose id sorts after it, wrapping.
  std::string round_robin_after;
};

struct Plan {
  // One entry per requested instance, in request order: a node id, or empty
  // when the instance could not be placed.
  std::vector<std::string> nodes;
  // Why the unplaced instances did not fit ("no node fits: ..."); empty when all
  // were placed. Once one instance fails, every later one fails for the same
  // reason (placing only ever takes resources away), so one text serves all.
  std::string failure;
  // Round-robin: the last node chosen (pass it back as round_robin_after).
  std::string round_robin_after;

  int placed() const;
};

// Allocation per node and instance counts per (app, node), computed once per
// snapshot, plus a cache of which nodes match each constraint seen (most apps
// share a few constraints, and label lookups are the costly part of filtering).
//
// Thread-safety: Place() may run concurrently on one index; Reserve() and
// Record() must not run concurrently with anything else on it.
class PlacementIndex {
 public:
  PlacementIndex(const ClusterSnapshot& snapshot, const ResourcesOf& resources_of);
  // Just the nodes; the caller adds what is allocated with Reserve().
  explicit PlacementIndex(const std::vector<model::Node>& nodes);
  PlacementIndex(const PlacementIndex&) = delete;
  PlacementIndex& operator=(const PlacementIndex&) = delete;

  // Accounts one instance of `app` on `node_id`; ignored for an unknown node.
  void Reserve(const std::string& node_id, const std::string& app,
               const model::Resources& resources);

  // Accounts the placements of `plan` (made for `request`), so that later
  // requests against this index see them. Unknown node ids are ignored.
  void Record(const PlacementRequest& request, const Plan& plan);

  // What is allocated on a node (zero for an unknown node).
  model::Resources Allocated(const std::string& node_id) const;

 private:
  friend Plan Place(const PlacementIndex& index, const PlacementRequest& request);
  friend class Explainer;  // reads entries_ to say why nothing fits

  // What placement reads of a node, packed small and contiguous (the full
  // model::Node is large, and scoring walks every node).
  struct NodeEntry {
    model::Resources capacity;
    model::Resources allocated;
    double cpu_weight = 0;     // 1 / (capacity * limited dimensions); 0 = unlimited
    double memory_weight = 0;  // likewise
    int instances = 0;         // of any app
    bool ready = false;
  };

  void Add(int node_index, const std::string& app, const model::Resources& resources);
  // For each node (in entries_ order), whether it satisfies `constraint`.
  const std::vector<char>& MatchesOf(const model::Constraint& constraint) const;
  // The nodes (entries_ indexes, ascending) that are ready, offer `driver` and
  // satisfy every constraint: what no placement changes, so it is computed
  // once per distinct filter rather than over every node on every call.
  const std::vector<int>& CandidatesOf(const std::string& driver,
                                       const std::vector<model::Constraint>& constraints) const;

  std::vector<model::Node> nodes_;  // sorted by id
  std::vector<NodeEntry> entries_;  // parallel to nodes_
  std::unordered_map<std::string, int> index_of_node_;
  // app -> (index into entries_ -> instances of the app there)
  std::unordered_map<std::string, std::unordered_map<int, int>> app_counts_;
  mutable std::mutex cache_mu_;
  // FormatConstraint(c) -> MatchesOf(c). GUARDED_BY(cache_mu_); the vectors
  // themselves never change once inserted.
  mutable std::map<std::string, std::unique_ptr<const std::vector<char>>> constraint_cache_;
  // Filter key -> CandidatesOf(...). GUARDED_BY(cache_mu_); never changed once inserted.
  mutable std::map<std::string, std::unique_ptr<const std::vector<int>>> candidate_cache_;
};

// Places request.count instances, accounting the ones it places as it goes (so
// spread puts a second replica on another node). REQUIRES: request.count >= 0.
Plan Place(const PlacementIndex& index, const PlacementRequest& request);

// The value of a constraint key on a node: the built-in attributes `node.id`,
// `node.name` and `region` (the node's region; its label when that is empty),
// else the node's labels. Returns nullptr when the node has no such attribute.
const std::string* NodeAttribute(const model::Node& node, const std::string& key);

// True when the node satisfies the constraint.
bool Matches(const model::Node& node, const model::Constraint& constraint);

// "zone == a", "zone != b", "compute": the spec's spelling.
std::string FormatConstraint(const model::Constraint& constraint);

}  // namespace skiff::scheduler
