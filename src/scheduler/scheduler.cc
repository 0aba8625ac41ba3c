#include "scheduler/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "common/quantity.h"

namespace skiff::scheduler {
namespace {

// A node as one Place() call sees it: the index's allocation plus what this
// call placed there.
struct NodeView {
  model::Resources capacity;
  double cpu_weight = 0;
  double memory_weight = 0;
  model::Resources allocated;
  int instances = 0;      // of any app
  int app_instances = 0;  // of the requested app
};

bool FitsDimension(int64_t capacity, int64_t allocated, int64_t want) {
  return capacity == 0 || allocated + want <= capacity;  // capacity 0 = unlimited
}

bool Fits(const NodeView& v, const model::Resources& want) {
  return FitsDimension(v.capacity.cpu_millis, v.allocated.cpu_millis, want.cpu_millis) &&
         FitsDimension(v.capacity.memory_bytes, v.allocated.memory_bytes, want.memory_bytes);
}

// The mean allocated fraction over the limited dimensions once `want` is added
// (0 when the node limits nothing); the weights fold in 1 / capacity / dimensions.
double LoadAfter(const NodeView& v, const model::Resources& want) {
  return static_cast<double>(v.allocated.cpu_millis + want.cpu_millis) * v.cpu_weight +
         static_cast<double>(v.allocated.memory_bytes + want.memory_bytes) * v.memory_weight;
}

// The ordering key of a node for a strategy: smaller is better. Ties keep the
// node seen first, which is the smaller id.
struct Score {
  bool fits = false;
  int first = 0;
  double load = 0;
  int last = 0;
  bool BetterThan(const Score& o) const {
    if (fits != o.fits) return fits;
    if (first != o.first) return first < o.first;
    if (load != o.load) return load < o.load;
    return last < o.last;
  }
};

Score ScoreOf(model::PlacementStrategy strategy, const NodeView& v, const model::Resources& want) {
  if (!Fits(v, want)) return Score{};
  double load = LoadAfter(v, want);
  switch (strategy) {
    case model::PlacementStrategy::kSpread:
      return {true, v.app_instances, load, v.instances};
    case model::PlacementStrategy::kBinpack:
      return {true, 0, -load, -v.instances};
    case model::PlacementStrategy::kLeastLoaded:
    case model::PlacementStrategy::kRoundRobin:  // not scored: Place() cycles instead
      break;
  }
  return {true, 0, load, v.instances};
}

// Per-thread working memory of Place(), kept between calls and reset after each,
// so a placement allocates nothing per node. The dense vectors are indexed by
// node (entry) and are all zero between calls; `touched` lists the non-zero ones.
struct Scratch {
  std::vector<int> candidates;           // nodes passing status and constraints, by id
  std::vector<Score> scores;             // parallel to candidates
  std::vector<model::Resources> placed;  // dense: reserved by this call
  std::vector<int> placed_count;         // dense: instances placed by this call
  std::vector<int> app_instances;        // dense: instances of the requested app
  std::vector<int> touched;

