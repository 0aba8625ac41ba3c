#include "controller/allocation.h"

#include <utility>

namespace skiff::controller {

void ForEachReservation(
    const store::Snapshot& snapshot,
    const std::function<void(const model::Instance&, const model::Resources&)>& fn) {
  std::map<std::pair<std::string, int64_t>, const model::AppSpec*> revisions;
  for (const model::Deployment& d : snapshot.deployments) revisions[{d.app, d.revision}] = &d.spec;
  std::map<std::string, const model::AppSpec*> apps;
  for (const model::App& app : snapshot.apps) apps[app.name] = &app.spec;
  for (const model::Instance& instance : snapshot.instances) {
    if (instance.node.empty()) continue;
    const bool dead = instance.state == model::InstanceState::kFailed ||
                      instance.state == model::InstanceState::kStopped;
    if (instance.desired == model::DesiredState::kStop && dead) continue;
    const model::AppSpec* spec = nullptr;
    if (auto r = revisions.find({instance.app, instance.revision}); r != revisions.end()) {
      spec = r->second;
    } else if (auto a = apps.find(instance.app); a != apps.end()) {
      spec = a->second;
    }
    fn(instance, spec != nullptr ? spec->resources : model::Resources{});
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
