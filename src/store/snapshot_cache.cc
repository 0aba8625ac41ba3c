#include "store/snapshot_cache.h"

#include <type_traits>
#include <utility>
#include <vector>

namespace skiff::store {
namespace {

// Changes read per call while catching up.
constexpr size_t kBatch = 5000;

// Each kind's key, as KeyOf gives it, without copying the object into an
// Object first.
std::string Key(const model::App& app) { return app.name; }
std::string Key(const model::Deployment& d) { return d.app + "/" + std::to_string(d.revision); }
std::string Key(const model::Instance& instance) { return instance.id; }
std::string Key(const model::Node& node) { return node.id; }

template <typename T>
std::unordered_map<std::string, size_t> IndexOf(const std::vector<T>& objects) {
  std::unordered_map<std::string, size_t> index;
  index.reserve(objects.size());
  for (size_t i = 0; i < objects.size(); ++i) index.emplace(Key(objects[i]), i);
  return index;
}

// Replaces the object of `key` or appends it.
template <typename T>
void Upsert(std::vector<T>& objects, std::unordered_map<std::string, size_t>& index,
            const std::string& key, const T& object) {
  if (auto it = index.find(key); it != index.end()) {
    objects[it->second] = object;
    return;
  }
  index.emplace(key, objects.size());
  objects.push_back(object);
}

// Removes the object of `key` by moving the last one into its place.
template <typename T>
void Erase(std::vector<T>& objects, std::unordered_map<std::string, size_t>& index,
           const std::string& key) {
  auto it = index.find(key);
  if (it == index.end()) return;
  const size_t at = it->second;
  index.erase(it);
  if (at + 1 != objects.size()) {
    objects[at] = std::move(objects.back());
    index[Key(objects[at])] = at;
  }
  objects.pop_back();
}

}  // namespace

SnapshotCache::SnapshotCache(const Store* store) : store_(store) {}

Status SnapshotCache::Reload() {
  SKIFF_ASSIGN_OR_RETURN(Snapshot fresh, store_->GetSnapshot());
  snapshot_ = std::move(fresh);
  apps_ = IndexOf(snapshot_.apps);
  deployments_ = IndexOf(snapshot_.deployments);
  instances_ = IndexOf(snapshot_.instances);
  nodes_ = IndexOf(snapshot_.nodes);
  loaded_ = true;
  ++full_reads_;
  return OkStatus();
}

void SnapshotCache::Apply(const Change& change) {
  std::visit(
      [&](const auto& object) {
        using T = std::decay_t<decltype(object)>;
        if constexpr (!std::is_same_v<T, model::Event>) {  // events are not in a snapshot
          auto apply = [&](auto& objects, auto& index) {
            if (change.deleted) {
              Erase(objects, index, Key(object));
            } else {
              Upsert(objects, index, Key(object), object);
            }
          };
          if constexpr (std::is_same_v<T, model::App>) {
            apply(snapshot_.apps, apps_);
          } else if constexpr (std::is_same_v<T, model::Deployment>) {
            apply(snapshot_.deployments, deployments_);
          } else if constexpr (std::is_same_v<T, model::Instance>) {
            apply(snapshot_.instances, instances_);
          } else {
            apply(snapshot_.nodes, nodes_);
          }
        }
      },
      change.object);
  snapshot_.revision = change.revision;
}

Status SnapshotCache::Update() {
  if (!loaded_) return Reload();
  bool deployments_changed = false;
  Status status = OkStatus();
  while (true) {
    auto changes = store_->ChangesSince(snapshot_.revision, kBatch);
    if (!changes) {
      if (changes.error().code == ErrorCode::kFailedPrecondition) {
        // Compacted past what the cache has, or the database went back
        // behind it: it cannot be brought up to date change by change.
        return Reload();
      }
      status = tl::unexpected(changes.error());
      break;
    }
    for (const Change& change : *changes) {
      deployments_changed =
          deployments_changed || std::holds_alternative<model::Deployment>(change.object);
      Apply(change);
    }
    if (changes->size() < kBatch) break;
  }
  if (deployments_changed) {
    // Appended or moved by an erase: back to (app, revision) order.
    SortDeployments(snapshot_.deployments);
    deployments_ = IndexOf(snapshot_.deployments);
  }
  return status;
}

}  // namespace skiff::store