  void Prepare(size_t nodes) {
    candidates.clear();
    scores.clear();
    if (placed.size() < nodes) {
      placed.resize(nodes);
      placed_count.resize(nodes);
      app_instances.resize(nodes);
    }
  }
  void Reset() {
    for (int i : touched) {
      placed[i] = {};
      placed_count[i] = 0;
      app_instances[i] = 0;
    }
    touched.clear();
  }
};

std::string Nodes(int n) { return fmt::format("{} node{}", n, n == 1 ? "" : "s"); }

// One "N nodes out of memory (needs X, Y free)" part, or empty when none lack it.
std::string ShortOf(std::string_view what, int count, int64_t needs, int64_t max_free,
                    std::string (*format)(int64_t)) {
  if (count == 0) return "";
  return fmt::format("{} out of {} (needs {}, {}{} free)", Nodes(count), what, format(needs),
                     count == 1 ? "" : "at most ", format(max_free));
}

bool OffersDriver(const model::Node& node, const std::string& driver) {
  return driver.empty() ||
         std::find(node.drivers.begin(), node.drivers.end(), driver) != node.drivers.end();
}

}  // namespace

// Why nothing fits, counted over all nodes: each node under the first reason
// that excludes it (status, driver, then constraints in order, then cpu, then
// memory).
// Only runs on failure, so it recounts rather than slow down the common path.
class Explainer {
 public:
  static std::string Explain(const PlacementIndex& index, const PlacementRequest& request,
                             const Scratch& scratch, const std::function<NodeView(int)>& view) {
    if (index.nodes_.empty()) return "no node fits: no nodes in the cluster";
    const auto& constraints = request.placement.constraints;
    int draining = 0, down = 0, no_driver = 0;
    std::vector<int> by_constraint(constraints.size(), 0);
    for (const model::Node& node : index.nodes_) {
      if (node.status == model::NodeStatus::kDraining) {
        ++draining;
      } else if (node.status == model::NodeStatus::kDown) {
        ++down;
      } else if (!OffersDriver(node, request.driver)) {
        ++no_driver;
      } else {
        for (size_t k = 0; k < constraints.size(); ++k) {
          if (!Matches(node, constraints[k])) {
            ++by_constraint[k];
            break;
          }
        }
      }
    }
    std::vector<std::string> parts;
    if (no_driver > 0) {
      parts.push_back(fmt::format("{} without the {} driver", Nodes(no_driver), request.driver));
    }
    for (size_t k = 0; k < constraints.size(); ++k) {
      if (by_constraint[k] == 0) continue;
      parts.push_back(fmt::format("{} filtered by constraint {}", Nodes(by_constraint[k]),
                                  FormatConstraint(constraints[k])));
    }
    int cpu_short = 0, memory_short = 0;
    int64_t cpu_free = 0, memory_free = 0;
    const model::Resources& want = request.resources;
    for (int i : scratch.candidates) {
      NodeView v = view(i);
      if (!FitsDimension(v.capacity.cpu_millis, v.allocated.cpu_millis, want.cpu_millis)) {
        ++cpu_short;
        cpu_free = std::max(cpu_free, v.capacity.cpu_millis - v.allocated.cpu_millis);
      } else if (!FitsDimension(v.capacity.memory_bytes, v.allocated.memory_bytes,
                                want.memory_bytes)) {
        ++memory_short;
        memory_free = std::max(memory_free, v.capacity.memory_bytes - v.allocated.memory_bytes);
      }
    }
    for (std::string part :
         {ShortOf("cpu", cpu_short, want.cpu_millis, cpu_free, &FormatCpuMillis),
          ShortOf("memory", memory_short, want.memory_bytes, memory_free, &FormatMemoryBytes)}) {
      if (!part.empty()) parts.push_back(std::move(part));
    }
    if (draining > 0) parts.push_back(Nodes(draining) + " draining");
    if (down > 0) parts.push_back(Nodes(down) + " down");
    return fmt::format("no node fits: {}", fmt::join(parts, ", "));
  }
};

int Plan::placed() const {
  return static_cast<int>(
      std::count_if(nodes.begin(), nodes.end(), [](const std::string& n) { return !n.empty(); }));
}

PlacementIndex::PlacementIndex(const std::vector<model::Node>& nodes) : nodes_(nodes) {
  std::sort(nodes_.begin(), nodes_.end(),
            [](const model::Node& a, const model::Node& b) { return a.id < b.id; });
  entries_.reserve(nodes_.size());
  index_of_node_.reserve(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const model::Node& node = nodes_[i];
    NodeEntry entry;
    entry.capacity = node.capacity;
    int dims = (node.capacity.cpu_millis > 0) + (node.capacity.memory_bytes > 0);
    if (node.capacity.cpu_millis > 0) {
      entry.cpu_weight = 1.0 / (static_cast<double>(node.capacity.cpu_millis) * dims);
    }
    if (node.capacity.memory_bytes > 0) {
      entry.memory_weight = 1.0 / (static_cast<double>(node.capacity.memory_bytes) * dims);
    }
    entry.ready = node.status == model::NodeStatus::kReady;
    entries_.push_back(entry);
    index_of_node_.emplace(node.id, static_cast<int>(i));
  }
}

PlacementIndex::PlacementIndex(const ClusterSnapshot& snapshot, const ResourcesOf& resources_of)
    : PlacementIndex(snapshot.nodes) {
  for (const model::Instance& instance : snapshot.instances) {
    if (instance.node.empty()) continue;
    auto it = index_of_node_.find(instance.node);
    if (it == index_of_node_.end()) continue;
    Add(it->second, instance.app, resources_of(instance));
  }
}

void PlacementIndex::Add(int node_index, const std::string& app,
                         const model::Resources& resources) {
  NodeEntry& entry = entries_[node_index];
  entry.allocated.cpu_millis += resources.cpu_millis;
  entry.allocated.memory_bytes += resources.memory_bytes;
  ++entry.instances;
  ++app_counts_[app][node_index];
}

void PlacementIndex::Reserve(const std::string& node_id, const std::string& app,
                             const model::Resources& resources) {
  auto it = index_of_node_.find(node_id);
  if (it != index_of_node_.end()) Add(it->second, app, resources);
}

void PlacementIndex::Record(const PlacementRequest& request, const Plan& plan) {
  for (const std::string& node : plan.nodes) {
    if (!node.empty()) Reserve(node, request.app, request.resources);
  }
}

model::Resources PlacementIndex::Allocated(const std::string& node_id) const {
  auto it = index_of_node_.find(node_id);
  return it == index_of_node_.end() ? model::Resources{} : entries_[it->second].allocated;
}

const std::vector<char>& PlacementIndex::MatchesOf(const model::Constraint& constraint) const {
  std::string key = FormatConstraint(constraint);
  std::lock_guard lock(cache_mu_);
  auto& slot = constraint_cache_[key];
  if (!slot) {
    auto matches = std::make_unique<std::vector<char>>(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) {
      (*matches)[i] = Matches(nodes_[i], constraint);
    }
    slot = std::move(matches);
  }
  return *slot;
}

const std::vector<int>& PlacementIndex::CandidatesOf(
    const std::string& driver, const std::vector<model::Constraint>& constraints) const {
  std::string key = driver;
  for (const model::Constraint& c : constraints) key += '\n' + FormatConstraint(c);
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = candidate_cache_.find(key); it != candidate_cache_.end()) return *it->second;
  }
  std::vector<const std::vector<char>*> masks;
  for (const model::Constraint& c : constraints) masks.push_back(&MatchesOf(c));
  auto candidates = std::make_unique<std::vector<int>>();
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!entries_[i].ready || !OffersDriver(nodes_[i], driver)) continue;
    bool ok = std::all_of(masks.begin(), masks.end(), [i](const auto* m) { return (*m)[i]; });
    if (ok) candidates->push_back(static_cast<int>(i));
  }
  std::lock_guard lock(cache_mu_);
  auto& slot = candidate_cache_[key];
  if (!slot) slot = std::move(candidates);  // another thread may have been first
  return *slot;
}

