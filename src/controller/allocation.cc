#include "controller/allocation.h"

#include <functional>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace skiff::controller {

void ForEachReservation(
    const store::Snapshot& snapshot,
    const std::function<void(const model::Instance&, const model::Resources&)>& fn) {
  // Hash maps keyed by views of the snapshot's names (ordered maps of strings
  // were a tenth of a reconcile pass at 150,000 instances); neighbours mostly
  // share their app and revision, so the last answer is tried first.
  struct RevisionHash {
    size_t operator()(const std::pair<std::string_view, int64_t>& key) const {
      return std::hash<std::string_view>()(key.first) ^ (std::hash<int64_t>()(key.second) << 1);
    }
  };
  std::unordered_map<std::pair<std::string_view, int64_t>, const model::AppSpec*, RevisionHash>
      revisions;
  for (const model::Deployment& d : snapshot.deployments) revisions[{d.app, d.revision}] = &d.spec;
  std::unordered_map<std::string_view, const model::AppSpec*> apps;
  for (const model::App& app : snapshot.apps) apps[app.name] = &app.spec;
  const model::Instance* last = nullptr;
  const model::AppSpec* last_spec = nullptr;
  for (const model::Instance& instance : snapshot.instances) {
    if (instance.node.empty()) continue;
    const bool dead = instance.state == model::InstanceState::kFailed ||
                      instance.state == model::InstanceState::kStopped;
    if (instance.desired == model::DesiredState::kStop && dead) continue;
    if (last == nullptr || last->revision != instance.revision || last->app != instance.app) {
      last = &instance;
      last_spec = nullptr;
      if (auto r = revisions.find({instance.app, instance.revision}); r != revisions.end()) {
        last_spec = r->second;
      } else if (auto a = apps.find(instance.app); a != apps.end()) {
        last_spec = a->second;
      }
    }
    fn(instance, last_spec != nullptr ? last_spec->resources : model::Resources{});
  }
}

std::map<std::string, model::Resources> AllocatedByNode(const store::Snapshot& snapshot) {
  std::map<std::string, model::Resources> out;
  ForEachReservation(snapshot, [&](const model::Instance& i, const model::Resources& r) {
    model::Resources& sum = out[i.node];
    sum.cpu_millis += r.cpu_millis;
    sum.memory_bytes += r.memory_bytes;
  });
  return out;
}

}  // namespace skiff::controller