Plan Place(const PlacementIndex& index, const PlacementRequest& request) {
  Plan plan;
  plan.round_robin_after = request.round_robin_after;
  if (request.count <= 0) return plan;
  plan.nodes.reserve(request.count);
  const auto& entries = index.entries_;
  thread_local Scratch scratch;
  scratch.Prepare(entries.size());

  // Static filters: status, driver and constraints (cached per filter).
  const std::vector<int>& candidates =
      index.CandidatesOf(request.driver, request.placement.constraints);
  scratch.candidates.assign(candidates.begin(), candidates.end());
  if (auto it = index.app_counts_.find(request.app); it != index.app_counts_.end()) {
    for (const auto& [entry, count] : it->second) {
      scratch.app_instances[entry] = count;
      scratch.touched.push_back(entry);
    }
  }
  auto view = [&](int i) {
    const auto& e = entries[i];
    return NodeView{e.capacity,
                    e.cpu_weight,
                    e.memory_weight,
                    {e.allocated.cpu_millis + scratch.placed[i].cpu_millis,
                     e.allocated.memory_bytes + scratch.placed[i].memory_bytes},
                    e.instances + scratch.placed_count[i],
                    scratch.app_instances[i]};
  };

  const model::PlacementStrategy strategy = request.placement.strategy;
  const bool round_robin = strategy == model::PlacementStrategy::kRoundRobin;
  int first_best = -1;  // the best before anything is placed, found while scoring
  if (!round_robin) {
    // Nothing is placed by this call yet, so a node's view is its entry and
    // the app's count there; one instance (the common request) needs no
    // scores kept, only the best.
    const bool keep_scores = request.count > 1;
    if (keep_scores) scratch.scores.resize(scratch.candidates.size());
    Score best_score;
    for (size_t j = 0; j < scratch.candidates.size(); ++j) {
      const int i = scratch.candidates[j];
      const auto& e = entries[i];
      const NodeView v{e.capacity,  e.cpu_weight, e.memory_weight,
                       e.allocated, e.instances,  scratch.app_instances[i]};
      const Score score = ScoreOf(strategy, v, request.resources);
      if (keep_scores) scratch.scores[j] = score;
      if (score.fits && (first_best < 0 || score.BetterThan(best_score))) {
        first_best = static_cast<int>(j);
        best_score = score;
      }
    }
  }
  for (int n = 0; n < request.count; ++n) {
    int best = -1;  // position in candidates
    if (round_robin) {
      const auto& cands = scratch.candidates;
      auto start = std::upper_bound(
          cands.begin(), cands.end(), plan.round_robin_after,
          [&](const std::string& after, int i) { return after < index.nodes_[i].id; });
      size_t first = static_cast<size_t>(start - cands.begin());
      for (size_t k = 0; k < cands.size() && best < 0; ++k) {
        size_t j = (first + k) % cands.size();
        if (Fits(view(cands[j]), request.resources)) best = static_cast<int>(j);
      }
    } else if (n == 0) {
      best = first_best;
    } else {
      for (size_t j = 0; j < scratch.scores.size(); ++j) {
        if (scratch.scores[j].fits &&
            (best < 0 || scratch.scores[j].BetterThan(scratch.scores[best]))) {
          best = static_cast<int>(j);
        }
      }
    }
    if (best < 0) {
      plan.failure = Explainer::Explain(index, request, scratch, view);
      plan.nodes.resize(request.count);  // the rest stay unplaced
      break;
    }
    int chosen = scratch.candidates[best];
    scratch.placed[chosen].cpu_millis += request.resources.cpu_millis;
    scratch.placed[chosen].memory_bytes += request.resources.memory_bytes;
    ++scratch.placed_count[chosen];
    ++scratch.app_instances[chosen];
    scratch.touched.push_back(chosen);
    if (!round_robin && n + 1 < request.count) {
      scratch.scores[best] = ScoreOf(strategy, view(chosen), request.resources);
    }
    plan.nodes.push_back(index.nodes_[chosen].id);
    plan.round_robin_after = index.nodes_[chosen].id;
  }
  scratch.Reset();
  return plan;
}

const std::string* NodeAttribute(const model::Node& node, const std::string& key) {
  if (key == "node.id") return &node.id;
  if (key == "node.name") return &node.name;
  if (key == "region" && !node.region.empty()) return &node.region;
  auto it = node.labels.find(key);
  return it == node.labels.end() ? nullptr : &it->second;
}

bool Matches(const model::Node& node, const model::Constraint& constraint) {
  const std::string* value = NodeAttribute(node, constraint.key);
  switch (constraint.op) {
    case model::ConstraintOp::kEquals:
      return value != nullptr && *value == constraint.value;
    case model::ConstraintOp::kNotEquals:
      // A node without the attribute is not equal to anything.
      return value == nullptr || *value != constraint.value;
    case model::ConstraintOp::kExists:
      return value != nullptr;
  }
  return false;
}

std::string FormatConstraint(const model::Constraint& constraint) {
  switch (constraint.op) {
    case model::ConstraintOp::kEquals:
      return constraint.key + " == " + constraint.value;
    case model::ConstraintOp::kNotEquals:
      return constraint.key + " != " + constraint.value;
    case model::ConstraintOp::kExists:
      break;
  }
  return constraint.key;
}

}  // namespace skiff::scheduler
